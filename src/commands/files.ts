/**
 * Changing the tree: MKD, RMD, DELE, RNFR, RNTO, SITE CHMOD, and the X-variants.
 *
 * @module
 */

import { FTPError } from "../errors.ts";
import type { FileStat, FileSystem } from "../fs/filesystem.ts";
import { clearTemporaries } from "../fs/partials.ts";
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
    // What failed uploads left is not shown, so it must not keep the directory.
    const removed = await clearTemporaries(ctx.fs, ctx.path!.ftp);
    ctx.login.quota?.adjust(-removed.bytes, -removed.files);
    await ctx.fs.rmdir(ctx.path!.ftp);
    await ctx.reply(250, "Directory removed.");
  },
};

/** The regular file at `to` that renaming `from` to it replaces, if any (none when both name one file). */
async function replacedFile(fs: FileSystem, from: string, to: string): Promise<FileStat | null> {
  const [source, target] = await Promise.all([fs.lstat(from), fs.lstat(to).catch(() => null)]);
  if (target?.type !== "file") return null;
  return target.unique !== null && target.unique === source.unique ? null : target;
}

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
      const path = ctx.path!.ftp;
      const counted = ctx.login.quota ? await ctx.fs.lstat(path) : null;
      await ctx.fs.remove(path);
      if (counted?.type === "file") ctx.login.quota?.adjust(-counted.size, -1);
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
      const target = ctx.path!.ftp;
      if (target === "/") throw new FTPError(550, "Can't overwrite home directory.");
      const replaced = ctx.login.quota ? await replacedFile(ctx.fs, source.ftp, target) : null;
      await ctx.fs.rename(source.ftp, target);
      if (replaced) ctx.login.quota?.adjust(-replaced.size, -1);
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
