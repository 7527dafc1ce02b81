/**
 * Commands that move data: RETR, STOR, APPE, STOU, LIST, NLST, and REST, ALLO, ABOR.
 *
 * @module
 */

import { posix } from "node:path";
import { toLocalAscii, toNetworkAscii } from "../data/ascii.ts";
import { FTPError } from "../errors.ts";
import { encodeLines, formatList, listEntries } from "../fs/listing.ts";
import {
  checkRestartFits,
  openUpload,
  regularFile,
  type Upload,
  type UploadRequest,
  type UploadSettings,
} from "../fs/uploads.ts";
import type { CommandContext, CommandSpec } from "./table.ts";
import { currentDirectory, listingPath } from "./paths.ts";

/** Takes the REST offset for this transfer; it applies to one transfer only. */
function takeRestartPosition(ctx: CommandContext): number {
  const position = ctx.state.restartPosition;
  ctx.state.restartPosition = 0;
  return position;
}

/** How this session writes uploads. */
function uploadSettings(ctx: CommandContext): UploadSettings {
  const { uploadMode, fsyncUploads, partialLifetime } = ctx.config;
  return { mode: uploadMode, fsync: fsyncUploads, partialLifetime };
}

/** Opens the upload `request` of the virtual `path`, as the session's settings and quota say. */
function open(ctx: CommandContext, path: string, request: UploadRequest): Promise<Upload> {
  return openUpload(ctx.fs, path, request, uploadSettings(ctx), ctx.login.quota);
}

/**
 * Receives the upload of a command into `upload`, in TYPE A converting line
 * endings; `real` is the real path of its directory, for the log and callbacks.
 */
function receive(ctx: CommandContext, realDir: string, upload: Upload, preliminary?: string) {
  const real = (path: string) => posix.join(realDir, posix.basename(path));
  ctx.startTransfer({
    command: ctx.command.name,
    path: real(upload.path),
    direction: "receive",
    preliminary,
    run: (dtp) =>
      dtp.receiveFile(upload.file, ctx.state.transferType === "A" ? toLocalAscii() : undefined),
    async close(end) {
      const partial = await upload.finish(end);
      return partial === null ? {} : { partial: real(partial) };
    },
  });
}

const RETR: CommandSpec = {
  perm: "r",
  auth: true,
  arg: "required",
  path: "arg",
  data: true,
  help: "Syntax: RETR <SP> file-name (retrieve a file).",
  async run(ctx) {
    const path = ctx.path!;
    const offset = takeRestartPosition(ctx);
    checkRestartFits(await regularFile(ctx.fs, path.ftp), offset);
    const file = await ctx.fs.openRead(path.ftp, offset);
    ctx.startTransfer({
      command: "RETR",
      path: path.real,
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
    const path = ctx.path!;
    // REST n first: resume the partial upload of n bytes, or keep the file's first n.
    const offset = takeRestartPosition(ctx);
    receive(ctx, posix.dirname(path.real), await open(ctx, path.ftp, { offset }));
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
    const path = ctx.path!;
    receive(ctx, posix.dirname(path.real), await open(ctx, path.ftp, { append: true }));
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
    const upload = await open(ctx, ctx.path!.ftp, { unique: prefix });
    // RFC 1123: the preliminary reply names the file.
    receive(ctx, ctx.path!.real, upload, `FILE: ${posix.basename(upload.path)}`);
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
      const path = ctx.path!.ftp;
      await fs.stat(path);
      const entries = listEntries(fs, path);
      const lines = command === "LIST"
        ? formatList(fs, entries, { useGmtTimes: ctx.config.useGmtTimes, now: new Date() })
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
