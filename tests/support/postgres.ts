/**
 * A throw-away PostgreSQL server for the tests: a cluster made by `initdb` in a
 * temporary directory, run by an unprivileged account (`initdb` refuses root:
 * the package's `postgres` account, or one made for the test and removed after),
 * listening on loopback only; stopped, started again, and removed with all it made.
 *
 * @module
 */

/** Why PostgreSQL cannot be run here, or `null` when it can: the tests skip with the reason. */
export function postgresMissing(): string | null {
  if (Deno.build.os !== "linux") return "PostgreSQL tests run on Linux";
  if (Deno.uid() !== 0) return "PostgreSQL tests need root (to run initdb as another account)";
  if (binDir() === null) return "PostgreSQL is not installed (Debian package postgresql)";
  return null;
}

/** The directory of `initdb` and `pg_ctl` (Debian keeps them out of the PATH). */
function binDir(): string | null {
  try {
    const versions = [...Deno.readDirSync("/usr/lib/postgresql")].map((entry) => entry.name)
      .sort((a, b) => Number(b) - Number(a));
    for (const version of versions) {
      const dir = `/usr/lib/postgresql/${version}/bin`;
      if (exists(`${dir}/initdb`)) return dir;
    }
  } catch {
    // No Debian layout.
  }
  return null;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

async function run(command: string, args: string[]): Promise<string> {
  const output = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  if (!output.success) throw new Error(`${command} ${args.join(" ")} failed:\n${text}`);
  return text;
}

/** A free TCP port on 127.0.0.1 (free when asked). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/** A running throw-away PostgreSQL server. */
export class TestPostgres implements AsyncDisposable {
  /** The database's URL (account `tsftpd`, trusted on loopback). */
  readonly url: string;
  /** Its port on 127.0.0.1. */
  readonly port: number;
  readonly #dir: string;
  readonly #bin: string;
  readonly #account: string;
  readonly #madeAccount: boolean;

  private constructor(dir: string, bin: string, account: string, made: boolean, port: number) {
    this.#dir = dir;
    this.#bin = bin;
    this.#account = account;
    this.#madeAccount = made;
    this.port = port;
    this.url = `postgres://tsftpd@127.0.0.1:${port}/tsftpd`;
  }

  /** Makes a cluster and starts it, with a database `tsftpd` owned by the account `tsftpd`. */
  static async start(): Promise<TestPostgres> {
    const missing = postgresMissing();
    if (missing) throw new Error(missing);
    const bin = binDir()!;
    let account = "postgres";
    let made = false;
    if (!(await run("getent", ["passwd", account]).then(() => true, () => false))) {
      account = `tsftpd-pg-${Deno.pid}`;
      await run("useradd", [
        "--system",
        "--no-create-home",
        "--shell",
        "/usr/sbin/nologin",
        account,
      ]);
      made = true;
    }
    const dir = await Deno.makeTempDir({ prefix: "tsftpd-pg-" });
    const server = new TestPostgres(dir, bin, account, made, freePort());
    try {
      await run("chown", [account, dir]);
      await Deno.chmod(dir, 0o700);
      await server.#as(`${bin}/initdb`, [
        "-D",
        `${dir}/data`,
        "-A",
        "trust",
        "-U",
        "tsftpd",
        "--no-sync",
        "--no-instructions",
      ]);
      await server.startAgain();
      await server.#as(`${bin}/createdb`, [
        "-h",
        dir,
        "-p",
        String(server.port),
        "-U",
        "tsftpd",
        "tsftpd",
      ]);
    } catch (error) {
      await server.remove();
      throw error;
    }
    return server;
  }

  async #as(command: string, args: string[]): Promise<string> {
    return await run("runuser", ["-u", this.#account, "--", command, ...args]);
  }

  /** Starts the server (again, after {@linkcode stop}), waiting until it accepts connections. */
  async startAgain(): Promise<void> {
    await this.#as(`${this.#bin}/pg_ctl`, [
      "-D",
      `${this.#dir}/data`,
      "-o",
      `-k ${this.#dir} -h 127.0.0.1 -p ${this.port} -F -c fsync=off`,
      "-l",
      `${this.#dir}/log`,
      "-w",
      "start",
    ]);
  }

  /** Stops the server, ending its connections at once (`fast`). */
  async stop(): Promise<void> {
    await this.#as(`${this.#bin}/pg_ctl`, ["-D", `${this.#dir}/data`, "-m", "fast", "-w", "stop"]);
  }

  /** Runs SQL with psql, returning its unaligned output. */
  async psql(sql: string): Promise<string> {
    const out = await run(`${this.#bin}/psql`, [
      "-X",
      "-q",
      "-A",
      "-t",
      "-v",
      "ON_ERROR_STOP=1",
      "-c",
      sql,
      this.url,
    ]);
    return out.trim();
  }

  /** Stops the server (if running) and removes the cluster and the account made for it. */
  async remove(): Promise<void> {
    await this.#as(`${this.#bin}/pg_ctl`, ["-D", `${this.#dir}/data`, "-m", "immediate", "stop"])
      .catch(() => {});
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
    if (this.#madeAccount) await run("userdel", [this.#account]).catch(() => {});
  }

  /** Same as {@linkcode remove}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.remove();
  }
}
