/**
 * Changing the tree: MKD, RMD, DELE, RNFR, RNTO, SITE CHMOD, and the X-variants.
 *
 * @module
 */

import { FTPError } from "../errors.ts";
import { quote } from "../fs/virtual_path.ts";
import { afterFirstWord, firstWord } from "./paths.ts";
import type { CommandSpec } from "./table.ts";

const MKD: CommandSpec = {
  perm: "m",
  auth: true,
  arg: "required",
  path: "arg",
  help: "Syntax: MKD <SP> path (create directory).",
  async run(ctx) {
    await ctx.fs.mkdir(ctx.path!.ftp);
    await ctx.reply(257, `"${quote(ctx.path!.ftp)}" directory created.`);
  },
};

const RMD: CommandSpec = {
  perm: "d",
  auth: true,
  arg: "required",
  path: "arg",
  help: "Syntax: RMD <SP> dir-name (remove directory).",
  async run(ctx) {
    if (ctx.path!.ftp === "/") throw new FTPError(550, "Can't remove root directory.");
    await ctx.fs.rmdir(ctx.path!.ftp);
    await ctx.reply(250, "Directory removed.");
  },
};

const CHMOD_USAGE = "Invalid SITE CHMOD format: use SITE CHMOD <octal mode> <path>.";

/** The commands that create, remove and rename. */
export const fileCommands: Record<string, CommandSpec> = {
  MKD,
  RMD,
  XMKD: { ...MKD, help: "Syntax: XMKD <SP> path (obsolete; same as MKD)." },
  XRMD: { ...RMD, help: "Syntax: XRMD <SP> dir-name (obsolete; same as RMD)." },
  DELE: {
    perm: "d",
    auth: true,
    arg: "required",
    path: "arg",
    help: "Syntax: DELE <SP> file-name (delete file).",
    async run(ctx) {
      await ctx.fs.remove(ctx.path!.ftp);
      await ctx.reply(250, "File removed.");
    },
  },
  RNFR: {
    perm: "f",
    auth: true,
    arg: "required",
    path: "arg",
    help: "Syntax: RNFR <SP> file-name (rename (source name)).",
    async run(ctx) {
      const path = ctx.path!;
      if (path.ftp === "/") throw new FTPError(550, "Can't rename home directory.");
      await ctx.fs.lstat(path.ftp);
      ctx.state.renameFrom = path;
      await ctx.reply(350, "Ready for destination name.");
    },
  },
  RNTO: {
    perm: "f",
    auth: true,
    arg: "required",
    path: "arg",
    help: "Syntax: RNTO <SP> file-name (rename (destination name)).",
    async run(ctx) {
      const source = ctx.state.renameFrom;
      ctx.state.renameFrom = null;
      if (!source) throw new FTPError(503, "Bad sequence of commands: use RNFR first.");
      if (ctx.path!.ftp === "/") throw new FTPError(550, "Can't overwrite home directory.");
      await ctx.fs.rename(source.ftp, ctx.path!.ftp);
      await ctx.reply(250, "Renaming ok.");
    },
  },
  "SITE CHMOD": {
    perm: "M",
    auth: true,
    arg: "required",
    path: afterFirstWord(CHMOD_USAGE),
    help: "Syntax: SITE <SP> CHMOD <SP> mode <SP> path (change file mode).",
    async run(ctx) {
      const mode = firstWord(ctx.command.arg);
      if (!/^[0-7]{1,4}$/.test(mode)) throw new FTPError(501, CHMOD_USAGE);
      await ctx.fs.chmod(ctx.path!.ftp, parseInt(mode, 8));
      await ctx.reply(200, "SITE CHMOD successful.");
    },
  },
};
