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
  const parts = arg.trim().split(",");
  if (parts.length !== 6 || !parts.every((part) => /^\d{1,3}$/.test(part.trim()))) return null;
  const numbers = parts.map((part) => Number(part.trim()));
  if (numbers.some((n) => n > 255)) return null;
  const port = numbers[4] * 256 + numbers[5];
  if (port === 0) return null;
  return { ip: numbers.slice(0, 4).join("."), port };
}
