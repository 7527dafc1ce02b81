/**
 * Information about the server and the session: SYST, NOOP, HELP, STAT, SITE, SITE HELP.
 *
 * @module
 */

import { FTPError } from "../errors.ts";
import { formatList, listEntries } from "../fs/listing.ts";
import type { CommandContext, CommandSpec } from "./table.ts";
import { statusPath } from "./paths.ts";

/** The names of `table`'s commands, eight to a line, for HELP. */
function commandColumns(names: string[]): string {
  const rows: string[] = [];
  for (let i = 0; i < names.length; i += 8) {
    rows.push(names.slice(i, i + 8).map((name) => name.padEnd(7)).join(" ").trimEnd());
  }
  return rows.join("\n");
}

/** HELP and SITE HELP: one command's syntax, or every command (those starting `sub`). */
function helpFor(ctx: CommandContext, title: string, sub = ""): Promise<void> {
  const name = ctx.command.arg.trim();
  const table = ctx.commands;
  if (name) {
    const spec = table.get(sub + name.toUpperCase());
    if (!spec) throw new FTPError(501, `Unrecognized command "${name}".`);
    return ctx.reply(214, spec.help);
  }
  const names = [...table.keys()].filter((key) => sub ? key.startsWith(sub) : !key.includes(" "));
  const columns = commandColumns(names.map((key) => key.slice(sub.length)).sort());
  return ctx.reply(214, `${title}\n${columns}\nHelp command successful.`);
}

function statusText(ctx: CommandContext): string {
  const { session } = ctx;
  const login = session.authenticated
    ? `Logged in as: ${session.username}`
    : session.username
    ? "Waiting for password."
    : "Waiting for username.";
  const transfer = ctx.transfer;
  const data = !transfer
    ? ctx.data.describe()
    : transfer.dtp
    ? `Data connection open; transfer in progress: ${transfer.job.command} (${transfer.dtp.bytes} bytes so far).`
    : `Transfer waiting for its data connection: ${transfer.job.command}.`;
  const type = ctx.state.transferType === "A" ? "ASCII" : "Binary";
  return [
    "FTP server status:",
    `Connected to: ${session.localIp}:${session.localPort}`,
    login,
    `TYPE: ${type}; STRUcture: File; MODE: Stream`,
    data,
    "End of status.",
  ].join("\n");
}

/** The informational commands. */
export const infoCommands: Record<string, CommandSpec> = {
  SYST: {
    auth: false,
    arg: "none",
    help: "Syntax: SYST (get operating system type).",
    run: (ctx) => ctx.reply(215, "UNIX Type: L8"),
  },
  NOOP: {
    auth: false,
    arg: "none",
    duringTransfer: true,
    help: "Syntax: NOOP (just do nothing).",
    run: (ctx) => ctx.reply(200, "NOOP ok."),
  },
  HELP: {
    auth: false,
    arg: "optional",
    help: "Syntax: HELP [<SP> cmd] (show help).",
    run: (ctx) => helpFor(ctx, "The following commands are recognized:"),
  },
  STAT: {
    perm: "l",
    auth: false,
    arg: "optional",
    path: statusPath,
    duringTransfer: true,
    help: "Syntax: STAT [<SP> path name] (server stats [list files]).",
    async run(ctx) {
      const { path } = ctx;
      if (!path) return ctx.reply(211, statusText(ctx));
      // RFC 959: a listing over the control connection; no globbing (see the FAQ).
      const { fs } = ctx;
      // RFC 959: 212 for a directory's status, 213 for a file's.
      const code = (await fs.stat(path.ftp)).type === "dir" ? 212 : 213;
      const lines = [`Status of "${path.ftp}":`];
      const options = { useGmtTimes: ctx.config.useGmtTimes, now: new Date() };
      for await (const line of formatList(fs, listEntries(fs, path.ftp), options)) lines.push(line);
      lines.push("End of status.");
      await ctx.reply(code, lines.join("\n"));
    },
  },
  SITE: {
    auth: true,
    arg: "optional",
    help: "Syntax: SITE <SP> site-command (execute SITE command).",
    run() {
      throw new FTPError(501, "Syntax error: SITE needs a sub-command.");
    },
  },
  "SITE HELP": {
    auth: true,
    arg: "optional",
    help: "Syntax: SITE <SP> HELP [<SP> cmd] (show SITE command help).",
    run: (ctx) => helpFor(ctx, "The following SITE commands are recognized:", "SITE "),
  },
};
