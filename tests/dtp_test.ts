import { BufferPool } from "../src/data/buffer_pool.ts";
import {
  DEFAULT_DTP_OPTIONS,
  DTPHandler,
  type DTPOptions,
  TransferError,
} from "../src/data/dtp.ts";
import type { Reader, Transport } from "../src/transport.ts";
import { assert, assertEquals } from "./support/assert.ts";

/** A data connection in memory: `incoming` is what the client sends, `sent` what it got. */
class FakeConn implements Transport {
  readonly sent: number[] = [];
  ended = false;
  closed = false;
  readonly cleanEnd?: boolean;
  readonly #incoming: Uint8Array[];
  readonly #writeDelayMs: number;

  constructor(
    options: { incoming?: Uint8Array[]; cleanEnd?: boolean; writeDelayMs?: number } = {},
  ) {
    this.#incoming = [...(options.incoming ?? [])];
    this.cleanEnd = options.cleanEnd;
    this.#writeDelayMs = options.writeDelayMs ?? 0;
  }

  read(p: Uint8Array): Promise<number | null> {
    if (this.closed) return Promise.reject(new Deno.errors.BadResource("closed"));
    const next = this.#incoming.shift();
    if (!next) return Promise.resolve(null);
    const n = Math.min(p.length, next.length);
    p.set(next.subarray(0, n));
    if (n < next.length) this.#incoming.unshift(next.subarray(n));
    return Promise.resolve(n);
  }

