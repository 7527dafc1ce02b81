/**
 * `--print-config`: the settings in effect as a config file that `--config`
 * takes back. Values given (by the file or a flag) are keys; defaults and unset
 * settings are comments; secrets are never printed.
 *
 * @module
 */

import type { EffectiveSettings } from "./parse.ts";
import {
  configKey,
  flagLabel,
  type Section,
  SETTING_NAMES,
  type SettingName,
  settingOf,
} from "./settings.ts";
import type { TomlValue } from "./values.ts";

/** A TOML basic string: JSON's escapes are TOML's, but for DEL, which TOML escapes too. */
function tomlString(text: string): string {
  return JSON.stringify(text).replaceAll("\x7f", "\\u007f");
}

/** `value` as TOML text. */
function tomlValue(value: TomlValue): string {
  if (typeof value === "string") return tomlString(value);
  if (typeof value !== "object") return String(value);
  if (Array.isArray(value)) return `[${value.map(tomlString).join(", ")}]`;
  const pairs = Object.entries(value).map(([key, item]) =>
    `${tomlString(key)} = ${tomlString(item)}`
  );
  return pairs.length === 0 ? "{}" : `{ ${pairs.join(", ")} }`;
}

/** The line of one setting. */
function settingLine(effective: EffectiveSettings, name: SettingName, key: string): string {
  const setting = settingOf(name);
  const value = effective.values[name];
  const given = effective.origins.has(name);
  if (setting.secret && value !== null) {
    return `# ${key} = (set, not shown: give it again with ${flagLabel(name)})`;
  }
  if (value === null) return `# ${key} = (not set)`;
  const line = `${key} = ${tomlValue(setting.kind.toToml(value))}`;
  return given ? line : `# ${line}`;
}

/** The settings in effect as a config file, with a header saying how to read it. */
export function formatConfig(effective: EffectiveSettings): string {
  const tables = new Map<Section | "", string[]>();
  for (const name of SETTING_NAMES) {
    const place = configKey(name);
    if (!place) continue;
    const section = place.section ?? "";
    if (!tables.has(section)) tables.set(section, []);
    tables.get(section)!.push(settingLine(effective, name, place.key));
  }
  const blocks = [...tables].map(([section, lines]) =>
    (section === "" ? lines : [`[${section}]`, ...lines]).join("\n")
  );
  return [
    "# The settings in effect (tsftpd --print-config): give this file to --config.",
    "# Commented out: defaults, and settings not set.",
    "",
    blocks.join("\n\n"),
    "",
  ].join("\n");
}
