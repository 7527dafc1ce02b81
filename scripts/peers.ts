/**
 * The servers `scripts/compare.ts` benchmarks: tsftpd and the peers a user would pick
 * instead. Each setup installs what its server needs on this machine (idempotently: Debian
 * packages unpacked side by side with `dpkg -x`, npm packages in a cache directory) and says
 * how to run the server in the foreground on a loopback port.
 *
 * @module
 */

import $ from "dax";

/** Where everything lives. */
export interface Layout {
  /** The repository. */
  root: string;
  /** Unpacked peers, generated configurations, npm installs (`bench/tmp/peers`). */
  peers: string;
  /** The directory every server shares, and the home of the system user (`bench/tmp/home`). */
  home: string;
}

/** A server ready to run. */
export interface PreparedPeer {
  /** Its version, as a person would name it. */
  version: string;
  /** The user ftpbench logs in as, and the password. */
  user: string;
  password: string;
  /** Whether it forks a process per client (ftpbench's memory column then shows only the master). */
  forks: boolean;
  /** How it was configured, for the results. */
  notes: string;
  /** Writes what a run needs; resolves to the command line that serves `home` on `port`. */
  command(port: number): Promise<string[]>;
  /** Extra environment for the server. */
  env?: Record<string, string>;
}

/** Installs a server; throws a {@linkcode SkipError} when it cannot run here. */
export type PeerSetup = (layout: Layout) => Promise<PreparedPeer>;

/** Thrown by a setup when its server cannot run on this machine; the message says why. */
export class SkipError extends Error {}

/** The Unix user that vsftpd, proftpd and pure-ftpd log in. */
export const SYSTEM_USER = "ftpbench";
/** Its password, and the password of every virtual user. */
export const PASSWORD = "bench";

const PYTHON = "/usr/bin/python3";

let aptUpdated = false;

/** Runs `apt-get ARGS`, once after `apt-get update` when the first try fails. */
async function aptGet(args: string[], cwd?: string): Promise<void> {
  const run = () =>
    $`apt-get -q -y ${args}`.env({ DEBIAN_FRONTEND: "noninteractive" }).cwd(cwd ?? ".")
      .quiet().noThrow();
  let result = await run();
  if (result.code !== 0 && !aptUpdated) {
    aptUpdated = true;
    await $`apt-get -q update`.quiet().noThrow();
    result = await run();
  }
  if (result.code !== 0) {
    throw new SkipError(`apt-get ${args.join(" ")} failed: ${lastLine(result.stderr)}`);
  }
}

function lastLine(text: string): string {
  return text.trim().split("\n").at(-1) ?? "";
}

/** The shared libraries `binary` needs that the dynamic loader cannot find. */
async function missingLibraries(binary: string, env: Record<string, string>): Promise<string[]> {
  const output = await $`ldd ${binary}`.env(env).noThrow().quiet().text();
  return [...output.matchAll(/^\s*(\S+) => not found/gm)].map((match) => match[1]);
}

/** A Debian package unpacked under the cache directory. */
interface Unpacked {
  /** The unpacked root. */
  dir: string;
  /** The Debian version. */
  debVersion: string;
  /** `LD_LIBRARY_PATH`, when the unpacked libraries are needed. */
  env: Record<string, string>;
}

/**
 * Downloads and unpacks Debian package `pkg` (without installing it: vsftpd, proftpd and
 * pure-ftpd conflict), then makes `binary` loadable: first by installing the library packages
 * `pkg` depends on, then by pointing `LD_LIBRARY_PATH` at the unpacked libraries.
 */
async function unpackDeb(layout: Layout, pkg: string, binary: string): Promise<Unpacked> {
  const dir = `${layout.peers}/${pkg}`;
  const stamp = `${dir}/.deb-version`;
  if (!await $.path(stamp).exists()) {
    const debs = `${layout.peers}/debs`;
    await $.path(debs).ensureDir();
    await aptGet(["download", pkg], debs);
    const deb = await newestDeb(debs, pkg);
    await $.path(dir).remove({ recursive: true }).catch(() => {});
    await $`dpkg -x ${deb} ${dir}`;
    await Deno.writeTextFile(stamp, (await $`dpkg-deb -f ${deb} Version`.text()).trim());
  }
  const debVersion = await Deno.readTextFile(stamp);
  const path = `${dir}/${binary}`;
  let env: Record<string, string> = {};
  if ((await missingLibraries(path, env)).length > 0) {
    const depends = await $`apt-cache depends --no-recommends --no-suggests ${pkg}`.noThrow()
      .text();
    const libraries = [...depends.matchAll(/^\s+\|?Depends: (lib[\w.+-]+)$/gm)].map((m) => m[1]);
    if (libraries.length > 0) await aptGet(["install", "--no-install-recommends", ...libraries]);
  }
  if ((await missingLibraries(path, env)).length > 0) {
    env = { LD_LIBRARY_PATH: `${dir}/usr/lib/x86_64-linux-gnu:${dir}/lib/x86_64-linux-gnu` };
  }
  const missing = await missingLibraries(path, env);
  if (missing.length > 0) throw new SkipError(`${binary} lacks ${missing.join(", ")}`);
  return { dir, debVersion, env };
}

