/**
 * File facts of RFC 3659: SIZE and MDTM.
 *
 * @module
 */

import { formatTimeVal } from "../fs/listing.ts";
import type { FTPHandler } from "../session.ts";
import type { CommandSpec } from "./table.ts";

/** The stat of a regular file, or `null` after replying 550 for anything else. */
async function regularFile(
  session: FTPHandler,
  real: string,
  ftp: string,
): Promise<Deno.FileInfo | null> {
  const info = await session.fs!.stat(real);
  if (info.isFile) return info;
  await session.reply(550, `"${ftp}" is not a regular file.`);
  return null;
}

/** The file-fact commands. */
export const metadataCommands: Record<string, CommandSpec> = {
  SIZE: {
    perm: "l",
    auth: true,
    arg: "required",
    path: true,
    help: "Syntax: SIZE <SP> file-name (get file size).",
    async run(session, { path }) {
      // In TYPE A the size on the wire differs from the size on disk, and finding it
      // means reading the whole file: refused, as the seed's FAQ explains.
      if (session.transferType === "A") {
        return session.reply(550, "SIZE not allowed in ASCII mode.");
      }
      const info = await regularFile(session, path!.real, path!.ftp);
      if (info) await session.reply(213, String(info.size));
    },
  },
  MDTM: {
    perm: "l",
    auth: true,
    arg: "required",
    path: true,
    help: "Syntax: MDTM <SP> file-name (get file's last modification time).",
    async run(session, { path }) {
      const info = await regularFile(session, path!.real, path!.ftp);
      if (!info) return;
      if (!info.mtime) return session.reply(550, "Modification time not available.");
      await session.reply(213, formatTimeVal(info.mtime, session.config.useGmtTimes));
    },
  },
};
