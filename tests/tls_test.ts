import { Client } from "basic-ftp";
import { FTPHandler } from "../mod.ts";
import { TlsConfigError, type TLSOptions } from "../mod.ts";
import {
  assert,
  assertBytesEqual,
  assertEquals,
  assertMatch,
  assertStringIncludes,
} from "./support/assert.ts";
import { testCerts } from "./support/certs.ts";
import { randomBytes } from "./support/data.ts";
import { FtpClient } from "./support/ftp_client.ts";
import { python } from "./support/python.ts";
import { PASSWORD, USER, waitFor, withServer } from "./support/server.ts";

const decoder = new TextDecoder();

async function tlsOptions(extra: Partial<TLSOptions> = {}): Promise<TLSOptions> {
  const certs = await testCerts();
  return { certfile: certs.cert, keyfile: certs.key, ...extra };
}

async function caCerts(): Promise<string[]> {
  return [await Deno.readTextFile((await testCerts()).ca)];
}

/** Checks that a server with `tls` completes AUTH TLS with a client verifying against the test CA. */
async function assertServesTls(tls: TLSOptions): Promise<void> {
  await withServer({ tls }, async ({ port }) => {
    const client = await FtpClient.connect(port);
    try {
      await client.startTls(await caCerts());
      assertEquals((await client.command(`USER ${USER}`)).code, 331, "the handshake verified");
    } finally {
      client.close();
    }
  });
}

