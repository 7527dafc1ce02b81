import { fileURLToPath } from "node:url";
import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { type Launcher, withCli } from "./support/cli.ts";
import { FtpClient } from "./support/ftp_client.ts";
import { fullSession } from "./support/full_session.ts";
import { withTempDir } from "./support/temp_dir.ts";

const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
const README = fileURLToPath(new URL("../README.md", import.meta.url));

/** The permissions of the README's `deno run ... main.ts` line: the server's narrowest set. */
async function readmePermissions(): Promise<string[]> {
  const match = /^deno run ((?:--allow-\S+ )+)main\.ts /m.exec(await Deno.readTextFile(README));
  assert(match, "the README shows no `deno run --allow-... main.ts` line");
  return match[1].trim().split(" ");
}

/** How often `text` holds `part`. */
function count(text: string, part: string): number {
  return text.split(part).length - 1;
}

const PATHS_CHECKED = "jail: paths checked before use";

Deno.test({
  name: "deno task start's permissions give the kernel's jail and sendfile, said once",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
    const match = /^deno run (.*) main\.ts$/.exec(config.tasks.start);
    assert(match, config.tasks.start);
    const log = await fullSession({
      program: Deno.execPath(),
      args: ["run", ...match[1].split(" "), MAIN],
    });
    assertEquals(count(log, "jail: the kernel's (openat2 beneath each home)"), 1, log);
    assertEquals(count(log, "data path: native sockets, sendfile(2)"), 1, log);
    assertEquals(count(log, PATHS_CHECKED), 0, log);
  },
});

Deno.test({
  name: "the README's narrow permissions serve a whole session, and the server says once " +
    "that it checks paths instead of the kernel's jail",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const permissions = await readmePermissions();
    assert(!permissions.includes("--allow-all"), permissions.join(" "));
    const launcher: Launcher = { program: Deno.execPath(), args: ["run", ...permissions, MAIN] };
    const log = await fullSession(launcher);
    assertEquals(count(log, PATHS_CHECKED), 1, log);
    assertEquals(count(log, "data path: native sockets, files streamed"), 1, log);
    assert(!log.includes("NotCapable"), log);
  },
});

Deno.test("without FFI an anonymous share is streamed through the runtime's sockets, said once", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/shared.txt`, "shared without FFI");
    const launcher: Launcher = {
      program: Deno.execPath(),
      args: ["run", "--allow-net", "--allow-read", "--allow-write", MAIN],
    };
    const log = await withCli([], dir, async (running) => {
      const client = await FtpClient.login(running.port, "anonymous", "guest@");
      try {
        assertStringIncludes(await client.list(), "shared.txt");
        assertEquals(
          new TextDecoder().decode(await client.retr("shared.txt")),
          "shared without FFI",
        );
      } finally {
        client.close();
      }
    }, launcher);
    assertEquals(count(log, PATHS_CHECKED), 1, log);
    assertEquals(count(log, "data path: streamed by the runtime"), 1, log);
    assert(!log.includes("NotCapable"), log);
  });
});
