/**
 * Changing the tree: MKD, RMD, DELE, RNFR, RNTO, SITE CHMOD, and the X-variants.
 *
 * @module
 */

import { quote } from "../session.ts";
import type { CommandSpec } from "./table.ts";

const MKD: CommandSpec = {
  perm: "m",
  auth: true,
  arg: "required",
  path: true,
  help: "Syntax: MKD <SP> path (create directory).",
  async run(session, { path }) {
    await session.fs!.mkdir(path!.real);
    await session.reply(257, `"${quote(path!.ftp)}" directory created.`);
  },
};

const RMD: CommandSpec = {
  perm: "d",
  auth: true,
  arg: "required",
  path: true,
  help: "Syntax: RMD <SP> dir-name (remove directory).",
  async run(session, { path }) {
    const fs = session.fs!;
    if (path!.real === fs.root) return session.reply(550, "Can't remove root directory.");
    await fs.rmdir(path!.real);
    await session.reply(250, "Directory removed.");
  },
};

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
    path: true,
    help: "Syntax: DELE <SP> file-name (delete file).",
    async run(session, { path }) {
      await session.fs!.remove(path!.real);
      await session.reply(250, "File removed.");
    },
  },
  RNFR: {
    perm: "f",
    auth: true,
    arg: "required",
    path: true,
    help: "Syntax: RNFR <SP> file-name (rename (source name)).",
    async run(session, { path }) {
      const fs = session.fs!;
      if (path!.real === fs.root) return session.reply(550, "Can't rename home directory.");
      if (!await fs.lexists(path!.real)) return session.reply(550, "No such file or directory.");
      session.renameFrom = path!.real;
      await session.reply(350, "Ready for destination name.");
    },
  },
  RNTO: {
    perm: "f",
    auth: true,
    arg: "required",
    path: true,
    help: "Syntax: RNTO <SP> file-name (rename (destination name)).",
    async run(session, { path }) {
      const source = session.renameFrom;
      session.renameFrom = null;
      if (!source) return session.reply(503, "Bad sequence of commands: use RNFR first.");
      if (path!.real === session.fs!.root) {
        return session.reply(550, "Can't overwrite home directory.");
      }
      await session.fs!.rename(source, path!.real);
      await session.reply(250, "Renaming ok.");
    },
  },
  "SITE CHMOD": {
    perm: "M",
    auth: true,
    arg: "required",
    help: "Syntax: SITE <SP> CHMOD <SP> mode <SP> path (change file mode).",
    async run(session, { arg }) {
      const match = /^([0-7]{1,4})\s+(.+)$/.exec(arg);
      if (!match) {
        return session.reply(501, "Invalid SITE CHMOD format: use SITE CHMOD <octal mode> <path>.");
      }
      const path = await session.resolvePath(match[2], "M");
      if (!path) return;
      await session.fs!.chmod(path.real, parseInt(match[1], 8));
      await session.reply(200, "SITE CHMOD successful.");
    },
  },
};
