import { assertEquals, assertStringIncludes } from "./support/assert.ts";

// `deno compile` needs the `denort` runtime: downloaded, or named by DENORT_BIN.
// These machines have no download, so the test runs only where DENORT_BIN is set.
const denort = Deno.env.get("DENORT_BIN");

Deno.test({
  name: "deno task compile builds a tsftpd binary that runs",
  ignore: !denort,
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "tsftpd-compile-" });
    try {
      const root = new URL("..", import.meta.url).pathname;
      const config = JSON.parse(await Deno.readTextFile(`${root}deno.json`));
      const [, ...args] = (config.tasks.compile as string).split(" ").map((word) =>
        word === "tsftpd" ? `${out}/tsftpd` : word === "main.ts" ? `${root}main.ts` : word
      );
      const compile = await new Deno.Command(Deno.execPath(), {
        args,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assertEquals(compile.code, 0, new TextDecoder().decode(compile.stderr));
      const run = await new Deno.Command(`${out}/tsftpd`, { args: ["--version"], stdout: "piped" })
        .output();
      assertEquals(run.code, 0);
      assertStringIncludes(new TextDecoder().decode(run.stdout), "tsftpd ");
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});