async function run(
  program: string,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(program, { args, stdout: "piped", stderr: "piped" }).output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/**
 * Python ftplib FTP_TLS, verifying the server against the test CA, at most TLS
 * `maxVersion`; the script gets `ftp` logged in with PROT P.
 */
async function ftplibTls(
  port: number,
  ca: string,
  body: string,
  maxVersion: "TLSv1_2" | "TLSv1_3" = "TLSv1_3",
): Promise<string> {
  return await python(
    `
import ftplib, io, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
ctx.maximum_version = ssl.TLSVersion.${maxVersion}
ftp = ftplib.FTP_TLS(context=ctx, timeout=20)
ftp.connect("127.0.0.1", int(sys.argv[1]))
ftp.login("${USER}", "${PASSWORD}")
ftp.prot_p()
${body}
`,
    String(port),
    ca,
  );
}

Deno.test("FEAT advertises AUTH TLS, PBSZ and PROT only with a certificate; AUTH without one is 502", async () => {
  await withServer({ tls: await tlsOptions() }, async ({ port }) => {
    const client = await FtpClient.connect(port);
    try {
      const feat = (await client.command("FEAT")).lines;
      for (const line of [" AUTH TLS", " PBSZ", " PROT"]) assert(feat.includes(line), line);
    } finally {
      client.close();
    }
  });
  await withServer({}, async ({ port }) => {
    const client = await FtpClient.connect(port);
    try {
      assert(!(await client.command("FEAT")).text.includes("AUTH"));
      assertEquals((await client.command("AUTH TLS")).code, 502);
    } finally {
      client.close();
    }
  });
});

Deno.test("AUTH, PBSZ, PROT and CCC follow RFC 4217", async () => {
  await withServer({ tls: await tlsOptions() }, async ({ port }) => {
    const client = await FtpClient.connect(port);
    try {
      assertEquals((await client.command("PBSZ 0")).code, 503, "PBSZ before AUTH");
      assertEquals((await client.command("PROT P")).code, 503, "PROT before AUTH");
      assertEquals((await client.command("AUTH KERBEROS")).code, 504);
      await client.startTls(await caCerts());
      assertEquals((await client.command("AUTH TLS")).code, 503, "already TLS");
      assertEquals(
        (await client.command("PROT P")).text,
        "You must issue the PBSZ command prior to PROT.",
      );
      assertEquals((await client.command("PBSZ 0")).text, "PBSZ=0 successful.");
      assertEquals((await client.command("PROT S")).code, 536);
      assertEquals((await client.command("PROT E")).code, 536);
      assertEquals((await client.command("PROT X")).code, 504);
      assertEquals((await client.command("PROT C")).code, 200);
      assertEquals((await client.command("PROT P")).code, 200);
      assertEquals((await client.command("CCC")).code, 534);
      assertEquals((await client.command(`USER ${USER}`)).code, 331);
      assertEquals((await client.command(`PASS ${PASSWORD}`)).code, 230);
      assertEquals(
        (await client.command("PWD")).code,
        257,
        "the control connection works over TLS",
      );
      assertEquals((await client.command("PROT C")).code, 200);
      await client.store("clear.txt", new TextEncoder().encode("in the clear"));
      assertEquals(
        decoder.decode(await client.retr("clear.txt")),
        "in the clear",
        "PROT C: plain data",
      );
    } finally {
      client.close();
    }
    const plain = await FtpClient.login(port);
    try {
      assertEquals(
        decoder.decode(await plain.retr("clear.txt")),
        "in the clear",
        "no AUTH: plain data",
      );
    } finally {
      plain.close();
    }
  });
});

Deno.test("bytes sent after AUTH, before the handshake, are never run (CVE-2011-1575)", async () => {
  await withServer({ tls: await tlsOptions() }, async ({ port, logs }) => {
    const client = await FtpClient.connect(port);
    try {
      await client.sendRaw(
        new TextEncoder().encode(`AUTH TLS\r\nUSER ${USER}\r\nPASS ${PASSWORD}\r\n`),
      );
      assertEquals((await client.reply()).code, 234);
      client.conn = await Deno.startTls(client.conn as Deno.TcpConn, {
        hostname: "127.0.0.1",
        caCerts: await caCerts(),
      });
      assertEquals((await client.command("PWD")).code, 530, "the injected login did not happen");
      assert(
        !logs.some((line) => line.includes("<- USER")),
        "the injected USER was never read as a command",
      );
    } finally {
      client.close();
    }
  });
});

Deno.test("tlsControlRequired refuses USER before AUTH; tlsDataRequired refuses PASV before PROT P", async () => {
  await withServer(
    { tls: await tlsOptions({ controlRequired: true, dataRequired: true }) },
    async ({ port }) => {
      const client = await FtpClient.connect(port);
      try {
        const refused = await client.command(`USER ${USER}`);
        assertEquals(refused.code, 550);
        assertStringIncludes(refused.text, "AUTH TLS");
        await client.startTls(await caCerts());
        assertEquals((await client.command(`USER ${USER}`)).code, 331);
        assertEquals((await client.command(`PASS ${PASSWORD}`)).code, 230);
        for (const command of ["PASV", "EPSV", "PORT 127,0,0,1,4,1", "EPRT |1|127.0.0.1|1025|"]) {
          assertEquals((await client.command(command)).code, 550, command);
        }
        await client.command("PBSZ 0");
        await client.command("PROT P");
        assertEquals((await client.command("EPSV")).code, 229);
      } finally {
        client.close();
      }
    },
  );
});

Deno.test("Python ftplib FTP_TLS: PROT P transfers both ways, verified against the test CA", async () => {
  const { ca } = await testCerts();
  await withServer({ tls: await tlsOptions() }, async ({ port, home }) => {
    const bytes = randomBytes(3 * 1024 * 1024 + 11);
    await Deno.writeFile(`${home}/down.bin`, bytes);
    const out = await ftplibTls(
      port,
      ca,
      `
data = io.BytesIO()
ftp.retrbinary("RETR down.bin", data.write)
ftp.storbinary("STOR up.bin", io.BytesIO(data.getvalue()))
ftp.storlines("STOR lines.txt", io.BytesIO(b"a\\r\\nb\\r\\n"))
print(len(data.getvalue()), ftp.nlst())
ftp.quit()
`,
    );
    assertMatch(out, /^3145739 \[.*'down\.bin'.*\]/);
    assertEquals(await Deno.readFile(`${home}/up.bin`), bytes);
    assertEquals(await Deno.readTextFile(`${home}/lines.txt`), "a\nb\n");
  });
});

Deno.test("curl --ssl-reqd (explicit) and ftps:// (implicit) verify the chain against the test CA", async () => {
  const { ca } = await testCerts();
  for (const implicit of [false, true]) {
    await withServer({ tls: await tlsOptions({ implicit }) }, async ({ port, home }) => {
      await Deno.writeTextFile(`${home}/f.txt`, "secret bytes");
      const scheme = implicit ? "ftps" : "ftp";
      const url = `${scheme}://127.0.0.1:${port}/`;
      const common = [
        "--silent",
        "--show-error",
        "--max-time",
        "30",
        "--cacert",
        ca,
        "--user",
        `${USER}:${PASSWORD}`,
      ];
      const ssl = implicit ? [] : ["--ssl-reqd"];
      const down = await run("curl", ...common, ...ssl, `${url}f.txt`);
      assertEquals(down.code, 0, down.stderr);
      assertEquals(down.stdout, "secret bytes");
      const source = `${home}/f.txt`;
      const up = await run("curl", ...common, ...ssl, "-T", source, `${url}copy.txt`);
      assertEquals(up.code, 0, up.stderr);
      assertEquals(await Deno.readTextFile(`${home}/copy.txt`), "secret bytes");
      const untrusted = await run(
        "curl",
        "--silent",
        "--max-time",
        "30",
        ...ssl,
        "--user",
        `${USER}:${PASSWORD}`,
        `${url}f.txt`,
      );
      // curl's exit code 60: the peer's certificate could not be verified.
      assertEquals(untrusted.code, 60, "without the CA the certificate is refused");
    });
  }
});

Deno.test("uploads under TLS 1.3 by clients that never read their data connection arrive whole (curl, rclone)", async () => {
  const { ca } = await testCerts();
  await withServer({ tls: await tlsOptions() }, async ({ port, home }) => {
    const bytes = randomBytes(300_000);
    const source = `${home}/source.bin`;
    await Deno.writeFile(source, bytes);
    for (const [i, passive] of ["--epsv", "--disable-epsv"].entries()) {
      for (const version of ["--tlsv1.3", "--tls-max 1.2"]) {
        for (let round = 0; round < 4; round++) {
          const name = `curl-${i}-${version.length}-${round}.bin`;
          const up = await run(
            "curl",
            "--silent",
            "--show-error",
            "--max-time",
            "30",
            "--ssl-reqd",
            ...version.split(" "),
            passive,
            "--cacert",
            ca,
            "--user",
            `${USER}:${PASSWORD}`,
            "-T",
            source,
            `ftp://127.0.0.1:${port}/${name}`,
          );
          assertEquals(up.code, 0, `${version} ${passive}: ${up.stderr}`);
          assertBytesEqual(await Deno.readFile(`${home}/${name}`), bytes);
        }
      }
    }
    const obscured = (await run("rclone", "obscure", PASSWORD)).stdout.trim();
    const remote =
      `:ftp,host=127.0.0.1,port=${port},user=${USER},pass=${obscured},explicit_tls=true,no_check_certificate=true:`;
    const big = randomBytes(2_500_000);
    await Deno.writeFile(source, big);
    for (let round = 0; round < 3; round++) {
      const copy = await run("rclone", "copyto", source, `${remote}rclone-${round}.bin`);
      assertEquals(copy.code, 0, copy.stderr);
      assertBytesEqual(await Deno.readFile(`${home}/rclone-${round}.bin`), big);
    }
  });
});

Deno.test("lftp and basic-ftp work over explicit FTPS with protected data", async () => {
  const { ca } = await testCerts();
  await withServer({ tls: await tlsOptions({ dataRequired: true }) }, async ({ port, home }) => {
    await Deno.writeTextFile(`${home}/f.txt`, "lftp over tls");
    const local = await Deno.makeTempDir();
    try {
      const lftp = await run(
        "lftp",
        "-c",
        `set net:max-retries 1; set ssl:ca-file ${ca}; set ftp:ssl-force yes; set ftp:ssl-protect-data yes; ` +
          `open -u ${USER},${PASSWORD} ftp://127.0.0.1:${port}; get f.txt -o ${local}/f.txt; put ${local}/f.txt -o back.txt; cls`,
      );
      assertEquals(lftp.code, 0, lftp.stderr);
      assertEquals(await Deno.readTextFile(`${local}/f.txt`), "lftp over tls");
      assertEquals(await Deno.readTextFile(`${home}/back.txt`), "lftp over tls");
      assertStringIncludes(lftp.stdout, "back.txt");
    } finally {
      await Deno.remove(local, { recursive: true });
    }
    const client = new Client(10_000);
    try {
      await client.access({
        host: "127.0.0.1",
        port,
        user: USER,
        password: PASSWORD,
        secure: true,
        secureOptions: { ca: [await Deno.readTextFile(ca)] },
      });
      const names = (await client.list()).map((entry) => entry.name).sort();
      assertEquals(names, ["back.txt", "f.txt"]);
    } finally {
      client.close();
    }
  });
});

Deno.test("an upload under PROT P that ends without close_notify is incomplete (426), TLS 1.2 and 1.3", async () => {
  const { ca } = await testCerts();
  const incomplete: string[] = [];
  class Handler extends FTPHandler {
    override onIncompleteFileReceived(file: string) {
      incomplete.push(file);
    }
  }
  await withServer({ tls: await tlsOptions(), handler: Handler }, async ({ port, home, logs }) => {
    for (const version of ["TLSv1_2", "TLSv1_3"] as const) {
      const out = await ftplibTls(
        port,
        ca,
        `
conn = ftp.transfercmd("STOR cut.bin")
conn.sendall(b"x" * 200000)
conn.close()  # a TCP close without unwrap(): no close_notify
try:
    ftp.voidresp()
    print("accepted")
except ftplib.error_temp as e:
    print(e)
ftp.quit()
`,
        version,
      );
      assertMatch(out.trim(), /^426 .*close_notify/, version);
    }
    await waitFor(() => incomplete.length === 2);
    assertEquals(incomplete, [`${home}/cut.bin`, `${home}/cut.bin`]);
    assert(logs.some((line) => /STOR \S+cut\.bin completed=0/.test(line)));
  });
});

Deno.test("requireSessionReuse: resuming clients (curl) work, ftplib (which never resumes) gets 522", async () => {
  const { ca } = await testCerts();
  await withServer(
    { tls: await tlsOptions({ requireSessionReuse: true }) },
    async ({ port, home }) => {
      await Deno.writeTextFile(`${home}/f.txt`, "resumed");
      const curl = await run(
        "curl",
        "--silent",
        "--show-error",
        "--ssl-reqd",
        "--cacert",
        ca,
        "--user",
        `${USER}:${PASSWORD}`,
        `ftp://127.0.0.1:${port}/f.txt`,
      );
      assertEquals(curl.code, 0, curl.stderr);
      assertEquals(curl.stdout, "resumed");
      const out = await ftplibTls(
        port,
        ca,
        `
try:
    conn = ftp.transfercmd("RETR f.txt")
    conn.recv(1024)  # the server ends the connection it refuses
except OSError:
    pass
try:
    ftp.voidresp()
    print("transferred")
except ftplib.error_perm as e:
    print(e)
`,
      );
      assertMatch(out.trim(), /^522 .*did not resume/);
    },
  );
});

Deno.test("garbage instead of a handshake, or a drop mid-handshake, ends only that session", async () => {
  await withServer({ tls: await tlsOptions() }, async ({ port, logs, server }) => {
    const garbage = await FtpClient.connect(port);
    try {
      assertEquals((await garbage.command("AUTH TLS")).code, 234);
      await garbage.sendRaw(new TextEncoder().encode("USER not-a-handshake\r\n".repeat(10)));
      assert(await garbage.closedByServer());
    } finally {
      garbage.close();
    }
    const dropped = await FtpClient.connect(port);
    assertEquals((await dropped.command("AUTH TLS")).code, 234);
    dropped.close();
    await waitFor(() => server.connections === 0);
    assert(
      logs.some((line) =>
        line.includes("TLS handshake failed") || line.includes("during the TLS handshake")
      ),
    );
    const good = await FtpClient.connect(port);
    try {
      await good.startTls(await caCerts());
      assertEquals((await good.command("NOOP")).code, 200, "the server goes on");
    } finally {
      good.close();
    }
  });
  await withServer({ tls: await tlsOptions({ implicit: true }) }, async ({ port, server }) => {
    const plain = await Deno.connect({ hostname: "127.0.0.1", port });
    await plain.write(new TextEncoder().encode("USER anonymous\r\n"));
    const buffer = new Uint8Array(64);
    const n = await plain.read(buffer).catch(() => null);
    assert(
      n === null || !decoder.decode(buffer.subarray(0, n)).startsWith("220"),
      "no plain-text greeting",
    );
    plain.close();
    await waitFor(() => server.connections === 0);
    const client = await FtpClient.connectTls(port, await caCerts());
    try {
      assertEquals(client.greeting.code, 220, "implicit FTPS greets after the handshake");
      assertEquals((await client.command(`USER ${USER}`)).code, 331);
    } finally {
      client.close();
    }
  });
});

Deno.test("a missing, unreadable or mismatched certificate stops the server at construction", async () => {
  const certs = await testCerts();
  const { DummyAuthorizer, FTPServer } = await import("../mod.ts");
  const dir = await Deno.makeTempDir({ prefix: "tsftpd-tls-" });
  const encrypted = `${dir}/encrypted.key`;
  await run(
    "openssl",
    "pkey",
    "-in",
    certs.key,
    "-aes256",
    "-passout",
    "pass:x",
    "-out",
    encrypted,
  );
  const cases: [TLSOptions, RegExp][] = [
    [{}, /needs a certificate/],
    [
      { certfile: "/no/such/cert.pem" },
      /^cannot read the certificate \/no\/such\/cert\.pem: No such file or directory$/,
    ],
    [{ certfile: dir }, new RegExp(`^cannot read the certificate ${dir}: Is a directory$`)],
    [
      { certfile: certs.cert, keyfile: "/no/such/key.pem" },
      /^cannot read the key \/no\/such\/key\.pem: No such file or directory$/,
    ],
    [{ certfile: certs.key, keyfile: certs.key }, /not a PEM X\.509 certificate/],
    [{ certfile: certs.cert }, /no PEM private key/],
    [{ certfile: certs.cert, keyfile: certs.otherKey }, /does not belong to the certificate/],
    [
      { certfile: certs.cert, keyfile: encrypted },
      /^the private key cannot be read \(it may be encrypted or damaged\)$/,
    ],
  ];
  for (const [tls, message] of cases) {
    let error: unknown;
    try {
      new FTPServer({ hostname: "127.0.0.1", port: 0, authorizer: new DummyAuthorizer(), tls });
    } catch (caught) {
      error = caught;
    }
    assert(error instanceof TlsConfigError, `${JSON.stringify(tls)} should be refused`);
    assertMatch(error.message, message);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a traditional (SEC1) key, and a ready-made secure context, serve TLS too", async () => {
  const certs = await testCerts();
  const dir = await Deno.makeTempDir({ prefix: "tsftpd-tls-" });
  try {
    const sec1 = `${dir}/sec1.key`;
    await run("openssl", "ec", "-in", certs.key, "-out", sec1);
    assertStringIncludes(await Deno.readTextFile(sec1), "BEGIN EC PRIVATE KEY");
    const { createSecureContext } = await import("node:tls");
    const context = createSecureContext({
      cert: await Deno.readTextFile(certs.cert),
      key: await Deno.readTextFile(certs.key),
    });
    await assertServesTls({ certfile: certs.cert, keyfile: sec1 });
    await assertServesTls({ context });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a certificate and key in one PEM file (certfile alone) serve TLS", async () => {
  await assertServesTls({ certfile: (await testCerts()).combined });
});

Deno.test("TLS 1.2 is the minimum: a TLS 1.1 client is refused, 1.2 and 1.3 are served", async () => {
  const { ca } = await testCerts();
  /** Whether an `openssl s_client` limited to `version` completes the handshake on `port`. */
  const handshake = async (port: number, version: string) => {
    const child = new Deno.Command("openssl", {
      args: [
        "s_client",
        "-connect",
        `127.0.0.1:${port}`,
        "-starttls",
        "ftp",
        `-${version}`,
        // Security level 0 lets OpenSSL offer TLS 1.1 at all: the refusal is the server's.
        "-cipher",
        "DEFAULT@SECLEVEL=0",
        "-CAfile",
        ca,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode("QUIT\r\n"));
    await writer.close();
    const { stdout, stderr } = await child.output();
    assert(!decoder.decode(stderr).includes("no protocols available"), "the client offered it");
    return /New, TLSv1\.[23], Cipher is/.test(decoder.decode(stdout));
  };
  await withServer({ tls: await tlsOptions() }, async ({ port }) => {
    assert(!(await handshake(port, "tls1_1")), "TLS 1.1 must be refused");
    assert(await handshake(port, "tls1_2"), "TLS 1.2 is served");
    assert(await handshake(port, "tls1_3"), "TLS 1.3 is served");
  });
  await withServer({ tls: await tlsOptions({ minVersion: "TLSv1.3" }) }, async ({ port }) => {
    assert(!(await handshake(port, "tls1_2")), "minVersion TLSv1.3 refuses TLS 1.2");
    assert(await handshake(port, "tls1_3"), "TLS 1.3 is served");
  });
});

Deno.test("PROT P data connections that never become TLS are 522 with the reason; a reset upload is 426", async () => {
  const { ca } = await testCerts();
  await withServer(
    { tls: await tlsOptions(), dataConnectTimeout: 1 },
    async ({ port, logs }) => {
      const client = await FtpClient.connect(port);
      try {
        await client.startTls(await caCerts());
        await client.login(USER, PASSWORD);
        // PROT P by hand: the client's own data connections stay plain, so no handshake comes.
        assertEquals((await client.command("PBSZ 0")).code, 200);
        assertEquals((await client.command("PROT P")).code, 200);
        const attempts: [string, (data: Deno.Conn) => Promise<void>][] = [
          ["TLS handshake timed out", () => Promise.resolve()],
          ["TLS handshake failed", async (data) => {
            await data.write(new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n"));
          }],
          ["connection closed during the TLS handshake", (data) => {
            data.close();
            return Promise.resolve();
          }],
        ];
        for (const [reason, act] of attempts) {
          const data = await client.pasv();
          assert([125, 150].includes((await client.command("NLST")).code));
          await act(data);
          const reply = await client.reply();
          assertEquals(reply.code, 522, reason);
          assertStringIncludes(reply.text, `Data connection TLS negotiation failed: ${reason}`);
          try {
            data.close();
          } catch {
            // closed above
          }
        }
        assertEquals((await client.command("NOOP")).code, 200, "the session goes on");
      } finally {
        client.close();
      }
      // An upload whose TLS data connection is reset (RST) by the client is incomplete.
      const out = await ftplibTls(
        port,
        ca,
        `
import socket, struct
conn = ftp.transfercmd("STOR reset.bin")
conn.sendall(b"x" * 100000)
conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
conn.close()
try:
    ftp.voidresp()
    print("accepted")
except ftplib.error_temp as e:
    print(e)
`,
      );
      assertMatch(out.trim(), /^426 /);
      assert(logs.some((line) => /STOR \S+reset\.bin completed=0/.test(line)));
    },
  );
});

Deno.test("PROT P transfers end at once (no close_notify wait)", async () => {
  await withServer({ tls: await tlsOptions() }, async ({ port, home }) => {
    await Deno.writeTextFile(`${home}/f`, "x".repeat(100_000));
    const client = await FtpClient.connect(port);
    try {
      await client.startTls(await caCerts());
      await client.login(USER, PASSWORD);
      await client.protectData();
      await client.command("TYPE I");
      await client.retr("f");
      const started = performance.now();
      for (let i = 0; i < 5; i++) assertEquals((await client.retr("f")).length, 100_000);
      // A close_notify that waited out end()'s 5 s fallback would take 25 s here.
      assert(performance.now() - started < 4000, "five downloads in well under 5 s each");
    } finally {
      client.close();
    }
  });
});

Deno.test("a TLS transport whose reader lags holds the sender back, then delivers every byte", async () => {
  const { upgradeToTls } = await import("../src/tls.ts");
  const { createSecureContext } = await import("node:tls");
  const certs = await testCerts();
  const context = createSecureContext({
    cert: await Deno.readTextFile(certs.cert),
    key: await Deno.readTextFile(certs.key),
  });
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const raw = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const [transport, client] = await Promise.all([
    accepted.then((conn) => upgradeToTls(conn, context, 5000)),
    Deno.startTls(raw, { hostname: "127.0.0.1", caCerts: await caCerts() }),
  ]);
  try {
    const total = 32 * 1024 * 1024;
    const chunk = Uint8Array.from({ length: 64 * 1024 }, (_, i) => i % 251);
    let written = 0;
    const writing = (async () => {
      while (written < total) written += await client.write(chunk);
    })();
    await new Promise((resolve) => setTimeout(resolve, 800));
    assert(written < total, `held back while nobody reads (${written} bytes written)`);
    const buffer = new Uint8Array(1024 * 1024);
    let received = 0;
    let sum = 0;
    while (received < total) {
      const n = await transport.read(buffer);
      if (n === null) break;
      for (let i = 0; i < n; i++) sum = (sum + buffer[i]) % 65521;
      received += n;
    }
    await writing;
    let expected = 0;
    for (let i = 0; i < total; i++) expected = (expected + (i % (64 * 1024)) % 251) % 65521;
    assertEquals([received, sum], [total, expected]);
  } finally {
    transport.close();
    client.close();
  }
});
