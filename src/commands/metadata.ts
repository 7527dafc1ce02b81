/**
 * File facts of RFC 3659: SIZE, MDTM, MLST, MLSD, and MFMT (with SITE MFMT) to set
 * a file's modification time.
 *
 * @module
 */

import { posix } from "node:path";
import { featMlstLine, formatMlsx } from "../fs/facts.ts";
import type { FactEntry, FactType, FileStat } from "../fs/filesystem.ts";
import { encodeLines, formatTimeVal } from "../fs/listing.ts";
import { isUploadTemporary, partialsOf } from "../fs/partials.ts";
import { FTPError } from "../errors.ts";
import type { CommandContext, CommandSpec, ResolvedPath } from "./table.ts";
import { afterFirstWord, firstWord } from "./paths.ts";

/** The stat of a regular file; 550 for anything else. */
async function regularFile(ctx: CommandContext, path: ResolvedPath): Promise<FileStat> {
  const stat = await ctx.fs.stat(path.ftp);
  if (stat.type !== "file") throw new FTPError(550, `"${path.ftp}" is not a regular file.`);
  return stat;
}

/** The perm fact's letters for files and directories, with the permission each needs (RFC 3659 7.5.5). */
const FILE_PERM_FACTS = [["a", "a"], ["d", "d"], ["f", "f"], ["r", "r"], ["w", "w"]] as const;
const DIR_PERM_FACTS = [["c", "w"], ["d", "d"], ["e", "e"], ["f", "f"], ["l", "l"], ["m", "m"], [
  "p",
  "d",
]] as const;

async function permFact(ctx: CommandContext, path: ResolvedPath, isDir: boolean): Promise<string> {
  let letters = "";
  for (const [fact, perm] of isDir ? DIR_PERM_FACTS : FILE_PERM_FACTS) {
    if (await ctx.hasPerm(perm, path)) letters += fact;
  }
  return letters;
}

/**
 * Describes one entry. A symlink is described by its target when the target is
 * inside the jail, and as `OS.unix=slink` (the link itself, no permissions)
 * otherwise, so nothing is learnt of files outside the home.
 */
async function factEntry(
  ctx: CommandContext,
  name: string,
  path: ResolvedPath,
  lstat: FileStat | null,
  dirType: "dir" | "cdir" | "pdir" = "dir",
): Promise<FactEntry> {
  let info = lstat;
  let type: FactType = "file";
  if (lstat?.type === "symlink") {
    const target = await ctx.fs.stat(path.ftp).catch(() => null);
    if (target) info = target;
    else type = "OS.unix=slink";
  }
  if (type !== "OS.unix=slink" && info?.type === "dir") type = dirType;
  // Nothing may be done through a link that leaves the jail (or leads nowhere).
  const perm = ctx.state.mlstFacts.includes("perm") && type !== "OS.unix=slink"
    ? await permFact(ctx, path, type !== "file")
    : "";
  return { name, type, info, perm };
}

/** `path`'s entry `name` (or its parent, for `..`). */
function child(path: ResolvedPath, name: string): ResolvedPath {
  if (name === "..") return { ftp: posix.dirname(path.ftp), real: posix.dirname(path.real) };
  return { ftp: posix.join(path.ftp, name), real: posix.join(path.real, name) };
}

async function* mlsdLines(ctx: CommandContext, path: ResolvedPath): AsyncIterable<string> {
  const { fs } = ctx;
  const facts = ctx.state.mlstFacts;
  const line = async (
    name: string,
    at: ResolvedPath,
    stat: FileStat | null,
    type?: "cdir" | "pdir",
  ) => formatMlsx(fs, await factEntry(ctx, name, at, stat, type), facts);
  yield await line(".", path, await fs.stat(path.ftp), "cdir");
  if (path.ftp !== "/") {
    const parent = child(path, "..");
    yield await line("..", parent, await fs.stat(parent.ftp), "pdir");
  }
  for await (const entry of fs.list(path.ftp)) {
    if (isUploadTemporary(entry.name)) continue;
    yield await line(entry.name, child(path, entry.name), entry.stat);
  }
}

/** Parses RFC 3659's `YYYYMMDDHHMMSS[.sss]` (UTC); `null` when it is not a valid time. */
function parseTimeVal(text: string): Date | null {
  const match = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(?:\.\d{1,3})?$/.exec(text);
  if (!match) return null;
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number);
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  return formatTimeVal(date, true) === match.slice(1).join("") ? date : null;
}

