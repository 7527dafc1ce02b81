/**
 * Run as a process of its own by `tests/native_data_test.ts`: opens a file of an
 * `AbstractedFS` (under the kernel's jail) with exactly two descriptors free, as
 * many as the jail needs to open it but one short of the second descriptor
 * `sendfile` reads from. Prints whether the reader offers a descriptor, and what
 * it read.
 *
 * @module
 */

import { AbstractedFS } from "../../mod.ts";

const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "tsftpd-reopen-" }));
await Deno.writeTextFile(`${dir}/f`, "streamed");
const fs = new AbstractedFS(dir);
// What the runtime opens for itself in its first half second is open first.
await new Promise((resolve) => setTimeout(resolve, 1000));
const held: Deno.FsFile[] = [];
try {
  while (true) held.push(Deno.openSync("/dev/null"));
} catch {
  // Every descriptor is taken.
}
// Two free: the jail's descriptor of the home and of the file, then the runtime's
// file in place of the first.
held.pop()!.close();
held.pop()!.close();
try {
  const reader = await fs.openRead("/f", 0);
  const bytes = new Uint8Array(64);
  const n = await reader.read(bytes);
  console.log(JSON.stringify({
    descriptor: reader.descriptor?.() ?? null,
    read: new TextDecoder().decode(bytes.subarray(0, n ?? 0)),
  }));
  reader.close();
} catch (error) {
  console.log(JSON.stringify({ error: String(error) }));
} finally {
  for (const file of held) file.close();
  await Deno.remove(dir, { recursive: true });
}
