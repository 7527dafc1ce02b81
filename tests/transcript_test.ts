/**
 * Every reply a client reads, word for word: scripted sessions of commands, right
 * and wrong, whose exact replies must match `tests/golden/transcript.txt`. The
 * texts are what users, their scripts and the seed's documentation see; a change to
 * one is deliberate. Ports and the disk's inode numbers, which change from run to
 * run, are masked; the tree's times are fixed.
 *
 * `TSFTPD_UPDATE_GOLDEN=1 deno test -A tests/transcript_test.ts` rewrites the
 * golden file: read its diff before committing it.
 *
 * @module
 */

import { assertEquals } from "./support/assert.ts";
import { testCerts } from "./support/certs.ts";
import { FtpClient, readAll, type Reply } from "./support/ftp_client.ts";
import { diskTest, withServer } from "./support/server.ts";

const GOLDEN = new URL("./golden/transcript.txt", import.meta.url);
const FIXED_TIME = new Date("2021-02-03T04:05:06Z");

/**
 * One scripted session: its title and its lines. A line `DATA <command>` runs the
 * command over a passive data connection and records what came over it (lines
 * prefixed `| `); `AUTH TLS` and `AUTH SSL` are followed by the TLS handshake.
 */
interface Script {
  title: string;
  /** Log in as `user` before the lines. */
  login: boolean;
  /**
   * The command lines. `DATA X` runs X over a passive connection; `WAIT X` sends X
   * without reading a reply (a transfer waiting for its data connection), which the
   * `ABOR` that follows ends (its two replies read).
   */
  lines: string[];
  /** Run against the server with explicit FTPS (data connections required to be TLS). */
  tls?: boolean;
}

