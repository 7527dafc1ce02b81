/**
 * Runs a test command and stops it at its first failing test: the test runner of
 * `deno task mutate` (see stryker.config.json).
 *
 * `deno test --fail-fast --parallel` stops starting tests after a failure, but waits for the
 * tests already running in the other workers, some of which wait for a client's 30 s timeout
 * once a mutant has broken the server. Here the first `... FAILED (` line or uncaught error
 * ends the whole process group at once (the command, its workers and the servers and clients
 * that the tests spawned), and the exit code is 1. A run with no failure exits with the
 * command's own code. Passing tests are left out of the output (and colours taken out), so
 * the reason Stryker keeps for a killed mutant is the failing test, not the whole suite.
 *
 * Usage: `deno run --allow-run scripts/fail_fast.ts deno task test --fail-fast ...`
 *
 * @module
 */

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;
const FAILURE = /\.\.\. FAILED \(|\(uncaught error\)|^FAILED \|/;
/** Lines left out, so that Stryker keeps only the failure as a killed mutant's status reason. */
const PASSING = /\.\.\. ok \(|^running \d+ tests? from |^\s*$/;
const encoder = new TextEncoder();

const [program, ...args] = Deno.args;
if (!program) {
  console.error("usage: fail_fast.ts <command> [args...]");
  Deno.exit(2);
}

// detached: the command leads its own process group, so one kill reaches everything it spawned.
const child = new Deno.Command(program, { args, detached: true, stdout: "piped", stderr: "piped" })
  .spawn();
let failed = false;

function killGroup(): void {
  try {
    Deno.kill(-child.pid, "SIGKILL");
  } catch {
    // already gone
  }
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => {
    killGroup();
    Deno.exit(signal === "SIGINT" ? 130 : 143);
  });
}

/** Writes `line` to `out`, uncoloured, unless it passes; a failure kills the group. */
async function emit(line: string, out: typeof Deno.stdout): Promise<void> {
  const plain = line.replace(ANSI, "");
  if (PASSING.test(plain)) return;
  await out.write(encoder.encode(plain + "\n"));
  if (!failed && FAILURE.test(plain)) {
    failed = true;
    killGroup();
  }
}

/** Copies `stream` to `out` line by line through {@linkcode emit}. */
async function watch(stream: ReadableStream<Uint8Array>, out: typeof Deno.stdout): Promise<void> {
  const decoder = new TextDecoder();
  let partial = "";
  for await (const chunk of stream) {
    const lines = (partial + decoder.decode(chunk, { stream: true })).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) await emit(line, out);
  }
  partial += decoder.decode();
  if (partial) await emit(partial, out);
}

await Promise.all([watch(child.stdout, Deno.stdout), watch(child.stderr, Deno.stderr)]);
const status = await child.status;
Deno.exit(failed ? 1 : status.code);
