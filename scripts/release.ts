/**
 * Builds the release binaries: `deno task compile` for every `deno compile
 * --target` (or those named with `--target`), named `tsftpd-VERSION-TARGET[.exe]`
 * with the version from `deno.json`, into `dist/` with a `SHA256SUMS` file that
 * `sha256sum -c SHA256SUMS` checks.
 *
 * ```sh
 * deno run -A scripts/release.ts                       # every target
 * deno run -A scripts/release.ts --target aarch64-apple-darwin --out /tmp/dist
 * ```
 *
 * `deno compile` downloads the `denort` runtime of each target (or takes the one
 * `DENORT_BIN` names, for the running machine's target); where it cannot, the
 * script stops with a message saying so and exit status 1. Usage errors exit 2.
 *
 * @module
 */

import $ from "dax";
import { parseArgs } from "node:util";
import { VERSION } from "../src/version.ts";
import { compileArgs, ROOT } from "./compile_args.ts";

/** Every target `deno compile --target` builds for. */
export const TARGETS: readonly string[] = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
];

/** The name of the file that lists each binary's SHA-256. */
export const SUMS_FILE = "SHA256SUMS";

/** What a release run builds, and where. */
export interface ReleasePlan {
  /** The targets, in {@linkcode TARGETS}' order. */
  targets: string[];
  /** The output directory. */
  out: string;
}

/** A usage mistake (exit status 2) or a failed build (exit status 1), with its message. */
export class ReleaseError extends Error {
  /** The exit status it ends the script with. */
  readonly code: 1 | 2;

  /** `message`, ending the script with `code`. */
  constructor(message: string, code: 1 | 2) {
    super(message);
    this.name = "ReleaseError";
    this.code = code;
  }
}

/** The plan that `args` asks for: `--target T` (repeatable; all when absent), `--out DIR` (`dist`). */
export function parseReleaseArgs(args: string[]): ReleasePlan {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: { target: { type: "string", multiple: true }, out: { type: "string" } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new ReleaseError(`${(error as Error).message}\n${USAGE}`, 2);
  }
  const asked = values.target ?? TARGETS;
  const unknown = asked.find((target) => !TARGETS.includes(target));
  if (unknown !== undefined) {
    throw new ReleaseError(
      `unknown target ${JSON.stringify(unknown)}; the targets are: ${TARGETS.join(", ")}`,
      2,
    );
  }
  return { targets: TARGETS.filter((target) => asked.includes(target)), out: values.out ?? "dist" };
}

const USAGE = "usage: deno run -A scripts/release.ts [--target TARGET]... [--out DIR]";

/** The file name of the binary of `version` for `target`: `tsftpd-0.1.0-x86_64-pc-windows-msvc.exe`. */
export function artifactName(version: string, target: string): string {
  return `tsftpd-${version}-${target}${target.includes("windows") ? ".exe" : ""}`;
}

/** The hex SHA-256 of the file `path`. */
async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * Writes `dir/SHA256SUMS`: one `HASH  NAME` line per file of `names` (in
 * `dir`), the format `sha256sum -c` reads. Returns its text.
 */
export async function writeSums(dir: string, names: string[]): Promise<string> {
  const lines = [];
  for (const name of names) lines.push(`${await sha256(`${dir}/${name}`)}  ${name}\n`);
  const text = lines.join("");
  await Deno.writeTextFile(`${dir}/${SUMS_FILE}`, text);
  return text;
}

/**
 * The reason a `deno compile` for `target` failed, from its standard error (run
 * with `NO_COLOR`): the runtime it could not get, or the compiler's own message.
 */
export function compileFailure(target: string, stderr: string): string {
  // deno compile prints "error: ..." then "Caused by:" and numbered causes.
  const causes = [...stderr.matchAll(/^\s*\d+: (.*)$/gm)].map((match) => match[1]);
  const error = /^error: (.*)$/m.exec(stderr)?.[1] ?? stderr.trim().split("\n").at(-1) ?? "";
  const why = causes.find((cause) => /denort/i.test(cause));
  if (why !== undefined) {
    return `cannot get the denort runtime for ${target}: ${why}. deno compile downloads it ` +
      "(this needs network access) or uses the file DENORT_BIN names (for this machine's target)";
  }
  return `deno compile failed for ${target}: ${[error, ...causes].join(": ")}`;
}

/** Builds `plan`'s binaries and their sums; throws {@linkcode ReleaseError} on the first failure. */
export async function release(plan: ReleasePlan): Promise<string[]> {
  await Deno.mkdir(plan.out, { recursive: true });
  const out = await Deno.realPath(plan.out);
  const names: string[] = [];
  for (const target of plan.targets) {
    const name = artifactName(VERSION, target);
    const args = await compileArgs({ output: `${out}/${name}`, target });
    $.logStep("Building", name);
    const result = await $`${Deno.execPath()} ${args}`.cwd(ROOT).env({ NO_COLOR: "1" })
      .stdout("inherit")
      .stderr("inheritPiped").noThrow();
    if (result.code !== 0) throw new ReleaseError(compileFailure(target, result.stderr), 1);
    names.push(name);
  }
  await writeSums(out, names);
  $.logStep("Wrote", `${out}/${SUMS_FILE}`);
  return names;
}

if (import.meta.main) {
  try {
    await release(parseReleaseArgs(Deno.args));
  } catch (error) {
    if (!(error instanceof ReleaseError)) throw error;
    console.error(`release: ${error.message}`);
    Deno.exit(error.code);
  }
}
