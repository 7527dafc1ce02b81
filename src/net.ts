/**
 * Address helpers: IPv4-mapped IPv6 addresses, and the `h1,h2,h3,h4,p1,p2` form
 * of PORT and PASV.
 *
 * @module
 */

const MAPPED_PREFIX = "::ffff:";
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** An address in its plain form: `::ffff:127.0.0.1` becomes `127.0.0.1`. */
export function normalizeIp(ip: string): string {
  const lower = ip.toLowerCase();
  if (lower.startsWith(MAPPED_PREFIX) && IPV4.test(lower.slice(MAPPED_PREFIX.length))) {
    return lower.slice(MAPPED_PREFIX.length);
  }
  return lower;
}

/** Whether `ip` is a dotted-quad IPv4 address. */
export function isIPv4(ip: string): boolean {
  const match = IPV4.exec(ip);
  return match !== null && match.slice(1).every((part) => Number(part) <= 255);
}

/** An IPv4 address and port in the `h1,h2,h3,h4,p1,p2` form of a 227 reply. */
export function formatHostPort(ip: string, port: number): string {
  return `${ip.split(".").join(",")},${port >> 8},${port & 0xff}`;
}

/** Parses the `h1,h2,h3,h4,p1,p2` argument of PORT; `null` when malformed. */
export function parseHostPort(arg: string): { ip: string; port: number } | null {
  const parts = arg.split(",").map((part) => part.trim());
  if (parts.length !== 6 || !parts.every((part) => /^\d{1,3}$/.test(part))) return null;
  const numbers = parts.map(Number);
  if (numbers.some((n) => n > 255)) return null;
  const port = numbers[4] * 256 + numbers[5];
  if (port === 0) return null;
  return { ip: numbers.slice(0, 4).join("."), port };
}

/** An address and port as a URL writes them: `127.0.0.1:21`, `[::1]:21`. */
export function formatAddress(hostname: string, port: number): string {
  return `${isIPv6(hostname) ? `[${hostname}]` : hostname}:${port}`;
}

/** Whether `ip` is an IPv6 address (after {@linkcode normalizeIp}, so not an IPv4-mapped one). */
export function isIPv6(ip: string): boolean {
  return ip.includes(":");
}

/** Expands an IPv6 address to eight 16-bit groups; `null` if it is not one. */
function ipv6Groups(ip: string): number[] | null {
  // A zone (`fe80::1%eth0`) names an interface, not a part of the address.
  let text = ip.toLowerCase().replace(/%.*/, "");
  const lastColon = text.lastIndexOf(":");
  const tail = text.slice(lastColon + 1);
  if (tail.includes(".")) {
    if (!isIPv4(tail)) return null;
    const [a, b, c, d] = tail.split(".").map(Number);
    text = text.slice(0, lastColon + 1) + ((a << 8) | b).toString(16) + ":" +
      ((c << 8) | d).toString(16);
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (part: string) => part === "" ? [] : part.split(":");
  const head = groups(halves[0]);
  const rest = halves.length === 2 ? groups(halves[1]) : [];
  if (![...head, ...rest].every((group) => /^[0-9a-f]{1,4}$/.test(group))) return null;
  const given = head.length + rest.length;
  if (halves.length === 1 ? given !== 8 : given > 7) return null;
  return [...head, ...new Array(8 - given).fill("0"), ...rest].map((group) => parseInt(group, 16));
}

/** The canonical text of an IP address (IPv6 expanded, lower case), or `null` if it is none. */
export function canonicalIp(ip: string): string | null {
  const plain = normalizeIp(ip);
  if (isIPv4(plain)) return plain;
  const groups = ipv6Groups(plain);
  if (!groups) return null;
  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  if (mapped) return `${groups[6] >> 8}.${groups[6] & 255}.${groups[7] >> 8}.${groups[7] & 255}`;
  return groups.map((g) => g.toString(16)).join(":");
}

/**
 * Parses the `|proto|address|port|` argument of EPRT (RFC 2428; any delimiter).
 * `family` is the protocol number as given; `null` when malformed.
 */
export function parseExtendedAddress(
  arg: string,
): { family: string; ip: string; port: number } | null {
  const delimiter = arg[0];
  if (!delimiter || delimiter.charCodeAt(0) < 33 || delimiter.charCodeAt(0) > 126) return null;
  const parts = arg.split(delimiter);
  // parts[0] is always empty: the delimiter is the first character.
  if (parts.length !== 5 || parts[4] !== "") return null;
  const [, family, address, portText] = parts;
  if (!/^\d{1,5}$/.test(portText)) return null;
  const port = Number(portText);
  if (port < 1 || port > 65535) return null;
  if (family === "1" && !isIPv4(address)) return null;
  if (family === "2" && (isIPv4(address) || canonicalIp(address) === null)) return null;
  return { family, ip: address, port };
}

/** Whether two textual IP addresses name the same address (IPv4-mapped and IPv6 forms compared canonically). */
export function sameAddress(a: string, b: string): boolean {
  const left = canonicalIp(a);
  return left !== null && left === canonicalIp(b);
}

/**
 * The bytes of an IP address: 4 for IPv4 (IPv4-mapped IPv6 addresses included),
 * 16 for IPv6; `null` if `ip` is not an address.
 */
export function ipBytes(ip: string): Uint8Array | null {
  const plain = canonicalIp(ip);
  if (plain === null) return null;
  if (isIPv4(plain)) return new Uint8Array(plain.split(".").map(Number));
  const groups = ipv6Groups(plain)!;
  return new Uint8Array(groups.flatMap((group) => [group >> 8, group & 0xff]));
}