async function newestDeb(debs: string, pkg: string): Promise<string> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(debs)) {
    if (entry.name.startsWith(`${pkg}_`) && entry.name.endsWith(".deb")) names.push(entry.name);
  }
  if (names.length === 0) throw new SkipError(`apt-get download ${pkg} left no .deb`);
  return `${debs}/${names.sort().at(-1)}`;
}

let systemUser: Promise<void> | undefined;

/**
 * Creates (or updates) the Unix user `ftpbench` whose home is the shared directory, shell
 * /bin/bash (pure-ftpd refuses a shell missing from /etc/shells), password `bench` hashed with
 * SHA-512-crypt; checks that it can write its home.
 */
function ensureSystemUser(layout: Layout): Promise<void> {
  systemUser ??= (async () => {
    const shells = await Deno.readTextFile("/etc/shells").catch(() => "");
    if (!shells.split("\n").includes("/bin/bash")) {
      throw new SkipError("/bin/bash is not in /etc/shells");
    }
    const exists = (await $`id -u ${SYSTEM_USER}`.quiet().noThrow()).code === 0;
    if (exists) {
      await $`usermod -d ${layout.home} -s /bin/bash ${SYSTEM_USER}`;
    } else {
      await $`useradd --system --user-group --no-create-home -d ${layout.home} -s /bin/bash ${SYSTEM_USER}`;
    }
    await $`chpasswd -c SHA512`.stdinText(`${SYSTEM_USER}:${PASSWORD}\n`);
    await $.path(layout.home).ensureDir();
    await $`chown ${SYSTEM_USER}: ${layout.home}`;
    const writable = await $`runuser -u ${SYSTEM_USER} -- test -w ${layout.home}`.noThrow();
    if (writable.code !== 0) {
      throw new SkipError(`${SYSTEM_USER} cannot write ${layout.home} (a parent is not o+x?)`);
    }
  })();
  return systemUser;
}

/** Writes `text` to `path` (the directory made as needed); resolves to `path`. */
async function writeConfig(path: string, text: string): Promise<string> {
  await $.path(path).parentOrThrow().ensureDir();
  await Deno.writeTextFile(path, text);
  return path;
}

/**
 * tsftpd itself, from this working tree, run as `deno task start` runs it (same flags), with
 * `extra` flags after them.
 */
function tsftpdWith(extra: string[]): PeerSetup {
  return async (layout) => {
    const version = await $`deno run -A main.ts --version`.cwd(layout.root).text();
    const config = JSON.parse(await Deno.readTextFile(`${layout.root}/deno.json`));
    const start = (config.tasks.start as string).split(" ")
      .map((word) => word === "main.ts" ? `${layout.root}/main.ts` : word);
    const args = ["-i", "127.0.0.1", "-p", "PORT", "-d", "HOME", "-u", "bench", "-P", PASSWORD];
    args.push("-w", "--max-cons", "0", ...extra);
    return {
      version: `${version.trim()} (working tree)`,
      user: "bench",
      password: PASSWORD,
      // With workers, ftpbench's memory column sees the supervisor alone.
      forks: extra.includes("--workers"),
      notes: `\`${config.tasks.start} ${args.join(" ")}\` (\`deno task start\`)`,
      command: (port) =>
        Promise.resolve([
          ...start,
          ...args.map((arg) => arg === "PORT" ? `${port}` : arg === "HOME" ? layout.home : arg),
        ]),
    };
  };
}

/** tsftpd in one process. */
const tsftpd = tsftpdWith([]);
/** tsftpd with two workers sharing the port (`--workers 2`), to set beside one process. */
const tsftpdTwoWorkers = tsftpdWith(["--workers", "2"]);

