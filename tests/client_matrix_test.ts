/**
 * The client matrix: curl, lftp, rclone, wget, Python's ftplib and basic-ftp, each over
 * plain FTP, explicit FTPS (AUTH TLS, PROT P) and implicit FTPS, with EPSV, PASV, EPRT and
 * PORT data connections, over IPv4 and IPv6. In each cell the client lists a directory,
 * uploads and downloads, all checked byte for byte: a whole 30-file tree where the client
 * can mirror (lftp, rclone, basic-ftp; wget downloads only), one 200 000-byte file
 * otherwise. A combination a client cannot do is a step named "not supported" with the
 * reason; where the client can still try it, the step asserts the server's refusal.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { Writable } from "node:stream";
import { Client, enterPassiveModeIPv4, enterPassiveModeIPv6, FTPError } from "basic-ftp";
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import {
  assertListing,
  assertOneFileBothWays,
  assertSucceeded,
  assertTreeDownloaded,
  assertTreeUploaded,
  type Cell,
  clientMatrix,
  type DataMode,
  type Network,
  ONE_FILE,
  type Output,
  parseList,
  repliesTo,
  run,
} from "./support/matrix.ts";
import { python } from "./support/python.ts";
import { PASSWORD, USER } from "./support/server.ts";

/** Why a client that sends only PASV and PORT over IPv4, EPSV and EPRT over IPv6, cannot do a cell. */
function familyBound(client: string, mode: DataMode, network: Network): string | null {
  if (network === "IPv4" && (mode === "EPSV" || mode === "EPRT")) {
    return `${client} sends PASV and PORT over IPv4, ${mode} only over IPv6`;
  }
  if (network === "IPv6" && (mode === "PASV" || mode === "PORT")) {
    return `${client} sends EPSV and EPRT over IPv6 (${mode} carries only IPv4 addresses)`;
  }
  return null;
}

/** Whether a data mode is a passive one (EPSV, PASV). */
function isPassive(mode: DataMode): boolean {
  return mode === "EPSV" || mode === "PASV";
}

// --- curl -----------------------------------------------------------------------------

/** curl's flags for a cell's security and data mode, verifying the server against the test CA. */
function curlArgs(cell: Cell): string[] {
  const args = ["--silent", "--show-error", "--globoff", "--max-time", "60"];
  args.push("--user", `${USER}:${PASSWORD}`);
  if (cell.security !== "plain") args.push("--cacert", cell.ca);
  if (cell.security === "explicit") args.push("--ssl-reqd");
  const modes = {
    EPSV: ["--epsv"],
    PASV: ["--disable-epsv"],
    EPRT: ["--ftp-port", "-", "--eprt"],
    PORT: ["--ftp-port", "-", "--disable-eprt"],
  };
  return [...args, ...modes[cell.mode]];
}

/** Whether this curl is one (7.87 and 7.88) that never starts TLS on an active data connection (curl#10666). */
const curlActiveTlsBroken = /^curl 7\.8[78]\./.test((await run("curl", ["--version"])).stdout);

// The curl server gives a data connection's TLS handshake 2 s, not 30: the cells where
// curl never starts it end sooner.
clientMatrix("curl", (security, mode, network) => {
  if (network === "IPv6" && mode === "PASV") {
    return { unsupported: "curl sends EPSV over IPv6 even with --disable-epsv" };
  }
  if (network === "IPv6" && mode === "PORT") {
    return { unsupported: "curl sends EPRT over IPv6 even with --disable-eprt" };
  }
  const scheme = security === "implicit" ? "ftps" : "ftp";
  const curl = (cell: Cell, ...args: string[]) => run("curl", [...curlArgs(cell), ...args]);
  const url = (cell: Cell) => `${scheme}://${cell.urlHost}:${cell.port}${cell.remote}`;
  if (curlActiveTlsBroken && security !== "plain" && !isPassive(mode)) {
    return {
      unsupported: "curl 7.87-7.88 never starts TLS on an active data connection (curl#10666); " +
        "the server gives up on the handshake with 522",
      async attempt(cell) {
        const listing = await curl(cell, `${url(cell)}/src/`);
        assert(listing.code !== 0, "curl failed");
        assertEquals(repliesTo(cell.log(), /^LIST/), [
          "150 File status okay. About to open data connection.",
          "522 Data connection TLS negotiation failed: TLS handshake timed out.",
        ]);
      },
    };
  }
  return {
    async run(cell) {
      const listing = await curl(cell, `${url(cell)}/src/`);
      assertSucceeded(listing, "curl (listing)");
      assertListing(parseList(listing.stdout));
      const put = await curl(
        cell,
        "-T",
        `${cell.local}/tree/${ONE_FILE}`,
        `${url(cell)}/up/file-29.bin`,
      );
      assertSucceeded(put, "curl -T");
      const get = await curl(
        cell,
        "-o",
        `${cell.local}/down/file-29.bin`,
        `${url(cell)}/src/${ONE_FILE}`,
      );
      assertSucceeded(get, "curl -o");
      await assertOneFileBothWays(cell);
    },
  };
}, { dataConnectTimeout: 2 });

