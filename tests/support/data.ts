/**
 * Test data.
 *
 * @module
 */

/** `n` random bytes. */
export function randomBytes(n: number): Uint8Array {
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) {
    crypto.getRandomValues(bytes.subarray(i, Math.min(n, i + 65536)));
  }
  return bytes;
}
