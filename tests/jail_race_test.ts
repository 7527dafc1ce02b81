/**
 * The jail against a symlink race: while a worker swaps entries of the shared tree
 * with symlinks to outside it, clients loop commands through those entries. Not one
 * may read, write, create, rename, delete or chmod anything outside the home.
 */

import { assert, assertEquals } from "./support/assert.ts";
import { FtpClient, readAll } from "./support/ftp_client.ts";
import { diskTest, withServer } from "./support/server.ts";
import type { SwapOrder } from "./support/swapper.ts";

const RACE_MILLISECONDS = 3000;
const SECRET = "SECRET";

/** Runs `line` with a passive data connection; returns the final reply's code and the bytes read. */
async function transfer(
  client: FtpClient,
  line: string,
  upload?: Uint8Array,
): Promise<{ code: number; bytes: Uint8Array }> {
  const data = await client.pasv();
  const start = await client.command(line);
  if (start.code !== 150 && start.code !== 125) {
    data.close();
    return { code: start.code, bytes: new Uint8Array() };
  }
  let bytes: Uint8Array = new Uint8Array();
  if (upload) {
    await data.write(upload);
    data.close();
  } else {
    bytes = await readAll(data);
  }
  return { code: (await client.reply()).code, bytes };
}

/** Swaps `pairs` in a worker for `milliseconds`; resolves with the number of swaps. */
function race(pairs: [string, string][], milliseconds: number): Promise<number> {
  const worker = new Worker(new URL("./support/swapper.ts", import.meta.url), { type: "module" });
  return new Promise<number>((resolve, reject) => {
    worker.onmessage = (event) => resolve(event.data);
    worker.onerror = (event) => reject(new Error(event.message));
    worker.postMessage({ pairs, milliseconds } satisfies SwapOrder);
  }).finally(() => worker.terminate());
}

diskTest("a symlink race never leads a command outside the home", async () => {
  const outside = await Deno.realPath(await Deno.makeTempDir({ prefix: "tsftpd-outside-" }));
  try {
    await Deno.writeTextFile(`${outside}/secret`, SECRET);
    await Deno.chmod(`${outside}/secret`, 0o600);
    await Deno.writeTextFile(`${outside}/v`, SECRET);
    await withServer({}, async ({ port, home }) => {
      await Deno.mkdir(`${home}/sw`);
      await Deno.writeTextFile(`${home}/sw/f`, "inside");
      await Deno.symlink(`${outside}/secret`, `${home}/sw/l`);
      await Deno.mkdir(`${home}/dd`);
      await Deno.symlink(outside, `${home}/dl`);
      await Deno.symlink("sw", `${home}/inside-link`);
      const readers = await FtpClient.login(port);
      const writers = await FtpClient.login(port);
      const escapes: string[] = [];
      const succeeded = new Set<string>();
      let racing = true;
      const noteSuccess = (what: string, ok: boolean) => ok && succeeded.add(what);
      const reading = (async () => {
        while (racing) {
          const { code, bytes } = await transfer(readers, "RETR sw/f");
          const text = new TextDecoder().decode(bytes);
          if (text.includes(SECRET)) escapes.push("RETR read the outside file");
          noteSuccess("RETR", code === 226 && ["inside", "written"].includes(text));
          const viaLink = await transfer(readers, "RETR inside-link/f");
          if (new TextDecoder().decode(viaLink.bytes).includes(SECRET)) {
            escapes.push("RETR through a link read the outside file");
          }
          const chmod = await readers.command("SITE CHMOD 777 sw/f");
          noteSuccess("SITE CHMOD", chmod.code === 200);
        }
      })();
      const writing = (async () => {
        const payload = new TextEncoder().encode("written");
        while (racing) {
          noteSuccess("STOR", (await transfer(writers, "STOR sw/f", payload)).code === 226);
          noteSuccess("STOR dd/v", (await transfer(writers, "STOR dd/v", payload)).code === 226);
          const rnfr = await writers.command("RNFR dd/v");
          if (rnfr.code === 350) {
            noteSuccess("RNTO", (await writers.command("RNTO dd/w")).code === 250);
            await writers.command("RNFR dd/w");
            await writers.command("RNTO dd/v");
          }
          noteSuccess("DELE", (await writers.command("DELE dd/v")).code === 250);
          noteSuccess("MKD", (await writers.command("MKD dd/m")).code === 257);
          await writers.command("RMD dd/m");
        }
      })();
      const swaps = await race([
        [`${home}/sw/f`, `${home}/sw/l`],
        [`${home}/dd`, `${home}/dl`],
      ], RACE_MILLISECONDS);
      racing = false;
      await Promise.all([reading, writing]);
      readers.close();
      writers.close();
      assert(swaps > 1000, `the race ran (${swaps} swaps)`);
      assertEquals(escapes, []);
      assertEquals(await Deno.readTextFile(`${outside}/secret`), SECRET, "not written");
      assertEquals((await Deno.stat(`${outside}/secret`)).mode! & 0o777, 0o600, "not chmod'ed");
      assertEquals(await Deno.readTextFile(`${outside}/v`), SECRET, "not overwritten nor deleted");
      assertEquals(
        (await Array.fromAsync(Deno.readDir(outside))).map(({ name }) => name).sort(),
        ["secret", "v"],
        "nothing created or renamed outside",
      );
      assertEquals(
        [...succeeded].sort(),
        ["DELE", "MKD", "RETR", "RNTO", "SITE CHMOD", "STOR", "STOR dd/v"],
        "each command also worked when the entries were the real ones",
      );
    });
  } finally {
    await Deno.remove(outside, { recursive: true });
  }
});
