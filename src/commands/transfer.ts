/**
 * Commands that move data: RETR, STOR, APPE, STOU, LIST, NLST, and REST, ALLO, ABOR.
 *
 * @module
 */

import { posix } from "node:path";
import { toLocalAscii, toNetworkAscii } from "../data/ascii.ts";
import { FTPError } from "../errors.ts";
import { FilesystemError } from "../fs/errors.ts";
import { encodeLines, listEntries } from "../fs/listing.ts";
import type { CommandContext, CommandSpec } from "./table.ts";
import { currentDirectory, listingPath } from "./paths.ts";

/** Takes the REST offset for this transfer; it applies to one transfer only. */
function takeRestartPosition(ctx: CommandContext): number {
  const position = ctx.state.restartPosition;
  ctx.state.restartPosition = 0;
  return position;
}

/** Refuses what is not a regular file: opening a FIFO or a device would hang or harm. */
async function existingRegularFile(
  ctx: CommandContext,
  path: string,
): Promise<Deno.FileInfo | null> {
  const info = await ctx.fs.stat(path).catch((error) => {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  });
  if (info?.isDirectory) throw new FilesystemError("Is a directory.");
  if (info && !info.isFile) throw new FilesystemError("Not a regular file.");
  return info;
}

/** Receives the upload of a command into `file`, in TYPE A converting line endings. */
function receive(ctx: CommandContext, path: string, file: Deno.FsFile, preliminary?: string) {
  ctx.startTransfer({
    command: ctx.command.name,
    path,
    direction: "receive",
    preliminary,
    run: (dtp) =>
      dtp.receiveFile(file, ctx.state.transferType === "A" ? toLocalAscii() : undefined),
    close: () => file.close(),
  });
}

/** Throws 554 when the REST offset is past the end of the file. */
function checkRestartFits(info: Deno.FileInfo, offset: number): void {
  if (offset <= info.size) return;
  throw new FTPError(
    554,
    `Invalid REST parameter: ${offset} is past the end of the file (${info.size} bytes).`,
  );
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

const NO_SUCH_FILE = "No such file or directory.";

const RETR: CommandSpec = {
  perm: "r",
  auth: true,
  arg: "required",
  path: "arg",
  data: true,
  help: "Syntax: RETR <SP> file-name (retrieve a file).",
  async run(ctx) {
    const path = ctx.path!.real;
    const offset = takeRestartPosition(ctx);
    const info = await existingRegularFile(ctx, path);
    if (!info) throw new FTPError(550, NO_SUCH_FILE);
    checkRestartFits(info, offset);
    const file = await ctx.fs.open(path, { read: true });
    if (offset > 0) await positioned(file, () => file.seek(offset, Deno.SeekMode.Start));
    ctx.startTransfer({
      command: "RETR",
      path,
      direction: "send",
      run: (dtp) =>
        dtp.sendFile(file, ctx.state.transferType === "A" ? toNetworkAscii() : undefined),
      close: () => file.close(),
    });
  },
};

const STOR: CommandSpec = {
  perm: "w",
  auth: true,
  arg: "required",
  path: "arg",
  data: true,
  help: "Syntax: STOR <SP> file-name (store a file).",
  async run(ctx) {
    const path = ctx.path!.real;
    const offset = takeRestartPosition(ctx);
    const info = await existingRegularFile(ctx, path);
    if (offset === 0) {
      const file = await ctx.fs.open(path, { write: true, create: true, truncate: true });
      return receive(ctx, path, file);
    }
    // Resume: keep the first `offset` bytes and write what follows.
    if (!info) throw new FTPError(550, NO_SUCH_FILE);
    checkRestartFits(info, offset);
    const file = await ctx.fs.open(path, { write: true });
    await positioned(file, async () => {
      await file.truncate(offset);
      await file.seek(offset, Deno.SeekMode.Start);
    });
    receive(ctx, path, file);
  },
};

const APPE: CommandSpec = {
  perm: "a",
  auth: true,
  arg: "required",
  path: "arg",
  data: true,
  refusedAfterRest: true,
  help: "Syntax: APPE <SP> file-name (append data to file).",
  async run(ctx) {
    const path = ctx.path!.real;
    await existingRegularFile(ctx, path);
    const file = await ctx.fs.open(path, { append: true, create: true });
    receive(ctx, path, file);
  },
};

const STOU: CommandSpec = {
  perm: "w",
  auth: true,
  arg: "optional",
  path: currentDirectory,
  data: true,
  refusedAfterRest: true,
  help: "Syntax: STOU [<SP> name] (store a file with a unique name).",
  async run(ctx) {
    const { arg } = ctx.command;
    if (arg.includes("\0")) throw new FTPError(501, "Path names may not contain NUL.");
    const prefix = arg ? posix.basename(arg) + "." : "ftpd.";
    const { path, file } = await ctx.fs.mkstemp(ctx.path!.real, prefix);
    // RFC 1123: the preliminary reply names the file.
    receive(ctx, path, file, `FILE: ${posix.basename(path)}`);
  },
};

function listCommand(command: "LIST" | "NLST", help: string): CommandSpec {
  return {
    perm: "l",
    auth: true,
    arg: "optional",
    path: listingPath,
    data: true,
    help,
    async run(ctx) {
      const { fs } = ctx;
      const path = ctx.path!.real;
      await fs.stat(path);
      const entries = listEntries(fs, path);
      const lines = command === "LIST"
        ? fs.formatList(entries, { useGmtTimes: ctx.config.useGmtTimes, now: new Date() })
        : names(entries);
      ctx.startTransfer({
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
    async run(ctx) {
      const { arg } = ctx.command;
      const offset = /^\d+$/.test(arg) ? Number(arg) : NaN;
      if (!Number.isSafeInteger(offset)) {
        throw new FTPError(501, "Invalid parameter: REST takes a byte offset.");
      }
      ctx.state.restartPosition = offset;
      await ctx.reply(350, `Restarting at position ${offset}.`);
    },
  },
  ALLO: {
    auth: true,
    arg: "optional",
    help: "Syntax: ALLO <SP> bytes (noop; allocate storage).",
    run: (ctx) => ctx.reply(202, "No storage allocation necessary."),
  },
  ABOR: {
    auth: true,
    arg: "none",
    duringTransfer: true,
    help: "Syntax: ABOR (abort transfer).",
    async run(ctx) {
      if (ctx.transfer) {
        await ctx.abortTransfer();
        return ctx.reply(226, "ABOR command successful.");
      }
      if (ctx.data.ready) {
        ctx.data.close();
        return ctx.reply(225, "ABOR command successful; data channel closed.");
      }
      await ctx.reply(225, "No transfer to abort.");
    },
  },
};
