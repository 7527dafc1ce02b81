/**
 * Client networks in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`, or a single
 * address), and whether an address is in one of them.
 *
 * @module
 */

import { ipBytes } from "../net.ts";

/** A network: its address bytes (4 or 16) and its prefix length. */
export interface Network {
  /** The network as written. */
  readonly text: string;
  /** The address, masked to the prefix. */
  readonly bytes: Uint8Array;
  /** How many leading bits must match. */
  readonly prefix: number;
}

/**
 * Parses `text` (`address` or `address/prefix`); `null` when it is not a network.
 * An IPv4-mapped IPv6 network (`::ffff:10.0.0.0/104`) is taken as the IPv4 one,
 * since clients' mapped addresses are seen in IPv4 form.
 */
export function parseNetwork(text: string): Network | null {
  const match = /^([^/\s]+)(?:\/(\d{1,3}))?$/.exec(text.trim());
  if (!match) return null;
  const address = ipBytes(match[1]);
  if (!address) return null;
  const mapped = address.length === 4 && match[1].includes(":");
  let prefix = match[2] === undefined ? address.length * 8 : Number(match[2]);
  if (mapped) {
    if (prefix < 96) return null;
    if (match[2] !== undefined) prefix -= 96;
  }
  if (prefix > address.length * 8) return null;
  const bytes = address.map((byte, i) => {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    return byte & (0xff << (8 - bits)) & 0xff;
  });
  return { text, bytes, prefix };
}

/** Whether the address `ip` is inside `network` (an IPv4 address is never inside an IPv6 network). */
export function inNetwork(ip: string, network: Network): boolean {
  const address = ipBytes(ip);
  if (!address || address.length !== network.bytes.length) return false;
  for (let bit = 0; bit < network.prefix; bit += 8) {
    const bits = Math.min(8, network.prefix - bit);
    const mask = (0xff << (8 - bits)) & 0xff;
    if ((address[bit / 8] & mask) !== network.bytes[bit / 8]) return false;
  }
  return true;
}
