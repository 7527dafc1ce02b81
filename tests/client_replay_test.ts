/**
 * The command sequences FileZilla and WinSCP send, replayed by a client that
 * resumes its TLS session on every data connection as they do (Python's ftplib,
 * taught to pass the control connection's session), against a server that
 * requires the resumption (`requireSessionReuse`).
 *
 * @module
 */

import { assertEquals } from "./support/assert.ts";
import { testCerts } from "./support/certs.ts";
import { python } from "./support/python.ts";
import { PASSWORD, store, USER, withServer } from "./support/server.ts";

/**
 * A Python prelude: `ftp`, an FTP_TLS logged in over explicit FTPS whose data
 * connections resume the control connection's TLS session, and `say(line)`, which
 * sends a command and prints the reply's first line.
 */
const RESUMING_CLIENT = `
import ftplib, io, ssl, sys
class Resuming(ftplib.FTP_TLS):
    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=self.sock.session)
        return conn, size
ctx = ssl.create_default_context(cafile=sys.argv[2])
ctx.maximum_version = getattr(ssl.TLSVersion, sys.argv[3])
ftp = Resuming(context=ctx, timeout=20)
ftp.connect("127.0.0.1", int(sys.argv[1]))
def say(line):
    print(line.split(" ")[0], ftp.sendcmd(line).splitlines()[0])
`;

/** Runs `body` after {@linkcode RESUMING_CLIENT} against `port`, at most TLS `version`. */
async function replay(port: number, version: string, body: string): Promise<string[]> {
  const { ca } = await testCerts();
  const out = await python(RESUMING_CLIENT + body, String(port), ca, version);
  return out.trim().split("\n");
}

const VERSIONS = ["TLSv1_2", "TLSv1_3"];

Deno.test("FileZilla's sequence: FEAT, OPTS UTF8, PROT P with resumed sessions, MLSD, MFMT after upload, REST STREAM", async () => {
  const { cert, key } = await testCerts();
  const tls = { certfile: cert, keyfile: key, requireSessionReuse: true };
  await withServer({ tls }, async ({ port, home }) => {
    for (const version of VERSIONS) {
      const name = `up-${version}.bin`;
      const lines = await replay(
        port,
        version,
        `
ftp.auth()
ftp.login("${USER}", "${PASSWORD}")
feat = ftp.sendcmd("FEAT")
print("FEAT", all(f in feat for f in ("MLST", "MFMT", "REST STREAM", "UTF8", "EPSV", "PBSZ")))
say("OPTS UTF8 ON")
ftp.prot_p()
say("OPTS MLST type;size;modify;perm;unix.mode;")
say("PWD")
say("TYPE I")
entries = list(ftp.mlsd())
print("MLSD", len(entries))
data = bytes(range(256)) * 400
ftp.storbinary("STOR ${name}", io.BytesIO(data))
say("MFMT 20240102030405 ${name}")
say("MDTM ${name}")
got = io.BytesIO()
ftp.retrbinary("RETR ${name}", got.write, rest=1000)
print("REST", got.getvalue() == data[1000:])
say("SIZE ${name}")
ftp.quit()
`,
      );
      assertEquals(lines, [
        "FEAT True",
        "OPTS 200 Always in UTF8 mode.",
        "OPTS 200 MLST OPTS type;size;modify;perm;unix.mode;",
        'PWD 257 "/" is the current directory.',
        "TYPE 200 Type set to: Binary.",
        // "." and, the second time, the first upload.
        `MLSD ${version === "TLSv1_2" ? 1 : 2}`,
        `MFMT 213 Modify=20240102030405; /${name}`,
        "MDTM 213 20240102030405",
        "REST True",
        "SIZE 213 102400",
      ], version);
      assertEquals(
        (await store.stat(`${home}/${name}`)).mtime?.toISOString(),
        "2024-01-02T03:04:05.000Z",
      );
    }
  });
});

Deno.test("WinSCP's sequence: PROT P with resumed sessions, LIST -a, ASCII and binary transfers, MLST, rename, delete", async () => {
  const { cert, key } = await testCerts();
  const tls = { certfile: cert, keyfile: key, requireSessionReuse: true };
  await withServer({ tls }, async ({ port, home }) => {
    await store.mkdir(`${home}/docs`);
    for (const version of VERSIONS) {
      const lines = await replay(
        port,
        version,
        `
ftp.auth()
ftp.login("${USER}", "${PASSWORD}")
say("SYST")
ftp.prot_p()
say("CWD /docs")
say("PWD")
say("TYPE A")
ftp.storlines("STOR notes.txt", io.BytesIO(b"one\\ntwo\\n"))
listing = []
ftp.retrlines("LIST -a", listing.append)
print("LIST", len(listing), listing[0].split()[-1])
say("TYPE I")
mlst = ftp.sendcmd("MLST notes.txt").splitlines()[1]
print("MLST", "type=file" in mlst)
say("RNFR notes.txt")
say("RNTO kept.txt")
got = io.BytesIO()
ftp.retrbinary("RETR kept.txt", got.write)
print("RETR", got.getvalue())
say("DELE kept.txt")
ftp.quit()
`,
      );
      assertEquals(lines.slice(0, 3), [
        "SYST 215 UNIX Type: L8",
        'CWD 250 "/docs" is the current directory.',
        'PWD 257 "/docs" is the current directory.',
      ], version);
      assertEquals(lines.slice(3), [
        "TYPE 200 Type set to: ASCII.",
        "LIST 1 notes.txt",
        "TYPE 200 Type set to: Binary.",
        "MLST True",
        "RNFR 350 Ready for destination name.",
        "RNTO 250 Renaming ok.",
        "RETR b'one\\ntwo\\n'",
        "DELE 250 File removed.",
      ], version);
    }
  });
});

Deno.test("the replaying client resumes: without session reuse the server refuses its data connections", async () => {
  const { cert, key } = await testCerts();
  const tls = { certfile: cert, keyfile: key, requireSessionReuse: true };
  await withServer({ tls }, async ({ port }) => {
    const lines = await replay(
      port,
      "TLSv1_3",
      `
ftp.auth()
ftp.login("${USER}", "${PASSWORD}")
ftp.prot_p()
conn, _ = ftplib.FTP_TLS.ntransfercmd(ftp, "NLST")
print("resumed", conn.session_reused, "data", conn.recv(1))
try:
    print("reply", ftp.voidresp())
except ftplib.error_perm as e:
    print("refused", str(e).split(" ")[0])
`,
    );
    assertEquals(lines.slice(-2), ["resumed False data b''", "refused 522"]);
  });
});
