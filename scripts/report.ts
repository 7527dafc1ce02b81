/**
 * The results of `scripts/compare.ts`: medians per benchmark row and server, the Markdown
 * report and a self-made SVG bar chart.
 *
 * @module
 */

/** One row of ftpbench's JSON report. */
export interface Row {
  name: string;
  value: number;
  unit: "MiB/s" | "s";
  memory?: number;
}

/** One benchmark run of one server. */
export interface Run {
  server: string;
  round: number;
  port: number;
  pid: number | null;
  ok: boolean;
  error?: string;
  seconds: number;
  /** ftpbench's rows (a failed run keeps the rows it measured). */
  rows: Row[];
  /** ftpbench's memory reading before the first step. */
  startMemory?: number;
  /** Peak RSS minus shared of the server's process tree, sampled twice a second. */
  peakTreeMemory?: number;
}

/** The loopback ceiling of one round: MiB/s of each measurement, per direction and file. */
export interface Ceiling {
  round: number;
  /** E.g. `"RETR, one 1 GiB file"`: three measurements. */
  rows: Record<string, number[]>;
  error?: string;
}

/** Everything the report shows. */
export interface Results {
  date: string;
  command: string;
  benchCommand: string;
  commit: string;
  runtimeSeconds: number;
  rounds: number;
  machine: Record<string, string>;
  /** Whether SYN cookies were off during the rounds (--no-syncookies). */
  syncookiesOff: boolean;
  versions: Record<string, string>;
  /** The servers benchmarked, in order; the first is the baseline of the ratios. */
  servers: string[];
  notes: Record<string, string>;
  forks: Record<string, boolean>;
  skipped: Record<string, string>;
  runs: Run[];
  ceilings: Ceiling[];
}

/** The median of `values` (NaN when empty). */
export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** A median with the number of runs it is taken over. */
interface Cell {
  value: number;
  count: number;
}

/** Benchmark rows in ftpbench's order, with their unit. */
function rowNames(runs: Run[]): { name: string; unit: Row["unit"] }[] {
  const seen = new Map<string, Row["unit"]>();
  for (const run of runs) for (const row of run.rows) seen.set(row.name, row.unit);
  return [...seen].map(([name, unit]) => ({ name, unit }));
}

function cell(runs: Run[], server: string, pick: (run: Run) => number | undefined): Cell {
  const values = runs.filter((run) => run.server === server).map(pick)
    .filter((value): value is number => value !== undefined);
  return { value: median(values), count: values.length };
}

/** How much better `peer` is than `base` (> 1: the peer is better). */
export function ratio(unit: Row["unit"], base: number, peer: number): number {
  return unit === "MiB/s" ? peer / base : base / peer;
}

function formatValue(value: number, unit: Row["unit"]): string {
  if (!Number.isFinite(value)) return "—";
  if (unit === "MiB/s") return value.toFixed(0);
  return value.toFixed(value >= 10 ? 1 : value >= 1 ? 2 : 3);
}

/** `0.53×`, or `0.0047×` below 0.1. */
function formatRatio(r: number): string {
  return `${r >= 0.1 ? r.toFixed(2) : r.toPrecision(2)}×`;
}

/** Bytes as MiB with one decimal (`—` when not a number). */
export function formatMiB(bytes: number): string {
  return Number.isFinite(bytes) ? (bytes / 1048576).toFixed(1) : "—";
}

/** A Markdown table. */
export function table(header: string[], lines: string[][]): string {
  return [header, header.map(() => "---"), ...lines].map((cells) => `| ${cells.join(" | ")} |`)
    .join("\n");
}

