/**
 * An upload thread (`upload_pumps.ts`): runs each upload it is handed with a
 * {@linkcode SpliceReceiver} of its own, to the end, in this thread's reactor,
 * writing its progress where the main thread reads it. Loaded only through
 * `new Worker` by `UploadPumps`.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { LocalFileError } from "../transport.ts";
import { libc, SystemError } from "./libc.ts";
import { forget, prepareReactor } from "./reactor.ts";
import type { NetworkError } from "./socket_errors.ts";
import { SpliceReceiver } from "./splice_receiver.ts";
import type { PumpAnswer, PumpFailure, PumpJob } from "./upload_pumps.ts";

/** What the main thread needs to rebuild `error`. */
function failureOf(error: unknown): PumpFailure {
  if (error instanceof LocalFileError && error.cause instanceof SystemError) {
    return { kind: "file", call: error.cause.call, errno: error.cause.errno };
  }
  const network = error as Partial<NetworkError>;
  if (typeof network.errno === "number" && typeof network.call === "string") {
    return { kind: "network", call: network.call, errno: network.errno };
  }
  return { kind: "other", message: error instanceof Error ? error.message : String(error) };
}

/** Runs `job` to its end; how it ended, once its pipe is closed. */
async function receiveAll(job: PumpJob): Promise<PumpAnswer> {
  const progress = new Float64Array(job.progress);
  using receiver = new SpliceReceiver(() => job.socket, { mayWaitForDisk: true });
  try {
    for (let bytes = 0;;) {
      const n = await receiver.receive(job.file, job.offset + bytes, job.step, job.patience);
      if (n === 0) return { id: job.id, bytes };
      bytes += n;
      progress[0] = bytes;
      progress[1] = performance.timeOrigin + performance.now();
    }
  } catch (error) {
    return { id: job.id, failure: failureOf(error) };
  } finally {
    // The socket is the main thread's to close, and its number may come back in another job.
    forget(job.socket);
  }
}

self.onmessage = async ({ data }: MessageEvent<PumpJob>) =>
  self.postMessage(await receiveAll(data));
const ready = libc() !== null;
if (ready) prepareReactor();
self.postMessage({ ready } satisfies PumpAnswer);
