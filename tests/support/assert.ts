/**
 * Assertions for the tests, over `node:assert` (the standard library's `@std/assert`
 * is not reachable from these machines).
 *
 * @module
 */

import nodeAssert from "node:assert/strict";

/** Asserts that `condition` is truthy. */
export function assert(condition: unknown, message?: string): asserts condition {
  nodeAssert.ok(condition, message);
}

/** Asserts deep, strict equality. */
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  nodeAssert.deepStrictEqual(actual, expected, message);
}

/** Asserts that `actual` matches `pattern`. */
export function assertMatch(actual: string, pattern: RegExp, message?: string): void {
  nodeAssert.match(actual, pattern, message);
}

/** Asserts that `actual` contains `expected`. */
export function assertStringIncludes(actual: string, expected: string, message?: string): void {
  nodeAssert.ok(
    actual.includes(expected),
    message ?? `${JSON.stringify(actual)} does not include ${JSON.stringify(expected)}`,
  );
}

/** Asserts that two byte arrays are equal, reporting the first difference (fast for large ones). */
export function assertBytesEqual(actual: Uint8Array, expected: Uint8Array, message = ""): void {
  nodeAssert.equal(actual.length, expected.length, `byte lengths differ ${message}`);
  const a = new DataView(actual.buffer, actual.byteOffset, actual.byteLength);
  const b = new DataView(expected.buffer, expected.byteOffset, expected.byteLength);
  for (let i = 0; i < actual.length; i++) {
    if (a.getUint8(i) !== b.getUint8(i)) nodeAssert.fail(`bytes differ at offset ${i} ${message}`);
  }
}

/** What `promise` resolves to, or a failure naming `what` if that takes over `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
