import { compileArgs, ROOT } from "../scripts/compile_args.ts";
import { assertEquals, assertStringIncludes } from "./support/assert.ts";
import { runCli } from "./support/cli.ts";
import { denortMissing } from "./support/denort.ts";
import { fullSession } from "./support/full_session.ts";
import { withTempDir } from "./support/temp_dir.ts";
import { VERSION } from "../src/version.ts";

// `deno compile` needs a denort runtime: downloaded, or named by DENORT_BIN. Where
// it cannot get one (these machines cannot download it), the test is skipped, and
// support/denort.ts says why.

Deno.test({
  name: "deno task compile builds a tsftpd binary that serves a whole session, FTPS included",
  ignore: denortMissing !== null,
  async fn() {
    await withTempDir(async (dir) => {
      const binary = `${dir}/tsftpd${Deno.build.os === "windows" ? ".exe" : ""}`;
      const compile = await new Deno.Command(Deno.execPath(), {
        args: await compileArgs({ output: binary }),
        cwd: ROOT,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assertEquals(compile.code, 0, new TextDecoder().decode(compile.stderr));
      const launcher = { program: binary, args: [] };
      const version = await runCli(["--version"], { launcher });
      assertEquals(version, { code: 0, stdout: `tsftpd ${VERSION}\n`, stderr: "" });
      const log = await fullSession(launcher);
      // The binary has the permissions the kernel's jail needs.
      if (Deno.build.os === "linux") assertStringIncludes(log, "jail: the kernel's");
    });
  },
});
