/**
 * A small FTP client over raw sockets, fast enough to benchmark a server and plain
 * enough to test one: it sends exactly the lines it is given and reads replies
 * whole (multi-line ones included). FTPS (AUTH TLS, PROT P) is optional.
 *
 * @module
 */

/** One reply: its code, its text (lines joined with `\n`), and its raw lines. */
export interface Reply {
  code: number;
  text: string;
  lines: string[];
}

/** A reply the caller did not expect. */
export class UnexpectedReply extends Error {
  override name = "UnexpectedReply";
  /** The reply received. */
  readonly reply: Reply;

  constructor(what: string, reply: Reply) {
    super(`${what}: ${reply.lines.join(" | ")}`);
    this.reply = reply;
  }
}

const encoder = new TextEncoder();

/** Reads a data connection to its end, calling `onChunk` for each chunk; returns the byte count. */
export async function drain(
  conn: Deno.Conn,
  onChunk?: (chunk: Uint8Array) => void,
): Promise<number> {
  const buffer = new Uint8Array(256 * 1024);
  let total = 0;
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      onChunk?.(buffer.subarray(0, n));
      total += n;
    }
  } finally {
    conn.close();
  }
  return total;
}

/** Writes `bytes` (an empty file for none) and ends the connection properly (TLS: close_notify). */
export async function send(conn: Deno.Conn, bytes: Uint8Array, repeat = 1): Promise<void> {
  try {
    for (let i = 0; i < repeat; i++) {
      let offset = 0;
      while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
    }
    await conn.closeWrite();
  } finally {
    conn.close();
  }
}

/** Options of {@linkcode FtpClient.connect}. */
export interface ConnectOptions {
  /** The server's name or address (default `"127.0.0.1"`). */
  hostname?: string;
  /** CA certificates (PEM) to verify the server's certificate with, for FTPS. */
  caCerts?: string[];
}

/** A control connection. */
export class FtpClient {
  /** The control connection (a TLS one after {@linkcode startTls}). */
  conn: Deno.Conn;
  /** The 220 greeting (or 421 refusal). */
  greeting!: Reply;
  /** The server's hostname, for data connections and TLS. */
  readonly hostname: string;
  #caCerts: string[] | undefined;
  #protected = false;
  #buffer = "";
  readonly #chunk = new Uint8Array(16 * 1024);
  readonly #decoder = new TextDecoder();

  /** Wraps an open control connection; {@linkcode FtpClient.connect} is the usual way in. */
  constructor(conn: Deno.Conn, hostname: string, caCerts?: string[]) {
    this.conn = conn;
    this.hostname = hostname;
    this.#caCerts = caCerts;
  }

  /** Connects and reads the greeting. */
  static async connect<T extends FtpClient>(
    this: new (conn: Deno.Conn, hostname: string, caCerts?: string[]) => T,
    port: number,
    options: ConnectOptions = {},
  ): Promise<T> {
    const hostname = options.hostname ?? "127.0.0.1";
    const client = new this(await Deno.connect({ hostname, port }), hostname, options.caCerts);
    client.greeting = await client.reply();
    return client;
  }

  /** Sends one line (CRLF is added). */
  async send(line: string): Promise<void> {
    await this.sendRaw(encoder.encode(line + "\r\n"));
  }

