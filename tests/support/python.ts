/**
 * Socket behaviour Deno cannot produce, done by a short Python script: a TCP reset
 * (SO_LINGER 0) and a connection from another loopback address.
 *
 * @module
 */

/** Runs a Python 3 script with `args`; resolves to its stdout, throwing on a non-zero exit. */
export async function python(script: string, ...args: string[]): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command("python3", {
    args: ["-c", script, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  if (code !== 0) throw new Error(`python3 exited ${code}: ${text.decode(stderr)}`);
  return text.decode(stdout);
}

/** Connects to 127.0.0.1:`port`, sends `bytes` zero bytes, then resets the connection (RST, not FIN). */
export function sendThenReset(port: number, bytes: number): Promise<string> {
  return python(
    `
import socket, struct, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"\\0" * int(sys.argv[2]))
time.sleep(0.2)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()
`,
    String(port),
    String(bytes),
  );
}

/**
 * Connects to 127.0.0.1:`port` from the source address `source` and reports
 * `closed` if the server closes the connection without sending anything, or
 * `open` if it is still open after a short wait.
 */
export function connectFrom(source: string, port: number): Promise<string> {
  return python(
    `
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[2])), source_address=(sys.argv[1], 0))
s.settimeout(1.0)
try:
    print("closed" if s.recv(1) == b"" else "data")
except socket.timeout:
    print("open")
except ConnectionResetError:
    print("closed")
s.close()
`,
    source,
    String(port),
  ).then((out) => out.trim());
}

/**
 * Connects to 127.0.0.1:`port`, reads `bytes` bytes (or to the end), then resets the
 * connection (RST, not FIN); resolves to how many bytes it read.
 */
export async function receiveThenReset(port: number, bytes: number): Promise<number> {
  const out = await python(
    `
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
want, got = int(sys.argv[2]), 0
while got < want:
    chunk = s.recv(65536)
    if not chunk:
        break
    got += len(chunk)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()
print(got)
`,
    String(port),
    String(bytes),
  );
  return Number(out.trim());
}

/**
 * Connects to 127.0.0.1:`port` from the source address `source`, reads the
 * greeting, then sends each of `lines`, reading one reply after each; resolves to
 * the first line of every reply (`null` where the server had closed the
 * connection: nothing is sent after that).
 */
export async function dialogueFrom(
  source: string,
  port: number,
  lines: string[] = [],
): Promise<(string | null)[]> {
  const out = await python(
    `
import json, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=20, source_address=(sys.argv[1], 0))
f = s.makefile("rb")
def reply():
    try:
        first = f.readline()
        if first[3:4] == b"-":
            while True:
                line = f.readline()
                if not line or (line[:3] == first[:3] and line[3:4] == b" "):
                    break
    except ConnectionResetError:
        return None
    return first.decode("utf-8", "replace").rstrip("\\r\\n") or None
replies = [reply()]
for line in json.loads(sys.argv[3]):
    if replies[-1] is None:
        break
    try:
        s.sendall(line.encode() + b"\\r\\n")
    except OSError:
        replies.append(None)
        break
    replies.append(reply())
s.close()
print(json.dumps(replies))
`,
    source,
    String(port),
    JSON.stringify(lines),
  );
  return JSON.parse(out);
}
