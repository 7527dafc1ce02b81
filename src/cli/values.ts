/**
 * The kinds of value a setting takes, each read the same way from a flag's text
 * and from a config file's TOML value, and written back as TOML: one check for
 * both sources, so that `--port 70000` and `port = 70000` are refused alike.
 *
 * @module
 */

import { isAbsolute, resolve } from "node:path";
import { canonicalIp, formatAddress, isIPv4 } from "../net.ts";
import { formatSize, parseSize, SIZE_SYNTAX } from "../sizes.ts";
import { isTable, kindOf } from "../toml_file.ts";

/**
 * A value a setting cannot take. {@linkcode ValueError.message} follows the
 * setting's name: `must be a whole number from 0 to 65535, not "x"`.
 */
export class ValueError extends Error {
  /** Always `"ValueError"`. */
  override name = "ValueError";
}

/** A TOML value as {@linkcode Kind.toToml} gives it. */
export type TomlValue = string | number | boolean | string[] | Record<string, string>;

/** What a flag gives: its text, `true` for a flag without value, every text for a repeated one. */
export type FlagValue = string | boolean | string[];

/** How one kind of value is read (from a flag's `F`, or from TOML) and written. */
export interface Kind<T, F extends FlagValue = string> {
  /** The flag's value in the usage text (`PORT`); absent for a flag without value. */
  readonly metavar?: string;
  /** The flag may be given again, each adding to the value (then `fromFlag` gets them all). */
  readonly multiple?: boolean;
  /** The value of the flag given as `given`. */
  fromFlag(given: F): T;
  /** The value of a config file's `value`; relative paths are taken from the directory `base`. */
  fromToml(value: unknown, base: string): T;
  /** The TOML value that stands for `value`. */
  toToml(value: T): TomlValue;
}

function refuse(reason: string): never {
  throw new ValueError(reason);
}

/** A TOML value as a message shows it: strings quoted, numbers as they are, the rest by kind. */
function shown(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return kindOf(value);
}

/** `true` or `false`: a flag without value. */
export const flag: Kind<boolean, boolean> = {
  fromFlag: (given) => given,
  fromToml: (value) =>
    typeof value === "boolean" ? value : refuse(`must be true or false, not ${shown(value)}`),
  toToml: (value) => value,
};

/** A whole number from `min` to `max`, written `metavar` in the usage. */
export function integer(min: number, max: number, metavar = "N"): Kind<number> {
  const expected = `must be a whole number from ${min} to ${max}`;
  const inRange = (n: number, text: string) =>
    Number.isSafeInteger(n) && n >= min && n <= max ? n : refuse(`${expected}, not ${text}`);
  return {
    metavar,
    fromFlag: (text) =>
      /^\d+$/.test(text)
        ? inRange(Number(text), JSON.stringify(text))
        : refuse(`${expected}, not ${JSON.stringify(text)}`),
    fromToml: (value) =>
      typeof value === "number"
        ? inRange(value, shown(value))
        : refuse(`${expected}, not ${shown(value)}`),
    toToml: (value) => value,
  };
}

/** A byte count (`256K`, `1.5M`); TOML also takes an integer. */
export function size(what: string): Kind<number> {
  const read = (value: unknown) =>
    parseSize(value) ?? refuse(`must be ${what}, ${SIZE_SYNTAX}; not ${shown(value)}`);
  return {
    metavar: "SIZE",
    fromFlag: read,
    fromToml: read,
    toToml: (bytes) => {
      const text = formatSize(bytes);
      return text === String(bytes) ? bytes : text;
    },
  };
}

/** Any text (`check` may refuse some with a reason). */
export function text(metavar: string, check?: (text: string) => string | undefined): Kind<string> {
  const read = (given: string) => {
    const reason = check?.(given);
    return reason === undefined ? given : refuse(reason);
  };
  return {
    metavar,
    fromFlag: read,
    fromToml: (value) =>
      typeof value === "string" ? read(value) : refuse(`must be a string, not ${shown(value)}`),
    toToml: (value) => value,
  };
}

/** A path: as given on the command line; in a config file, taken from the file's directory. */
export function path(metavar: string): Kind<string> {
  const read = (given: string) =>
    given === "" ? refuse("needs a path, not an empty string") : given;
  return {
    metavar,
    fromFlag: read,
    fromToml: (value, base) => {
      if (typeof value !== "string") refuse(`must be a path (a string), not ${shown(value)}`);
      return resolve(base, read(value));
    },
    toToml: (value) => isAbsolute(value) ? value : resolve(value),
  };
}

/** One of `choices`. */
export function choice<T extends string>(metavar: string, choices: readonly T[]): Kind<T> {
  const read = (value: unknown) =>
    (choices as readonly unknown[]).includes(value)
      ? value as T
      : refuse(`must be ${listed(choices)}, not ${shown(value)}`);
  return { metavar, fromFlag: read, fromToml: read, toToml: (value) => value };
}

/** `a, b or c`. */
function listed(words: readonly string[]): string {
  return words.length < 2
    ? words.join("")
    : `${words.slice(0, -1).join(", ")} or ${words[words.length - 1]}`;
}