/** The results as Markdown, showing the chart written beside it as `chart`. */
export function markdown(results: Results, chart: string): string {
  const { servers, runs, rounds } = results;
  const base = servers[0];
  const partial = (c: Cell) => c.count < rounds ? ` [${c.count}/${rounds}]` : "";
  const rows = rowNames(runs);
  const main = rows.map(({ name, unit }) => {
    const cells = servers.map((server) =>
      cell(runs, server, (run) => run.rows.find((row) => row.name === name)?.value)
    );
    return [
      name,
      unit,
      ...cells.map((c, i) => {
        const text = formatValue(c.value, unit) + partial(c);
        if (i === 0 || !Number.isFinite(c.value)) return text;
        return `${text} (${formatRatio(ratio(unit, cells[0].value, c.value))})`;
      }),
    ];
  });
  const memory = [
    ["Starting with", (run: Run) => run.startMemory] as const,
    ...rows.map(({ name }) =>
      [name, (run: Run) => run.rows.find((row) => row.name === name)?.memory] as const
    ),
    ["**peak, all processes**", (run: Run) => run.peakTreeMemory] as const,
  ].map(([label, pick]) => [label, ...servers.map((s) => formatMiB(cell(runs, s, pick).value))]);
  const failed = runs.filter((run) => !run.ok);
  const forking = servers.filter((server) => results.forks[server]);
  return `# ${base} and its peers: ftpbench side by side

Generated by \`scripts/compare.ts\` on ${results.date} at commit ${results.commit}, in
${(results.runtimeSeconds / 60).toFixed(1)} minutes.

Command: \`${results.command}\`

Each run starts a fresh server process on a new loopback port, waits for its 220 greeting, runs
\`${results.benchCommand}\` against it, and stops it. The servers alternate within each of the
${rounds} rounds, each round starting with the next server, and every run starts after a \`sync\`
(no dirty pages left by the one before); every figure below is the median over the rounds
(\`[k/${rounds}]\` marks a median over fewer runs, when some failed).

## Machine

${Object.entries(results.machine).map(([key, value]) => `- ${key}: ${value}`).join("\n")}

## Versions

${table(["software", "version"], Object.entries(results.versions))}

## Results

Ratio convention: the number in parentheses is how much better the peer is than ${base};
**above 1 the peer is better**, below 1 ${base} is. For MiB/s rows it is peer/${base}, for
seconds rows ${base}/peer. Seconds rows of a few hundredths of a second are noisy: read their
ratios as orders of magnitude.

${table(["benchmark", "unit", ...servers], main)}

The system-user servers (${forking.join(", ") || "none"}) log in the Unix user \`ftpbench\`, whose
password hash in /etc/shadow is **SHA-512-crypt** (\`$6$\`, 5000 rounds), computed at every
login (its cost on this machine is under Machine); the rest of their login time is a process or
two per client and, past their listen backlog, SYN retries (see the last section). ${
    servers.filter((s) => !results.forks[s]).join(", ") || "The others"
  } compare a password held in memory.

![ratios per benchmark](${chart})

## Memory (RSS minus shared, MiB, median)

The benchmark rows show ftpbench's reading of the server's main process after each step${
    forking.length
      ? ` (for ${forking.join(", ")}, which fork a process per client, that is only the master)`
      : ""
  }. The last row is the peak of the server's whole process tree, sampled twice a second
(never below ftpbench's highest reading).

${table(["after", ...servers], memory)}

## Loopback ceiling

A Python sender and receiver on 127.0.0.1, no FTP: RETR is \`socket.sendfile()\` to a client
doing \`recv_into\` a preallocated 1 MiB buffer; STOR is the reverse, the receiver writing each
buffer into a file. Each is measured 3 times per round, moving one 1 GiB file (real data, not
sparse), and moving files of the benchmark's size over a fresh connection each, 1 GiB in all
(as ftpbench's single-stream rows do). Median over all rounds; the single-stream columns are
the servers' medians from the table above.

${
    table([
      "transfer",
      "MiB/s",
      "range",
      `${base} single-stream`,
      `${base} / ceiling`,
      "best server",
    ], ceilingRows(results))
  }${
    results.ceilings.some((c) => c.error)
      ? "\n\nCeiling failures: " +
        results.ceilings.filter((c) => c.error).map((c) => `round ${c.round}: ${c.error}`).join(
          "; ",
        )
      : ""
  }

## Configurations

${Object.entries(results.notes).map(([server, note]) => `- ${server}: ${note}`).join("\n")}

## Skipped peers

${
    Object.entries(results.skipped).map(([server, reason]) => `- ${server}: ${reason}`).join(
      "\n",
    ) ||
    "None."
  }

## Failed runs

${failed.map((run) => `- ${run.server}, round ${run.round}: ${run.error}`).join("\n") || "None."}

## Connection bursts and SYN cookies
${results.syncookiesOff ? SYNCOOKIES_OFF : SYNCOOKIES_ON}`;
}

const BACKLOGS = "tsftpd and ftp-srv 511, proftpd and pure-ftpd 128, pyftpdlib 100, vsftpd 32 " +
  "(fixed in its source)";

const SYNCOOKIES_ON = `
The clients of the concurrence benchmark connect at once, more of them than most servers' listen
backlog holds (${BACKLOGS}). With SYN cookies on (the machine's default, as here), the kernel
answers the surplus SYNs with cookies: fine for a server that accepts fast, but a cookie
handshake whose final ACK meets a full accept queue is dropped without a trace, and its client,
connected, waits for a 220 that never comes. A forking server accepts slowly, so vsftpd stalls
that way, and proftpd and pure-ftpd sometimes. \`--no-syncookies\` has the kernel drop those
SYNs instead, and the clients retry them.
`;

const SYNCOOKIES_OFF = `
SYN cookies were off during the rounds (\`--no-syncookies\`). The clients of the concurrence
benchmark connect at once, more of them than most servers' listen backlog holds (${BACKLOGS});
the kernel drops the surplus SYNs and the clients retry them after 1 s, 3 s, ...: a login time
near 1 s or 3 s and more is that wait (pyftpdlib logs 300 clients in about 0.05 s when no SYN is
dropped). With cookies on, the machine's default, the kernel answers the surplus with SYN cookies
instead, sparing that wait to a server that accepts fast; but a cookie handshake whose final ACK
meets a full accept queue is dropped without a trace, and its client, connected, waits for a 220
that never comes: vsftpd then stalls in that step in every run, proftpd and pure-ftpd in some.
`;

