/**
 * Hostile command lines for the fuzzer (`tests/fuzz_test.ts`): every verb of a
 * command table with arguments of every shape a client should not send, made
 * from a seeded pseudo-random generator so that a seed replays a run.
 *
 * @module
 */

/** A small, seeded pseudo-random generator (mulberry32): the same seed, the same numbers. */
export class Prng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A number in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A whole number in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Whether an event of probability `p` happens. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
}

const encoder = new TextEncoder();
type Bytes = Uint8Array;
const text = (s: string): Bytes => encoder.encode(s);

function concat(...parts: Bytes[]): Bytes {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Names a path may take: the fixtures, the jail's edges, patterns, flags, odd characters. */
const PATHS = [
  "small",
  "dir",
  "dir/inner",
  "missing",
  "new",
  ".",
  "..",
  "../..",
  "/..",
  "/../../etc/passwd",
  "/",
  "//",
  "/etc/passwd",
  "~",
  "~root/.ssh",
  "*",
  "*.*",
  "[a-z]*",
  "?",
  "**/*",
  "-la",
  "-la /",
  "-R ..",
  "-a -l dir",
  "ünïcødé",
  "日本語/ファイル",
  "😀",
  "\u202etxt.exe",
  "\ufeffbom",
  "a b  c ",
  " leading",
  "trailing ",
  "%s%n%x",
  "$(id)",
  "'; DROP TABLE",
  "con",
  "a".repeat(255),
  "a/".repeat(100),
  "dir/../../..",
  "./././small",
];

/** Numbers of every size and spelling, for REST, PORT, EPRT, MFMT, SITE CHMOD, TYPE, ALLO. */
const NUMBERS = [
  "0",
  "1",
  "-1",
  "-0",
  "+5",
  "1.5",
  "1e309",
  "NaN",
  "Infinity",
  "0x7fffffff",
  "0o777",
  "2147483648",
  "4294967296",
  "9007199254740993",
  "18446744073709551616",
  "9".repeat(400),
  " 12",
  "12 ",
  "",
];

/** Telnet sequences: IP and DM (before ABOR), WILL/DO with options, subnegotiation, a lone IAC. */
const TELNET: Bytes[] = [
  Uint8Array.of(0xff, 0xf4, 0xff, 0xf2),
  Uint8Array.of(0xff, 0xfb, 0x01),
  Uint8Array.of(0xff, 0xfd, 0x03),
  Uint8Array.of(0xff, 0xff),
  Uint8Array.of(0xff),
  Uint8Array.of(0xff, 0xfa, 0x18, 0x01, 0xff, 0xf0),
  Uint8Array.of(0xff, 0xfe),
];

/** Bytes that are not UTF-8: a lone continuation byte, overlong forms, a surrogate, 0xFF. */
const NOT_UTF8: Bytes[] = [
  Uint8Array.of(0x80),
  Uint8Array.of(0xc3, 0x28),
  Uint8Array.of(0xc0, 0xaf),
  Uint8Array.of(0xed, 0xa0, 0x80),
  Uint8Array.of(0xf8, 0x88, 0x80, 0x80, 0x80),
  Uint8Array.of(0xfe, 0xfe, 0xff, 0xff),
  Uint8Array.of(0xe2, 0x82),
];

/** Text that splits a line in two where a server might not expect it (only harmless second commands). */
const INJECTIONS = ["\r\nNOOP", "\nPWD", "\rSYST", "\r\0x", "\0", "a\0b", "\r\n\r\n", "\x1b[2J"];

function number(rng: Prng): string {
  return rng.chance(0.7)
    ? rng.pick(NUMBERS)
    : String(rng.int(2 ** 31) * (rng.chance(0.1) ? -1 : 1));
}

function portTuple(rng: Prng): string {
  const fields = rng.chance(0.8) ? 6 : rng.int(9);
  return Array.from({ length: fields }, () => rng.chance(0.5) ? String(rng.int(256)) : number(rng))
    .join(rng.chance(0.95) ? "," : ";");
}

function eprt(rng: Prng): string {
  const d = rng.pick(["|", "|", "$", "!", ""]);
  const proto = rng.pick(["1", "2", "3", "", "01", number(rng)]);
  const host = rng.pick(["127.0.0.1", "::1", "999.1.1.1", "::ffff:127.0.0.1", "", "x", "1.2.3"]);
  return `${d}${proto}${d}${host}${d}${number(rng)}${d}${rng.chance(0.1) ? "extra" : ""}`;
}

function timestamp(rng: Prng): string {
  return rng.pick([
    "20240101000000",
    "99999999999999",
    "00000000000000",
    "20241301000000",
    "20240230250000",
    "2024010100000060",
    "19691231235959",
    "2024-01-01",
    "20240101000000.999999",
    number(rng),
  ]);
}

/** A path, sometimes with odd bytes mixed in. */
function path(rng: Prng): Bytes {
  const base = text(rng.pick(PATHS));
  if (rng.chance(0.8)) return base;
  const odd = rng.pick([...TELNET, ...NOT_UTF8, text(rng.pick(INJECTIONS))]);
  return rng.chance(0.5) ? concat(base, odd) : concat(odd, base);
}

/** An argument for `verb`: its own kind (numbers, addresses, times, modes) or any other. */
function argument(rng: Prng, verb: string): Bytes {
  const own: Record<string, () => Bytes> = {
    REST: () => text(number(rng)),
    ALLO: () => text(rng.chance(0.5) ? number(rng) : `${number(rng)} R ${number(rng)}`),
    PORT: () => text(portTuple(rng)),
    EPRT: () => text(eprt(rng)),
    EPSV: () => text(rng.pick(["ALL", "1", "2", "3", "all", number(rng)])),
    MFMT: () => concat(text(timestamp(rng) + " "), path(rng)),
    "SITE MFMT": () => concat(text(timestamp(rng) + " "), path(rng)),
    "SITE CHMOD": () =>
      concat(
        text(rng.pick(["777", "0777", "7777", "-1", "abc", "1e3", number(rng)]) + " "),
        path(rng),
      ),
    TYPE: () => text(rng.pick(["A", "I", "L 8", "L 7", "E", "A N", "A T", "i", "L", number(rng)])),
    MODE: () => text(rng.pick(["S", "B", "C", "Z", "s", number(rng)])),
    STRU: () => text(rng.pick(["F", "R", "P", "f", number(rng)])),
    PROT: () => text(rng.pick(["C", "P", "S", "E", "p", "", number(rng)])),
    PBSZ: () => text(number(rng)),
    OPTS: () =>
      text(
        rng.pick(["UTF8 ON", "UTF8 OFF", "utf8", "MLST type;size;", "MLST ;;;", "MLST x;y", "X"]),
      ),
  };
  const shape = rng.int(10);
  if (shape < 4 && own[verb]) return own[verb]();
  if (shape < 6) return path(rng);
  if (shape === 6) return text(number(rng));
  if (shape === 7) return concat(path(rng), text(" "), path(rng));
  if (shape === 8) return text(rng.pick(["", " ", "   ", "\t", "\v"]));
  return rng.pick([...TELNET, ...NOT_UTF8]);
}

/** Arguments that neither end a session (QUIT) nor start a TLS handshake (AUTH) however they are read. */
const INERT = ["now", "-la", "..", "x y", "TLS2", "SSL3", "12", "ünï"];

/** What a fuzzed session is sent, and how many command lines that is. */
export interface HostileBatch {
  /** The bytes, every line ended. */
  bytes: Bytes;
  /** How many lines they hold (a line split by an injected CR or LF counts as two). */
  lines: number;
}

/**
 * `count` hostile lines for the verbs of `verbs` (each of the table's names, such
 * as `"SITE CHMOD"`), plus unknown verbs, odd cases, over-long lines and empty ones.
 * `inert` verbs (QUIT, AUTH) only get arguments that leave the session as it is.
 */
export function hostileLines(
  rng: Prng,
  verbs: readonly string[],
  count: number,
  inert: ReadonlySet<string>,
): Bytes[] {
  return Array.from({ length: count }, () => hostileLine(rng, verbs, inert));
}

function hostileLine(rng: Prng, verbs: readonly string[], inert: ReadonlySet<string>): Bytes {
  const kind = rng.int(100);
  const end = text(rng.chance(0.9) ? "\r\n" : "\n");
  if (kind < 2) {
    return concat(text("A".repeat(2049 + rng.int(rng.chance(0.1) ? 70_000 : 3000))), end);
  }
  if (kind < 4) {
    return concat(
      text(rng.pick(["", " ", "  ", "\t", "\0", "XYZZY", "SITE", "SITE XYZZY x", "Ünï"])),
      end,
    );
  }
  if (kind < 6) return concat(rng.pick([...TELNET, ...NOT_UTF8]), text("NOOP"), end);
  const verb = rng.pick(verbs);
  const spelled = rng.chance(0.1) ? verb.toLowerCase() : verb;
  if (inert.has(verb)) return concat(text(`${spelled} ${rng.pick(INERT)}`), end);
  if (rng.chance(0.15)) return concat(text(spelled), end);
  const separator = text(rng.chance(0.95) ? " " : rng.pick(["  ", "\t", ""]));
  return concat(text(spelled), separator, argument(rng, verb), end);
}

/** How many lines a server reads in `bytes` (each LF, and each CR not followed by LF or NUL). */
export function countLines(bytes: Bytes): number {
  let lines = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x0a) lines++;
    else if (bytes[i] === 0x0d && bytes[i + 1] !== 0x0a && bytes[i + 1] !== 0) lines++;
  }
  return lines;
}
