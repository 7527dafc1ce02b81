/**
 * Commands that move data: RETR, STOR, APPE, STOU, LIST, NLST, and REST, ALLO, ABOR.
 *
 * @module
 */

import { posix } from "node:path";
import { toLocalAscii, toNetworkAscii } from "../data/ascii.ts";
import { FilesystemError } from "../fs/errors.ts";
import { encodeLines, listEntries, listLines } from "../fs/listing.ts";
import type { FTPHandler } from "../session.ts";
import type { CommandSpec } from "./table.ts";

/** Takes the REST offset for this transfer; it applies to one transfer only. */
function takeRestartPosition(session: FTPHandler): number {
  const position = session.restartPosition;
  session.restartPosition = 0;
  return position;
}

/** Refuses what is not a regular file: opening a FIFO or a device would hang or harm. */
async function existingRegularFile(
  session: FTPHandler,
  path: string,
): Promise<Deno.FileInfo | null> {
  const info = await session.fs!.stat(path).catch((error) => {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  });
  if (info?.isDirectory) throw new FilesystemError("Is a directory.");
  if (info && !info.isFile) throw new FilesystemError("Not a regular file.");
  return info;
}

function receive(
  session: FTPHandler,
  command: string,
  path: string,
  file: Deno.FsFile,
  preliminary?: string,
) {
  session.startTransfer({
    command,
    path,
    direction: "receive",
    preliminary,
    run: (dtp) => dtp.receiveFile(file, session.transferType === "A" ? toLocalAscii() : undefined),
    close: () => file.close(),
  });
}

/** Replies 554 and returns false when the REST offset is past the end of the file. */
async function restartFits(
  session: FTPHandler,
  info: Deno.FileInfo,
  offset: number,
): Promise<boolean> {
  if (offset <= info.size) return true;
  await session.reply(
    554,
    `Invalid REST parameter: ${offset} is past the end of the file (${info.size} bytes).`,
  );
  return false;
}

/** Runs `move` on a just-opened file, closing the file if it fails. */
async function positioned(file: Deno.FsFile, move: () => Promise<unknown>): Promise<void> {
  try {
    await move();
  } catch (error) {
    file.close();
    throw error;
  }
}

const RETR: CommandSpec = {
  perm: "r",
  auth: true,
  arg: "required",
  path: true,
  help: "Syntax: RETR <SP> file-name (retrieve a file).",
  async run(session, { path }) {
    if (!await session.dataChannelReady()) return;
    const offset = takeRestartPosition(session);
    const info = await existingRegularFile(session, path!.real);
    if (!info) return session.reply(550, "No such file or directory.");
    if (!await restartFits(session, info, offset)) return;
    const file = await session.fs!.open(path!.real, { read: true });
    if (offset > 0) await positioned(file, () => file.seek(offset, Deno.SeekMode.Start));
    session.startTransfer({
      command: "RETR",
      path: path!.real,
      direction: "send",
      run: (dtp) => dtp.sendFile(file, session.transferType === "A" ? toNetworkAscii() : undefined),
      close: () => file.close(),
    });
  },
};

const STOR: CommandSpec = {
  perm: "w",
  auth: true,
  arg: "required",
  path: true,
  help: "Syntax: STOR <SP> file-name (store a file).",
  async run(session, { path }) {
    if (!await session.dataChannelReady()) return;
    const offset = takeRestartPosition(session);
    const info = await existingRegularFile(session, path!.real);
    if (offset === 0) {
      const file = await session.fs!.open(path!.real, {
        write: true,
        create: true,
        truncate: true,
      });
      return receive(session, "STOR", path!.real, file);
    }
    // Resume: keep the first `offset` bytes and write what follows.
    if (!info) return session.reply(550, "No such file or directory.");
    if (!await restartFits(session, info, offset)) return;
    const file = await session.fs!.open(path!.real, { write: true });
    await positioned(file, async () => {
      await file.truncate(offset);
      await file.seek(offset, Deno.SeekMode.Start);
    });
    receive(session, "STOR", path!.real, file);
  },
};

