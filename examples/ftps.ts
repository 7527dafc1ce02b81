/**
 * An FTPS server (FTP over TLS, RFC 4217): the seed's tutorial section 2.8, "FTPS (FTP over
 * TLS/SSL) server". Clients upgrade with AUTH TLS, then protect data with PBSZ 0 and PROT P;
 * this one requires both, before logging in and before any data connection.
 *
 * ```sh
 * deno run -A examples/ftps.ts cert.pem key.pem [directory]   # or one file with both
 * TSFTPD_CERTFILE=cert.pem TSFTPD_KEYFILE=key.pem deno run -A examples/ftps.ts
 * curl --ssl-reqd -k ftp://user:12345@127.0.0.1:2121/
 * ```
 *
 * @module
 */

import { DummyAuthorizer, FTPServer, type FTPServerOptions } from "../mod.ts";

/** Any {@linkcode FTPServer} option but the authorizer and `tls`, the directory, and the PEM files. */
export type Options = Omit<FTPServerOptions, "authorizer" | "tls"> & {
  directory?: string;
  /** The certificate (PEM), which may hold the key too (default `keycert.pem`). */
  certfile?: string;
  /** The private key (PEM), when not in `certfile`. */
  keyfile?: string;
};

/**
 * A server on port 2121 for `user` (password `12345`) and anonymous users that speaks only
 * TLS; throws `TlsConfigError` when the certificate or key cannot be used.
 */
export function createServer(
  { directory = Deno.cwd(), certfile = "keycert.pem", keyfile, ...options }: Options = {},
): FTPServer {
  const authorizer = new DummyAuthorizer();
  authorizer.addUser("user", "12345", directory, { perm: "elradfmwMT" });
  authorizer.addAnonymous(directory);
  return new FTPServer({
    port: 2121,
    ...options,
    authorizer,
    tls: { certfile, keyfile, controlRequired: true, dataRequired: true },
  });
}

if (import.meta.main) {
  await using server = createServer({
    certfile: Deno.args[0] ?? Deno.env.get("TSFTPD_CERTFILE"),
    keyfile: Deno.args[1] ?? Deno.env.get("TSFTPD_KEYFILE"),
    directory: Deno.args[2],
  });
  await server.serveForever();
}
