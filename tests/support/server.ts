/**
 * A real tsftpd on a loopback port, with a temporary home, for tests; and
 * {@linkcode store}, through which the tests read and write that home.
 *
 * The home is on disk (an `AbstractedFS`) unless `TSFTPD_TEST_FS=memory`
 * is set, which gives each server a {@linkcode MemoryFS} instead: `deno task test`
 * runs the protocol tests both ways. Tests that need what only a disk has
 * (symlinks, a FIFO, file modes enforced) are declared with {@linkcode diskTest}.
 *
 * @module
 */

import {
  DummyAuthorizer,
  type FileStat,
  FTPServer,
  type FTPServerOptions,
  Logger,
  MemoryFS,
} from "../../mod.ts";

/** Whether the test servers keep their files in memory (`TSFTPD_TEST_FS=memory`). */
export const onMemory: boolean = Deno.env.get("TSFTPD_TEST_FS") === "memory";

/** A test that needs the disk: skipped when the servers keep their files in memory. */
export function diskTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: onMemory, fn });
}

/** The memory homes of the running servers, by the path the tests name them with. */
const memoryHomes = new Map<string, MemoryFS>();
let memoryServers = 0;

/** The memory home holding `path`, and `path` inside it; `null` for a path on disk. */
function inMemory(path: string): [MemoryFS, string] | null {
  for (const [home, fs] of memoryHomes) {
    if (path === home) return [fs, "/"];
    if (path.startsWith(home + "/")) return [fs, path.slice(home.length)];
  }
  return null;
}

/** What a test asks of a stat, as `Deno.FileInfo` names it. */
export interface TestStat {
  /** Whether it is a regular file. */
  isFile: boolean;
  /** Whether it is a directory. */
  isDirectory: boolean;
  /** Its size. */
  size: number;
  /** Its modification time. */
  mtime: Date | null;
  /** Its mode bits (the file type's too, on disk). */
  mode: number | null;
}

