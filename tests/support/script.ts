/**
 * {@linkcode runScript}: a support script run as a process of its own (`deno run
 * --allow-all`), for what a test cannot see from inside the test process: its
 * descriptors (which the tests of other files share) or whether it exits by itself.
 *
 * @module
 */

/** How a script's run ended. */
export interface ScriptOutcome {
  /** Its exit status (137 when it was killed). */
  code: number;
  stdout: string;
  stderr: string;
  /** Whether it was killed for running past its time. */
  killed: boolean;
}

/** Runs `script` to its end, killing it (SIGKILL) after `timeoutMs`. */
export async function runScript(script: URL, timeoutMs: number): Promise<ScriptOutcome> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", script.pathname],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    child.kill("SIGKILL");
  }, timeoutMs);
  const { code, stdout, stderr } = await child.output();
  clearTimeout(timer);
  const text = new TextDecoder();
  return { code, stdout: text.decode(stdout), stderr: text.decode(stderr), killed };
}
