/**
 * {@linkcode withTempDir}: a temporary directory for the length of a test.
 *
 * @module
 */

/** Runs `body` with a new temporary directory (its real path), removed afterwards. */
export async function withTempDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "tsftpd-test-" }));
  try {
    return await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
