/**
 * `scripts/soak.ts`: its command line, and a 10-second run against a tsftpd it
 * starts, reported in Markdown, JSON and SVG.
 */

import { parseDuration, parseSoakArgs, SoakArgsError } from "../scripts/soak.ts";
import type { SoakResults } from "../scripts/soak_report.ts";
import { assert, assertEquals, assertMatch } from "./support/assert.ts";

/** The SoakArgsError `read` throws. */
function refused(read: () => unknown): SoakArgsError {
  try {
    read();
  } catch (error) {
    if (error instanceof SoakArgsError) return error;
    throw error;
  }
  throw new Error("not refused");
}

Deno.test("soak: durations and the command line are read, and a bad one is refused", () => {
  assertEquals(parseDuration("10m"), 600_000);
  assertEquals(parseDuration("90"), 90_000);
  assertEquals(parseDuration("1.5h"), 5_400_000);
  assertEquals(parseDuration("250ms"), 250);
  for (const bad of ["", "0", "10x", "-5s", "m"]) {
    refused(() => parseDuration(bad));
  }

  const own = parseSoakArgs(["--duration", "10m", "--clients", "50", "--name", "x"]);
  assertEquals([own.host, own.durationMs, own.clients, own.name], [null, 600_000, 50, "x"]);
  assertEquals(own.intervalMs, 5000, "about 120 samples a run");
  const running = parseSoakArgs(
    ["--host", "10.0.0.5", "--port", "21", "--user", "u", "--pass", "p", "--pid", "42"],
  );
  assertEquals([running.host, running.port, running.user, running.password, running.pid], [
    "10.0.0.5",
    21,
    "u",
    "p",
    42,
  ]);
  for (
    const [args, message] of [
      [["--port", "21"], /give --host/],
      [["--host", "h"], /needs --user and --pass/],
      [["--clients", "0"], /--clients must be/],
      [["--tls", "2"], /share of TLS/],
      [["--host", "h", "--user", "u", "--pass", "p", "--tls", "0.5"], /needs --ca/],
      [["--bogus"], /bogus/],
    ] as const
  ) {
    const error = refused(() => parseSoakArgs([...args]));
    assertMatch(error.message, message);
  }
});

Deno.test("soak: a 10-second run against its own tsftpd reports traffic, memory and descriptors", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsftpd-soak-test-" });
  try {
    const script = new URL("../scripts/soak.ts", import.meta.url).pathname;
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        script,
        "--duration",
        "10s",
        "--clients",
        "4",
        "--out-dir",
        dir,
        "--name",
        "t",
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    assertEquals(code, 0, new TextDecoder().decode(stderr));
    const results: SoakResults = JSON.parse(await Deno.readTextFile(`${dir}/soak-t.json`));
    for (const kind of ["login", "list", "upload", "download", "abort", "tls"]) {
      assert(results.ops[kind] > 0, `no ${kind} in ${JSON.stringify(results.ops)}`);
    }
    assertEquals(results.errors, {});
    assert(results.bytesUp > 0 && results.bytesDown > 0);
    assert(results.samples.length >= 5, `${results.samples.length} samples`);
    assert(
      results.samples.every((s) => s.rss! > 0 && s.fds! > 0),
      "the server's memory and descriptors",
    );
    assertMatch(await Deno.readTextFile(`${dir}/soak-t.md`), /!\[.*\]\(soak-t\.svg\)/);
    assertMatch(await Deno.readTextFile(`${dir}/soak-t.svg`), /^<svg [^]*<polyline [^]*<\/svg>\n$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
