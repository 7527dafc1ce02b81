/**
 * Storing passwords as hash digests: the seed's tutorial section 2.3, its `DummyMD5Authorizer`.
 * Users are added with the MD5 digest of their password, never the password itself. MD5 is
 * what the seed shows, not what to deploy: `strong_hash_authorizer.ts` does the same with scrypt.
 *
 * ```sh
 * deno run -A examples/md5_authorizer.ts [directory]
 * ```
 *
 * @module
 */

import { createHash } from "node:crypto";
import { DummyAuthorizer, FTPServer, type FTPServerOptions, type SessionInfo } from "../mod.ts";

/** The MD5 digest of `password`, in hex: what to store instead of the password. */
export function md5(password: string): string {
  return createHash("md5").update(password, "utf8").digest("hex");
}

/** A {@linkcode DummyAuthorizer} whose users are added with {@linkcode md5} of their password. */
export class DummyMD5Authorizer extends DummyAuthorizer {
  /** Rejects with `AuthenticationFailed` unless the digest of `password` is the stored one. */
  override validateAuthentication(
    username: string,
    password: string,
    session?: SessionInfo,
  ): Promise<void> {
    // The table holds each user's digest as their "password": compare digests.
    return super.validateAuthentication(username, md5(password), session);
  }
}

/** Any {@linkcode FTPServer} option but the authorizer, and the directory the users are jailed in. */
export type Options = Omit<FTPServerOptions, "authorizer"> & { directory?: string };

/** A server on port 2121 for `user` (password `12345`, stored as its MD5) and anonymous users. */
export function createServer({ directory = Deno.cwd(), ...options }: Options = {}): FTPServer {
  const authorizer = new DummyMD5Authorizer();
  authorizer.addUser("user", md5("12345"), directory, { perm: "elradfmwMT" });
  authorizer.addAnonymous(directory);
  return new FTPServer({ port: 2121, ...options, authorizer });
}

if (import.meta.main) {
  await using server = createServer({ directory: Deno.args[0] });
  await server.serveForever();
}
