/**
 * `deno task mutate`: mutation testing of `src/` with Stryker, module group by
 * module group, each against the test files that exercise it.
 *
 * Stryker has no Deno test runner, so its command runner runs a whole test command
 * per mutant, with no per-test coverage. Running the whole suite for each of the
 * ~3,800 mutants would take a day on two cores; running each group's own tests
 * takes a few hours, and the incremental files under `reports/mutation/` (kept in
 * git) let a later run re-test only the mutants whose code or tests changed.
 *
 * ```sh
 * deno task mutate                 # every group, in the order below
 * deno task mutate net commands    # only these groups
 * deno task mutate --force net     # test every mutant again (after changing the tests)
 * deno task mutate --list          # the groups, their sources and tests
 * ```
 *
 * Stryker's command runner cannot see which tests changed: after changing tests,
 * run the groups they cover with `--force`, or their incremental results go stale.
 *
 * Each group writes `reports/mutation/<group>.json` (Stryker's mutation-testing
 * report); `reports/mutation/summary.md` is rebuilt from every group's report, with
 * the score and the mutants that survived.
 *
 * @module
 */

import { STRYKER_VERSION, summarize } from "./mutation_summary.ts";

/** A set of source files and the tests that exercise them. */
interface Group {
  /** The group's name, used for its report files. */
  name: string;
  /** Stryker `mutate` patterns. */
  sources: string[];
  /** The test files run against each mutant. */
  tests: string[];
}

const UNIT = "tests/units_test.ts";
const PROTOCOL = [
  "tests/session_test.ts",
  "tests/transfer_test.ts",
  "tests/extensions_test.ts",
  "tests/jail_test.ts",
  "tests/limits_test.ts",
  "tests/library_test.ts",
];

/** The groups, fastest tests first. */
const GROUPS: Group[] = [
  {
    name: "net",
    sources: ["src/net.ts"],
    tests: [UNIT, "tests/limits_test.ts", "tests/users_file_test.ts"],
  },
  { name: "line_reader", sources: ["src/line_reader.ts"], tests: [UNIT, "tests/limits_test.ts"] },
  {
    name: "log",
    sources: ["src/log.ts"],
    tests: [UNIT, "tests/library_test.ts"],
  },
  {
    name: "data",
    sources: ["src/data/**/*.ts", "src/transport.ts"],
    tests: [
      UNIT,
      "tests/data_channel_test.ts",
      "tests/dtp_test.ts",
      "tests/transfer_test.ts",
      "tests/limits_test.ts",
      "tests/extensions_test.ts",
      "tests/library_test.ts",
    ],
  },
  {
    name: "fs",
    sources: ["src/fs/**/*.ts"],
    tests: [UNIT, "tests/filesystem_test.ts", ...PROTOCOL],
  },
  {
    name: "auth",
    sources: ["src/auth/**/*.ts"],
    tests: [
      "tests/jail_test.ts",
      "tests/session_test.ts",
      "tests/library_test.ts",
      "tests/users_file_test.ts",
      "tests/users_cli_test.ts",
    ],
  },
  {
    name: "commands",
    sources: ["src/commands/**/*.ts"],
    tests: [
      "tests/command_table_test.ts",
      "tests/transcript_test.ts",
      ...PROTOCOL,
      "tests/tls_test.ts",
    ],
  },
  {
    name: "session",
    sources: ["src/session/**/*.ts", "src/server.ts", "src/options.ts", "src/errors.ts"],
    tests: [
      "tests/transcript_test.ts",
      "tests/lifecycle_test.ts",
      ...PROTOCOL,
      "tests/tls_test.ts",
      "tests/users_file_test.ts",
      // The start-up lines, and the server run as the CLI runs it.
      "tests/cli_test.ts",
    ],
  },
  {
    name: "tls",
    sources: ["src/tls.ts", "src/self_signed.ts"],
    tests: ["tests/self_signed_test.ts", "tests/tls_test.ts", "tests/cli_test.ts"],
  },
  {
    name: "cli",
    sources: ["src/cli.ts", "src/cli/**/*.ts"],
    tests: ["tests/cli_parse_test.ts", "tests/cli_test.ts", "tests/users_cli_test.ts"],
  },
];

const REPORTS = "reports/mutation";

/** The Stryker configuration of one group's run. */
function strykerConfig(group: Group): Record<string, unknown> {
  const tests = group.tests.join(" ");
  return {
    testRunner: "command",
    commandRunner: {
      command:
        `deno run --allow-run scripts/fail_fast.ts deno test --allow-all --parallel --no-check --fail-fast ${tests}`,
    },
    coverageAnalysis: "off",
    mutate: group.sources,
    ignorePatterns: ["/tsftpd", "/bench/tmp", "/reports", "/.stryker-tmp"],
    // The protocol tests wait on timers and sockets far more than they compute (a
    // run of the commands group's tests keeps a third of one core busy), so four
    // mutants at once on two cores finish four times sooner without timing out.
    concurrency: 4,
    timeoutMS: 10_000,
    timeoutFactor: 1.5,
    incremental: true,
    incrementalFile: `${REPORTS}/${group.name}.incremental.json`,
    reporters: ["json", "progress"],
    jsonReporter: { fileName: `${REPORTS}/${group.name}.json` },
    tempDirName: ".stryker-tmp",
    cleanTempDir: true,
  };
}

async function runGroup(group: Group, strykerFlags: string[]): Promise<boolean> {
  const config = `${REPORTS}/.${group.name}.config.json`;
  await Deno.writeTextFile(config, JSON.stringify(strykerConfig(group), null, 2));
  try {
    console.log(
      `\n== ${group.name}: ${group.sources.join(", ")} against ${group.tests.length} test files`,
    );
    const { code } = await new Deno.Command("npx", {
      args: [
        "--yes",
        `--package=@stryker-mutator/core@${STRYKER_VERSION}`,
        "stryker",
        "run",
        config,
        ...strykerFlags,
      ],
      // The suite runs off UTC, as `deno task test` runs it.
      env: { TZ: "Asia/Kathmandu" },
      stdout: "inherit",
      stderr: "inherit",
    }).spawn().status;
    return code === 0;
  } finally {
    await Deno.remove(config);
  }
}

if (import.meta.main) {
  if (Deno.args.includes("--list")) {
    for (const group of GROUPS) {
      console.log(`${group.name}: ${group.sources.join(" ")}\n  tests: ${group.tests.join(" ")}`);
    }
    Deno.exit(0);
  }
  const flags = Deno.args.filter((arg) => arg === "--force");
  const names = Deno.args.filter((arg) => arg !== "--force");
  const unknown = names.filter((name) => !GROUPS.some((group) => group.name === name));
  if (unknown.length > 0) {
    console.error(`unknown group: ${unknown.join(", ")} (see --list)`);
    Deno.exit(2);
  }
  await Deno.mkdir(REPORTS, { recursive: true });
  const chosen = names.length > 0 ? GROUPS.filter((group) => names.includes(group.name)) : GROUPS;
  let failures = 0;
  for (const group of chosen) if (!await runGroup(group, flags)) failures++;
  await Deno.writeTextFile(`${REPORTS}/summary.md`, await summarize(REPORTS));
  console.log(`\n${REPORTS}/summary.md written`);
  Deno.exit(failures > 0 ? 1 : 0);
}