const PYFTPDLIB_SERVER = `
import sys
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer
port, home, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
authorizer = DummyAuthorizer()
authorizer.add_user("bench", password, home, perm="elradfmwMT")
FTPHandler.authorizer = authorizer
server = FTPServer(("127.0.0.1", port), FTPHandler)
server.max_cons = 0
server.max_cons_per_ip = 0
server.serve_forever()
`;

/** pyftpdlib, the Debian package, with an inline server script (one DummyAuthorizer user). */
const pyftpdlib: PeerSetup = async (layout) => {
  const probe = () =>
    $`${PYTHON} -c ${"import pyftpdlib; print(pyftpdlib.__ver__)"}`.quiet().noThrow();
  if ((await probe()).code !== 0) {
    await aptGet(["install", "--no-install-recommends", "python3-pyftpdlib"]);
  }
  const result = await probe();
  if (result.code !== 0) {
    throw new SkipError(`pyftpdlib does not import: ${lastLine(result.stderr)}`);
  }
  const script = await writeConfig(`${layout.peers}/pyftpdlib/server.py`, PYFTPDLIB_SERVER);
  return {
    version: `pyftpdlib ${result.stdout.trim()} (Debian python3-pyftpdlib)`,
    user: "bench",
    password: PASSWORD,
    forks: false,
    notes: "FTPServer + FTPHandler + DummyAuthorizer (one user, perm elradfmwMT), " +
      "max_cons = max_cons_per_ip = 0; everything else default (sendfile on, INFO logging)",
    command: (port) => Promise.resolve([PYTHON, script, `${port}`, layout.home, PASSWORD]),
  };
};

/** vsftpd from its unpacked Debian package, standalone, PAM login of the system user. */
const vsftpd: PeerSetup = async (layout) => {
  await ensureSystemUser(layout);
  const { dir, debVersion, env } = await unpackDeb(layout, "vsftpd", "usr/sbin/vsftpd");
  const empty = `${layout.peers}/vsftpd-empty`;
  await $.path(empty).ensureDir();
  const pam = (await $.path("/etc/pam.d/vsftpd").exists()) ? "vsftpd" : "other";
  return {
    version: `vsftpd ${debVersion}`,
    user: SYSTEM_USER,
    password: PASSWORD,
    forks: true,
    env,
    notes: `listen=YES, local_enable/write_enable=YES, max_clients=max_per_ip=0, ` +
      `lock_upload_files=NO, seccomp_sandbox=NO, isolate=NO, isolate_network=NO, ` +
      `pam_service_name=${pam}, pasv 10000-14999, xferlog off`,
    command: async (port) => {
      const conf = await writeConfig(
        `${layout.peers}/vsftpd.conf`,
        [
          "listen=YES",
          "listen_ipv6=NO",
          "listen_address=127.0.0.1",
          `listen_port=${port}`,
          "background=NO",
          "anonymous_enable=NO",
          "local_enable=YES",
          "write_enable=YES",
          "local_umask=022",
          `pam_service_name=${pam}`,
          "seccomp_sandbox=NO",
          "isolate=NO",
          "isolate_network=NO",
          "lock_upload_files=NO",
          "max_clients=0",
          "max_per_ip=0",
          "pasv_enable=YES",
          "pasv_min_port=10000",
          "pasv_max_port=14999",
          `secure_chroot_dir=${empty}`,
          "xferlog_enable=NO",
          "dirmessage_enable=NO",
          "idle_session_timeout=600",
          "data_connection_timeout=600",
          "",
        ].join("\n"),
      );
      return [`${dir}/usr/sbin/vsftpd`, conf];
    },
  };
};