const SCRIPTS: Script[] = [
  {
    title: "listings over the data connection",
    login: true,
    lines: [
      "TYPE I",
      "DATA MLSD d",
      "DATA NLST d",
      "DATA LIST d",
      "DATA RETR d/g",
      "REST 0",
      "DATA RETR d/g",
    ],
  },
  {
    title: "logging in, right and wrong",
    login: false,
    lines: [
      "NOOP",
      "PWD",
      "AUTH TLS",
      " NOOP",
      "PASS secret",
      "USER user",
      "PASS wrong",
      "USER user",
      "PASS 12345",
      "PASS 12345",
      "USER other",
      "ACCT x",
      "REIN",
      "NOOP",
      "STAT",
      "USER user",
      "STAT",
      "QUIT",
    ],
  },
  {
    title: "the data connection's commands",
    login: true,
    lines: [
      "PASV x",
      "EPSV x1",
      "EPSV 1x",
      "EPSV 12",
      "EPSV 2",
      "EPSV 1",
      "PORT 1,2,3",
      "PORT 127,0,0,1,3,255",
      "PORT 127,0,0,1,4,0",
      "EPRT |1|127.0.0.1|",
      "EPRT |1|127.0.0.1|1023|",
      "EPRT |1|127.0.0.1|1024|",
      "EPSV ALL",
      "PASV",
      "PORT 127,0,0,1,4,0",
      "EPSV",
    ],
  },
  {
    title: "types, modes, structures, options",
    login: true,
    lines: [
      "TYPE A",
      "TYPE I",
      "TYPE L 8",
      "TYPE E",
      "MODE S",
      "MODE B",
      "MODE C",
      "MODE Z",
      "STRU F",
      "STRU R",
      "STRU P",
      "STRU X",
      "OPTS UTF8",
      "OPTS UTF8 on",
      "OPTS UTF-8 ON",
      "OPTS UTF8  ON",
      "OPTS  UTF8 ON",
      "OPTS UTF8 OFF",
      "OPTS MLST type;size;",
      "OPTS MLST",
      "OPTS NOPE",
      "OPTS NOPE x",
      "FEAT",
      "SYST",
    ],
  },
  {
    title: "files and directories",
    login: true,
    lines: [
      "PWD",
      "CWD d",
      "XPWD",
      "CDUP",
      "XCWD /d",
      "XCUP",
      "CWD nowhere",
      "MKD n",
      "MKD n",
      "XMKD n/m",
      "XRMD n/m",
      "RMD /",
      "RMD n",
      "RMD f",
      "DELE victim",
      "DELE d",
      "DELE nothing",
      "RNTO x",
      "RNFR nothing",
      "RNFR f",
      "RNTO f2",
      "RNTO f3",
      "RNFR f2",
      "RNTO f",
      "SITE CHMOD 640 f",
      "SITE CHMOD 9 f",
      "SITE CHMOD 12345 f",
      "SITE CHMOD x9 f",
      "SITE CHMOD 640",
      "SITE CHMOD  640 f",
      "SITE CHMOD 640 nothing",
      "SITE NOPE",
      "SITE  HELP",
      "SMNT x",
      "ALLO 100",
      "CWD d",
      "STAT -la",
      "CWD /",
      "STAT -l -a d",
      "STAT -l  d",
      "STAT a-b",
      "PASV",
      "RETR d",
      "RETR fifo",
      "STOU a\0b",
      "ABOR",
    ],
  },
  {
    title: "facts about files",
    login: true,
    lines: [
      "TYPE I",
      "SIZE f",
      "SIZE d",
      "SIZE nothing",
      "MDTM f",
      "MDTM d",
      "MFMT 20200102030405 d/g",
      "MDTM d/g",
      "MFMT 20200102030405.123 d/g",
      "MFMT 2020010203040 d/g",
      "MFMT 20200102030405",
      "MFMT 120200102030405 d/g",
      "MFMT  20200102030405 d/g",
      "SITE MFMT 20200102030405",
      "SITE MFMT 20200102030405 d/g",
      "MFMT 20200102030405 ",
      "MFMT x d/g",
      "MFMT 20200102030405.1234 d/g",
      "MFMT 20201402030405 d/g",
      "MFMT 20200102030405 nothing",
      "MLST f",
      "MLST d",
      "MLST link",
      "MLST nothing",
      "OPTS MLST type;perm;",
      "MLST d",
      "MLSD f",
      "TYPE A",
      "SIZE f",
      "STAT f",
      "STAT nothing",
    ],
  },
  {
    title: "help and status",
    login: true,
    lines: [
      "HELP",
      "HELP nope",
      "HELP retr",
      "HELP  retr ",
      "SITE HELP",
      "SITE HELP CHMOD",
      "SITE HELP NOPE",
      "STAT",
      "NOOP",
      "ABOR",
      "RETR f",
      "LIST",
      "REST x",
      "REST -1",
      "REST 5",
      "PASV",
      "APPE f",
      "REST 5",
      "STOU",
      "FROB",
      "QUIT",
    ],
  },
  {
    title: "STAT while a transfer waits for its data connection",
    login: true,
    lines: ["PASV", "WAIT RETR f", "STAT", "ABOR"],
  },
  {
    title: "explicit FTPS: before and after AUTH TLS",
    login: false,
    tls: true,
    lines: [
      "PBSZ 0",
      "PROT P",
      "CCC",
      "AUTH NOPE",
      "AUTH TLS",
      "AUTH TLS",
      "USER user",
      "PASS 12345",
      "PBSZ 0",
      "PROT C",
      "PROT S",
      "PROT X",
      "PROT P",
      "CCC",
    ],
  },
  {
    title: "explicit FTPS: AUTH SSL protects the data connections at once",
    login: false,
    tls: true,
    lines: ["AUTH SSL", "USER user", "PASS 12345", "PASV", "WAIT LIST", "ABOR"],
  },
  {
    title: "explicit FTPS: so does AUTH TLS-P",
    login: false,
    tls: true,
    lines: ["AUTH TLS-P", "USER user", "PASS 12345", "PASV", "WAIT LIST", "ABOR"],
  },
  {
    title: "explicit FTPS: AUTH TLS-C does not",
    login: false,
    tls: true,
    lines: ["AUTH TLS-C", "USER user", "PASS 12345", "PASV", "LIST"],
  },
];