  async write(p: Uint8Array): Promise<number> {
    if (this.#writeDelayMs) await new Promise((resolve) => setTimeout(resolve, this.#writeDelayMs));
    if (this.closed) throw new Deno.errors.BrokenPipe("closed");
    this.sent.push(...p);
    return p.length;
  }

  end(): Promise<void> {
    this.ended = true;
    return Promise.resolve();
  }

  close(): void {
    this.closed = true;
  }
}

/** A reader of `chunks` (then the end), counting its reads; `onRead` runs before each. */
function source(chunks: Uint8Array[], onRead?: () => void): Reader & { reads: number } {
  const queue = [...chunks];
  return {
    reads: 0,
    read(p: Uint8Array) {
      this.reads++;
      onRead?.();
      const next = queue.shift();
      if (!next) return Promise.resolve(null);
      p.set(next);
      return Promise.resolve(next.length);
    },
  };
}

/** A sink that keeps what it is given. */
function sink() {
  const bytes: number[] = [];
  return {
    bytes,
    write(p: Uint8Array) {
      bytes.push(...p);
      return Promise.resolve(p.length);
    },
  };
}

const MiB = 1024 * 1024;

function transfer(conn: FakeConn, options: Partial<DTPOptions> = {}) {
  const pool = new BufferPool(MiB, 4 * MiB);
  const dtp = new DTPHandler(conn, { ...DEFAULT_DTP_OPTIONS, ...options }, pool);
  return { dtp, pool };
}

async function failureOf(promise: Promise<unknown>): Promise<TransferError> {
  try {
    await promise;
  } catch (error) {
    assert(error instanceof TransferError, `a TransferError, not ${error}`);
    return error;
  }
  throw new Error("the transfer did not fail");
}

Deno.test("DTPHandler: a file is sent whole, converted, counted; the connection ended and closed; the buffer back", async () => {
  const conn = new FakeConn();
  const { dtp, pool } = transfer(conn);
  const bytes = [new Uint8Array([1, 2, 3]), new Uint8Array([4, 5])];
  await dtp.sendFile(source(bytes), (chunk) => chunk.map((b) => b * 10));
  assertEquals(conn.sent, [10, 20, 30, 40, 50]);
  assertEquals(dtp.bytes, 5);
  assert(conn.ended && conn.closed, "ended (TLS close_notify), then closed");
  assertEquals(pool.inUse, 0, "the buffer went back to the pool");
});

Deno.test("DTPHandler: a listing is sent without taking a transfer buffer", async () => {
  const conn = new FakeConn();
  const { dtp, pool } = transfer(conn);
  const inUse: number[] = [];
  await dtp.sendChunks((async function* () {
    inUse.push(pool.inUse);
    yield new Uint8Array([7]);
  })());
  assertEquals([conn.sent, inUse, pool.inUse], [[7], [0], 0]);
});

Deno.test("DTPHandler: an upload is kept whole; flushed at the end; a TLS end without close_notify is truncated", async () => {
  const incoming = [new Uint8Array([1, 2]), new Uint8Array([3])];
  const kept = sink();
  const conn = new FakeConn({ incoming, cleanEnd: true });
  const { dtp } = transfer(conn);
  await dtp.receiveFile(
    kept,
    Object.assign((chunk: Uint8Array) => chunk, {
      flush: () => new Uint8Array([9]),
    }),
  );
  assertEquals(kept.bytes, [1, 2, 3, 9], "the converter's held bytes come last");
  assertEquals(dtp.bytes, 3);

  const cut = sink();
  const truncated = transfer(new FakeConn({ incoming: [new Uint8Array([5])], cleanEnd: false }));
  const error = await failureOf(truncated.dtp.receiveFile(cut));
  assertEquals(error.failure, "truncated");
  assertEquals(cut.bytes, [5], "what arrived is still written");
});

Deno.test("DTPHandler: aborted before it starts, nothing is read; the first failure is the one kept", async () => {
  const { dtp } = transfer(new FakeConn());
  const file = source([new Uint8Array([1])]);
  dtp.abort("timeout");
  dtp.abort("aborted");
  assertEquals((await failureOf(dtp.sendFile(file))).failure, "timeout");
  assertEquals(file.reads, 0);
});

Deno.test("DTPHandler: an abort while the file is read still fails the transfer", async () => {
  const { dtp } = transfer(new FakeConn());
  let calls = 0;
  // The file ends at the very read during which the abort comes.
  const file = source([new Uint8Array([1])], () => calls++ === 1 && dtp.abort());
  assertEquals((await failureOf(dtp.sendFile(file))).failure, "aborted");
});

Deno.test("DTPHandler: a failing file is a 'file' failure with its cause", async () => {
  const { dtp } = transfer(new FakeConn());
  const cause = new Error("disk gone");
  const broken = { read: () => Promise.reject(cause) };
  const error = await failureOf(dtp.sendFile(broken));
  assertEquals([error.failure, error.cause], ["file", cause]);
  const listing = transfer(new FakeConn());
  const failing = await failureOf(listing.dtp.sendChunks((async function* () {
    yield new Uint8Array([1]);
    throw cause;
  })()));
  assertEquals([failing.failure, failing.cause], ["file", cause]);
});

Deno.test("DTPHandler: writeLimit and readLimit hold the average rate, and seconds tells the time taken", async () => {
  const { dtp } = transfer(new FakeConn(), { writeLimit: 200_000 });
  const chunks = Array.from({ length: 10 }, () => new Uint8Array(10_000));
  await dtp.sendFile(source(chunks));
  // 100,000 bytes at 200,000 bytes per second: the last chunk waits until 0.5 s.
  assert(dtp.seconds >= 0.45 && dtp.seconds < 1.5, `sent in ${dtp.seconds} s`);

  const incoming = Array.from({ length: 10 }, () => new Uint8Array(10_000));
  const upload = transfer(new FakeConn({ incoming }), { readLimit: 200_000 });
  await upload.dtp.receiveFile(sink());
  assert(
    upload.dtp.seconds >= 0.45 && upload.dtp.seconds < 1.5,
    `received in ${upload.dtp.seconds} s`,
  );

  const free = transfer(new FakeConn(), { writeLimit: 0, readLimit: 0 });
  await free.dtp.sendFile(source(chunks));
  assert(free.dtp.seconds < 0.2, "no limit, no wait");
});

Deno.test("DTPHandler: a transfer slower than its limit is not a stall", async () => {
  // 50 ms a write, far below the limit: every write is progress.
  const { dtp } = transfer(new FakeConn({ writeDelayMs: 50 }), {
    writeLimit: 10 * MiB,
    timeout: 0.3,
  });
  await dtp.sendFile(source(Array.from({ length: 14 }, () => new Uint8Array(1000))));
  assertEquals(dtp.bytes, 14_000);
});

Deno.test("DTPHandler: the stall watchdog counts from the last progress", async () => {
  // The first write takes 0.6 s, the second never ends: aborted one timeout (1 s) after
  // that progress, at 1.6 s, when the watchdog closes the connection.
  class StallingConn extends FakeConn {
    #writes = 0;
    #unblock = () => {};
    override async write(p: Uint8Array): Promise<number> {
      if (this.#writes++ === 0) {
        await new Promise((resolve) => setTimeout(resolve, 600));
        return p.length;
      }
      await new Promise<void>((resolve) => this.#unblock = resolve);
      throw new Deno.errors.BrokenPipe("closed");
    }
    override close(): void {
      super.close();
      this.#unblock();
    }
  }
  const { dtp } = transfer(new StallingConn(), { timeout: 1 });
  const started = performance.now();
  const error = await failureOf(dtp.sendFile(source([new Uint8Array(1), new Uint8Array(1)])));
  const seconds = (performance.now() - started) / 1000;
  assertEquals(error.failure, "timeout");
  assert(seconds >= 1.5 && seconds < 2.2, `aborted after ${seconds} s`);
});
