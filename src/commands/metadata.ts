/**
 * File facts of RFC 3659: SIZE, MDTM, MLST, MLSD, and MFMT (with SITE MFMT) to set
 * a file's modification time.
 *
 * @module
 */

import { posix } from "node:path";
import { type FactEntry, type FactType, featMlstLine } from "../fs/facts.ts";
import { encodeLines, formatTimeVal, listEntries } from "../fs/listing.ts";
import { FTPError } from "../errors.ts";
import type { CommandContext, CommandSpec, ResolvedPath } from "./table.ts";
import { afterFirstWord, firstWord } from "./paths.ts";

/** The stat of a regular file; 550 for anything else. */
async function regularFile(ctx: CommandContext, path: ResolvedPath): Promise<Deno.FileInfo> {
  const info = await ctx.fs.stat(path.real);
  if (!info.isFile) throw new FTPError(550, `"${path.ftp}" is not a regular file.`);
  return info;
}

/** The perm fact's letters for files and directories, with the permission each needs (RFC 3659 7.5.5). */
const FILE_PERM_FACTS = [["a", "a"], ["d", "d"], ["f", "f"], ["r", "r"], ["w", "w"]] as const;
const DIR_PERM_FACTS = [["c", "w"], ["d", "d"], ["e", "e"], ["f", "f"], ["l", "l"], ["m", "m"], [
  "p",
  "d",
]] as const;

async function permFact(ctx: CommandContext, path: string, isDir: boolean): Promise<string> {
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
  path: string,
  lstat: Deno.FileInfo | null,
  dirType: "dir" | "cdir" | "pdir" = "dir",
): Promise<FactEntry> {
  const { fs } = ctx;
  let info = lstat;
  let type: FactType = "file";
  if (lstat?.isSymlink) {
    const target = await fs.validPath(path) ? await fs.stat(path).catch(() => null) : null;
    if (target) info = target;
    else type = "OS.unix=slink";
  }
  if (type !== "OS.unix=slink" && info?.isDirectory) type = dirType;
  // Nothing may be done through a link that leaves the jail (or leads nowhere).
  const perm = ctx.state.mlstFacts.includes("perm") && type !== "OS.unix=slink"
    ? await permFact(ctx, path, type !== "file")
    : "";
  return { name, type, info, perm };
}

async function* mlsdLines(ctx: CommandContext, path: ResolvedPath): AsyncIterable<string> {
  const { fs } = ctx;
  const facts = ctx.state.mlstFacts;
  yield fs.formatMlsx(
    await factEntry(ctx, ".", path.real, await fs.stat(path.real), "cdir"),
    facts,
  );
  if (path.real !== fs.root) {
    const parent = posix.dirname(path.real);
    yield fs.formatMlsx(await factEntry(ctx, "..", parent, await fs.stat(parent), "pdir"), facts);
  }
  for await (const entry of listEntries(fs, path.real)) {
    yield fs.formatMlsx(await factEntry(ctx, entry.name, entry.path, entry.info), facts);
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
  const info = await ctx.fs.stat(path.real);
  await ctx.fs.utime(path.real, info.atime ?? time, time);
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
      const info = await regularFile(ctx, ctx.path!);
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
      const lstat = await ctx.fs.lstat(path.real);
      const entry = await factEntry(ctx, path.ftp, path.real, lstat);
      const facts = ctx.fs.formatMlsx(entry, ctx.state.mlstFacts);
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
      if (!(await ctx.fs.stat(path.real)).isDirectory) {
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