// --- lftp -----------------------------------------------------------------------------

/** Runs lftp's `commands` in a session for the cell, failing on the first failed command. */
function lftp(cell: Cell, commands: string[]): Promise<Output> {
  const security = {
    plain: ["set ftp:ssl-allow no"],
    explicit: ["set ftp:ssl-force yes", "set ftp:ssl-protect-data yes"],
    implicit: [],
  };
  const scheme = cell.security === "implicit" ? "ftps" : "ftp";
  const script = [
    "set cmd:fail-exit yes",
    "set net:max-retries 1",
    "set net:timeout 10",
    "set net:reconnect-interval-base 1",
    `set ssl:ca-file ${cell.ca}`,
    ...security[cell.security],
    `set ftp:passive-mode ${isPassive(cell.mode) ? "on" : "off"}`,
    `set ftp:prefer-epsv ${cell.mode === "EPSV" ? "yes" : "no"}`,
    `open -u ${USER},${PASSWORD} ${scheme}://${cell.urlHost}:${cell.port}`,
    ...commands,
  ];
  return run("lftp", ["-c", script.join("; ")]);
}

clientMatrix("lftp", (_security, mode, network) => {
  if (network === "IPv4" && mode === "EPRT") {
    return { unsupported: "lftp sends PORT over IPv4, EPRT only over IPv6" };
  }
  if (network === "IPv6" && mode === "PASV") {
    return { unsupported: "lftp sends EPSV over IPv6 whatever ftp:prefer-epsv says" };
  }
  if (network === "IPv6" && mode === "PORT") {
    return { unsupported: "lftp sends EPRT over IPv6 (PORT carries only IPv4 addresses)" };
  }
  if (network === "IPv6" && mode === "EPRT") {
    return {
      unsupported: "lftp 4.9 names the unspecified address in EPRT on loopback (|2|::|port|), " +
        "which the server refuses as a foreign address (501)",
      async attempt(cell) {
        // lftp binds an active data socket to the control connection's address only off
        // loopback (ftp:bind-data-socket), and for IPv4 fills in an unbound address itself.
        await lftp(cell, [`cls ${cell.remote}/src`]);
        const replies = repliesTo(cell.log(), /^EPRT \|2\|::\|\d+\|$/);
        assertEquals(replies.length, 1, "the server answered lftp's EPRT |2|::|port|");
        assertMatch(replies[0], /^501 Rejected data connection to foreign address :::\d+\.$/);
      },
    };
  }
  return {
    async run(cell) {
      const output = await lftp(cell, [
        `ls ${cell.remote}/src > ${cell.local}/listing.txt`,
        `mirror ${cell.remote}/src ${cell.local}/down`,
        `mirror -R ${cell.local}/tree ${cell.remote}/up`,
      ]);
      assertSucceeded(output, "lftp");
      assertListing(parseList(await Deno.readTextFile(`${cell.local}/listing.txt`)));
      await assertTreeDownloaded(cell);
      await assertTreeUploaded(cell);
    },
  };
});

// --- rclone ---------------------------------------------------------------------------

/** The obscured password rclone's configuration takes. */
const rclonePassword = (await run("rclone", ["obscure", PASSWORD])).stdout.trim();