function ceilingRows(results: Results): string[][] {
  const labels = [...new Set(results.ceilings.flatMap((c) => Object.keys(c.rows)))];
  return labels.map((label) => {
    const values = results.ceilings.flatMap((c) => c.rows[label] ?? []);
    const ceiling = median(values);
    const row = label.startsWith("RETR") ? "RETR (server -> client)" : "STOR (client -> server)";
    const singles = results.servers.map((server) =>
      [
        server,
        cell(results.runs, server, (run) => run.rows.find((r) => r.name === row)?.value).value,
      ] as const
    );
    const best = singles.filter(([, v]) => Number.isFinite(v)).sort((a, b) => b[1] - a[1])[0];
    return [
      label,
      formatValue(ceiling, "MiB/s"),
      values.length ? `${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)}` : "—",
      formatValue(singles[0][1], "MiB/s"),
      `${((singles[0][1] / ceiling) * 100).toFixed(0)}%`,
      best
        ? `${best[0]} ${formatValue(best[1], "MiB/s")} (${((best[1] / ceiling) * 100).toFixed(0)}%)`
        : "—",
    ];
  });
}

/** The colours of a chart's series, in order. */
export const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"];

/** `text` made safe inside SVG or HTML. */
export function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * A grouped horizontal bar chart of the ratios: one group per benchmark row, one bar per
 * server, on a log scale centred on the baseline (1.0), right = better.
 */
export function svg(results: Results): string {
  const { servers, runs } = results;
  const rows = rowNames(runs);
  const ratios = rows.map(({ name, unit }) => {
    const values = servers.map((server) =>
      cell(runs, server, (run) => run.rows.find((row) => row.name === name)?.value).value
    );
    return servers.map((_, i) => ratio(unit, values[0], values[i]));
  });
  const finite = ratios.flat().filter(Number.isFinite);
  const span = Math.min(7, Math.max(1, ...finite.map((r) => Math.ceil(Math.abs(Math.log2(r))))));
  const [left, plot, barHeight, top] = [300, 560, 12, 70];
  const groupHeight = servers.length * barHeight + 14;
  const height = top + rows.length * groupHeight + 40;
  const width = left + plot + 60;
  const x = (r: number) =>
    left + plot / 2 + (Math.max(-span, Math.min(span, Math.log2(r))) / span) * (plot / 2);
  const parts: string[] = [
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">` +
    `ftpbench, median per row, relative to ${escape(servers[0])} (= 1.0)</text>`,
    `<text x="${width / 2}" y="38" text-anchor="middle" font-size="12">` +
    `right of 1 = better than ${escape(servers[0])} (log scale)</text>`,
  ];
  servers.forEach((server, i) => {
    const lx = left - 200 + i * 120;
    parts.push(
      `<rect x="${lx}" y="50" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/>`,
      `<text x="${lx + 16}" y="60" font-size="12">${escape(server)}</text>`,
    );
  });
  for (let power = -span; power <= span; power++) {
    const gx = x(2 ** power);
    const label = power >= 0 ? `${2 ** power}` : `1/${2 ** -power}`;
    parts.push(
      `<line x1="${gx}" y1="${top}" x2="${gx}" y2="${height - 30}" stroke="${
        power === 0 ? "#000" : "#ddd"
      }"/>`,
      `<text x="${gx}" y="${height - 15}" text-anchor="middle" font-size="11">${label}</text>`,
    );
  }
  rows.forEach(({ name, unit }, g) => {
    const gy = top + g * groupHeight + 7;
    parts.push(
      `<text x="${left - 8}" y="${gy + (servers.length * barHeight) / 2 + 4}" ` +
        `text-anchor="end" font-size="12">${escape(`${name} (${unit})`)}</text>`,
    );
    ratios[g].forEach((r, i) => {
      const y = gy + i * barHeight;
      const color = COLORS[i % COLORS.length];
      if (!Number.isFinite(r)) {
        parts.push(`<text x="${x(1) + 4}" y="${y + 10}" font-size="10">no value</text>`);
        return;
      }
      const [x1, x2] = [Math.min(x(1), x(r)), Math.max(x(1), x(r))];
      parts.push(
        `<rect x="${x1}" y="${y}" width="${Math.max(2, x2 - x1)}" height="${barHeight - 2}" ` +
          `fill="${color}"><title>${escape(`${servers[i]}: ${formatRatio(r)}`)}</title></rect>`,
        `<text x="${(r >= 1 ? x2 : x(1)) + 3}" y="${y + 9}" font-size="9">${formatRatio(r)}</text>`,
      );
    });
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}" font-family="sans-serif">\n${parts.join("\n")}\n</svg>\n`;
}
