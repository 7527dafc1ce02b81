import { fileURLToPath } from "node:url";
import { parseConfigFile } from "../src/cli/config_file.ts";
import { cliConfig, mergeSettings } from "../src/cli/parse.ts";
import { assert, assertEquals } from "./support/assert.ts";
import { withTempDir } from "./support/temp_dir.ts";

const UNIT = fileURLToPath(new URL("../deploy/tsftpd.service", import.meta.url));
/** The unit's config file, installed where the unit's `--config` names it. */
const CONFIG = fileURLToPath(new URL("../deploy/tsftpd.toml", import.meta.url));
const README = fileURLToPath(new URL("../README.md", import.meta.url));
const BINARY = "/usr/local/bin/tsftpd";
const INSTALLED = "/etc/tsftpd/tsftpd.toml";

/** Whether `program` runs here. */
async function runs(program: string): Promise<boolean> {
  try {
    await new Deno.Command(program, { args: ["--version"], stdout: "null", stderr: "null" })
      .output();
    return true;
  } catch {
    return false;
  }
}

const verifier = await runs("systemd-analyze");
if (!verifier) {
  console.log("deploy_test: systemd-analyze is not installed: the unit is not verified");
}

/** The `Key=value` settings of a unit file, by key (a key may repeat). */
function settings(text: string): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (match) found.set(match[1], [...found.get(match[1]) ?? [], match[2]]);
  }
  return found;
}

Deno.test("the systemd unit runs the binary unprivileged, port 21 by one capability, the system read-only", async () => {
  const unit = settings(await Deno.readTextFile(UNIT));
  const one = (key: string) => {
    const values = unit.get(key) ?? [];
    assertEquals(values.length, 1, `${key}= is set ${values.length} times`);
    return values[0];
  };
  assert(one("User") !== "root" && one("User") !== "0");
  assertEquals(one("AmbientCapabilities"), "CAP_NET_BIND_SERVICE");
  assertEquals(one("CapabilityBoundingSet"), "CAP_NET_BIND_SERVICE");
  assertEquals(one("NoNewPrivileges"), "true");
  assertEquals(one("ProtectSystem"), "strict");
  assertEquals(one("ReadWritePaths"), "/srv/ftp");
  assertEquals(one("ProtectHome"), "true");
  assertEquals(one("PrivateTmp"), "true");
  assertEquals(one("ExecReload"), "/bin/kill -HUP $MAINPID");
  // The command line is one tsftpd accepts: the config file of deploy/, installed.
  const [program, ...args] = one("ExecStart").split(" ");
  assertEquals(program, BINARY);
  assertEquals(args, ["--config", INSTALLED]);
  const file = await parseConfigFile(await Deno.readTextFile(CONFIG), INSTALLED);
  const config = cliConfig(mergeSettings(file));
  assertEquals(
    [config.users, config.port, config.logFile],
    ["/etc/tsftpd/users.toml", 21, `/var/log/${one("LogsDirectory")}/tsftpd.log`],
    "the accounts beside the config file, port 21, the log in the unit's LogsDirectory=",
  );
  // The README's logrotate stanza rotates that log and reloads the unit (SIGHUP re-opens it).
  const readme = await Deno.readTextFile(README);
  const stanza = new RegExp(
    `^${config.logFile} \\{\n[^}]*^ +systemctl reload tsftpd\n[^}]*^\\}$`,
    "m",
  );
  assert(stanza.test(readme), `the README's logrotate stanza for ${config.logFile}`);
});

Deno.test({
  name: "systemd-analyze verify finds nothing to say about the unit",
  ignore: !verifier,
  async fn() {
    await withTempDir(async (dir) => {
      // verify wants ExecStart's program to exist: a stand-in for the binary, nothing else changed.
      await Deno.writeTextFile(`${dir}/tsftpd`, "#!/bin/sh\n", { mode: 0o755 });
      const text = await Deno.readTextFile(UNIT);
      await Deno.writeTextFile(`${dir}/tsftpd.service`, text.replace(BINARY, `${dir}/tsftpd`));
      const { code, stdout, stderr } = await new Deno.Command("systemd-analyze", {
        args: ["verify", `${dir}/tsftpd.service`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const said = new TextDecoder().decode(stderr) + new TextDecoder().decode(stdout);
      assertEquals([code, said], [0, ""]);
    });
  },
});
