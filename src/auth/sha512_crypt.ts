/**
 * SHA-512-crypt (`$6$`), the `/etc/shadow` format of glibc, written from Ulrich
 * Drepper's specification "Unix crypt using SHA-256 and SHA-512" (2007): the
 * same steps, numbered as the specification numbers them. Synchronous and
 * CPU-bound: the server runs it in a worker (`sha512_crypt_worker.ts`), never on
 * the event loop.
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";

/** The rounds when the salt names none. */
export const DEFAULT_ROUNDS = 5000;
/** The fewest rounds the specification allows (fewer are raised to it). */
export const MIN_ROUNDS = 1000;
/** The most rounds the specification allows (more are lowered to it). */
export const MAX_ROUNDS = 999_999_999;
/** The longest salt used; the rest is ignored. */
const MAX_SALT_LENGTH = 16;

/** The crypt alphabet: base 64 with `./` first. */
const ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/**
 * The order in which the 64 digest bytes are encoded, three at a time (step 22 of
 * the specification); the last byte alone follows.
 */
const ORDER: readonly (readonly [number, number, number])[] = [
  [0, 21, 42],
  [22, 43, 1],
  [44, 2, 23],
  [3, 24, 45],
  [25, 46, 4],
  [47, 5, 26],
  [6, 27, 48],
  [28, 49, 7],
  [50, 8, 29],
  [9, 30, 51],
  [31, 52, 10],
  [53, 11, 32],
  [12, 33, 54],
  [34, 55, 13],
  [56, 14, 35],
  [15, 36, 57],
  [37, 58, 16],
  [59, 17, 38],
  [18, 39, 60],
  [40, 61, 19],
  [62, 20, 41],
];

function sha512(...parts: Uint8Array[]): Uint8Array {
  const hash = createHash("sha512");
  for (const part of parts) hash.update(part);
  return hash.digest();
}

/** `length` bytes of `block` repeated (steps 16 and 20: the P and S sequences). */
function repeated(block: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let offset = 0; offset < length; offset += block.length) {
    out.set(block.subarray(0, Math.min(block.length, length - offset)), offset);
  }
  return out;
}

/** `n` characters of the crypt base 64 of the 24-bit number `b2 b1 b0`, least significant first. */
function base64From24Bits(b2: number, b1: number, b0: number, n: number): string {
  let w = (b2 << 16) | (b1 << 8) | b0;
  let out = "";
  for (let i = 0; i < n; i++) {
    out += ALPHABET[w & 0x3f];
    w >>= 6;
  }
  return out;
}

/** The 86 characters that encode a 64-byte digest (step 22). */
export function encodeDigest(digest: Uint8Array): string {
  let out = "";
  for (const [a, b, c] of ORDER) out += base64From24Bits(digest[a], digest[b], digest[c], 4);
  return out + base64From24Bits(0, 0, digest[63], 2);
}

/**
 * The 86-character hash of `password` with `salt` (at most 16 bytes are used) and
 * `rounds` (raised to 1000 or lowered to 999,999,999 as the specification says).
 */
export function sha512CryptDigest(password: Uint8Array, salt: Uint8Array, rounds: number): string {
  const p = password;
  const s = salt.subarray(0, MAX_SALT_LENGTH);
  const r = Math.min(MAX_ROUNDS, Math.max(MIN_ROUNDS, Math.floor(rounds)));
  // Steps 4-8: digest B = SHA-512(password, salt, password).
  const b = sha512(p, s, p);
  // Steps 1-3, 9-12: digest A.
  const a = createHash("sha512");
  a.update(p);
  a.update(s);
  a.update(repeated(b, p.length));
  for (let length = p.length; length > 0; length >>= 1) a.update(length & 1 ? b : p);
  let c = a.digest();
  // Steps 13-16: the P sequence, from digest DP of the password repeated once per byte.
  const dp = createHash("sha512");
  for (let i = 0; i < p.length; i++) dp.update(p);
  const pSequence = repeated(dp.digest(), p.length);
  // Steps 17-20: the S sequence, from digest DS of the salt repeated 16 + A[0] times.
  const ds = createHash("sha512");
  for (let i = 0; i < 16 + c[0]; i++) ds.update(s);
  const sSequence = repeated(ds.digest(), s.length);
  // Step 21: the rounds.
  for (let i = 0; i < r; i++) {
    const round = createHash("sha512");
    round.update(i & 1 ? pSequence : c);
    if (i % 3 !== 0) round.update(sSequence);
    if (i % 7 !== 0) round.update(pSequence);
    round.update(i & 1 ? c : pSequence);
    c = round.digest();
  }
  return encodeDigest(c);
}

/** A verification asked of the SHA-512-crypt worker. */
export interface Sha512CryptJob {
  /** Ties the answer to the question. */
  id: number;
  /** The password given, as UTF-8. */
  password: Uint8Array;
  /** The salt, as stored. */
  salt: Uint8Array;
  /** The rounds, as stored (5000 when the hash names none). */
  rounds: number;
  /** The 86-character digest stored. */
  digest: string;
}

/** The worker's answer to a {@linkcode Sha512CryptJob}. */
export type Sha512CryptAnswer = { id: number; ok: boolean } | { id: number; error: string };

/** Whether the job's password hashes to its digest, compared in constant time. */
export function verifySha512Crypt(job: Sha512CryptJob): boolean {
  const encoder = new TextEncoder();
  const computed = encoder.encode(sha512CryptDigest(job.password, job.salt, job.rounds));
  const stored = encoder.encode(job.digest);
  return computed.length === stored.length && timingSafeEqual(computed, stored);
}
