/**
 * Path arguments: where a command's path is in its argument.
 *
 * @module
 */

import { FTPError } from "../errors.ts";
import type { PathArgument } from "./table.ts";

/**
 * Drops the `ls` options clients put before LIST's path, whatever their shape
 * (`-la`, `-1`, `-a -l`, `--all`), as vsftpd does: every leading word that starts
 * with `-`.
 */
export function stripListOptions(arg: string): string {
  return arg.replace(/^(-\S*(\s+|$))+/, "");
}

/** LIST, NLST: the argument without `ls` options, or the current directory. */
export const listingPath: PathArgument = (arg) => stripListOptions(arg) || ".";

/** STAT: like a listing's, but only when there is an argument (STAT alone is the server's status). */
export const statusPath: PathArgument = (arg) => arg ? listingPath(arg) : undefined;

/** STOU: the current directory, where the unique name is made. */
export const currentDirectory: PathArgument = () => ".";

/** CDUP: the parent of the current directory. */
export const parentDirectory: PathArgument = () => "..";

/**
 * SITE CHMOD and MFMT (`<value> <SP> <path>`): the path after the first word;
 * `usage` is the 501 text when there is none.
 */
export function afterFirstWord(usage: string): PathArgument {
  return (arg) => {
    const space = arg.indexOf(" ");
    if (space < 0 || space === arg.length - 1) throw new FTPError(501, usage);
    return arg.slice(space + 1);
  };
}

/** The first word of a `<value> <SP> <path>` argument. */
export function firstWord(arg: string): string {
  const space = arg.indexOf(" ");
  return space < 0 ? arg : arg.slice(0, space);
}
