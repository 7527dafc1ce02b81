/**
 * {@linkcode passiveSlice}: the part of the passive port range one worker hands out.
 *
 * @module
 */

/**
 * Worker `index`'s (from 1) share of `ports` among `count` workers: consecutive
 * slices, as even as can be, that never overlap, so that no two workers offer the
 * same port. `null` (the kernel's choice) stays `null`. Throws a `RangeError` when
 * there are fewer ports than workers.
 */
export function passiveSlice(
  ports: readonly number[] | null,
  index: number,
  count: number,
): number[] | null {
  if (ports === null) return null;
  if (ports.length < count) {
    throw new RangeError(
      `${ports.length} passive ports cannot be shared among ${count} workers: ` +
        "give each worker at least one",
    );
  }
  const start = Math.floor(((index - 1) * ports.length) / count);
  const end = Math.floor((index * ports.length) / count);
  return ports.slice(start, end);
}
