/**
 * `tsftpd check-config FILE`: checks a users file as `--users FILE` would, or a
 * config file as `--config FILE` would (with the users file and certificate it
 * names), without starting a server. A file with `[[user]]` tables is a users
 * file; any other, a config file.
 *
 * @module
 */

import { systemReason } from "../errors.ts";
import { Logger } from "../log.ts";
import { resolveTlsOptions, TlsConfigError } from "../tls.ts";
import { TomlLines } from "../toml_file.ts";
import { createAuthorizer, describeUsers, loadUsers } from "./authorizer.ts";
import { parseConfigFile } from "./config_file.ts";
import { CliError } from "./errors.ts";
import { cliConfig, mergeSettings } from "./parse.ts";

/** Whether the TOML `text` is a users file: it has `user` tables. */
function isUsersFile(text: string): boolean {
  return new TomlLines(text).exact(["user"]) !== null;
}

/**
 * Checks the config file `file` (text `text`) as the server would start with it:
 * its users file or shared directory, its certificate. Returns the summary lines;
 * warnings go to `warn`.
 */
async function checkConfigFile(
  text: string,
  file: string,
  warn: (message: string) => void,
): Promise<string[]> {
  const config = cliConfig(mergeSettings(await parseConfigFile(text, file)));
  const given = config.effective.origins.size;
  const lines = [`${file}: config file, ${given} setting${given === 1 ? "" : "s"}: OK`];
  if (config.users !== null) {
    using users = await loadUsers(config.users, warn);
    lines.push(`${describeUsers(users.summary)}: OK`);
  } else {
    const logger = new Logger({
      level: "warning",
      sink: (line) => warn(line.replace(/^\[[A-Z] [^\]]+\] /, "")),
    });
    await createAuthorizer(config, logger).catch((error) => {
      if (!(error instanceof CliError)) throw error;
      throw new CliError(`${file}: ${error.message}`, 2, false);
    });
  }
  if (config.tls?.certfile) {
    try {
      resolveTlsOptions({
        certfile: config.tls.certfile,
        keyfile: config.tls.keyfile ?? undefined,
      });
    } catch (error) {
      if (!(error instanceof TlsConfigError)) throw error;
      throw new CliError(`${file}: cannot use the certificate: ${error.message}`, 2, false);
    }
  }
  return lines;
}

/** Runs `tsftpd check-config ARGS`; resolves to the exit status. */
export async function checkConfigCommand(args: string[]): Promise<number> {
  if (args.length !== 1 || args[0].startsWith("-")) {
    throw new CliError("check-config takes one argument: the config or users file to check");
  }
  const [file] = args;
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    throw new CliError(`${file}: cannot read the file: ${systemReason(error)}`, 2, false);
  }
  const warnings: string[] = [];
  const warn = (message: string) => warnings.push(message);
  let lines: string[];
  if (isUsersFile(text)) {
    using authorizer = await loadUsers(file, warn);
    lines = [`${describeUsers(authorizer.summary)}: OK`];
  } else {
    lines = await checkConfigFile(text, file, warn);
  }
  for (const warning of warnings) console.error(`tsftpd: warning: ${warning}`);
  for (const line of lines) console.log(line);
  return 0;
}
