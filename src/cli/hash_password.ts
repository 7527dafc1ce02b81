/**
 * `tsftpd hash-password`: reads a password (from the terminal without echo, twice;
 * or one line of standard input when it is not a terminal) and prints its argon2id
 * hash, the `password` of a users file.
 *
 * @module
 */

import { hashPassword } from "../auth/hashes.ts";
import { CliError } from "./errors.ts";

const encoder = new TextEncoder();

/** The first line of `stdin` (without its line ending); `null` when it ends before any byte. */
async function readLine(stdin: ReadableStream<Uint8Array>): Promise<string | null> {
  const decoder = new TextDecoder();
  const reader = stdin.getReader();
  let text = "";
  let any = false;
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      any = true;
      text += decoder.decode(value, { stream: true });
      if (text.includes("\n")) break;
    }
  } finally {
    reader.releaseLock();
  }
  text += decoder.decode();
  if (!any) return null;
  return text.split("\n")[0].replace(/\r$/, "");
}

/** Reads a line from the terminal without echoing it, after `prompt` on stderr. */
async function readHidden(prompt: string): Promise<string> {
  // Echo is off before the prompt shows, so that nothing typed after it is echoed.
  Deno.stdin.setRaw(true);
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(256);
  let text = "";
  try {
    await Deno.stderr.write(encoder.encode(prompt));
    while (true) {
      const n = await Deno.stdin.read(buffer);
      if (n === null) break;
      const chunk = decoder.decode(buffer.subarray(0, n), { stream: true });
      for (const char of chunk) {
        if (char === "\r" || char === "\n") return text;
        if (char === "\x03") throw new CliError("interrupted", 130, false);
        if (char === "\x04" && text === "") throw new CliError("no password given", 2, false);
        if (char === "\x7f" || char === "\b") text = [...text].slice(0, -1).join("");
        else if (char >= " ") text += char;
      }
    }
    return text;
  } finally {
    Deno.stdin.setRaw(false);
    await Deno.stderr.write(encoder.encode("\n"));
  }
}

/**
 * Reads a password as `hash-password` does: from the terminal without echo, twice
 * (they must match), or the first line of standard input when it is not a
 * terminal. Throws {@linkcode CliError} for none, an empty one or a mismatch.
 */
export async function readPassword(): Promise<string> {
  let password: string;
  if (Deno.stdin.isTerminal()) {
    password = await readHidden("Password: ");
    if (password !== "" && await readHidden("Again: ") !== password) {
      throw new CliError("the passwords do not match", 2, false);
    }
  } else {
    const line = await readLine(Deno.stdin.readable);
    if (line === null) throw new CliError("no password on standard input", 2, false);
    password = line;
  }
  if (password === "") throw new CliError("the password is empty", 2, false);
  return password;
}

/** Runs `tsftpd hash-password ARGS`; resolves to the exit status. */
export async function hashPasswordCommand(args: string[]): Promise<number> {
  if (args.length > 0) {
    throw new CliError(
      `hash-password takes no arguments (the password is read from the terminal or stdin), ` +
        `not ${JSON.stringify(args[0])}`,
    );
  }
  console.log(await hashPassword(await readPassword()));
  return 0;
}
