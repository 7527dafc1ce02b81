/**
 * A deliberately small FTP client that speaks raw lines, so tests can assert the
 * exact replies and send what real clients would not.
 *
 * @module
 */

import { assert, assertEquals } from "./assert.ts";

/** One reply: its code, its text (lines joined with `\n`), and its raw lines. */
export interface Reply {
  code: number;
  text: string;
  lines: string[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Reads a connection to its end. */
export async function readAll(conn: Deno.Conn): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(256 * 1024);
  let total = 0;
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      chunks.push(buffer.slice(0, n));
      total += n;
    }
  } finally {
    conn.close();
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** Writes all of `data` and closes the connection. */
export async function writeAndClose(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  try {
    let offset = 0;
    while (offset < data.length) offset += await conn.write(data.subarray(offset));
  } finally {
    conn.close();
  }
}

/** A control connection. */
export class FtpClient {
  conn: Deno.Conn;
  /** The 220 greeting (or 421 refusal). */
  greeting!: Reply;
  #buffer = "";
  readonly #chunk = new Uint8Array(64 * 1024);

  private constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  /** Connects and reads the greeting. */
  static async connect(port: number, hostname = "127.0.0.1"): Promise<FtpClient> {
    const client = new FtpClient(await Deno.connect({ hostname, port }));
    client.greeting = await client.reply();
    return client;
  }

  /** Connects with implicit TLS (verified against `caCerts`) and reads the greeting. */
  static async connectTls(port: number, caCerts: string[]): Promise<FtpClient> {
    const client = new FtpClient(await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts }));
    client.greeting = await client.reply();
    return client;
  }

  /** Sends AUTH TLS, asserts 234, and continues over TLS verified against `caCerts`. */
  async startTls(caCerts: string[]): Promise<void> {
    const reply = await this.command("AUTH TLS");
    assertEquals(reply.code, 234, reply.text);
    this.conn = await Deno.startTls(this.conn as Deno.TcpConn, { hostname: "127.0.0.1", caCerts });
  }

  /** Connects and logs in, asserting 230. */
  static async login(port: number, user = "user", password = "12345"): Promise<FtpClient> {
    const client = await FtpClient.connect(port);
    assertEquals(client.greeting.code, 220);
    assertEquals((await client.command(`USER ${user}`)).code, 331);
    const reply = await client.command(`PASS ${password}`);
    assertEquals(reply.code, 230, reply.text);
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
      this.#buffer += decoder.decode(this.#chunk.subarray(0, n));
    }
  }

  /** Reads the next reply, multi-line ones whole. Throws if the server closed the connection. */
  async reply(): Promise<Reply> {
    const first = await this.#line();
    if (first === null) throw new Error("connection closed by server");
    const code = Number(first.slice(0, 3));
    assert(/^\d{3}[ -]/.test(first), `malformed reply line: ${JSON.stringify(first)}`);
    const lines = [first];
    if (first[3] === "-") {
      while (true) {
        const line = await this.#line();
        if (line === null) throw new Error("connection closed inside a multi-line reply");
        lines.push(line);
        if (line.startsWith(`${code} `)) break;
      }
    }
    const text = lines.map((line, i) =>
      i === 0 || i === lines.length - 1 ? line.slice(4) : line.replace(/^ /, "")
    )
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

  /** Sends PASV and returns the address it names, without connecting. */
  async pasvAddress(): Promise<{ hostname: string; port: number }> {
    const reply = await this.command("PASV");
    assertEquals(reply.code, 227, reply.text);
    const match = /\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)/.exec(reply.text)!;
    return {
      hostname: match.slice(1, 5).join("."),
      port: Number(match[5]) * 256 + Number(match[6]),
    };
  }

  /** Sends PASV and connects to the port it names. */
  async pasv(): Promise<Deno.Conn> {
    return await Deno.connect(await this.pasvAddress());
  }

  /** Downloads `path` over a passive connection; asserts 150/125 then 226. */
  async retr(path: string): Promise<Uint8Array> {
    const data = await this.pasv();
    const start = await this.command(`RETR ${path}`);
    if (start.code !== 150 && start.code !== 125) {
      data.close();
      throw new Error(`RETR ${path}: ${start.code} ${start.text}`);
    }
    const bytes = await readAll(data);
    const end = await this.reply();
    assertEquals(end.code, 226, end.text);
    return bytes;
  }

  /** Uploads `bytes` to `path` with `verb` (STOR, APPE, STOU); returns the preliminary and final replies. */
  async store(path: string, bytes: Uint8Array, verb = "STOR"): Promise<[Reply, Reply]> {
    const data = await this.pasv();
    const start = await this.command(path ? `${verb} ${path}` : verb);
    if (start.code !== 150 && start.code !== 125) {
      data.close();
      throw new Error(`${verb} ${path}: ${start.code} ${start.text}`);
    }
    await writeAndClose(data, bytes);
    return [start, await this.reply()];
  }

  /** Sends a listing command (`MLSD dir`, ...) over a passive connection; returns the bytes. */
  async retrList(line: string): Promise<Uint8Array> {
    const data = await this.pasv();
    const start = await this.command(line);
    if (start.code !== 150 && start.code !== 125) {
      data.close();
      throw new Error(`${line}: ${start.code} ${start.text}`);
    }
    const bytes = await readAll(data);
    assertEquals((await this.reply()).code, 226);
    return bytes;
  }

  /** LIST or NLST over a passive connection; returns the text. */
  async list(verb = "LIST", path = ""): Promise<string> {
    return decoder.decode(await this.retrList(path ? `${verb} ${path}` : verb));
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
