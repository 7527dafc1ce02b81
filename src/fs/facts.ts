/**
 * RFC 3659 machine listings: the facts of MLST and MLSD entries, formatted to the
 * RFC's grammar (`fact=value;` ... then a space and the name).
 *
 * @module
 */

import type { FactEntry, FileSystem } from "./filesystem.ts";
import { formatTimeVal } from "./listing.ts";

/** Every fact tsftpd can report, in the order FEAT lists them. */
export const MLST_FACTS: readonly string[] = [
  "type",
  "size",
  "modify",
  "perm",
  "unique",
  "unix.mode",
  "unix.uid",
  "unix.gid",
];

/** The facts reported until the client chooses others with OPTS MLST. */
export const DEFAULT_MLST_FACTS: readonly string[] = ["type", "size", "modify", "perm", "unique"];

/** FEAT's `MLST` line: every fact, those selected starred. */
export function featMlstLine(selected: readonly string[]): string {
  return "MLST " + MLST_FACTS.map((fact) => fact + (selected.includes(fact) ? "*;" : ";")).join("");
}

/** The facts of `requested` (OPTS MLST's `type;size;` form) that exist, in their canonical spelling. */
export function selectFacts(requested: string): string[] {
  const wanted = requested.toLowerCase().split(";").map((fact) => fact.trim()).filter(Boolean);
  return MLST_FACTS.filter((fact) => wanted.includes(fact));
}

function factValue(fact: string, entry: FactEntry): string | null {
  const { info } = entry;
  if (fact === "type") return entry.type;
  if (fact === "perm") return entry.perm;
  if (!info) return null;
  switch (fact) {
    case "size":
      return info.type === "dir" ? null : String(info.size);
    case "modify":
      // RFC 3659: time values are always UTC.
      return info.mtime ? formatTimeVal(info.mtime, true) : null;
    case "unique":
      return info.unique;
    case "unix.mode":
      return info.mode !== null ? "0" + info.mode.toString(8) : null;
    case "unix.uid":
      return info.uid !== null ? String(info.uid) : null;
    case "unix.gid":
      return info.gid !== null ? String(info.gid) : null;
  }
  return null;
}

/** One MLSD line (or MLST's entry line, without its leading space): `type=file;size=5; name`. */
export function formatFacts(entry: FactEntry, facts: readonly string[]): string {
  let text = "";
  for (const fact of facts) {
    const value = factValue(fact, entry);
    if (value !== null) text += `${fact}=${value};`;
  }
  return `${text} ${entry.name}`;
}

/** One MLSx line of `entry`: the filesystem's `formatMlsx`, or {@linkcode formatFacts}. */
export function formatMlsx(fs: FileSystem, entry: FactEntry, facts: readonly string[]): string {
  return fs.formatMlsx ? fs.formatMlsx(entry, facts) : formatFacts(entry, facts);
}
