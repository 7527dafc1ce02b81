/**
 * The Prometheus metrics: the text format (escaping, the rules a scraper
 * checks), the counters moved by real FTP traffic and scraped over HTTP with
 * `fetch`, from the library and from the command line's `--metrics`.
 *
 * @module
 */

import { FTPServer, Metrics, serveMetrics } from "../mod.ts";
import { MetricFamily } from "../src/prometheus.ts";
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { testCerts } from "./support/certs.ts";
import { runCli, withCli } from "./support/cli.ts";
import { FtpClient } from "./support/ftp_client.ts";
import { diskTest, store, waitFor, withServer } from "./support/server.ts";

/** The samples of a scrape, by `name{label="value",...}` with the labels sorted. */
type Samples = Map<string, number>;

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)$`);
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(?:,|$)/y;

function unescape(value: string): string {
  return value.replace(/\\([\\"n])/g, (_, c) => (c === "n" ? "\n" : c));
}

/** The key of a sample in {@linkcode Samples}. */
function key(name: string, labels: Record<string, string> = {}): string {
  const pairs = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  return `${name}{${pairs.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(",")}}`;
}

/**
 * Parses the text exposition format, asserting what a scraper relies on: one
 * `# HELP` then one `# TYPE` (counter or gauge) before a family's samples, a
 * counter's name ending in `_total`, well-formed and escaped labels, numeric
 * values, a final newline.
 */
function parseExposition(text: string): Samples {
  assert(text.endsWith("\n"), "the text ends with a newline");
  const samples: Samples = new Map();
  const helped = new Set<string>();
  const types = new Map<string, string>();
  for (const line of text.slice(0, -1).split("\n")) {
    const comment = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (comment) {
      const [, kind, name, rest] = comment;
      assertMatch(name, new RegExp(`^${NAME}$`));
      if (kind === "HELP") {
        assert(!helped.has(name), `one # HELP for ${name}`);
        assert(!/\\[^\\n]/.test(rest.replaceAll("\\\\", "")), `escapes in the help of ${name}`);
        helped.add(name);
      } else {
        assert(helped.has(name) && !types.has(name), `# TYPE of ${name} after its # HELP`);
        assert(rest === "counter" || rest === "gauge", `${name} is a counter or a gauge`);
        if (rest === "counter") assertMatch(name, /_total$/, "a counter's name");
        types.set(name, rest);
      }
      continue;
    }
    const sample = SAMPLE.exec(line);
    assert(sample, `a sample line: ${JSON.stringify(line)}`);
    const [, name, labelText = "", value] = sample;
    assert(types.has(name), `${name} has its # TYPE before its samples`);
    const labels: Record<string, string> = {};
    LABEL.lastIndex = 0;
    while (LABEL.lastIndex < labelText.length) {
      const pair = LABEL.exec(labelText);
      assert(pair, `well-formed labels: ${line}`);
      labels[pair[1]] = unescape(pair[2]);
    }
    assertMatch(value, /^-?\d+(\.\d+)?$/, `a number: ${line}`);
    assert(!samples.has(key(name, labels)), `one sample for ${line}`);
    samples.set(key(name, labels), Number(value));
  }
  return samples;
}

/** Scrapes `http://127.0.0.1:port/metrics`, asserting the reply's status and type. */
async function scrape(port: number): Promise<Samples> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  assertEquals(response.status, 200);
  assertEquals(response.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  return parseExposition(await response.text());
}

/** The value of one sample of a scrape (a missing one fails the test). */
function value(samples: Samples, name: string, labels: Record<string, string> = {}): number {
  const found = samples.get(key(name, labels));
  assert(found !== undefined, `no sample ${key(name, labels)} in ${[...samples.keys()]}`);
  return found;
}

Deno.test("the text format: help and label values escaped, every label set from 0, counters only go up", () => {
  const family = new MetricFamily(
    "t_events_total",
    'Back\\slash and\nnewline, "quotes" kept.',
    "counter",
    {
      kind: ['a"b', "c\\d", "e\nf"],
      side: ["x"],
    },
  );
  family.add(2, { kind: "c\\d", side: "x" });
  const text = family.render();
  assertEquals(
    text,
    '# HELP t_events_total Back\\\\slash and\\nnewline, "quotes" kept.\n' +
      "# TYPE t_events_total counter\n" +
      't_events_total{kind="a\\"b",side="x"} 0\n' +
      't_events_total{kind="c\\\\d",side="x"} 2\n' +
      't_events_total{kind="e\\nf",side="x"} 0\n',
  );
  const samples = parseExposition(text);
  assertEquals(value(samples, "t_events_total", { kind: "c\\d", side: "x" }), 2);
  assertEquals(value(samples, "t_events_total", { kind: "e\nf", side: "x" }), 0);
  const refusal = (action: () => void) => {
    try {
      action();
    } catch (error) {
      return (error as Error).message;
    }
    return "accepted";
  };
  assertEquals(
    refusal(() => family.add(-1, { kind: 'a"b', side: "x" })),
    "t_events_total is a counter: it cannot go down",
  );
  assertEquals(
    refusal(() => family.add(1, { kind: "z", side: "x" })),
    't_events_total has no sample {"kind":"z","side":"x"}',
  );
  assertEquals(
    refusal(() => new MetricFamily("t_events", "x", "counter")),
    "a counter's name ends with _total: t_events",
  );
  const gauge = new MetricFamily("t_open", "Open.", "gauge");
  gauge.add(3);
  gauge.add(-1);
  assertEquals(gauge.render(), "# HELP t_open Open.\n# TYPE t_open gauge\nt_open 2\n");
});

