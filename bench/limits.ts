/**
 * How many files this process may open, for checking a benchmark fits before it starts.
 *
 * @module
 */

/**
 * The most files this process may have open (Deno raises its soft limit to the hard
 * one at start-up), or `null` where `/proc/self/limits` does not say.
 */
export async function openFileLimit(): Promise<number | null> {
  try {
    const limits = await Deno.readTextFile("/proc/self/limits");
    const soft = limits.match(/^Max open files\s+(\d+)/m)?.[1];
    return soft === undefined ? null : Number(soft);
  } catch {
    return null;
  }
}