/** An IPv4 address. */
export const ipv4: Kind<string> = text(
  "ADDRESS",
  (given) => isIPv4(given) ? undefined : `must be an IPv4 address, not ${JSON.stringify(given)}`,
);

/** A range of ports. */
export interface PortRange {
  /** The first port. */
  from: number;
  /** The last port. */
  to: number;
}

const PORT_IN_RANGE = integer(1, 65535);

/** `FROM-TO`: a range of ports. */
export const portRange: Kind<PortRange> = (() => {
  const read = (given: unknown): PortRange => {
    const match = typeof given === "string" ? /^(\d+)-(\d+)$/.exec(given) : null;
    if (!match) refuse(`must look like FROM-TO (e.g. 60000-65535), not ${shown(given)}`);
    const part = (which: string, digits: string) => {
      try {
        return PORT_IN_RANGE.fromFlag(digits);
      } catch (error) {
        return refuse(`${which} ${(error as Error).message}`);
      }
    };
    const from = part("start", match![1]);
    const to = part("end", match![2]);
    if (from > to) refuse(`start (${from}) is above its end (${to})`);
    return { from, to };
  };
  return {
    metavar: "FROM-TO",
    fromFlag: read,
    fromToml: read,
    toToml: ({ from, to }) => `${from}-${to}`,
  };
})();

/** Where to listen. */
export interface ListenAddress {
  /** The local address. */
  hostname: string;
  /** The port (0 picks a free one). */
  port: number;
}

const ANY_PORT = integer(0, 65535);

/**
 * `ADDRESS:PORT` (the address of an IPv6 one in brackets), or the refusal
 * `shape` (`must be ADDRESS:PORT ...`) when it is not of that form or `accepts`
 * refuses its address; then its port is checked.
 */
function addressAndPort(
  given: unknown,
  shape: string,
  accepts: (hostname: string) => boolean = () => true,
): ListenAddress {
  const match = typeof given === "string"
    ? /^(?:\[([^\]]+)\]|([^:[\]]+)):([^:]+)$/.exec(given)
    : null;
  const hostname = match?.[1] ?? match?.[2];
  if (!match || !accepts(hostname!)) refuse(`${shape}, not ${shown(given)}`);
  try {
    return { hostname: hostname!, port: ANY_PORT.fromFlag(match![3]) };
  } catch (error) {
    return refuse(`port ${(error as Error).message}`);
  }
}

/** `ADDRESS:PORT` as TOML writes it back. */
const addressText = ({ hostname, port }: ListenAddress) => formatAddress(hostname, port);

/** `ADDRESS:PORT` (`[::]:2121` for IPv6), given once or more: extra listeners. */
export const listenAddresses: Kind<ListenAddress[], string[]> = (() => {
  const one = (given: unknown) =>
    addressAndPort(
      given,
      "must be ADDRESS:PORT (an IP address; [::1]:2121 for IPv6)",
      (hostname) => canonicalIp(hostname) !== null,
    );
  const many = (given: unknown) =>
    Array.isArray(given)
      ? given.map(one)
      : refuse(`must be an array of "ADDRESS:PORT" strings, not ${shown(given)}`);
  return {
    metavar: "ADDRESS:PORT",
    multiple: true,
    fromFlag: (texts) => texts.map(one),
    fromToml: many,
    toToml: (list) => list.map(addressText),
  };
})();

/** `ADDRESS:PORT` of one listener, the address a name or an IP address (`[::1]:9100` for IPv6). */
export const hostAndPort: Kind<ListenAddress> = (() => {
  const read = (given: unknown) =>
    addressAndPort(given, "must look like ADDRESS:PORT (e.g. 127.0.0.1:9100)");
  return { metavar: "ADDRESS:PORT", fromFlag: read, fromToml: read, toToml: addressText };
})();

/** `LOCAL=PUBLIC` pairs of IPv4 addresses, given once or more; in TOML, a table. */
export const addressMap: Kind<Record<string, string>, string[]> = (() => {
  const pair = (local: string, announced: unknown): [string, string] => {
    if (!isIPv4(local)) refuse(`maps IPv4 addresses, and ${JSON.stringify(local)} is none`);
    if (typeof announced !== "string" || !isIPv4(announced)) {
      refuse(`maps ${local} to ${shown(announced)}, which is no IPv4 address`);
    }
    return [local, announced as string];
  };
  return {
    metavar: "LOCAL=PUBLIC",
    multiple: true,
    fromFlag: (texts) =>
      Object.fromEntries(texts.map((given) => {
        const [local, announced] = given.split("=");
        if (announced === undefined) {
          refuse(`must be LOCAL=PUBLIC (two IPv4 addresses), not ${JSON.stringify(given)}`);
        }
        return pair(local, announced);
      })),
    fromToml: (value) =>
      isTable(value)
        ? Object.fromEntries(Object.entries(value).map(([local, to]) => pair(local, to)))
        : refuse(`must be a table of "LOCAL" = "PUBLIC" addresses, not ${shown(value)}`),
    toToml: (map) => ({ ...map }),
  };
})();
