/**
 * An upload thread (`upload_pumps.ts`): runs each upload it is handed with a
 * {@linkcode SpliceReceiver} of its own, to the end, in this thread's reactor,
 * writing its progress where the main thread reads it, on descriptor copies it
 * closes when the upload ends. Loaded only through `new Worker` by `UploadPumps`.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { LocalFileError } from "../transport.ts";
import { Descriptor, libc, SystemError } from "./libc.ts";
import { closeReactor, forget, prepareReactor } from "./reactor.ts";
import type { NetworkError } from "./socket_errors.ts";
import { receiveToEnd, SpliceReceiver } from "./splice_receiver.ts";
import {
  type PumpAnswer,
  type PumpClose,
  type PumpFailure,
  type PumpJob,
  STOP_FLAG,
} from "./upload_pumps.ts";

/** What the main thread needs to rebuild `error`. */
function failureOf(error: unknown): PumpFailure {
  if (error instanceof LocalFileError && error.cause instanceof SystemError) {
    return { kind: "file", call: error.cause.call, errno: error.cause.errno };
  }
  if (error instanceof Deno.errors.BadResource) return { kind: "closed", message: error.message };
  const network = error as Partial<NetworkError>;
  if (typeof network.errno === "number" && typeof network.call === "string") {
    return { kind: "network", call: network.call, errno: network.errno };
  }
  return { kind: "other", message: error instanceof Error ? error.message : String(error) };
}

/** Runs `job` to its end; how it ended, once its pipe and descriptor copies are closed. */
async function receiveAll(job: PumpJob): Promise<PumpAnswer> {
  using socket = new Descriptor(job.socket);
  using file = new Descriptor(job.file);
  const progress = new Float64Array(job.progress, 0, 2);
  const stop = new Int32Array(job.progress);
  // Stopped by the main thread (a close): as a closed socket is to a receive there.
  const socketFd = () => {
    if (Atomics.load(stop, STOP_FLAG) !== 0) {
      throw new Deno.errors.BadResource("the socket was closed");
    }
    return socket.fd;
  };
  using receiver = new SpliceReceiver(socketFd, { mayWaitForDisk: true });
  try {
    const bytes = await receiveToEnd(receiver, file.fd, job.offset, job, (total) => {
      progress[0] = total;
      progress[1] = Date.now();
    });
    return { id: job.id, bytes };
  } catch (error) {
    return { id: job.id, failure: failureOf(error) };
  } finally {
    // Out of the reactor before its copy is closed: the number may come back in another job.
    forget(socket.fd);
  }
}

self.onmessage = async ({ data }: MessageEvent<PumpJob | PumpClose>) => {
  if ("close" in data) {
    await closeReactor();
    self.close();
  } else {
    self.postMessage(await receiveAll(data));
  }
};
const ready = libc() !== null;
if (ready) prepareReactor();
self.postMessage({ ready } satisfies PumpAnswer);