diskTest(
  "serveMetrics: sessions, logins, transfers by direction and result, 421s and refused paths move as the traffic goes",
  async () => {
    const metrics = new Metrics();
    let metricsPort = 0;
    await using endpoint = serveMetrics(metrics, {
      port: 0,
      onListen: ({ port }) => metricsPort = port,
    });
    const outside = await Deno.makeTempDir({ prefix: "tsftpd-outside-" });
    try {
      await withServer({ metrics, maxConsPerIp: 2 }, async ({ port, home }) => {
        const start = await scrape(metricsPort);
        assertEquals(value(start, "tsftpd_sessions_open"), 0);
        for (const result of ["ok", "failed", "refused"]) {
          assertEquals(
            value(start, "tsftpd_logins_total", { result }),
            0,
            "every label set from 0",
          );
        }
        const client = await FtpClient.login(port);
        const wrong = await FtpClient.connect(port);
        try {
          assertEquals((await wrong.command("USER user")).code, 331);
          assertEquals((await wrong.command("PASS wrong")).code, 530);
          assertEquals((await FtpClient.connect(port)).greeting.code, 421);
          let now = await scrape(metricsPort);
          assertEquals(value(now, "tsftpd_sessions_open"), 2);
          assertEquals(value(now, "tsftpd_sessions_total"), 2, "the refused one is not a session");
          assertEquals(value(now, "tsftpd_logins_total", { result: "ok" }), 1);
          assertEquals(value(now, "tsftpd_logins_total", { result: "failed" }), 1);
          const limit = { reason: "max_cons_per_ip" };
          assertEquals(value(now, "tsftpd_connections_refused_total", limit), 1);
          assertEquals(value(now, "tsftpd_connections_refused_total", { reason: "max_cons" }), 0);

          await client.command("TYPE I");
          await client.store("up.bin", new Uint8Array(5000));
          assertEquals((await client.retr("up.bin")).length, 5000);
          await client.list();
          // An upload aborted after 100,000 bytes.
          const data = await client.pasv();
          assertEquals((await client.command("STOR cut.bin")).code, 125);
          await data.write(new Uint8Array(100_000));
          while (!(await client.command("STAT")).text.includes("(100000 bytes so far)"));
          await client.send("ABOR");
          assertEquals((await client.reply()).code, 426);
          assertEquals((await client.reply()).code, 226);
          data.close();
          // A download whose client goes away: failed.
          await store.sparseFile(`${home}/big`, 512 * 1024 * 1024);
          const big = await client.pasv();
          assertEquals((await client.command("RETR big")).code, 125);
          await big.read(new Uint8Array(65536));
          big.close();
          assertEquals((await client.reply()).code, 426);
          // A path leading outside the home.
          await Deno.symlink(outside, `${home}/out`);
          assertEquals((await client.command("CWD out")).code, 550);
          assertEquals((await client.command("CWD missing")).code, 550, "not a jail refusal");

          now = await scrape(metricsPort);
          const transfers = (direction: string, result: string) => [
            value(now, "tsftpd_transfers_total", { direction, result }),
            value(now, "tsftpd_transfer_bytes_total", { direction, result }),
          ];
          assertEquals(transfers("upload", "completed"), [1, 5000]);
          assertEquals(transfers("download", "completed"), [1, 5000], "the listing is not counted");
          assertEquals(transfers("upload", "aborted"), [1, 100_000]);
          const [failed, sent] = transfers("download", "failed");
          assert(failed === 1 && sent >= 65536, `a failed download, ${sent} bytes sent`);
          assertEquals(transfers("upload", "failed"), [0, 0]);
          assertEquals(transfers("download", "aborted"), [0, 0]);
          assertEquals(value(now, "tsftpd_paths_refused_total"), 1);
          assertEquals(
            value(now, "tsftpd_tls_handshakes_total", { channel: "control", result: "ok" }),
            0,
          );
        } finally {
          client.close();
          wrong.close();
        }
        const deadline = Date.now() + 5000;
        while (value(await scrape(metricsPort), "tsftpd_sessions_open") !== 0) {
          assert(Date.now() < deadline, "the sessions are counted closed");
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      });
    } finally {
      await Deno.remove(outside, { recursive: true });
    }
    const elsewhere = await fetch(`http://127.0.0.1:${metricsPort}/`);
    assertEquals([elsewhere.status, await elsewhere.text()], [
      404,
      "Not found: the metrics are at /metrics.\n",
    ]);
    const posted = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { method: "POST" });
    assertEquals([posted.status, posted.headers.get("allow")], [405, "GET, HEAD"]);
    await posted.body?.cancel();
    assertEquals(metrics.value("tsftpd_logins_total", { result: "ok" }), 1, "read by the library");
    await endpoint.shutdown();
  },
);