/** MFMT and SITE MFMT: `<time> <path>` sets the path's modification time. */
async function setModificationTime(ctx: CommandContext): Promise<void> {
  const time = parseTimeVal(firstWord(ctx.command.arg));
  if (!time) throw new FTPError(501, mfmtUsage(ctx.command.name));
  const path = ctx.path!;
  const stat = await ctx.fs.stat(path.ftp);
  await ctx.fs.utime(path.ftp, stat.atime ?? time, time);
  await ctx.reply(213, `Modify=${formatTimeVal(time, true)}; ${path.ftp}`);
}

function mfmtUsage(name: string): string {
  return `Syntax error: ${name} takes a time as YYYYMMDDHHMMSS and a path.`;
}

/** The file-fact commands. */
export const metadataCommands: Record<string, CommandSpec> = {
  SIZE: {
    perm: "l",
    auth: true,
    arg: "required",
    path: "arg",
    feat: "SIZE",
    help: "Syntax: SIZE <SP> file-name (get file size).",
    async run(ctx) {
      // In TYPE A the size on the wire differs from the size on disk, and finding it
      // means reading the whole file: refused, as the seed's FAQ explains.
      if (ctx.state.transferType === "A") {
        throw new FTPError(550, "SIZE not allowed in ASCII mode.");
      }
      const path = ctx.path!;
      if (ctx.config.uploadMode !== "direct" && !await ctx.fs.lstat(path.ftp).catch(() => null)) {
        // A file not there yet whose upload failed: its partial's size, where REST resumes.
        const [partial] = await partialsOf(ctx.fs, path.ftp, ctx.config.partialLifetime);
        if (partial) return await ctx.reply(213, String(partial.stat.size));
      }
      const info = await regularFile(ctx, path);
      await ctx.reply(213, String(info.size));
    },
  },
  MDTM: {
    perm: "l",
    auth: true,
    arg: "required",
    path: "arg",
    feat: "MDTM",
    help: "Syntax: MDTM <SP> file-name (get file's last modification time).",
    async run(ctx) {
      const info = await regularFile(ctx, ctx.path!);
      if (!info.mtime) throw new FTPError(550, "Modification time not available.");
      await ctx.reply(213, formatTimeVal(info.mtime, ctx.config.useGmtTimes));
    },
  },
  MLST: {
    perm: "l",
    auth: true,
    arg: "optional",
    path: "arg",
    feat: (ctx) => featMlstLine(ctx.state.mlstFacts),
    help: "Syntax: MLST [<SP> path] (show information about path).",
    async run(ctx) {
      const path = ctx.path!;
      const lstat = await ctx.fs.lstat(path.ftp);
      const entry = await factEntry(ctx, path.ftp, path, lstat);
      const facts = formatMlsx(ctx.fs, entry, ctx.state.mlstFacts);
      await ctx.reply(250, `Listing "${path.ftp}":\n${facts}\nEnd MLST.`);
    },
  },
  MLSD: {
    perm: "l",
    auth: true,
    arg: "optional",
    path: "arg",
    data: true,
    help: "Syntax: MLSD [<SP> dir-name] (list directory).",
    async run(ctx) {
      const path = ctx.path!;
      if ((await ctx.fs.stat(path.ftp)).type !== "dir") {
        throw new FTPError(501, `"${path.ftp}" is not a directory.`);
      }
      ctx.startTransfer({
        command: "MLSD",
        direction: "send",
        run: (dtp) => dtp.sendChunks(encodeLines(mlsdLines(ctx, path))),
      });
    },
  },
  MFMT: {
    perm: "T",
    auth: true,
    arg: "required",
    path: afterFirstWord(mfmtUsage("MFMT")),
    feat: "MFMT",
    help: "Syntax: MFMT <SP> timeval <SP> path (set file's modification time).",
    run: setModificationTime,
  },
  "SITE MFMT": {
    perm: "T",
    auth: true,
    arg: "required",
    path: afterFirstWord(mfmtUsage("SITE MFMT")),
    help: "Syntax: SITE <SP> MFMT <SP> timeval <SP> path (set file's modification time).",
    run: setModificationTime,
  },
};
