/**
 * What the TOML files of tsftpd (the users file, the config file) share: parsing
 * with the line of a syntax error, the lines of tables and keys for the errors
 * the parsed data no longer places, and the words for a value's kind.
 *
 * @module
 */

/** A TOML text that does not parse: {@linkcode TomlSyntaxError.line} is where. */
export class TomlSyntaxError extends Error {
  /** Always `"TomlSyntaxError"`. */
  override name = "TomlSyntaxError";
  /** The line (from 1) of the error. */
  readonly line: number;
  /** What is wrong, in the parser's words (its first line, without the place). */
  readonly reason: string;

  /** A syntax error `reason` on `line`. */
  constructor(line: number, reason: string) {
    super(`line ${line}: ${reason}`);
    this.line = line;
    this.reason = reason;
  }
}

/**
 * Parses TOML `text` (the parser is loaded when first needed, so that importing
 * the library needs none); throws {@linkcode TomlSyntaxError}.
 */
export async function parseToml(text: string): Promise<Record<string, unknown>> {
  const { parse, TomlError } = await import("smol-toml");
  try {
    return parse(text) as Record<string, unknown>;
  } catch (error) {
    if (!(error instanceof TomlError)) throw error;
    const reason = error.message.split("\n")[0].replace(/^Invalid TOML document: /, "");
    throw new TomlSyntaxError(error.line, reason);
  }
}

/** A TOML value's kind, for messages: `a string`, `an integer`, `an array`, ... */
export function kindOf(value: unknown): string {
  if (Array.isArray(value)) return "an array";
  if (value instanceof Date) return "a date";
  if (typeof value === "number") return Number.isInteger(value) ? "an integer" : "a float";
  if (typeof value === "bigint") return "an integer";
  if (typeof value === "object" && value !== null) return "a table";
  return `a ${typeof value}`;
}

/** Whether a TOML value is a table. */
export function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof Date);
}

/** Whether `text` has a control character other than those in `allowed`. */
export function hasControl(text: string, allowed: string): boolean {
  for (const char of text) {
    const code = char.charCodeAt(0);
    if ((code < 0x20 || code === 0x7f) && !allowed.includes(char)) return true;
  }
  return false;
}

/** A place in a TOML document: table and key names, and indexes into arrays of tables. */
export type TomlPath = readonly (string | number)[];

const KEY_PART = String.raw`(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')`;
const KEY_LINE = new RegExp(String.raw`^\s*(${KEY_PART}(?:\s*\.\s*${KEY_PART})*)\s*=\s*(.*)$`);
const HEADER = /^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$/;
const SIMPLE_STRING = /^(?:"([^"\\]*)"|'([^']*)')/;

/** The parts of a dotted key, unquoted: `a."b.c"` is `["a", "b.c"]`. */
function keyParts(text: string): string[] {
  return [...text.matchAll(new RegExp(KEY_PART, "g"))].map((match) =>
    match[0].replace(/^["']|["']$/g, "")
  );
}

/**
 * The lines on which the tables and keys of a TOML text are, read from the text
 * without parsing values: enough to point at the line of a problem that the
 * parsed data no longer tells. `[[user]]` tables are numbered from 0, so the
 * `perm` of the second `[[user.override]]` of the first user is at
 * `["user", 0, "override", 1, "perm"]`.
 */
export class TomlLines {
  readonly #lines = new Map<string, number>();
  readonly #strings = new Map<string, string>();

  /** The lines of `text`. */
  constructor(text: string) {
    const counts = new Map<string, number>();
    /** The concrete path of a header's names: each array of tables at its latest entry. */
    const concrete = (names: string[]): (string | number)[] => {
      const path: (string | number)[] = [];
      for (const name of names) {
        path.push(name);
        const count = counts.get(id(path));
        if (count !== undefined) path.push(count - 1);
      }
      return path;
    };
    let table: (string | number)[] = [];
    let multiline: string | null = null;
    for (const [index, line] of text.split("\n").entries()) {
      const number = index + 1;
      if (multiline !== null) {
        if ((line.split(multiline).length - 1) % 2 === 1) multiline = null;
        continue;
      }
      for (const quote of ['"""', "'''"]) {
        if ((line.split(quote).length - 1) % 2 === 1) multiline = quote;
      }
      const header = HEADER.exec(line);
      if (header) {
        const names = keyParts(header[2]);
        if (header[1] === "[[") {
          const parent = concrete(names.slice(0, -1));
          const array = [...parent, names[names.length - 1]];
          const count = counts.get(id(array)) ?? 0;
          counts.set(id(array), count + 1);
          this.#note(array, number);
          table = [...array, count];
        } else table = concrete(names);
        this.#note(table, number);
        continue;
      }
      const key = KEY_LINE.exec(line);
      if (!key) continue;
      const path = [...table, ...keyParts(key[1])];
      this.#note(path, number);
      const value = SIMPLE_STRING.exec(key[2]);
      if (value && !this.#strings.has(id(path))) this.#strings.set(id(path), value[1] ?? value[2]);
    }
  }

  #note(path: TomlPath, line: number): void {
    for (let length = 1; length <= path.length; length++) {
      const prefix = id(path.slice(0, length));
      if (!this.#lines.has(prefix)) this.#lines.set(prefix, line);
    }
  }

  /** The first line of `path` itself; `null` if the text has none. */
  exact(path: TomlPath): number | null {
    return this.#lines.get(id(path)) ?? null;
  }

  /** The line of `path`, or of the nearest table around it that has one; `null` if none does. */
  lineOf(path: TomlPath): number | null {
    for (let length = path.length; length > 0; length--) {
      const line = this.exact(path.slice(0, length));
      if (line !== null) return line;
    }
    return null;
  }

  /** The string `path` is set to, when it is a one-line string without escapes. */
  string(path: TomlPath): string | undefined {
    return this.#strings.get(id(path));
  }
}

function id(path: TomlPath): string {
  return path.join("\0");
}