/** ProFTPD from its unpacked Debian package (proftpd-core), standalone, /etc/shadow login. */
const proftpd: PeerSetup = async (layout) => {
  await ensureSystemUser(layout);
  const { dir, debVersion, env } = await unpackDeb(layout, "proftpd-core", "usr/sbin/proftpd");
  const run = `${layout.peers}/proftpd-run`;
  return {
    version: `proftpd ${debVersion}`,
    user: SYSTEM_USER,
    password: PASSWORD,
    forks: true,
    env,
    notes: "ServerType standalone, MaxInstances/MaxClients none, AllowOverwrite on, " +
      "AuthPAM off (mod_auth_unix), DelayEngine off (its login delay padding), " +
      "UseReverseDNS off, TransferLog none, PassivePorts 15000 19999",
    command: async (port) => {
      const conf = await writeConfig(
        `${run}/proftpd.conf`,
        [
          `ServerName "proftpd bench"`,
          "ServerType standalone",
          `Port ${port}`,
          "DefaultAddress 127.0.0.1",
          "SocketBindTight on",
          "UseIPv6 off",
          `User ${SYSTEM_USER}`,
          `Group ${SYSTEM_USER}`,
          "MaxInstances none",
          "MaxClients none",
          "MaxClientsPerHost none",
          "MaxClientsPerUser none",
          "PassivePorts 15000 19999",
          "AllowOverwrite on",
          "UseReverseDNS off",
          "WtmpLog off",
          "TransferLog none",
          "AuthPAM off",
          "AuthOrder mod_auth_unix.c",
          "DelayEngine off",
          `PidFile ${run}/proftpd.pid`,
          `ScoreboardFile ${run}/proftpd.scoreboard`,
          "TimeoutIdle 600",
          "TimeoutNoTransfer 600",
          "Umask 022",
          "",
        ].join("\n"),
      );
      return [`${dir}/usr/sbin/proftpd`, "-n", "-c", conf];
    },
  };
};

/** Pure-FTPd from its unpacked Debian package, standalone, /etc/shadow login. */
const pureFtpd: PeerSetup = async (layout) => {
  await ensureSystemUser(layout);
  const { dir, debVersion, env } = await unpackDeb(layout, "pure-ftpd", "usr/sbin/pure-ftpd");
  return {
    version: `pure-ftpd ${debVersion}`,
    user: SYSTEM_USER,
    password: PASSWORD,
    forks: true,
    env,
    notes: "`pure-ftpd -S 127.0.0.1,PORT -4 -E -H -l unix -c 1000 -C 1000 -u 1 " +
      "-p 20000:24999 -U 133:022 -I 15` (no anonymous, no DNS, 1000 clients)",
    command: (port) =>
      Promise.resolve([
        `${dir}/usr/sbin/pure-ftpd`,
        ...["-S", `127.0.0.1,${port}`, "-4", "-E", "-H", "-l", "unix", "-c", "1000"],
        ...["-C", "1000", "-u", "1", "-p", "20000:24999", "-U", "133:022", "-I", "15"],
      ]),
  };
};

const FTP_SRV_SERVER = `
const FtpSrv = require("ftp-srv");
const [port, home, password] = process.argv.slice(2);
const server = new FtpSrv({
  url: "ftp://127.0.0.1:" + port,
  pasv_url: "127.0.0.1",
  pasv_min: 25000,
  pasv_max: 29999,
});
server.on("login", ({ username, password: given }, resolve, reject) => {
  if (username === "bench" && given === password) resolve({ root: home });
  else reject(new Error("Invalid username or password"));
});
server.listen();
`;

/** The Node.js `ftp-srv` npm package, run by Node with an inline server (one user). */
const ftpSrv: PeerSetup = async (layout) => {
  for (const tool of ["node", "npm"]) {
    if (!await $.commandExists(tool)) throw new SkipError(`${tool} is not installed`);
  }
  const dir = `${layout.peers}/ftp-srv`;
  const manifest = `${dir}/node_modules/ftp-srv/package.json`;
  if (!await $.path(manifest).exists()) {
    const result = await $`npm install --no-audit --no-fund --prefix ${dir} ftp-srv@^4`
      .quiet().noThrow();
    if (result.code !== 0) {
      throw new SkipError(`npm install ftp-srv failed: ${lastLine(result.stderr)}`);
    }
  }
  const { version } = JSON.parse(await Deno.readTextFile(manifest));
  const script = await writeConfig(`${dir}/server.cjs`, FTP_SRV_SERVER);
  const node = (await $`node --version`.text()).trim();
  return {
    version: `ftp-srv ${version} (Node.js ${node})`,
    user: "bench",
    password: PASSWORD,
    forks: false,
    notes: "new FtpSrv({url, pasv_url: 127.0.0.1, pasv_min: 25000, pasv_max: 29999}), " +
      "one user in the login handler; default bunyan logging",
    command: (port) => Promise.resolve(["node", script, `${port}`, layout.home, PASSWORD]),
  };
};

/** Every server compare.ts knows, by name, in the default order. */
export const PEERS: Record<string, PeerSetup> = {
  tsftpd,
  "tsftpd-2-workers": tsftpdTwoWorkers,
  pyftpdlib,
  vsftpd,
  proftpd,
  "pure-ftpd": pureFtpd,
  "ftp-srv": ftpSrv,
};
