import {
  artifactName,
  compileFailure,
  parseReleaseArgs,
  ReleaseError,
  SUMS_FILE,
  TARGETS,
  writeSums,
} from "../scripts/release.ts";
import { compileArgs, ROOT } from "../scripts/compile_args.ts";
import { VERSION } from "../src/version.ts";
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { denortMissing } from "./support/denort.ts";
import { withTempDir } from "./support/temp_dir.ts";

const decoder = new TextDecoder();

/** The refusal of `args`. */
function refusal(args: string[]): ReleaseError {
  try {
    parseReleaseArgs(args);
  } catch (error) {
    if (error instanceof ReleaseError) return error;
    throw error;
  }
  throw new Error(`${args.join(" ")} was accepted`);
}

Deno.test("release arguments: every target by default, --target picks, --out moves", () => {
  assertEquals(parseReleaseArgs([]), { targets: [...TARGETS], out: "dist" });
  assertEquals(TARGETS.length, 5);
  assertEquals(
    parseReleaseArgs(["--target", "x86_64-pc-windows-msvc", "--target", "aarch64-apple-darwin"]),
    // In the list's order, whatever the order asked.
    { targets: ["aarch64-apple-darwin", "x86_64-pc-windows-msvc"], out: "dist" },
  );
  assertEquals(parseReleaseArgs(["--out", "/tmp/x", "--target", TARGETS[0]]), {
    targets: [TARGETS[0]],
    out: "/tmp/x",
  });
  const unknown = refusal(["--target", "riscv64-unknown-linux-gnu"]);
  assertEquals(unknown.code, 2);
  assertMatch(
    unknown.message,
    /unknown target "riscv64-unknown-linux-gnu"; the targets are: x86_64/,
  );
  const flag = refusal(["--targets", "x"]);
  assertEquals(flag.code, 2);
  assertMatch(flag.message, /--targets.*\nusage: /s);
});

Deno.test("release names: tsftpd-VERSION-TARGET, .exe for Windows, the version deno.json has", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  assertEquals(VERSION, config.version);
  assertEquals(artifactName("1.2.3", "aarch64-apple-darwin"), "tsftpd-1.2.3-aarch64-apple-darwin");
  assertEquals(
    artifactName("1.2.3", "x86_64-pc-windows-msvc"),
    "tsftpd-1.2.3-x86_64-pc-windows-msvc.exe",
  );
});

Deno.test("the compile arguments are the compile task's, with the output and target chosen", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const task = (config.tasks.compile as string).split(" ").slice(1);
  const args = await compileArgs({ output: "/o/bin", target: "aarch64-apple-darwin" });
  assertEquals(args.length, task.length + 2);
  assertEquals(args.at(-1), "main.ts");
  assertEquals(args.slice(-3, -1), ["--target", "aarch64-apple-darwin"]);
  assertEquals(args[args.indexOf("--output") + 1], "/o/bin");
  assertEquals(args.filter((arg) => arg !== "/o/bin" && !args.slice(-3, -1).includes(arg)), [
    ...task.filter((arg) => arg !== "tsftpd"),
  ]);
  assert(!args.includes("tsftpd"));
});

/** The system's checker of a SHA256SUMS file: `sha256sum -c`, or `shasum -a 256 -c` on macOS. */
const SUMS_CHECKER = Deno.build.os === "darwin"
  ? ["shasum", "-a", "256", "-c"]
  : ["sha256sum", "-c"];

Deno.test({
  name: "SHA256SUMS lists each file's SHA-256 as sha256sum -c reads it",
  ignore: Deno.build.os === "windows",
}, async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/tsftpd-a`, "abc");
    await Deno.writeFile(`${dir}/tsftpd-b.exe`, new Uint8Array(70_000).fill(7));
    const text = await writeSums(dir, ["tsftpd-a", "tsftpd-b.exe"]);
    assertEquals(await Deno.readTextFile(`${dir}/${SUMS_FILE}`), text);
    const lines = text.split("\n");
    // SHA-256("abc"), FIPS 180-2's example.
    assertEquals(
      lines[0],
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  tsftpd-a",
    );
    assertMatch(lines[1], /^[0-9a-f]{64} {2}tsftpd-b\.exe$/);
    assertEquals(lines.length, 3);
    const check = () =>
      new Deno.Command(SUMS_CHECKER[0], {
        args: [...SUMS_CHECKER.slice(1), SUMS_FILE],
        cwd: dir,
        stdout: "piped",
        stderr: "null",
      }).output();
    const good = await check();
    assertEquals(decoder.decode(good.stdout), "tsftpd-a: OK\ntsftpd-b.exe: OK\n");
    await Deno.writeTextFile(`${dir}/tsftpd-a`, "abd");
    assertEquals((await check()).code, 1);
  });
});

Deno.test("a failed compile is said in one line: the runtime it could not get, or the compiler's error", () => {
  const download = "error: Writing deno compile executable to temporary " +
    "file 'dist/x.tmp'\n\nCaused by:\n    0: Setting up base binary.\n    1: error sending " +
    "request for url (https://example.invalid/denort-aarch64-apple-darwin.zip): dns error\n" +
    "    2: dns error\n\nStack backtrace:\n";
  assertEquals(
    compileFailure("aarch64-apple-darwin", download),
    "cannot get the denort runtime for aarch64-apple-darwin: error sending request for url " +
      "(https://example.invalid/denort-aarch64-apple-darwin.zip): dns error. deno compile " +
      "downloads it (this needs network access) or uses the file DENORT_BIN names (for this " +
      "machine's target)",
  );
  const typeError = "Check main.ts\nerror: TS2322 [ERROR]: Type 'number' is not assignable.\n";
  assertEquals(
    compileFailure("x86_64-unknown-linux-gnu", typeError),
    "deno compile failed for x86_64-unknown-linux-gnu: TS2322 [ERROR]: Type 'number' is not assignable.",
  );
});

Deno.test("release with a DENORT_BIN that does not exist stops with exit 1, one message, no sums", async () => {
  await withTempDir(async (dir) => {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}scripts/release.ts`, "--target", Deno.build.target, "--out", dir],
      env: { DENORT_BIN: `${dir}/no-such-denort` },
      stdout: "null",
      stderr: "piped",
    }).output();
    assertEquals(output.code, 1);
    const lines = decoder.decode(output.stderr).trimEnd().split("\n");
    assertMatch(
      lines.at(-1)!,
      /^release: cannot get the denort runtime for \S+: Could not find denort at '.*no-such-denort'\. /,
    );
    assertEquals([...Deno.readDirSync(dir)].map((entry) => entry.name), []);
  });
});

Deno.test({
  name: "release builds this machine's binary and its sum where denort is available",
  ignore: denortMissing !== null,
  async fn() {
    await withTempDir(async (dir) => {
      const output = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          `${ROOT}scripts/release.ts`,
          "--target",
          Deno.build.target,
          "--out",
          dir,
        ],
        stdout: "null",
        stderr: "piped",
      }).output();
      assertEquals(output.code, 0, decoder.decode(output.stderr));
      const name = artifactName(VERSION, Deno.build.target);
      const names = [...Deno.readDirSync(dir)].map((entry) => entry.name).sort();
      assertEquals(names, [SUMS_FILE, name].sort());
      assertMatch(
        await Deno.readTextFile(`${dir}/${SUMS_FILE}`),
        new RegExp(`^[0-9a-f]{64}  ${name}\n$`),
      );
    });
  },
});
