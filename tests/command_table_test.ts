/**
 * The command table as the client meets it: for every entry of `protoCmds`, HELP
 * gives its help text, a command that needs a login answers 530 before one, and
 * the argument rule (`none`, `required`) is enforced with 501.
 *
 * @module
 */

import { protoCmds } from "../mod.ts";
import { assertEquals } from "./support/assert.ts";
import { FtpClient } from "./support/ftp_client.ts";
import { withServer } from "./support/server.ts";

/** The HELP command for an entry: `HELP CWD`, or `SITE HELP CHMOD` for a SITE command. */
function helpLine(name: string): string {
  return name.startsWith("SITE ") ? `SITE HELP ${name.slice(5)}` : `HELP ${name}`;
}

Deno.test("every entry of the command table: its HELP text, its login requirement, its argument rule", async () => {
  await withServer({}, async ({ port }) => {
    const anonymous = await FtpClient.connect(port);
    try {
      for (const [name, spec] of protoCmds) {
        if (!spec.auth) continue;
        const line = spec.arg === "required" ? `${name} x` : name;
        assertEquals((await anonymous.command(line)).code, 530, `${name} before login`);
      }
    } finally {
      anonymous.close();
    }
    const client = await FtpClient.login(port);
    try {
      for (const [name, spec] of protoCmds) {
        const help = await client.command(helpLine(name));
        assertEquals([help.code, help.text], [214, spec.help], `help of ${name}`);
      }
      for (const [name, spec] of protoCmds) {
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
