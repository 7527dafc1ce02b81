import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { assert, assertEquals } from "./support/assert.ts";

const WORKFLOWS = new URL("../.github/workflows/", import.meta.url);

interface Step {
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, string>;
}
interface Job {
  "runs-on": string;
  strategy?: { matrix: { os: string[] } };
  steps: Step[];
}
interface Workflow {
  on: Record<string, unknown>;
  permissions: Record<string, string>;
  jobs: Record<string, Job>;
}

/** The workflow `name`, parsed as YAML 1.2 (as GitHub reads it): a syntax error fails here. */
async function workflow(name: string): Promise<Workflow> {
  return parse(await Deno.readTextFile(fileURLToPath(new URL(name, WORKFLOWS))), {
    strict: true,
    uniqueKeys: true,
  });
}

/** Every command a job runs. */
function commands(job: Job): string[] {
  return job.steps.flatMap((step) => step.run ? [step.run] : []);
}

/** The Deno the job installs. */
function deno(job: Job): string | undefined {
  return job.steps.find((step) => step.uses?.startsWith("denoland/setup-deno@"))?.with?.[
    "deno-version"
  ];
}

Deno.test("ci.yml checks and tests on Linux (through .ci/run), macOS and Windows with Deno 2.9", async () => {
  const ci = await workflow("ci.yml");
  assert("push" in ci.on && "pull_request" in ci.on, JSON.stringify(ci.on));
  const systems = Object.values(ci.jobs).flatMap((job) =>
    job["runs-on"].startsWith("${{") ? job.strategy!.matrix.os : [job["runs-on"]]
  ).map((system) => system.split("-")[0]).sort();
  assertEquals(systems, ["macos", "ubuntu", "windows"]);
  for (const [name, job] of Object.entries(ci.jobs)) {
    assertEquals(deno(job), "v2.9.x", name);
    assert(job.steps[0].uses?.startsWith("actions/checkout@"), name);
    const run = commands(job).join("\n");
    if (job["runs-on"] === "ubuntu-latest") assert(/\bbash \.ci\/run$/m.test(run), run);
    else assert(run.includes("deno task check") && run.includes("deno task test"), run);
  }
  assertEquals(ci.permissions, { contents: "read" });
});

Deno.test("release.yml builds on a v* tag with scripts/release.ts and attaches the binaries and sums", async () => {
  const release = await workflow("release.yml");
  assertEquals(release.on, { push: { tags: ["v*"] } });
  assertEquals(release.permissions, { contents: "write" });
  const [job] = Object.values(release.jobs);
  assertEquals(deno(job), "v2.9.x");
  const run = commands(job);
  const build = run.findIndex((command) => command === "deno task release");
  const attach = run.findIndex((command) =>
    /^gh release create "\$GITHUB_REF_NAME" dist\/\* /.test(command)
  );
  assert(build >= 0 && attach > build, run.join("\n"));
  assert(run.some((command) => command === "sha256sum -c SHA256SUMS"), run.join("\n"));
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  assertEquals(config.tasks.release, "deno run -A scripts/release.ts");
});