const APPE: CommandSpec = {
  perm: "a",
  auth: true,
  arg: "required",
  path: true,
  help: "Syntax: APPE <SP> file-name (append data to file).",
  async run(session, { path }) {
    if (!await session.dataChannelReady()) return;
    if (takeRestartPosition(session) > 0) {
      return session.reply(450, "Can't APPE while REST request is pending.");
    }
    await existingRegularFile(session, path!.real);
    const file = await session.fs!.open(path!.real, { append: true, create: true });
    receive(session, "APPE", path!.real, file);
  },
};

const STOU: CommandSpec = {
  perm: "w",
  auth: true,
  arg: "optional",
  help: "Syntax: STOU [<SP> name] (store a file with a unique name).",
  async run(session, { arg }) {
    if (!await session.dataChannelReady()) return;
    if (takeRestartPosition(session) > 0) {
      return session.reply(450, "Can't STOU while REST request is pending.");
    }
    if (arg.includes("\0")) return session.reply(501, "Path names may not contain NUL.");
    const directory = await session.resolvePath(".", "w");
    if (!directory) return;
    const prefix = arg ? posix.basename(arg) + "." : "ftpd.";
    const { path, file } = await session.fs!.mkstemp(directory.real, prefix);
    // RFC 1123: the preliminary reply names the file.
    receive(session, "STOU", path, file, `FILE: ${posix.basename(path)}`);
  },
};

function listCommand(command: "LIST" | "NLST", help: string): CommandSpec {
  return {
    perm: "l",
    auth: true,
    arg: "optional",
    path: true,
    listOptions: true,
    help,
    async run(session, { path }) {
      if (!await session.dataChannelReady()) return;
      const fs = session.fs!;
      await fs.stat(path!.real);
      const entries = listEntries(fs, path!.real);
      const lines = command === "LIST"
        ? listLines(fs, entries, { useGmtTimes: session.config.useGmtTimes, now: new Date() })
        : names(entries);
      session.startTransfer({
        command,
        direction: "send",
        run: (dtp) => dtp.sendChunks(encodeLines(lines)),
      });
    },
  };
}

async function* names(entries: AsyncIterable<{ name: string }>): AsyncIterable<string> {
  for await (const entry of entries) yield entry.name;
}

/** The transfer commands. */
export const transferCommands: Record<string, CommandSpec> = {
  RETR,
  STOR,
  APPE,
  STOU,
  LIST: listCommand("LIST", "Syntax: LIST [<SP> path] (list files)."),
  NLST: listCommand("NLST", "Syntax: NLST [<SP> path] (list path in a compact form)."),
  REST: {
    auth: true,
    arg: "required",
    feat: "REST STREAM",
    help: "Syntax: REST <SP> offset (set file offset).",
    async run(session, { arg }) {
      const offset = /^\d+$/.test(arg) ? Number(arg) : NaN;
      if (!Number.isSafeInteger(offset)) {
        return session.reply(501, "Invalid parameter: REST takes a byte offset.");
      }
      session.restartPosition = offset;
      await session.reply(350, `Restarting at position ${offset}.`);
    },
  },
  ALLO: {
    auth: true,
    arg: "optional",
    help: "Syntax: ALLO <SP> bytes (noop; allocate storage).",
    run: (session) => session.reply(202, "No storage allocation necessary."),
  },
  ABOR: {
    auth: true,
    arg: "none",
    duringTransfer: true,
    help: "Syntax: ABOR (abort transfer).",
    async run(session) {
      if (session.transfer) {
        await session.abortTransfer();
        return session.reply(226, "ABOR command successful.");
      }
      if (session.data.ready) {
        session.data.close();
        return session.reply(225, "ABOR command successful; data channel closed.");
      }
      await session.reply(225, "No transfer to abort.");
    },
  },
};
