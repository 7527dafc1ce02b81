/**
 * How a session's control connection ends: the client reads the last reply and a
 * clean end of stream. Found by the fuzzer (`fuzz_test.ts`).
 */

import { assertEquals } from "./support/assert.ts";
import { testCerts } from "./support/certs.ts";
import { FtpClient } from "./support/ftp_client.ts";
import { withServer } from "./support/server.ts";

Deno.test("QUIT over TLS ends with close_notify: the client reads a clean end", async () => {
  const certs = await testCerts();
  const ca = await Deno.readTextFile(certs.ca);
  await withServer({ tls: { certfile: certs.cert, keyfile: certs.key } }, async ({ port }) => {
    const client = await FtpClient.connect(port, { caCerts: [ca] });
    try {
      await client.startTls();
      assertEquals((await client.command("QUIT")).code, 221);
      // Without close_notify the runtime's TLS client rejects this read (UnexpectedEof).
      assertEquals(await client.conn.read(new Uint8Array(16)), null);
    } finally {
      client.close();
    }
  });
});
