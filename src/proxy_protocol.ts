/**
 * The PROXY protocol (HAProxy's `proxy-protocol.txt`, versions 1 and 2): the
 * header a load balancer sends first on each connection it forwards, naming the
 * client it accepted. {@linkcode parseProxyHeader} reads one from bytes,
 * {@linkcode ProxyHeaderReader} from a connection of a trusted proxy, bounded in
 * time and size, reading no byte past the header.
 *
 * @module
 */

import { inNetwork, type Network, parseNetwork } from "./auth/networks.ts";
import { canonicalIp, isIPv4 } from "./net.ts";

/** A PROXY header that cannot be used: malformed, too long, too late, or from an untrusted peer. */
export class ProxyHeaderError extends Error {
  /** Always `"ProxyHeaderError"`. */
  override name = "ProxyHeaderError";
}

/** What a PROXY header says. */
export interface ProxyHeader {
  /** The protocol version it was written in. */
  readonly version: 1 | 2;
  /**
   * The client's address as the proxy saw it; `null` when the header carries none
   * (v1 `UNKNOWN`, v2 `LOCAL` such as a health check, or an unspecified family):
   * the connection's own addresses are then the ones to use.
   */
  readonly source: Deno.NetAddr | null;
  /** The address the client connected to on the proxy; `null` with `source`. */
  readonly destination: Deno.NetAddr | null;
  /** How many bytes the header took. */
  readonly length: number;
}

/** The outcome of {@linkcode parseProxyHeader}: a header, or how many more bytes it needs at least. */
export type ProxyParse = { readonly header: ProxyHeader } | { readonly needs: number };

