import { AbstractedFS } from "../mod.ts";
import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { testCerts } from "./support/certs.ts";
import { PASSWORD, USER, withServer } from "./support/server.ts";

const FTPBENCH = new URL("../bench/ftpbench.ts", import.meta.url).pathname;

interface Report {
  rows: { name: string; value: number; unit: string }[];
  failed: boolean;
}

/** Runs ftpbench against 127.0.0.1:`port` with `args`; its exit code, stderr and JSON report. */
async function ftpbench(port: number, args: string[]) {
  const json = await Deno.makeTempFile({ suffix: ".json" });
  try {
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", FTPBENCH, "-u", USER, "-p", PASSWORD, "-H", "127.0.0.1"]
        .concat(["-P", `${port}`, "--json", json, ...args]),
      stdout: "piped",
      stderr: "piped",
    }).output();
    const report: Report = JSON.parse(await Deno.readTextFile(json));
    return { code: run.code, stderr: new TextDecoder().decode(run.stderr), report };
  } finally {
    await Deno.remove(json);
  }
}

async function names(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir))).map((entry) => entry.name);
}

/** The rows of `-b all -n 5 -s 256K`: the seed's table. */
const ALL_ROWS = [
  "STOR (client -> server)",
  "RETR (server -> client)",
  "5 concurrent clients (connect, login)",
  "STOR (1 file with 5 idle clients)",
  "RETR (1 file with 5 idle clients)",
  "5 concurrent clients (RETR 256K file)",
  "5 concurrent clients (STOR 256K file)",
  "5 concurrent clients (QUIT)",
];

Deno.test("ftpbench -b all measures the seed's rows and removes its files", async () => {
  await withServer({}, async ({ port, home }) => {
    const { code, stderr, report } = await ftpbench(port, ["-b", "all", "-n", "5", "-s", "256K"]);
    assertEquals(code, 0, stderr);
    assertEquals(report.rows.map((row) => row.name), ALL_ROWS);
    assert(report.rows.every((row) => row.value > 0));
    assertStringIncludes(stderr, "... ", "progress is reported while it runs");
    assertEquals(await names(home), [], "the files it made are removed");
  });
});

Deno.test("ftpbench -b idle: STOR and RETR alone, then with N idle clients, in one run", async () => {
  await withServer({}, async ({ port }) => {
    const { code, stderr, report } = await ftpbench(port, ["-b", "idle", "-n", "5", "-s", "256K"]);
    assertEquals(code, 0, stderr);
    const withoutConcurrentTransfers = ALL_ROWS.filter((name) => !name.endsWith("256K file)"));
    assertEquals(report.rows.map((row) => row.name), withoutConcurrentTransfers);
  });
});

/** Serves, for every download, a file of the right length filled with zeros. */
class WrongBytesFS extends AbstractedFS {
  override async open(path: string, options: Deno.OpenOptions): Promise<Deno.FsFile> {
    if (options.write || options.append) return await super.open(path, options);
    const decoy = await Deno.makeTempFile({ prefix: "tsftpd-zeros-" });
    await Deno.writeFile(decoy, new Uint8Array((await Deno.stat(path)).size));
    const file = await super.open(decoy, options);
    await Deno.remove(decoy);
    return file;
  }
}

Deno.test("ftpbench fails a server that answers with the wrong bytes", async () => {
  const abstractedFs = (root: string) => new WrongBytesFS(root);
  await withServer({ abstractedFs }, async ({ port }) => {
    const { code, stderr, report } = await ftpbench(port, ["-b", "download", "-s", "64K"]);
    assertEquals(code, 1);
    assert(report.failed);
    assertStringIncludes(stderr, "differs from what was uploaded");
  });
});

Deno.test("ftpbench refuses at once a client count past its open-file limit", async () => {
  const run = await new Deno.Command("sh", {
    args: [
      "-c",
      'ulimit -n 256 && exec "$0" run -A "$1" -b idle -n 1000',
      Deno.execPath(),
      FTPBENCH,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(run.code, 2);
  assertStringIncludes(
    new TextDecoder().decode(run.stderr),
    "raise the hard limit first (ulimit -n 1032)",
  );
});

Deno.test("ftpbench -b listing --ssl-compare: N listings plain, then over PROT P", async () => {
  const certs = await testCerts();
  const tls = { certfile: certs.cert, keyfile: certs.key };
  await withServer({ tls }, async ({ port }) => {
    const args = ["-b", "listing", "-n", "20", "--ssl-compare", "--cafile", certs.ca];
    const { code, stderr, report } = await ftpbench(port, args);
    assertEquals(code, 0, stderr);
    assertEquals(report.rows.map((row) => row.name), [
      "20 listings (NLST, a data connection each)",
      "20 listings (NLST, a data connection each) [PROT P]",
    ]);
    assert(report.rows.every((row) => row.value > 0 && row.unit === "s"));
  });
});