/** What changes from run to run, replaced by a fixed mark. */
function masked(line: string): string {
  return line
    .replace(/\(\d+,\d+,\d+,\d+,\d+,\d+\)/, "(h1,h2,h3,h4,p1,p2)")
    .replace(/\(\|\|\|\d+\|\)/, "(|||port|)")
    .replace(/unique=[0-9a-f]+g[0-9a-f]+;/, "unique=DEVgINODE;")
    .replace(/^(\s*[-dlp][rwxsStT-]{9}\s+\d+\s+)\S+\s+\S+/, "$1OWNER GROUP")
    .replace(/127\.0\.0\.1:\d+/, "127.0.0.1:PORT")
    .replace(/^220 tsftpd \S+ ready\.$/, "220 tsftpd VERSION ready.");
}

/** Runs `script` against the server on `port`, appending what was said to `out`. */
async function run(script: Script, port: number, out: string[]): Promise<void> {
  const client = script.login ? await FtpClient.login(port) : await FtpClient.connect(port);
  const { ca } = await testCerts();
  if (!script.login) out.push(...client.greeting.lines.map(masked));
  try {
    let waiting = false;
    for (const scripted of script.lines) {
      const line = scripted.replace(/^WAIT /, "");
      out.push(`> ${line.replaceAll("\0", "\\0")}`);
      const replies: Reply[] = [];
      if (scripted.startsWith("WAIT ")) {
        await client.send(line);
        waiting = true;
      } else if (line.startsWith("DATA ")) {
        const data = await client.pasv();
        replies.push(await client.command(line.slice(5)));
        const bytes = new TextDecoder().decode(await readAll(data));
        replies.push(await client.reply());
        for (const row of bytes.split("\r\n").filter((row) => row !== "")) {
          out.push(`| ${masked(row)}`);
        }
      } else {
        replies.push(await client.command(line));
        if (waiting && line === "ABOR") replies.push(await client.reply());
        waiting &&= line !== "ABOR";
      }
      for (const reply of replies) out.push(...reply.lines.map(masked));
      if (/^AUTH (TLS|SSL|TLS-C|TLS-P)$/.test(line) && replies[0].code === 234) {
        client.conn = await Deno.startTls(client.conn as Deno.TcpConn, {
          hostname: "127.0.0.1",
          caCerts: [await Deno.readTextFile(ca)],
        });
      }
    }
  } finally {
    client.close();
  }
}

async function transcript(plainPort: number, tlsPort: number): Promise<string> {
  const out: string[] = [];
  for (const script of SCRIPTS) {
    out.push(`## ${script.title}`);
    await run(script, script.tls ? tlsPort : plainPort, out);
  }
  return out.join("\n") + "\n";
}

diskTest("every reply, word for word, as the golden transcript says", async () => {
  const { cert, key } = await testCerts();
  const tls = { certfile: cert, keyfile: key, dataRequired: true };
  await withServer({ maxLoginAttempts: 5 }, async ({ port, home }) => {
    await Deno.writeTextFile(`${home}/f`, "hello world\n");
    await Deno.mkdir(`${home}/d`);
    await Deno.writeTextFile(`${home}/d/g`, "g");
    await Deno.symlink("f", `${home}/link`);
    await Deno.writeTextFile(`${home}/a-b`, "dash");
    await Deno.writeTextFile(`${home}/victim`, "x");
    await new Deno.Command("mkfifo", { args: [`${home}/fifo`] }).output();
    for (const [path, mode] of [["f", 0o644], ["d", 0o755], ["d/g", 0o644], ["a-b", 0o644]]) {
      await Deno.chmod(`${home}/${path}`, mode as number);
    }
    for (const path of ["f", "d/g", "d", "a-b", "fifo", "victim"]) {
      await Deno.utime(`${home}/${path}`, FIXED_TIME, FIXED_TIME);
    }
    // The home a day later than its entries, so that MLSD's ".." is told from ".".
    const dayLater = new Date(FIXED_TIME.getTime() + 86_400_000);
    await Deno.utime(home, dayLater, dayLater);
    await withServer({ tls }, async ({ port: tlsPort }) => {
      const actual = await transcript(port, tlsPort);
      if (Deno.env.get("TSFTPD_UPDATE_GOLDEN") === "1") await Deno.writeTextFile(GOLDEN, actual);
      assertEquals(actual, await Deno.readTextFile(GOLDEN));
    });
  });
});