const V1_PREFIX = new TextEncoder().encode("PROXY ");
const V2_SIGNATURE = new Uint8Array([
  0x0d,
  0x0a,
  0x0d,
  0x0a,
  0x00,
  0x0d,
  0x0a,
  0x51,
  0x55,
  0x49,
  0x54,
  0x0a,
]);
/** The longest v1 line, CR LF included (the specification's 107 bytes). */
const V1_MAX = 107;
/** The shortest v1 line: `PROXY UNKNOWN\r\n`. */
const V1_MIN = 15;
const V2_FIXED = 16;
/** The most bytes after v2's fixed part accepted by default: the addresses and some TLVs. */
const V2_DEFAULT_MAX_EXTRA = 2048;

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  const n = Math.min(bytes.length, prefix.length);
  for (let i = 0; i < n; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

/** Options of {@linkcode parseProxyHeader}. */
export interface ParseProxyOptions {
  /** Most bytes a v2 header may carry after its 16 fixed ones (default 2048). */
  maxV2Extra?: number;
}

/**
 * Parses the PROXY header at the start of `bytes`. Returns the header (and its
 * length: bytes after it are the client's), or how many more bytes are needed at
 * least before it can tell; throws {@linkcode ProxyHeaderError} when the bytes are
 * no valid header. Never asks for a byte past the end of a header.
 */
export function parseProxyHeader(bytes: Uint8Array, options: ParseProxyOptions = {}): ProxyParse {
  if (bytes.length === 0) return { needs: V1_PREFIX.length };
  if (startsWith(bytes, V1_PREFIX)) {
    if (bytes.length < V1_PREFIX.length) return { needs: V1_PREFIX.length - bytes.length };
    return parseV1(bytes);
  }
  if (startsWith(bytes, V2_SIGNATURE)) {
    return parseV2(bytes, options.maxV2Extra ?? V2_DEFAULT_MAX_EXTRA);
  }
  throw new ProxyHeaderError("no PROXY protocol header (neither v1 nor v2)");
}

const decoder = new TextDecoder();

function parseV1(bytes: Uint8Array): ProxyParse {
  const end = bytes.indexOf(0x0a);
  if (end === -1) {
    if (bytes.length >= V1_MAX) throw new ProxyHeaderError(`v1 header longer than ${V1_MAX} bytes`);
    return { needs: Math.max(1, V1_MIN - bytes.length) };
  }
  if (end + 1 > V1_MAX) throw new ProxyHeaderError(`v1 header longer than ${V1_MAX} bytes`);
  if (bytes[end - 1] !== 0x0d) throw new ProxyHeaderError("v1 header not ended by CR LF");
  const line = decoder.decode(bytes.subarray(0, end - 1));
  const length = end + 1;
  const fields = line.split(" ");
  if (fields[1] === "UNKNOWN") {
    return { header: { version: 1, source: null, destination: null, length } };
  }
  if (fields.length !== 6) {
    throw new ProxyHeaderError(`malformed v1 header ${JSON.stringify(line)}`);
  }
  const [, family, sourceIp, destinationIp, sourcePort, destinationPort] = fields;
  if (family !== "TCP4" && family !== "TCP6") {
    throw new ProxyHeaderError(`v1 header names no known protocol: ${JSON.stringify(family)}`);
  }
  const address = (ip: string, port: string): Deno.NetAddr => {
    const v4 = isIPv4(ip);
    const valid = family === "TCP4" ? v4 : !v4 && ip.includes(":") && canonicalIp(ip) !== null;
    if (!valid) {
      throw new ProxyHeaderError(`v1 header: ${JSON.stringify(ip)} is no ${family} address`);
    }
    if (!/^(0|[1-9]\d{0,4})$/.test(port) || Number(port) > 65535) {
      throw new ProxyHeaderError(`v1 header: bad port ${JSON.stringify(port)}`);
    }
    return { transport: "tcp", hostname: ip, port: Number(port) };
  };
  return {
    header: {
      version: 1,
      source: address(sourceIp, sourcePort),
      destination: address(destinationIp, destinationPort),
      length,
    },
  };
}

function ipv6Text(bytes: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  return canonicalIp(groups.join(":"))!;
}

function parseV2(bytes: Uint8Array, maxExtra: number): ProxyParse {
  if (bytes.length < V2_FIXED) return { needs: V2_FIXED - bytes.length };
  const version = bytes[12] >> 4;
  const command = bytes[12] & 0x0f;
  if (version !== 2) throw new ProxyHeaderError(`v2 header of version ${version}, not 2`);
  if (command > 1) throw new ProxyHeaderError(`v2 header with unknown command ${command}`);
  const extra = (bytes[14] << 8) | bytes[15];
  if (extra > maxExtra) {
    throw new ProxyHeaderError(`v2 header of ${extra} address bytes, more than ${maxExtra}`);
  }
  const length = V2_FIXED + extra;
  if (bytes.length < length) return { needs: length - bytes.length };
  const family = bytes[13] >> 4;
  const transport = bytes[13] & 0x0f;
  const none = { header: { version: 2 as const, source: null, destination: null, length } };
  // LOCAL: the proxy speaks for itself (a health check); the addresses are to be ignored.
  if (command === 0) return none;
  if (family === 0) return none;
  if (transport !== 1 || (family !== 1 && family !== 2)) {
    throw new ProxyHeaderError(
      `v2 header for family ${family}, transport ${transport}: only TCP over IPv4 or IPv6 is served`,
    );
  }
  const size = family === 1 ? 4 : 16;
  if (extra < size * 2 + 4) {
    throw new ProxyHeaderError(`v2 header too short for its addresses (${extra} bytes)`);
  }
  const block = bytes.subarray(V2_FIXED, length);
  const view = new DataView(block.buffer, block.byteOffset, block.byteLength);
  const ip = (offset: number) =>
    family === 1
      ? [...block.subarray(offset, offset + 4)].join(".")
      : ipv6Text(block.subarray(offset, offset + 16));
  const at = (hostname: string, port: number): Deno.NetAddr => ({
    transport: "tcp",
    hostname,
    port,
  });
  return {
    header: {
      version: 2,
      source: at(ip(0), view.getUint16(size * 2)),
      destination: at(ip(size), view.getUint16(size * 2 + 2)),
      length,
    },
  };
}

/** Options of a {@linkcode ProxyHeaderReader}. */
export interface ProxyProtocolOptions {
  /**
   * The proxies (addresses or CIDR networks, `"127.0.0.1"`, `"10.0.0.0/8"`)
   * whose connections start with a header; a connection from anywhere else is refused.
   */
  trusted: readonly string[];
  /** Seconds a proxy has to send the header (default 5). */
  timeout?: number;
  /** Most bytes a v2 header may carry after its 16 fixed ones (default 2048). */
  maxV2Extra?: number;
}

/**
 * Reads the PROXY header of each connection from a trusted proxy: throws
 * {@linkcode ProxyHeaderError} for a peer that is not one, a malformed header, or
 * none within the timeout (closing the connection to stop the read).
 */
export class ProxyHeaderReader {
  /** The trusted proxies. */
  readonly trusted: readonly Network[];
  readonly #timeoutMs: number;
  readonly #maxV2Extra: number | undefined;

  /** Throws {@linkcode ProxyHeaderError} when a trusted address is no address or network. */
  constructor(options: ProxyProtocolOptions) {
    this.trusted = options.trusted.map((text) => {
      const network = parseNetwork(text);
      if (!network) {
        throw new ProxyHeaderError(
          `bad trusted proxy ${JSON.stringify(text)}: an IPv4 or IPv6 address, ` +
            `optionally with a /prefix (CIDR)`,
        );
      }
      return network;
    });
    this.#timeoutMs = (options.timeout ?? 5) * 1000;
    this.#maxV2Extra = options.maxV2Extra;
  }

  /** Whether `ip` is one of the trusted proxies. */
  isTrusted(ip: string): boolean {
    return this.trusted.some((network) => inNetwork(ip, network));
  }

  /**
   * Reads the header of `conn`, leaving every byte after it unread; returns the
   * client's address (the connection's own for a header without addresses).
   */
  async read(conn: Deno.Conn): Promise<Deno.NetAddr> {
    const peer = conn.remoteAddr as Deno.NetAddr;
    if (!this.isTrusted(peer.hostname)) {
      throw new ProxyHeaderError(`${peer.hostname} is not a trusted proxy`);
    }
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }, this.#timeoutMs);
    try {
      const header = await this.#readHeader(conn);
      return header.source ?? peer;
    } catch (error) {
      if (timedOut) {
        throw new ProxyHeaderError(`no PROXY header within ${this.#timeoutMs / 1000} s`);
      }
      if (error instanceof ProxyHeaderError) throw error;
      throw new ProxyHeaderError(`connection failed before its PROXY header: ${error}`);
    } finally {
      clearTimeout(timer);
    }
  }

  async #readHeader(conn: Deno.Conn): Promise<ProxyHeader> {
    let bytes = new Uint8Array(0);
    while (true) {
      const parsed = parseProxyHeader(bytes, { maxV2Extra: this.#maxV2Extra });
      if ("header" in parsed) return parsed.header;
      const next = new Uint8Array(bytes.length + parsed.needs);
      next.set(bytes);
      let filled = bytes.length;
      while (filled < next.length) {
        const n = await conn.read(next.subarray(filled));
        if (n === null) throw new ProxyHeaderError("connection closed before its PROXY header");
        filled += n;
      }
      bytes = next;
    }
  }
}
