/**
 * Reading a config file (`--config FILE`): TOML whose keys are the rows of
 * {@linkcode SETTINGS}, each value checked by its row. Every problem is one
 * {@linkcode CliError} (exit status 2) naming the file, the line and the key.
 *
 * @module
 */

import { dirname, resolve } from "node:path";
import { systemReason } from "../errors.ts";
import { isTable, parseToml, TomlLines, TomlSyntaxError } from "../toml_file.ts";
import { CliError } from "./errors.ts";
import {
  configKey,
  type Section,
  SETTING_NAMES,
  type SettingName,
  settingOf,
  type Settings,
} from "./settings.ts";
import { ValueError } from "./values.ts";

/** The settings a config file gives, and the line of each. */
export interface ConfigFile {
  /** The file, as it was named. */
  readonly file: string;
  /** The values it gives. */
  readonly values: Partial<Settings>;
  /** The line each value is on (`null` when it could not be told). */
  readonly lines: ReadonlyMap<SettingName, number | null>;
}

/** `file:line: ` or `file: `. */
export function placeOf(file: string, line: number | null): string {
  return line === null ? `${file}: ` : `${file}:${line}: `;
}

/** The config file's name of `name`: `port`, `tls.certfile`. */
export function keyLabel(name: SettingName): string {
  const place = configKey(name)!;
  return place.section ? `${place.section}.${place.key}` : place.key;
}

/** The settings of each section, by key; top-level ones under `""`. */
function keysBySection(): Map<Section | "", Map<string, SettingName>> {
  const sections = new Map<Section | "", Map<string, SettingName>>();
  for (const name of SETTING_NAMES) {
    const place = configKey(name);
    if (!place) continue;
    const section = place.section ?? "";
    if (!sections.has(section)) sections.set(section, new Map());
    sections.get(section)!.set(place.key, name);
  }
  return sections;
}

/** Checks the text of the config file `file`; throws {@linkcode CliError} on its first problem. */
export async function parseConfigFile(text: string, file: string): Promise<ConfigFile> {
  const fail = (line: number | null, reason: string): never => {
    throw new CliError(`${placeOf(file, line)}${reason}`, 2, false);
  };
  let data: Record<string, unknown>;
  try {
    data = await parseToml(text);
  } catch (error) {
    if (!(error instanceof TomlSyntaxError)) throw error;
    return fail(error.line, `not valid TOML: ${error.reason}`);
  }
  const lines = new TomlLines(text);
  const sections = keysBySection();
  const top = sections.get("")!;
  const tables = [...sections.keys()].filter((section) => section !== "");
  const base = dirname(resolve(file));
  const values: Record<string, unknown> = {};
  const found = new Map<SettingName, number | null>();
  const read = (name: SettingName, value: unknown, at: string[]) => {
    const line = lines.lineOf(at);
    try {
      values[name] = settingOf(name).kind.fromToml(value, base);
    } catch (error) {
      if (!(error instanceof ValueError)) throw error;
      fail(line, `${at.join(".")} ${error.message}`);
    }
    found.set(name, line);
  };
  for (const [key, value] of Object.entries(data)) {
    const name = top.get(key);
    if (name) {
      read(name, value, [key]);
      continue;
    }
    const section = sections.get(key as Section);
    if (!section) {
      fail(
        lines.exact([key]),
        `unknown key ${JSON.stringify(key)} (known: ${[...top.keys()].join(", ")}; ` +
          `tables: ${tables.map((table) => `[${table}]`).join(", ")})`,
      );
    }
    if (!isTable(value)) fail(lines.exact([key]), `${key} must be a table: write [${key}]`);
    for (const [inner, innerValue] of Object.entries(value as Record<string, unknown>)) {
      const innerName = section!.get(inner);
      if (!innerName) {
        fail(
          lines.lineOf([key, inner]),
          `unknown key ${JSON.stringify(inner)} in [${key}] (known: ${
            [...section!.keys()].join(", ")
          })`,
        );
      }
      read(innerName!, innerValue, [key, inner]);
    }
  }
  return { file, values: values as Partial<Settings>, lines: found };
}

/** Reads and checks the config file `file`; throws {@linkcode CliError} (status 2). */
export async function readConfigFile(file: string): Promise<ConfigFile> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    throw new CliError(`${file}: cannot read the config file: ${systemReason(error)}`, 2, false);
  }
  return await parseConfigFile(text, file);
}
