/**
 * A certificate authority made for the tests, and a server certificate it signed
 * for 127.0.0.1, ::1 and localhost (made with the `openssl` command).
 *
 * @module
 */

/** Paths of the test PKI's files. */
export interface TestCerts {
  /** The CA certificate clients verify against. */
  ca: string;
  /** The server certificate (signed by the CA). */
  cert: string;
  /** The server's key. */
  key: string;
  /** A key that does not belong to `cert`. */
  otherKey: string;
  /** The certificate and key in one file. */
  combined: string;
}

async function openssl(dir: string, ...args: string[]): Promise<void> {
  const { code, stderr } = await new Deno.Command("openssl", {
    args,
    cwd: dir,
    stdout: "null",
    stderr: "piped",
  })
    .output();
  if (code !== 0) throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(stderr)}`);
}

let made: Promise<TestCerts> | null = null;

/** The test PKI, made once per test module and removed when the module's tests end. */
export function testCerts(): Promise<TestCerts> {
  made ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "tsftpd-pki-" });
    globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    await openssl(
      dir,
      "req",
      "-x509",
      ...ec,
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
      "-days",
      "2",
      "-subj",
      "/CN=tsftpd test CA",
    );
    await openssl(
      dir,
      "req",
      ...ec,
      "-keyout",
      "server.key",
      "-out",
      "server.csr",
      "-subj",
      "/CN=localhost",
    );
    await Deno.writeTextFile(
      `${dir}/ext.cnf`,
      "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
    );
    await openssl(
      dir,
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      "server.pem",
      "-days",
      "2",
      "-extfile",
      "ext.cnf",
    );
    await openssl(
      dir,
      "genpkey",
      "-algorithm",
      "EC",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-out",
      "other.key",
    );
    const combined = (await Deno.readTextFile(`${dir}/server.pem`)) +
      (await Deno.readTextFile(`${dir}/server.key`));
    await Deno.writeTextFile(`${dir}/combined.pem`, combined);
    return {
      ca: `${dir}/ca.pem`,
      cert: `${dir}/server.pem`,
      key: `${dir}/server.key`,
      otherKey: `${dir}/other.key`,
      combined: `${dir}/combined.pem`,
    };
  })();
  return made;
}
