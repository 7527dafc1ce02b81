/**
 * Moving around: PWD, CWD, CDUP, SMNT (not implemented), and their X-variants.
 *
 * @module
 */

import { FTPError } from "../errors.ts";
import { FilesystemError } from "../fs/errors.ts";
import { quote } from "../fs/virtual_path.ts";
import type { CommandContext, CommandSpec } from "./table.ts";
import { parentDirectory } from "./paths.ts";

/** Changes to the command's path; `code` is 250 for CWD and, as RFC 959 lists it, 200 for CDUP. */
async function changeDirectory(ctx: CommandContext, code: number): Promise<void> {
  const path = ctx.path!.ftp;
  if ((await ctx.fs.stat(path)).type !== "dir") throw new FilesystemError("Not a directory.");
  ctx.state.cwd = path;
  await ctx.reply(code, `"${quote(path)}" is the current directory.`);
}

const PWD: CommandSpec = {
  auth: true,
  arg: "none",
  help: "Syntax: PWD (get current working directory).",
  run: (ctx) => ctx.reply(257, `"${quote(ctx.state.cwd)}" is the current directory.`),
};

const CWD: CommandSpec = {
  perm: "e",
  auth: true,
  arg: "required",
  path: "arg",
  help: "Syntax: CWD <SP> dir-name (change working directory).",
  run: (ctx) => changeDirectory(ctx, 250),
};

const CDUP: CommandSpec = {
  perm: "e",
  auth: true,
  arg: "none",
  path: parentDirectory,
  help: "Syntax: CDUP (go to parent directory).",
  run: (ctx) => changeDirectory(ctx, 200),
};

/** The navigation commands. */
export const navigationCommands: Record<string, CommandSpec> = {
  PWD,
  CWD,
  CDUP,
  XPWD: { ...PWD, help: "Syntax: XPWD (obsolete; same as PWD)." },
  XCWD: { ...CWD, help: "Syntax: XCWD <SP> dir-name (obsolete; same as CWD)." },
  XCUP: { ...CDUP, help: "Syntax: XCUP (obsolete; same as CDUP)." },
  SMNT: {
    auth: true,
    arg: "optional",
    help: "Syntax: SMNT <SP> path-name (not implemented).",
    run() {
      throw new FTPError(502, "Command not implemented: structure mount is not supported.");
    },
  },
};