  /** Sends bytes as they are. */
  async sendRaw(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) offset += await this.conn.write(bytes.subarray(offset));
  }

  async #line(): Promise<string | null> {
    while (true) {
      const lf = this.#buffer.indexOf("\n");
      if (lf >= 0) {
        const line = this.#buffer.slice(0, lf).replace(/\r$/, "");
        this.#buffer = this.#buffer.slice(lf + 1);
        return line;
      }
      const n = await this.conn.read(this.#chunk);
      if (n === null) return null;
      this.#buffer += this.#decoder.decode(this.#chunk.subarray(0, n), { stream: true });
    }
  }

  /** Reads the next reply, multi-line ones whole. Throws if the server closed the connection. */
  async reply(): Promise<Reply> {
    const first = await this.#line();
    if (first === null) throw new Error("connection closed by server");
    if (!/^\d{3}[ -]/.test(first)) {
      throw new Error(`malformed reply line: ${JSON.stringify(first)}`);
    }
    const code = Number(first.slice(0, 3));
    const lines = [first];
    if (first[3] === "-") {
      while (true) {
        const line = await this.#line();
        if (line === null) throw new Error("connection closed inside a multi-line reply");
        lines.push(line);
        if (line.startsWith(`${code} `)) break;
      }
    }
    const text = lines
      .map((line, i) => i === 0 || i === lines.length - 1 ? line.slice(4) : line.replace(/^ /, ""))
      .join("\n");
    return { code, text, lines };
  }

  /** Whether the server has closed the connection (reads to the end, expecting nothing). */
  async closedByServer(): Promise<boolean> {
    return (await this.#line().catch(() => null)) === null;
  }

  /** Sends a line and reads its reply. */
  async command(line: string): Promise<Reply> {
    await this.send(line);
    return this.reply();
  }

  /** Sends a line and throws {@linkcode UnexpectedReply} unless the reply has code `expected`. */
  async expect(line: string, expected: number): Promise<Reply> {
    const reply = await this.command(line);
    if (reply.code !== expected) {
      throw new UnexpectedReply(line.startsWith("PASS ") ? "PASS" : line, reply);
    }
    return reply;
  }

  /** Logs in (USER, PASS). */
  async login(user: string, password: string): Promise<void> {
    if (this.greeting.code !== 220) throw new UnexpectedReply("greeting", this.greeting);
    await this.expect(`USER ${user}`, 331);
    await this.expect(`PASS ${password}`, 230);
  }

  /** AUTH TLS, then TLS on the control connection, verified against `caCerts` (or those given to connect). */
  async startTls(caCerts?: string[]): Promise<void> {
    await this.expect("AUTH TLS", 234);
    if (caCerts) this.#caCerts = caCerts;
    this.conn = await Deno.startTls(this.conn as Deno.TcpConn, {
      hostname: this.hostname,
      caCerts: this.#caCerts,
    });
  }

  /** PBSZ 0 and PROT P: data connections use TLS from now on. */
  async protectData(): Promise<void> {
    await this.expect("PBSZ 0", 200);
    await this.expect("PROT P", 200);
    this.#protected = true;
  }

  /** Sends PASV and returns the address it names, without connecting. */
  async pasvAddress(): Promise<{ hostname: string; port: number }> {
    const reply = await this.expect("PASV", 227);
    const match = /\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)/.exec(reply.text);
    if (!match) throw new UnexpectedReply("PASV", reply);
    return {
      hostname: match.slice(1, 5).join("."),
      port: Number(match[5]) * 256 + Number(match[6]),
    };
  }

  /** Sends PASV and connects to the port it names (under TLS after {@linkcode protectData}). */
  async pasv(): Promise<Deno.Conn> {
    const conn = await Deno.connect(await this.pasvAddress());
    if (!this.#protected) return conn;
    return await Deno.startTls(conn, { hostname: this.hostname, caCerts: this.#caCerts });
  }

  /**
   * Sends `line` (RETR, LIST, ...) over a fresh passive connection and hands the
   * connection to `body`; asserts 125/150 first and 226 after. Returns what `body` did.
   */
  async transfer<T>(line: string, body: (data: Deno.Conn) => Promise<T>): Promise<T> {
    const pending = Deno.connect(await this.pasvAddress());
    const start = await this.command(line);
    const raw = await pending;
    if (start.code !== 150 && start.code !== 125) {
      raw.close();
      throw new UnexpectedReply(line, start);
    }
    // As FTP clients do: else the runtime's TLS client sends its Finished in a second small
    // segment that waits out the server's delayed ACK (40 ms a connection).
    raw.setNoDelay(true);
    const data = this.#protected
      ? await Deno.startTls(raw, { hostname: this.hostname, caCerts: this.#caCerts })
      : raw;
    const result = await body(data);
    const end = await this.reply();
    if (end.code !== 226) throw new UnexpectedReply(`${line} (end)`, end);
    return result;
  }

  /** Closes the control connection. */
  close(): void {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }
}
