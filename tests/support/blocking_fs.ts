/**
 * The filesystem module of the blocking-work test, run in a filesystem thread: the
 * local disk, whose `stat` of a name starting with `slow` blocks its thread for
 * 2 s, synchronously, as a hung network mount or a CPU-heavy call would. It says
 * so on the {@linkcode BLOCKING_CHANNEL} first.
 *
 * @module
 */

import { AbstractedFS, type FileStat, type SessionInfo } from "../../mod.ts";

/** The BroadcastChannel on which the filesystem says it is about to block. */
export const BLOCKING_CHANNEL = "tsftpd-test-blocking-fs";
/** How long a `stat` of a `slow` name blocks. */
const BLOCK_MS = 2000;

class BlockingFS extends AbstractedFS {
  override stat(path: string): Promise<FileStat> {
    if (path.split("/").at(-1)!.startsWith("slow")) {
      const channel = new BroadcastChannel(BLOCKING_CHANNEL);
      channel.postMessage(path);
      channel.close();
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, BLOCK_MS);
    }
    return super.stat(path);
  }
}

/** Makes each session's filesystem. */
export default (home: string, session: SessionInfo): AbstractedFS => new BlockingFS(home, session);
