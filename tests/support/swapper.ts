/**
 * A worker that swaps pairs of directory entries atomically (`renameat2` with
 * `RENAME_EXCHANGE`), as fast as it can, for the time it is told: the attacker of
 * the jail race test. Posts the number of swaps made when done.
 *
 * @module
 */

/** What the test sends: the pairs of paths to swap, and for how long. */
export interface SwapOrder {
  /** Pairs of absolute paths, each swapped in turn. */
  pairs: [string, string][];
  /** How long to keep swapping, in milliseconds. */
  milliseconds: number;
}

const AT_FDCWD = -100;
const RENAME_EXCHANGE = 2;

const libc = Deno.dlopen("libc.so.6", {
  renameat2: { parameters: ["i32", "buffer", "i32", "buffer", "u32"], result: "i32" },
});

const cString = (text: string) => new TextEncoder().encode(text + "\0");

/** The worker's global scope, as the main program's types do not describe it. */
const scope = self as unknown as {
  onmessage: (event: MessageEvent<SwapOrder>) => void;
  postMessage(message: number): void;
};

scope.onmessage = (event) => {
  const pairs = event.data.pairs.map(([a, b]) => [cString(a), cString(b)]);
  const deadline = Date.now() + event.data.milliseconds;
  let swaps = 0;
  while (Date.now() < deadline) {
    for (const [a, b] of pairs) {
      if (libc.symbols.renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) === 0) swaps++;
    }
  }
  libc.close();
  scope.postMessage(swaps);
};