Deno.test("two servers given one Metrics count into it", async () => {
  const metrics = new Metrics();
  await withServer({ metrics }, async ({ port, server }) => {
    await using other = new FTPServer({
      hostname: "127.0.0.1",
      port: 0,
      authorizer: server.config.authorizer,
      logger: server.logger,
      metrics,
    });
    const serving = other.serve({ handleExit: false });
    const one = await FtpClient.login(port);
    const two = await FtpClient.login(other.addr.port);
    one.close();
    two.close();
    assertEquals(metrics.value("tsftpd_sessions_total"), 2);
    assertEquals(metrics.value("tsftpd_logins_total", { result: "ok" }), 2);
    await waitFor(() => metrics.value("tsftpd_sessions_open") === 0);
    other.close();
    await serving;
  });
});

Deno.test("--metrics: the plain and the implicit FTPS listener share one endpoint; TLS handshakes counted; closed with the server", async () => {
  const { ca, cert, key: keyfile } = await testCerts();
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "tsftpd-metrics-cli-" }));
  let metricsPort = 0;
  try {
    const args = [
      ...["-d", dir, "-w", "-u", "user", "-P", "pw", "--metrics", "127.0.0.1:0"],
      ...["--tls", "--certfile", cert, "--keyfile", keyfile, "--implicit-port", "0"],
    ];
    await withCli(args, dir, async (running) => {
      await running.waitForLog(/>>> starting FTP server on 127\.0\.0\.1:\d+[^]*>>> starting/);
      const ports = [...running.log.matchAll(/>>> starting FTP server on 127\.0\.0\.1:(\d+)/g)];
      const implicitPort = Number(ports[1][1]);
      metricsPort = Number(
        /metrics: Prometheus text format at http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(
          running.log,
        )![1],
      );
      const plain = await FtpClient.login(running.port, "user", "pw");
      const secure = await FtpClient.connectTls(implicitPort, [await Deno.readTextFile(ca)]);
      try {
        await secure.login("user", "pw");
        await plain.store("up.txt", new Uint8Array(10));
        // Not TLS at all: the implicit listener's handshake fails.
        const garbage = await Deno.connect({ hostname: "127.0.0.1", port: implicitPort });
        await garbage.write(new TextEncoder().encode("USER user\r\n"));
        await garbage.read(new Uint8Array(1024)).catch(() => null);
        garbage.close();
        const control = (result: string) => ({ channel: "control", result });
        const deadline = Date.now() + 5000;
        let now = await scrape(metricsPort);
        while (value(now, "tsftpd_tls_handshakes_total", control("failed")) === 0) {
          assert(Date.now() < deadline, "the failed handshake is counted");
          await new Promise((resolve) => setTimeout(resolve, 10));
          now = await scrape(metricsPort);
        }
        assertEquals(value(now, "tsftpd_sessions_total"), 3, "both listeners' sessions");
        assertEquals(value(now, "tsftpd_logins_total", { result: "ok" }), 2);
        assertEquals(value(now, "tsftpd_tls_handshakes_total", control("ok")), 1);
        assertEquals(value(now, "tsftpd_tls_handshakes_total", control("failed")), 1);
        const upload = { direction: "upload", result: "completed" };
        assertEquals(value(now, "tsftpd_transfer_bytes_total", upload), 10);
      } finally {
        plain.close();
        secure.close();
      }
    });
    const after = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then(
      () => "still served",
      () => "closed",
    );
    assertEquals(after, "closed", "the endpoint ends with the process");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--metrics on a port in use: exit status 1 and why", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const address = `127.0.0.1:${taken.addr.port}`;
  const outcome = await runCli(["-i", "127.0.0.1", "-p", "0", "--metrics", address]);
  assertEquals([outcome.code, outcome.stderr], [
    1,
    `tsftpd: cannot serve the metrics on ${address}: address already in use\n`,
  ]);
});
