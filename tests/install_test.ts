import { fileURLToPath } from "node:url";
import { VERSION } from "../src/version.ts";
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { withTempDir } from "./support/temp_dir.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const decoder = new TextDecoder();

/** Runs `program args`, with `stdin` as its input; asserts it succeeds and returns its output. */
async function output(program: string, args: string[], stdin = ""): Promise<string> {
  const child = new Deno.Command(program, {
    args,
    cwd: ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(stdin));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  assertEquals(code, 0, `${program} ${args.join(" ")}: ${decoder.decode(stderr)}`);
  return decoder.decode(stdout);
}

Deno.test({
  name: "the README's deno install line installs a tsftpd command that hashes a password",
  ignore: Deno.build.os === "windows",
  async fn() {
    const readme = await Deno.readTextFile(`${ROOT}README.md`);
    const line = /^ *deno install (-g .* -n tsftpd) main\.ts$/m.exec(readme);
    assert(line, "the README shows no `deno install -g ... -n tsftpd main.ts` line");
    await withTempDir(async (dir) => {
      const flags = line[1].split(" ");
      await output(Deno.execPath(), ["install", ...flags, "--root", dir, "main.ts"]);
      const tsftpd = `${dir}/bin/tsftpd`;
      assertEquals(await output(tsftpd, ["--version"]), `tsftpd ${VERSION}\n`);
      // The npm imports came along: the argon2 binding loads.
      assertMatch(await output(tsftpd, ["hash-password"], "s3cret\n"), /^\$argon2id\$v=19\$/);
    });
  },
});