/**
 * Runs rclone with `args`, its `:ftp:` remote configured for the cell. The FTP backend
 * has no CA option, but Go reads its roots from SSL_CERT_FILE, so the server is verified
 * against the test CA all the same (no `no_check_certificate`).
 */
function rclone(cell: Cell, ...args: string[]): Promise<Output> {
  return run("rclone", ["-q", "--retries", "1", "--low-level-retries", "1", ...args], {
    SSL_CERT_FILE: cell.ca,
    RCLONE_FTP_HOST: cell.urlHost, // rclone 1.60 joins host and port without brackets
    RCLONE_FTP_PORT: String(cell.port),
    RCLONE_FTP_USER: USER,
    RCLONE_FTP_PASS: rclonePassword,
    RCLONE_FTP_EXPLICIT_TLS: String(cell.security === "explicit"),
    RCLONE_FTP_TLS: String(cell.security === "implicit"),
    RCLONE_FTP_DISABLE_EPSV: String(cell.mode === "PASV"),
  });
}

clientMatrix("rclone", (_security, mode, network) => {
  if (!isPassive(mode)) {
    return { unsupported: "rclone's FTP backend has passive mode only" };
  }
  if (network === "IPv6" && mode === "PASV") {
    return {
      unsupported: "PASV over IPv6 is refused (425); rclone with disable_epsv gets the refusal",
      async attempt(cell) {
        const listing = await rclone(cell, "lsjson", `:ftp:${cell.remote}/src`);
        assert(listing.code !== 0, "rclone failed");
        assertMatch(listing.stderr, /425 PASV can't be used over IPv6; use EPSV\./);
      },
    };
  }
  return {
    async run(cell) {
      const listing = await rclone(cell, "lsjson", `:ftp:${cell.remote}/src`);
      assertSucceeded(listing, "rclone lsjson");
      const entries: { Name: string; Size: number; IsDir: boolean }[] = JSON.parse(listing.stdout);
      assertListing(new Map(entries.map((e) => [e.Name, e.IsDir ? "dir" : e.Size])));
      const down = await rclone(cell, "copy", `:ftp:${cell.remote}/src`, `${cell.local}/down`);
      assertSucceeded(down, "rclone copy (download)");
      const up = await rclone(cell, "copy", `${cell.local}/tree`, `:ftp:${cell.remote}/up`);
      assertSucceeded(up, "rclone copy (upload)");
      await assertTreeDownloaded(cell);
      await assertTreeUploaded(cell);
    },
  };
});

// --- wget -----------------------------------------------------------------------------

clientMatrix("wget", (_security, mode, network) => {
  const reason = familyBound("wget", mode, network);
  if (reason) return { unsupported: reason };
  return {
    note: "upload not supported: wget cannot upload",
    async run(cell) {
      const args = ["--no-verbose", "--tries=1", "--timeout=20", `--user=${USER}`];
      args.push(`--password=${PASSWORD}`, "-r", "-l", "inf", "-nH", "--cut-dirs=2");
      args.push("--no-remove-listing", "-P", `${cell.local}/down`);
      if (cell.security !== "plain") args.push(`--ca-certificate=${cell.ca}`);
      if (cell.security === "implicit") args.push("--ftps-implicit");
      if (!isPassive(cell.mode)) args.push("--no-passive-ftp");
      const scheme = cell.security === "plain" ? "ftp" : "ftps";
      const url = `${scheme}://${cell.urlHost}:${cell.port}${cell.remote}/src/`;
      assertSucceeded(await run("wget", [...args, url]), "wget -r");
      // --no-remove-listing keeps each directory's LIST reply as .listing.
      assertListing(parseList(await Deno.readTextFile(`${cell.local}/down/.listing`)));
      await assertTreeDownloaded(cell, /^\.listing$/);
    },
  };
});

// --- Python ftplib --------------------------------------------------------------------

/** The ftplib session of a cell: a listing, a download and an upload of ONE_FILE; prints the listing. */
const FTPLIB_CELL = `
import ftplib, ssl, sys
host, port, remote, local, ca, security, passive, path = sys.argv[1:]
if security == "plain":
    ftp = ftplib.FTP(timeout=30)
else:
    ftp = ftplib.FTP_TLS(context=ssl.create_default_context(cafile=ca), timeout=30)
ftp.connect(host, int(port))
ftp.login("${USER}", "${PASSWORD}")
if security != "plain":
    ftp.prot_p()
ftp.set_pasv(passive == "passive")
lines = []
ftp.dir(remote + "/src", lines.append)
with open(local + "/down/file-29.bin", "wb") as f:
    ftp.retrbinary("RETR " + remote + "/src/" + path, f.write)
with open(local + "/tree/" + path, "rb") as f:
    ftp.storbinary("STOR " + remote + "/up/file-29.bin", f)
ftp.quit()
print("\\n".join(lines))
`;

clientMatrix("Python ftplib", (security, mode, network) => {
  if (security === "implicit") {
    return { unsupported: "ftplib's FTP_TLS does explicit FTPS (AUTH TLS) only" };
  }
  const reason = familyBound("ftplib", mode, network);
  if (reason) return { unsupported: reason };
  return {
    async run(cell) {
      const passive = isPassive(cell.mode) ? "passive" : "active";
      const { host, remote, local, ca } = cell;
      const args = [host, String(cell.port), remote, local, ca, security, passive, ONE_FILE];
      assertListing(parseList(await python(FTPLIB_CELL, ...args)));
      await assertOneFileBothWays(cell);
    },
  };
});

// --- basic-ftp ------------------------------------------------------------------------

/** A basic-ftp client, closed on disposal. */
class BasicFtp extends Client {
  [Symbol.dispose](): void {
    this.close();
  }
}

/** A basic-ftp client logged in for the cell, verifying the server against the test CA. */
async function basicFtp(cell: Cell): Promise<BasicFtp> {
  const client = new BasicFtp(30_000);
  try {
    await client.access({
      host: cell.host,
      port: cell.port,
      user: USER,
      password: PASSWORD,
      secure: { plain: false, explicit: true, implicit: "implicit" as const }[cell.security],
      secureOptions: { ca: [await Deno.readTextFile(cell.ca)] },
    });
  } catch (error) {
    client.close();
    throw error;
  }
  client.prepareTransfer = cell.mode === "EPSV" ? enterPassiveModeIPv6 : enterPassiveModeIPv4;
  return client;
}

/**
 * Downloads the remote directory `dir` into the local `into`, walking it with `list()`
 * and each file into memory. Not `downloadToDir()`: its file streams pause the data
 * socket when the disk lags, and a paused node:tls socket in Deno can lose its end event
 * (as src/tls.ts notes for the server's side), so under TLS a download now and then hung
 * with every byte received until basic-ftp's timeout. Node's basic-ftp does not.
 */
async function downloadTree(client: Client, dir: string, into: string): Promise<void> {
  for (const entry of await client.list(dir)) {
    const [from, to] = [`${dir}/${entry.name}`, `${into}/${entry.name}`];
    if (entry.isDirectory) {
      await Deno.mkdir(to);
      await downloadTree(client, from, to);
      continue;
    }
    const chunks: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk);
        callback();
      },
    });
    await client.downloadTo(sink, from);
    await Deno.writeFile(to, Buffer.concat(chunks));
  }
}

clientMatrix("basic-ftp", (_security, mode, network) => {
  if (!isPassive(mode)) {
    return { unsupported: "basic-ftp has passive mode only" };
  }
  if (network === "IPv6" && mode === "PASV") {
    return {
      unsupported: "PASV over IPv6 is refused (425); basic-ftp made to send PASV gets the refusal",
      async attempt(cell) {
        using client = await basicFtp(cell);
        const error = await client.list(`${cell.remote}/src`).catch((error) => error);
        assert(error instanceof FTPError, String(error));
        assertEquals([error.code, error.message], [
          425,
          "425 PASV can't be used over IPv6; use EPSV.",
        ]);
      },
    };
  }
  return {
    async run(cell) {
      using client = await basicFtp(cell);
      const listing = await client.list(`${cell.remote}/src`);
      assertListing(new Map(listing.map((e) => [e.name, e.isDirectory ? "dir" : e.size])));
      await downloadTree(client, `${cell.remote}/src`, `${cell.local}/down`);
      await client.uploadFromDir(`${cell.local}/tree`, `${cell.remote}/up`);
      await assertTreeDownloaded(cell);
      await assertTreeUploaded(cell);
    },
  };
});
