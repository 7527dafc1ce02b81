/**
 * The summary of `deno task mutate`'s reports: per group, the mutants killed and
 * survived and the score, then every survivor, with the reason it is accepted when
 * `reports/mutation/accepted.json` gives one (an equivalent mutant, or one that no
 * test can tell apart on this runtime).
 *
 * Run alone (`deno run -A scripts/mutation_summary.ts`) it rebuilds
 * `reports/mutation/summary.md` from the reports already there.
 *
 * @module
 */

/** The Stryker release `deno task mutate` runs. */
export const STRYKER_VERSION = "9.6.1";

/** One mutant of a Stryker JSON report (the fields used here). */
interface Mutant {
  mutatorName: string;
  replacement?: string;
  status: string;
  location: { start: { line: number } };
}

/** A Stryker JSON report (the fields used here). */
interface Report {
  files: Record<string, { source: string; mutants: Mutant[] }>;
}

/** A survivor judged equivalent or accepted, with why. */
interface Accepted {
  file: string;
  line: number;
  mutator: string;
  replacement: string;
  why: string;
}

/** Statuses that count as detected, and as undetected (the rest, compile and runtime errors, do not count). */
const DETECTED = new Set(["Killed", "Timeout"]);
const UNDETECTED = new Set(["Survived", "NoCoverage"]);

function percent(part: number, whole: number): string {
  return whole === 0 ? "n/a" : `${(100 * part / whole).toFixed(1)}%`;
}

async function readJson<T>(path: string, fallback: T): Promise<T> {
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return fallback;
    throw error;
  }
}

/** The Markdown summary of every group report in `dir`. */
export async function summarize(dir: string): Promise<string> {
  const accepted = await readJson<Accepted[]>(`${dir}/accepted.json`, []);
  const reasonOf = (file: string, line: number, mutant: Mutant) =>
    accepted.find((a) =>
      a.file === file && a.line === line && a.mutator === mutant.mutatorName &&
      a.replacement === (mutant.replacement ?? "")
    )?.why;
  const rows: string[] = [];
  const survivors: string[] = [];
  const totals = { detected: 0, undetected: 0, accepted: 0 };
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    // A group's report is `<group>.json`; `<group>.incremental.json` is Stryker's own.
    const name = /^([a-z_]+)\.json$/.exec(entry.name)?.[1];
    if (name && name !== "accepted") names.push(name);
  }
  for (const name of names.sort()) {
    const report = await readJson<Report>(`${dir}/${name}.json`, { files: {} });
    let detected = 0, undetected = 0, acceptedHere = 0;
    for (const [file, { source, mutants }] of Object.entries(report.files)) {
      const lines = source.split("\n");
      for (const mutant of mutants) {
        if (DETECTED.has(mutant.status)) detected++;
        if (!UNDETECTED.has(mutant.status)) continue;
        undetected++;
        const line = mutant.location.start.line;
        const why = reasonOf(file, line, mutant);
        if (why) acceptedHere++;
        const code = lines[line - 1]?.trim() ?? "";
        survivors.push(
          `- \`${file}:${line}\` ${mutant.mutatorName} \`${
            (mutant.replacement ?? "").replaceAll("`", "'").replaceAll("\n", " ").slice(0, 60)
          }\` in \`${code.replaceAll("`", "'").slice(0, 70)}\`${why ? ` (accepted: ${why})` : ""}`,
        );
      }
    }
    totals.detected += detected;
    totals.undetected += undetected;
    totals.accepted += acceptedHere;
    const total = detected + undetected;
    rows.push(
      `| ${name} | ${total} | ${detected} | ${undetected} | ${acceptedHere} | ${
        percent(detected, total)
      } | ${percent(detected, total - acceptedHere)} |`,
    );
  }
  const total = totals.detected + totals.undetected;
  return [
    "# Mutation testing: the latest run of each group",
    "",
    "`deno task mutate [group ...]` rebuilds this file. Detected: killed or timed out.",
    "The last column leaves out the survivors accepted in `accepted.json`.",
    "",
    "| group | mutants | detected | survived | accepted | score | score without accepted |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...rows,
    `| all | ${total} | ${totals.detected} | ${totals.undetected} | ${totals.accepted} | ${
      percent(totals.detected, total)
    } | ${percent(totals.detected, total - totals.accepted)} |`,
    "",
    "## Survivors",
    "",
    ...(survivors.length > 0 ? survivors : ["None."]),
    "",
  ].join("\n");
}

if (import.meta.main) {
  const dir = "reports/mutation";
  await Deno.writeTextFile(`${dir}/summary.md`, await summarize(dir));
}
