/**
 * The test suite's FTP client: the bench's raw client, plus shortcuts that assert
 * the replies a test expects.
 *
 * @module
 */

import {
  type ConnectOptions,
  drain,
  FtpClient as RawClient,
  type Reply,
  send,
} from "../../bench/ftp_client.ts";
import { assertEquals } from "./assert.ts";

export type { Reply };

/** Reads a connection to its end and returns the bytes. */
export async function readAll(conn: Deno.Conn): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const total = await drain(conn, (chunk) => chunks.push(chunk.slice()));
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** Writes all of `data` and closes the connection. */
export function writeAndClose(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  return send(conn, data);
}

/** A control connection with assertion shortcuts; `using` closes it. */
export class FtpClient extends RawClient implements Disposable {
  /** Closes the control connection. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Connects with implicit TLS (verified against `caCerts`) and reads the greeting. */
  static async connectTls(port: number, caCerts: string[]): Promise<FtpClient> {
    const conn = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts });
    const client = new FtpClient(conn, "127.0.0.1", caCerts);
    client.greeting = await client.reply();
    return client;
  }

  /** Connects and logs in as `user`, asserting 220, 331 and 230. */
  static async login(
    port: number,
    user = "user",
    password = "12345",
    options: ConnectOptions = {},
  ): Promise<FtpClient> {
    const client = await FtpClient.connect(port, options);
    assertEquals(client.greeting.code, 220);
    assertEquals((await client.command(`USER ${user}`)).code, 331);
    const reply = await client.command(`PASS ${password}`);
    assertEquals(reply.code, 230, reply.text);
    return client;
  }

  /** The reply to `PASS password` after `USER user` (331 asserted), on a connection of its own. */
  static async tryLogin(port: number, user: string, password: string): Promise<Reply> {
    const client = await FtpClient.connect(port);
    try {
      assertEquals((await client.command(`USER ${user}`)).code, 331);
      return await client.command(`PASS ${password}`);
    } finally {
      client.close();
    }
  }

  /** Downloads `path` over a passive connection; asserts 150/125 then 226. */
  retr(path: string): Promise<Uint8Array> {
    return this.transfer(`RETR ${path}`, readAll);
  }

  /** Sends a listing command (`MLSD dir`, ...) over a passive connection; returns the bytes. */
  retrList(line: string): Promise<Uint8Array> {
    return this.transfer(line, readAll);
  }

  /** LIST or NLST over a passive connection; returns the text. */
  async list(verb = "LIST", path = ""): Promise<string> {
    return new TextDecoder().decode(await this.retrList(path ? `${verb} ${path}` : verb));
  }

  /**
   * Uploads `bytes` to `path` with `verb` (STOR, APPE, STOU) and asserts that the
   * final reply has code `expected` (226 unless told); returns the preliminary and
   * final replies.
   */
  async store(
    path: string,
    bytes: Uint8Array,
    verb = "STOR",
    expected = 226,
  ): Promise<[Reply, Reply]> {
    const data = await this.pasv();
    const start = await this.command(path ? `${verb} ${path}` : verb);
    if (start.code !== 150 && start.code !== 125) {
      data.close();
      throw new Error(`${verb} ${path}: ${start.code} ${start.text}`);
    }
    await writeAndClose(data, bytes);
    const end = await this.reply();
    assertEquals(end.code, expected, `${verb} ${path}: ${end.text}`);
    return [start, end];
  }
}
