/**
 * The `--help` text, its options listed from {@linkcode SETTINGS}.
 *
 * @module
 */

import { type Section, SETTING_NAMES, settingOf } from "./settings.ts";

const HEADINGS: Record<Section | "", string> = {
  "": "Options:",
  passive: "Passive mode ([passive] in a config file):",
  limits: "Limits ([limits]):",
  tls: "FTPS, RFC 4217 ([tls]):",
  log: "Logging ([log]):",
};

/** Where the help of an option starts. */
const HELP_COLUMN = 31;

/** The usage lines of every option, by section. */
function optionLines(): string {
  const sections = new Map<Section | "", string[]>();
  for (const name of SETTING_NAMES) {
    const { kind, short, help, section = "" } = settingOf(name);
    const flag = `${short ? `  -${short}, ` : "      "}--${name}${
      kind.metavar ? ` ${kind.metavar}` : ""
    }`;
    const [first, ...more] = help.split("\n");
    const lead = flag.length <= HELP_COLUMN - 2 ? flag.padEnd(HELP_COLUMN) : `${flag}  `;
    const lines = [lead + first, ...more.map((line) => " ".repeat(HELP_COLUMN) + line)];
    if (!sections.has(section)) sections.set(section, []);
    sections.get(section)!.push(...lines);
  }
  return [...sections].map(([section, lines]) => [HEADINGS[section], ...lines].join("\n"))
    .join("\n\n");
}

/** The `--help` text. */
export const USAGE = `Usage: tsftpd [options]
       tsftpd hash-password        read a password, print its argon2id hash for a users file
       tsftpd check-config FILE    check a config or users file without starting the server

Start a stand-alone FTP server sharing a directory (anonymous, read-only by default),
or serving the accounts of a users file (--users).

Every option but -h, -v, --config, --print-config and -D is also a key of a config
file (--config): the long name in snake_case, in the TOML table its heading names,
without that table's name in front (--tls-data-required is data_required in [tls]).
Flags override the file; --no-NAME turns off a yes/no option the file turns on.

${optionLines()}
`;
