/**
 * File facts of RFC 3659: SIZE, MDTM, MLST, MLSD, and MFMT (with SITE MFMT) to set
 * a file's modification time.
 *
 * @module
 */

import { posix } from "node:path";
import { type FactEntry, type FactType, featMlstLine, formatFacts } from "../fs/facts.ts";
import { encodeLines, formatTimeVal, listEntries } from "../fs/listing.ts";
import type { FTPHandler, ResolvedPath } from "../session.ts";
import type { Command, CommandSpec } from "./table.ts";

/** The stat of a regular file, or `null` after replying 550 for anything else. */
async function regularFile(session: FTPHandler, path: ResolvedPath): Promise<Deno.FileInfo | null> {
  const info = await session.fs!.stat(path.real);
  if (info.isFile) return info;
  await session.reply(550, `"${path.ftp}" is not a regular file.`);
  return null;
}

/** The perm fact's letters for files and directories, with the permission each needs (RFC 3659 7.5.5). */
const FILE_PERM_FACTS = [["a", "a"], ["d", "d"], ["f", "f"], ["r", "r"], ["w", "w"]] as const;
const DIR_PERM_FACTS = [["c", "w"], ["d", "d"], ["e", "e"], ["f", "f"], ["l", "l"], ["m", "m"], [
  "p",
  "d",
]] as const;

async function permFact(session: FTPHandler, path: string, isDir: boolean): Promise<string> {
  let letters = "";
  for (const [fact, perm] of isDir ? DIR_PERM_FACTS : FILE_PERM_FACTS) {
    if (await session.hasPerm(perm, path)) letters += fact;
  }
  return letters;
}

/**
 * Describes one entry. A symlink is described by its target when the target is
 * inside the jail, and as `OS.unix=slink` (the link itself, no permissions)
 * otherwise, so nothing is learnt of files outside the home.
 */
async function factEntry(
  session: FTPHandler,
  name: string,
  path: string,
  lstat: Deno.FileInfo | null,
  dirType: "dir" | "cdir" | "pdir" = "dir",
): Promise<FactEntry> {
  const fs = session.fs!;
  let info = lstat;
  let type: FactType = "file";
  if (lstat?.isSymlink) {
    const target = await fs.validPath(path) ? await fs.stat(path).catch(() => null) : null;
    if (target) info = target;
    else type = "OS.unix=slink";
  }
  if (type !== "OS.unix=slink" && info?.isDirectory) type = dirType;
  // Nothing may be done through a link that leaves the jail (or leads nowhere).
  const perm = session.mlstFacts.includes("perm") && type !== "OS.unix=slink"
    ? await permFact(session, path, type !== "file")
    : "";
  return { name, type, info, perm };
}

async function* mlsdLines(session: FTPHandler, path: ResolvedPath): AsyncIterable<string> {
  const fs = session.fs!;
  const facts = session.mlstFacts;
  yield formatFacts(
    await factEntry(session, ".", path.real, await fs.stat(path.real), "cdir"),
    facts,
  );
  if (path.real !== fs.root) {
    const parent = posix.dirname(path.real);
    yield formatFacts(await factEntry(session, "..", parent, await fs.stat(parent), "pdir"), facts);
  }
  for await (const entry of listEntries(fs, path.real)) {
    yield formatFacts(await factEntry(session, entry.name, entry.path, entry.info), facts);
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
async function setModificationTime(session: FTPHandler, { name, arg }: Command): Promise<void> {
  const space = arg.indexOf(" ");
  const time = parseTimeVal(space < 0 ? arg : arg.slice(0, space));
  if (!time || space < 0) {
    return session.reply(501, `Syntax error: ${name} takes a time as YYYYMMDDHHMMSS and a path.`);
  }
  const path = await session.resolvePath(arg.slice(space + 1), "T");
  if (!path) return;
  const fs = session.fs!;
  const info = await fs.stat(path.real);
  await fs.utime(path.real, info.atime ?? time, time);
  await session.reply(213, `Modify=${formatTimeVal(time, true)}; ${path.ftp}`);
}

/** The file-fact commands. */
export const metadataCommands: Record<string, CommandSpec> = {
  SIZE: {
    perm: "l",
    auth: true,
    arg: "required",
    path: true,
    feat: "SIZE",
    help: "Syntax: SIZE <SP> file-name (get file size).",
    async run(session, { path }) {
      // In TYPE A the size on the wire differs from the size on disk, and finding it
      // means reading the whole file: refused, as the seed's FAQ explains.
      if (session.transferType === "A") {
        return session.reply(550, "SIZE not allowed in ASCII mode.");
      }
      const info = await regularFile(session, path!);
      if (info) await session.reply(213, String(info.size));
    },
  },
  MDTM: {
    perm: "l",
    auth: true,
    arg: "required",
    path: true,
    feat: "MDTM",
    help: "Syntax: MDTM <SP> file-name (get file's last modification time).",
    async run(session, { path }) {
      const info = await regularFile(session, path!);
      if (!info) return;
      if (!info.mtime) return session.reply(550, "Modification time not available.");
      await session.reply(213, formatTimeVal(info.mtime, session.config.useGmtTimes));
    },
  },
  MLST: {
    perm: "l",
    auth: true,
    arg: "optional",
    path: true,
    feat: (session) => featMlstLine(session.mlstFacts),
    help: "Syntax: MLST [<SP> path] (show information about path).",
    async run(session, { path }) {
      const lstat = await session.fs!.lstat(path!.real);
      const entry = await factEntry(session, path!.ftp, path!.real, lstat);
      const facts = formatFacts(entry, session.mlstFacts);
      await session.reply(250, `Listing "${path!.ftp}":\n${facts}\nEnd MLST.`);
    },
  },
  MLSD: {
    perm: "l",
    auth: true,
    arg: "optional",
    path: true,
    help: "Syntax: MLSD [<SP> dir-name] (list directory).",
    async run(session, { path }) {
      if (!await session.dataChannelReady()) return;
      if (!(await session.fs!.stat(path!.real)).isDirectory) {
        return session.reply(501, `"${path!.ftp}" is not a directory.`);
      }
      session.startTransfer({
        command: "MLSD",
        direction: "send",
        run: (dtp) => dtp.sendChunks(encodeLines(mlsdLines(session, path!))),
      });
    },
  },
  MFMT: {
    perm: "T",
    auth: true,
    arg: "required",
    feat: "MFMT",
    help: "Syntax: MFMT <SP> timeval <SP> path (set file's modification time).",
    run: setModificationTime,
  },
  "SITE MFMT": {
    perm: "T",
    auth: true,
    arg: "required",
    help: "Syntax: SITE <SP> MFMT <SP> timeval <SP> path (set file's modification time).",
    run: setModificationTime,
  },
};
