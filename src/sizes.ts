/**
 * Byte counts as operators write them: `512K`, `1.5M`, `2G` (1024-based).
 *
 * @module
 */

const SIZE = /^(\d+(?:\.\d+)?)\s*([KMG]?)$/i;
const MULTIPLIERS: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/** What {@linkcode parseSize} accepts, for messages. */
export const SIZE_SYNTAX =
  'a whole number with an optional K, M or G suffix (1024-based), e.g. "512K"';

/**
 * A byte count: a whole number, or a string of a number with an optional `K`,
 * `M` or `G` suffix (1024-based): `"512K"`, `"1.5M"`. `null` when malformed.
 */
export function parseSize(value: unknown): number | null {
  if (typeof value === "number") return Number.isSafeInteger(value) && value >= 0 ? value : null;
  if (typeof value !== "string") return null;
  const match = SIZE.exec(value.trim());
  if (!match) return null;
  const bytes = Math.floor(Number(match[1]) * MULTIPLIERS[match[2].toUpperCase()]);
  return Number.isSafeInteger(bytes) ? bytes : null;
}

/** `bytes` with the largest suffix that divides it exactly: `262144` is `"256K"`, `1000` is `"1000"`. */
export function formatSize(bytes: number): string {
  for (const suffix of ["G", "M", "K"]) {
    const unit = MULTIPLIERS[suffix];
    if (bytes > 0 && bytes % unit === 0) return `${bytes / unit}${suffix}`;
  }
  return String(bytes);
}