function testStat(stat: FileStat): TestStat {
  return {
    isFile: stat.type === "file",
    isDirectory: stat.type === "dir",
    size: stat.size,
    mtime: stat.mtime,
    mode: stat.mode,
  };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The files of the test servers' homes, named by real-looking paths
 * (`${home}/f`), on disk or in memory, with the names of `Deno`'s calls.
 */
export const store = {
  /** Writes a file. */
  async writeFile(path: string, data: Uint8Array): Promise<void> {
    const memory = inMemory(path);
    if (!memory) return await Deno.writeFile(path, data);
    const file = await memory[0].openWrite(memory[1], { truncate: true });
    await file.write(data);
    file.close();
  },
  /** Writes a text file. */
  writeTextFile(path: string, text: string): Promise<void> {
    return store.writeFile(path, encoder.encode(text));
  },
  /** Reads a file. */
  async readFile(path: string): Promise<Uint8Array> {
    const memory = inMemory(path);
    if (!memory) return await Deno.readFile(path);
    const { size } = await memory[0].stat(memory[1]);
    const file = await memory[0].openRead(memory[1], 0);
    const bytes = new Uint8Array(size);
    await file.read(bytes);
    file.close();
    return bytes;
  },
  /** Reads a text file. */
  async readTextFile(path: string): Promise<string> {
    return decoder.decode(await store.readFile(path));
  },
  /** Makes a file of `size` zero bytes (sparse on disk). */
  async sparseFile(path: string, size: number): Promise<void> {
    const memory = inMemory(path);
    if (memory) return await store.writeFile(path, new Uint8Array(size));
    using file = await Deno.open(path, { write: true, create: true });
    await file.truncate(size);
  },
  /** Makes a directory (and its parents, with `recursive`). */
  async mkdir(path: string, options: { recursive?: boolean } = {}): Promise<void> {
    const memory = inMemory(path);
    if (!memory) return await Deno.mkdir(path, options);
    const [fs, inside] = memory;
    const names = inside.split("/").filter(Boolean);
    for (let i = options.recursive ? 1 : names.length; i <= names.length; i++) {
      const dir = "/" + names.slice(0, i).join("/");
      if (options.recursive && await fs.stat(dir).catch(() => null)) continue;
      await fs.mkdir(dir);
    }
  },
  /** Stats a path, following symlinks. */
  async stat(path: string): Promise<TestStat> {
    const memory = inMemory(path);
    if (!memory) return await Deno.stat(path);
    return testStat(await memory[0].stat(memory[1]));
  },
  /** The names in a directory, sorted. */
  async names(path: string): Promise<string[]> {
    const memory = inMemory(path);
    const entries: AsyncIterable<{ name: string }> = memory
      ? memory[0].list(memory[1])
      : Deno.readDir(path);
    const names: string[] = [];
    for await (const { name } of entries) names.push(name);
    return names.sort();
  },
  /** Sets a path's mode bits. */
  async chmod(path: string, mode: number): Promise<void> {
    const memory = inMemory(path);
    if (!memory) return await Deno.chmod(path, mode);
    await memory[0].chmod(memory[1], mode);
  },
  /** Sets a path's times. */
  async utime(path: string, atime: number | Date, mtime: number | Date): Promise<void> {
    const memory = inMemory(path);
    if (!memory) return await Deno.utime(path, atime, mtime);
    const date = (time: number | Date) => typeof time === "number" ? new Date(time * 1000) : time;
    await memory[0].utime(memory[1], date(atime), date(mtime));
  },
};

/** The full-permission user every test server has. */
export const USER = "user";
/** Its password. */
export const PASSWORD = "12345";

/** A running test server. */
export interface TestServer {
  /** The server. */
  server: FTPServer;
  /** Its port on 127.0.0.1. */
  port: number;
  /** The home of `user` and of `anonymous` (read-only): a directory on disk, or a name in memory. */
  home: string;
  /** The authorizer, to add users or overrides. */
  authorizer: DummyAuthorizer;
  /** Every log line written so far. */
  logs: string[];
}

/** Server options a test may set; the authorizer is made here. */
export type TestServerOptions = Partial<FTPServerOptions> & {
  /** Permissions of `user` (default all). */
  perm?: string;
};

/**
 * Runs `body` against a fresh server whose home is a new temporary directory (or
 * a new memory tree), then closes every session, the server, and removes the home.
 */
export async function withServer(
  options: TestServerOptions,
  body: (t: TestServer) => Promise<void>,
): Promise<void> {
  if (!onMemory) {
    const home = await Deno.realPath(await Deno.makeTempDir({ prefix: "tsftpd-test-" }));
    try {
      return await serveHome(home, options, body);
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  }
  const home = `/memory/tsftpd-test-${++memoryServers}`;
  const storage = new MemoryFS();
  memoryHomes.set(home, storage.view(home));
  try {
    const abstractedFs = (root: string) => storage.view(root);
    await serveHome(home, { abstractedFs, ...options }, body);
  } finally {
    memoryHomes.delete(home);
  }
}

async function serveHome(
  home: string,
  options: TestServerOptions,
  body: (t: TestServer) => Promise<void>,
): Promise<void> {
  const authorizer = new DummyAuthorizer();
  authorizer.addUser(USER, PASSWORD, home, { perm: options.perm ?? "elradfmwMT" });
  authorizer.addAnonymous(home);
  const logs: string[] = [];
  const server = new FTPServer({
    hostname: "127.0.0.1",
    port: 0,
    authFailedTimeout: 0.05,
    logger: new Logger({ level: "debug", sink: (line) => logs.push(line) }),
    ...options,
    authorizer: options.authorizer ?? authorizer,
  });
  const serving = server.serve();
  try {
    await body({ server, port: server.addr.port, home, authorizer, logs });
  } finally {
    await server.closeAll();
    await serving;
  }
}

/** Resolves once `predicate` holds, polling; rejects after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
