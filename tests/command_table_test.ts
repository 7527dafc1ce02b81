/**
 * The command table as the client meets it. `tests/golden/command_table.json` holds
 * what every entry of `protoCmds` promises (its login requirement, argument rule,
 * path, permission letter, data and REST rules, FEAT line, TLS rule and HELP text):
 * the table must say exactly that, and on the wire HELP gives each text, a command
 * that needs a login answers 530 before one, and the argument rule is enforced with
 * 501. Change the golden file deliberately, with the command.
 *
 * @module
 */

import { type CommandSpec, protoCmds } from "../mod.ts";
import { assertEquals } from "./support/assert.ts";
import { FtpClient } from "./support/ftp_client.ts";
import { withServer } from "./support/server.ts";

/** What the golden file records of an entry: functions by kind, absent fields by their default. */
interface Promised {
  auth: boolean;
  arg: CommandSpec["arg"];
  path: string | null;
  perm: string | null;
  data: boolean;
  refusedAfterEpsvAll: boolean;
  refusedAfterRest: boolean;
  duringTransfer: boolean;
  feat: string | null;
  tls: string | null;
  help: string;
}

const GOLDEN: Record<string, Promised> = JSON.parse(
  await Deno.readTextFile(new URL("./golden/command_table.json", import.meta.url)),
);

function promised(spec: CommandSpec): Promised {
  const kind = (value: unknown) =>
    value === undefined ? null : typeof value === "function" ? "function" : value as string;
  return {
    auth: spec.auth,
    arg: spec.arg,
    path: kind(spec.path),
    perm: spec.perm ?? null,
    data: spec.data ?? false,
    refusedAfterEpsvAll: spec.refusedAfterEpsvAll ?? false,
    refusedAfterRest: spec.refusedAfterRest ?? false,
    duringTransfer: spec.duringTransfer ?? false,
    feat: kind(spec.feat),
    tls: spec.tls ?? null,
    help: spec.help,
  };
}

Deno.test("the command table promises what the golden file says, entry by entry", () => {
  assertEquals(Object.keys(GOLDEN), [...protoCmds.keys()], "the same commands, in order");
  for (const [name, spec] of protoCmds) assertEquals(promised(spec), GOLDEN[name], name);
});

/** The HELP command for an entry: `HELP CWD`, or `SITE HELP CHMOD` for a SITE command. */
function helpLine(name: string): string {
  return name.startsWith("SITE ") ? `SITE HELP ${name.slice(5)}` : `HELP ${name}`;
}

Deno.test("every entry of the command table: its HELP text, its login requirement, its argument rule", async () => {
  await withServer({}, async ({ port }) => {
    const anonymous = await FtpClient.connect(port);
    try {
      for (const [name, spec] of Object.entries(GOLDEN)) {
        if (!spec.auth) continue;
        const line = spec.arg === "required" ? `${name} x` : name;
        assertEquals((await anonymous.command(line)).code, 530, `${name} before login`);
      }
    } finally {
      anonymous.close();
    }
    const client = await FtpClient.login(port);
    try {
      for (const [name, spec] of Object.entries(GOLDEN)) {
        const help = await client.command(helpLine(name));
        assertEquals([help.code, help.text], [214, spec.help], `help of ${name}`);
      }
      for (const [name, spec] of Object.entries(GOLDEN)) {
        if (spec.arg === "none" && name !== "QUIT") {
          assertEquals(
            (await client.command(`${name} x`)).lines,
            ["501 Syntax error: command does not accept arguments."],
            `${name} with an argument`,
          );
        }
        if (spec.arg === "required") {
          assertEquals(
            (await client.command(name)).lines,
            ["501 Syntax error: command needs an argument."],
            `${name} without one`,
          );
        }
      }
      assertEquals((await client.command("NOOP")).code, 200, "still logged in");
    } finally {
      client.close();
    }
  });
});
