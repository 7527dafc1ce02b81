/**
 * Storing passwords as salted, slow hashes: the seed's tutorial section 2.3 with scrypt (from
 * `node:crypto`) instead of MD5. Each user is added with `salt:key` in hex; scrypt runs off the
 * event loop, so a login being checked never stalls the other sessions.
 *
 * ```sh
 * deno run -A examples/strong_hash_authorizer.ts [directory]
 * ```
 *
 * @module
 */

import { scrypt, timingSafeEqual } from "node:crypto";
import {
  AuthenticationFailed,
  DummyAuthorizer,
  FTPServer,
  type FTPServerOptions,
  type SessionInfo,
  type UserOptions,
} from "../mod.ts";

/** The scrypt key of `password` and `salt`, 64 bytes, computed on a worker thread. */
function derive(password: string, salt: Uint8Array): Promise<Uint8Array> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, 64, (error, key) => error ? reject(error) : resolve(key))
  );
}

/** Hashes `password` with a fresh random salt, as `salt:key` in hex: what to store instead. */
export async function hashPassword(password: string): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  return `${salt.toHex()}:${(await derive(password, salt)).toHex()}`;
}

/** A {@linkcode DummyAuthorizer} whose users are added with {@linkcode hashPassword}'s output. */
export class ScryptAuthorizer extends DummyAuthorizer {
  readonly #keys = new Map<string, { salt: Uint8Array; key: Uint8Array }>();

  /** Adds a user whose password is stored as `hash`, a {@linkcode hashPassword} result. */
  override addUser(username: string, hash: string, homedir: string, options?: UserOptions): void {
    const [salt, key] = hash.split(":").map((hex) => Uint8Array.fromHex(hex));
    super.addUser(username, hash, homedir, options);
    this.#keys.set(username, { salt, key });
  }

  /** Removes a user and their hash. */
  override removeUser(username: string): void {
    super.removeUser(username);
    this.#keys.delete(username);
  }

  /** Rejects with `AuthenticationFailed` unless `password` derives the stored key. */
  override async validateAuthentication(
    username: string,
    password: string,
    session?: SessionInfo,
  ): Promise<void> {
    const stored = this.#keys.get(username);
    // Anonymous (and unknown) users are the base class's business.
    if (!stored) return super.validateAuthentication(username, password, session);
    const key = await derive(password, stored.salt);
    if (!timingSafeEqual(key, stored.key)) throw new AuthenticationFailed("wrong password");
  }
}

/** Any {@linkcode FTPServer} option but the authorizer, and the directory the users are jailed in. */
export type Options = Omit<FTPServerOptions, "authorizer"> & { directory?: string };

/** A server on port 2121 for `user` (password `12345`, stored as its scrypt hash) and anonymous. */
export async function createServer(
  { directory = Deno.cwd(), ...options }: Options = {},
): Promise<FTPServer> {
  const authorizer = new ScryptAuthorizer();
  authorizer.addUser("user", await hashPassword("12345"), directory, { perm: "elradfmwMT" });
  authorizer.addAnonymous(directory);
  return new FTPServer({ port: 2121, ...options, authorizer });
}

if (import.meta.main) {
  await using server = await createServer({ directory: Deno.args[0] });
  await server.serveForever();
}
