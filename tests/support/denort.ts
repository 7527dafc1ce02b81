/**
 * Whether `deno compile` can build on this machine: it needs a `denort` runtime,
 * downloaded (these machines cannot) or named by `DENORT_BIN`. Found out once per
 * test file by compiling a one-line program.
 *
 * @module
 */

import { compileFailure } from "../../scripts/release.ts";

/** Why `deno compile` cannot get its runtime here, or `null` when it can (or fails otherwise). */
async function probe(): Promise<string | null> {
  const dir = await Deno.makeTempDir({ prefix: "tsftpd-denort-probe-" });
  try {
    await Deno.writeTextFile(`${dir}/probe.ts`, "console.log(1);\n");
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["compile", "--no-check", "--output", `${dir}/probe`, `${dir}/probe.ts`],
      env: { NO_COLOR: "1" },
      stdout: "null",
      stderr: "piped",
    }).output();
    if (code === 0) return null;
    const reason = compileFailure(Deno.build.target, new TextDecoder().decode(stderr));
    return reason.startsWith("cannot get the denort runtime") ? reason : null;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Why `deno compile` cannot get its runtime here, or `null` when it can. */
export const denortMissing: string | null = await probe();

if (denortMissing !== null) {
  console.log(`the tests that build a binary are skipped: ${denortMissing}`);
}
