/**
 * A whole session against a `tsftpd` however it is started (the compiled binary,
 * `deno run` with a narrow set of permissions): accounts of a users file with each
 * native and worker-run hash, uploads, downloads and listings in the clear and
 * over FTPS with a generated certificate.
 *
 * @module
 */

import { assertEquals, assertStringIncludes } from "./assert.ts";
import { type Launcher, withCli } from "./cli.ts";
import { randomBytes } from "./data.ts";
import { FtpClient } from "./ftp_client.ts";
import { VECTORS } from "./hash_vectors.ts";
import { withTempDir } from "./temp_dir.ts";

/** The hashes logged in with: a native addon each (argon2, bcrypt), and the worker's (SHA-512-crypt). */
const FORMATS = ["argon2id", "bcrypt $2b$", "SHA-512-crypt"];

/** Runs `curl ARGS` against the server; asserts it succeeds and returns its output. */
async function curl(args: string[]): Promise<Uint8Array> {
  const { code, stdout, stderr } = await new Deno.Command("curl", {
    args: ["--silent", "--show-error", "--max-time", "20", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(code, 0, `curl ${args.join(" ")}: ${new TextDecoder().decode(stderr)}`);
  return stdout;
}

/**
 * Starts tsftpd with `launcher` on a users file (`--users`, `--tls --self-signed`),
 * logs in with each hash format, stores, retrieves and lists a file in the
 * clear, then does the same over FTPS (AUTH TLS, PROT P, with curl). Returns the
 * server's log.
 */
export function fullSession(launcher: Launcher): Promise<string> {
  return withTempDir(async (dir) => {
    const home = `${dir}/home`;
    await Deno.mkdir(home);
    const accounts = FORMATS.map((format, i) => {
      const vector = VECTORS.find((vector) => vector.format === format)!;
      return { name: `user${i}`, password: vector.password, hash: vector.hash };
    });
    await Deno.writeTextFile(
      `${dir}/users.toml`,
      accounts.map((account) =>
        `[[user]]\nname = "${account.name}"\npassword = ${JSON.stringify(account.hash)}\n` +
        `home = ${JSON.stringify(home)}\nperm = "elradfmw"\n`
      ).join("\n"),
    );
    const args = ["--users", `${dir}/users.toml`, "--tls", "--self-signed"];
    return await withCli(args, dir, async (running) => {
      for (const account of accounts) {
        const client = await FtpClient.login(running.port, account.name, account.password);
        await client.expect("QUIT", 221);
        client.close();
      }
      const [{ name, password }] = accounts;
      const bytes = randomBytes(256 * 1024);
      const client = await FtpClient.login(running.port, name, password);
      try {
        await client.expect("TYPE I", 200);
        await client.store("plain.bin", bytes);
        assertEquals(await client.retr("plain.bin"), bytes);
        assertStringIncludes(await client.list(), "plain.bin");
      } finally {
        client.close();
      }
      const url = `ftp://127.0.0.1:${running.port}/`;
      const tls = ["--ssl-reqd", "--insecure", "--user", `${name}:${password}`];
      await Deno.writeFile(`${dir}/upload.bin`, bytes);
      await curl([...tls, "--upload-file", `${dir}/upload.bin`, `${url}tls.bin`]);
      assertEquals(await curl([...tls, `${url}tls.bin`]), bytes);
      assertStringIncludes(new TextDecoder().decode(await curl([...tls, url])), "tls.bin");
    }, launcher);
  });
}
