/**
 * Counters and gauges written in Prometheus's text exposition format (version
 * 0.0.4): `# HELP`, `# TYPE`, then one sample a line, label values escaped.
 *
 * @module
 */

/** The kinds of metric this writer knows. */
export type MetricType = "counter" | "gauge";

/** The label values of one sample, by label name. */
export type Labels = Readonly<Record<string, string>>;

/** The media type of the text exposition format. */
export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** A label value as the format quotes it: backslash, double quote and newline escaped. */
export function escapeLabelValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

/** A `# HELP` text as the format writes it: backslash and newline escaped. */
function escapeHelp(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

function labelKey(names: readonly string[], labels: Labels): string {
  return names.map((name) => labels[name]).join("\0");
}

/** Every combination of the given label values. */
function labelProduct(values: Readonly<Record<string, readonly string[]>>): Labels[] {
  let product: Labels[] = [{}];
  for (const [name, options] of Object.entries(values)) {
    product = product.flatMap((labels) => options.map((value) => ({ ...labels, [name]: value })));
  }
  return product;
}

/**
 * One metric family: its name, help and type, and a value for each label set.
 * Every combination of the label values it is made with is written from the
 * start, at 0, so a rate over each is defined before its first event.
 */
export class MetricFamily {
  /** The metric's name (a counter's ends with `_total`). */
  readonly name: string;
  /** What it measures, for `# HELP`. */
  readonly help: string;
  /** Counter or gauge. */
  readonly type: MetricType;
  readonly #labelNames: readonly string[];
  readonly #samples = new Map<string, { labels: Labels; value: number }>();

  /**
   * A family whose samples are labelled with the names of `labelValues`, one
   * sample for each combination of their values (one unlabelled sample without).
   */
  constructor(
    name: string,
    help: string,
    type: MetricType,
    labelValues: Readonly<Record<string, readonly string[]>> = {},
  ) {
    if (type === "counter" && !name.endsWith("_total")) {
      throw new TypeError(`a counter's name ends with _total: ${name}`);
    }
    this.name = name;
    this.help = help;
    this.type = type;
    this.#labelNames = Object.keys(labelValues);
    for (const labels of labelProduct(labelValues)) {
      this.#samples.set(labelKey(this.#labelNames, labels), { labels, value: 0 });
    }
  }

  /**
   * Adds `amount` to the sample of `labels`. Throws `RangeError` for a label set
   * the family was not made with, and for a counter going down.
   */
  add(amount: number, labels: Labels = {}): void {
    const sample = this.#samples.get(labelKey(this.#labelNames, labels));
    if (!sample) throw new RangeError(`${this.name} has no sample ${JSON.stringify(labels)}`);
    if (this.type === "counter" && amount < 0) {
      throw new RangeError(`${this.name} is a counter: it cannot go down`);
    }
    sample.value += amount;
  }

  /** The value of the sample of `labels`, if it exists. */
  value(labels: Labels = {}): number | undefined {
    return this.#samples.get(labelKey(this.#labelNames, labels))?.value;
  }

  /** The family in the text format: its `# HELP` and `# TYPE` lines, then its samples. */
  render(): string {
    const lines = [
      `# HELP ${this.name} ${escapeHelp(this.help)}`,
      `# TYPE ${this.name} ${this.type}`,
    ];
    for (const { labels, value } of this.#samples.values()) {
      const pairs = this.#labelNames.map((name) =>
        `${name}="${escapeLabelValue(labels[name] ?? "")}"`
      );
      lines.push(`${this.name}${pairs.length ? `{${pairs.join(",")}}` : ""} ${value}`);
    }
    return lines.join("\n") + "\n";
  }
}
