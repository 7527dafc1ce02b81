import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { generateSelfSigned } from "../src/self_signed.ts";
import { assert, assertEquals, assertMatch } from "./support/assert.ts";

const DAY_MS = 86_400_000;

Deno.test("generateSelfSigned: a year's P-256 certificate, not a CA, its names typed, its fingerprint right", async () => {
  const names = ["localhost", "127.0.0.1", "::1", "node1", "1host.example", "files.example"];
  const before = Date.now();
  const made = await generateSelfSigned(names);
  const cert = new x509.X509Certificate(made.cert);
  assertEquals([cert.subject, cert.issuer], ["CN=tsftpd self-signed", "CN=tsftpd self-signed"]);
  assert(await cert.verify({ signatureOnly: true }), "signed by its own key");
  assertEquals(cert.publicKey.algorithm.name, "ECDSA");
  const notBefore = cert.notBefore.getTime();
  assert(notBefore <= before && notBefore > before - 5 * 60_000, "valid from a moment ago");
  const lifetime = cert.notAfter.getTime() - before;
  assert(Math.abs(lifetime - 365 * DAY_MS) < 5 * 60_000, `valid for a year, not ${lifetime} ms`);
  const constraints = cert.getExtension(x509.BasicConstraintsExtension);
  assertEquals(constraints?.ca, false, "not a certificate authority");
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  assertEquals(san?.names.items.map((name) => [name.type, name.value]), [
    ["dns", "localhost"],
    ["ip", "127.0.0.1"],
    ["ip", "::1"],
    ["dns", "node1"],
    ["dns", "1host.example"],
    ["dns", "files.example"],
  ]);
  assertMatch(made.key, /^-----BEGIN PRIVATE KEY-----\n[\s\S]+\n-----END PRIVATE KEY-----\n?$/);
  assertMatch(made.cert, /^-----BEGIN CERTIFICATE-----\n/);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", cert.rawData));
  const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0").toUpperCase()).join(":");
  assertEquals(made.fingerprint, hex);
});

Deno.test("generateSelfSigned: every certificate has a new 9-byte serial and a 32-byte fingerprint", async () => {
  const made = await Promise.all(
    Array.from({ length: 10 }, () => generateSelfSigned(["localhost"])),
  );
  const serials = made.map((item) => new x509.X509Certificate(item.cert).serialNumber);
  for (const serial of serials) assertMatch(serial, /^01[0-9a-f]{16}$/);
  assertEquals(new Set(serials).size, serials.length, "serials differ");
  for (const { fingerprint } of made) assertMatch(fingerprint, /^[0-9A-F]{2}(:[0-9A-F]{2}){31}$/);
});

Deno.test("generateSelfSigned: its key serves TLS that a client trusting the certificate accepts", async () => {
  const { cert, key } = await generateSelfSigned(["localhost", "127.0.0.1"]);
  using listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
  const accepted = listener.accept().then(async (conn) => {
    await conn.handshake();
    await conn.write(new Uint8Array([42]));
    conn.close();
  });
  using client = await Deno.connectTls({
    hostname: "127.0.0.1",
    port: listener.addr.port,
    caCerts: [cert],
  });
  const byte = new Uint8Array(1);
  assertEquals(await client.read(byte), 1);
  assertEquals(byte[0], 42);
  await accepted;
});
