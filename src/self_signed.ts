/**
 * A self-signed certificate made on request, for a quick FTPS share with no
 * certificate at hand. Load this module only when asked: its X.509 library needs a
 * `Reflect` metadata polyfill, installed globally.
 *
 * @module
 */

import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import type { CertificatePem } from "./tls.ts";

/** A generated certificate with its key and its SHA-256 fingerprint (colon-separated hex). */
export interface SelfSigned extends CertificatePem {
  /** The certificate's SHA-256 fingerprint, for clients to pin. */
  fingerprint: string;
}

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
const VALID_DAYS = 365;

/** Makes a P-256 certificate for `hostnames` (names and IP addresses), valid for a year. */
export async function generateSelfSigned(hostnames: string[]): Promise<SelfSigned> {
  x509.cryptoProvider.set(crypto);
  const keys = await crypto.subtle.generateKey(ALGORITHM, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const now = new Date();
  const serial = Array.from(
    crypto.getRandomValues(new Uint8Array(8)),
    (b) => b.toString(16).padStart(2, "0"),
  );
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01" + serial.join(""),
    name: "CN=tsftpd self-signed",
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + VALID_DAYS * 86_400_000),
    signingAlgorithm: ALGORITHM,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false),
      new x509.SubjectAlternativeNameExtension(
        hostnames.map((name) => ({
          type: /^[\d.]+$|:/.test(name) ? "ip" as const : "dns" as const,
          value: name,
        })),
      ),
    ],
  });
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", certificate.rawData));
  return {
    cert: certificate.toString("pem"),
    key: x509.PemConverter.encode(pkcs8, "PRIVATE KEY"),
    fingerprint: Array.from(digest, (b) => b.toString(16).padStart(2, "0").toUpperCase()).join(":"),
  };
}
