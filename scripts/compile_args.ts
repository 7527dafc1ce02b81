/**
 * The arguments of `deno task compile`, the one place the binary's permissions,
 * flags and included files are written, with its output (and target) chosen by
 * the caller: what `scripts/release.ts` and the compile test run.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** The repository's root directory; the compile command runs there. */
export const ROOT: string = fileURLToPath(new URL("..", import.meta.url));

/** What to build. */
export interface CompileChoice {
  /** The binary's path. */
  output: string;
  /** A `deno compile --target` triple; the running machine's when absent. */
  target?: string;
}

/**
 * The arguments after `deno` of the `compile` task in `deno.json`, with
 * `--output` replaced by `choice.output` and `--target` added when given; they are
 * meant to run in {@linkcode ROOT}.
 */
export async function compileArgs(choice: CompileChoice): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const task: string = config.tasks.compile;
  const [program, ...args] = task.trim().split(/\s+/);
  const output = args.indexOf("--output");
  if (program !== "deno" || args[0] !== "compile" || output < 0 || output + 1 >= args.length) {
    throw new Error(
      `deno.json's compile task is not "deno compile ... --output FILE ...": ${task}`,
    );
  }
  args[output + 1] = choice.output;
  // The entry point stays last; the target goes before it.
  if (choice.target !== undefined) args.splice(args.length - 1, 0, "--target", choice.target);
  return args;
}
