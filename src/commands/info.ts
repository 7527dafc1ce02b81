/**
 * Information about the server and the session: SYST, NOOP, HELP, STAT, SITE, SITE HELP.
 *
 * @module
 */

import { listEntries, listLines } from "../fs/listing.ts";
import type { FTPHandler } from "../session.ts";
import type { CommandSpec, CommandTable } from "./table.ts";

/** The names of `table`'s commands, eight to a line, for HELP. */
function commandColumns(names: string[]): string {
  const rows: string[] = [];
  for (let i = 0; i < names.length; i += 8) {
    rows.push(names.slice(i, i + 8).map((name) => name.padEnd(7)).join(" ").trimEnd());
  }
  return rows.join("\n");
}

function helpFor(session: FTPHandler, table: CommandTable, name: string, title: string, sub = "") {
  if (name) {
    const spec = table.get(sub + name.toUpperCase());
    if (!spec) return session.reply(501, `Unrecognized command "${name}".`);
    return session.reply(214, spec.help);
  }
  const names = [...table.keys()].filter((key) => sub ? key.startsWith(sub) : !key.includes(" "));
  const columns = commandColumns(names.map((key) => key.slice(sub.length)).sort());
  return session.reply(214, `${title}\n${columns}\nHelp command successful.`);
}

function statusText(session: FTPHandler): string {
  const local = session.conn.localAddr as Deno.NetAddr;
  const login = session.authenticated
    ? `Logged in as: ${session.username}`
    : session.username
    ? "Waiting for password."
    : "Waiting for username.";
  const transfer = session.transfer;
  const data = transfer
    ? `Data connection open; transfer in progress: ${transfer.job.command} (${
      transfer.dtp?.bytes ?? 0
    } bytes so far).`
    : session.data.describe();
  const type = session.transferType === "A" ? "ASCII" : "Binary";
  return [
    "FTP server status:",
    `Connected to: ${local.hostname}:${local.port}`,
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
    run: (session) => session.reply(215, "UNIX Type: L8"),
  },
  NOOP: {
    auth: false,
    arg: "none",
    duringTransfer: true,
    help: "Syntax: NOOP (just do nothing).",
    run: (session) => session.reply(200, "NOOP ok."),
  },
  HELP: {
    auth: false,
    arg: "optional",
    help: "Syntax: HELP [<SP> cmd] (show help).",
    run: (session, { arg }) =>
      helpFor(session, session.commands, arg.trim(), "The following commands are recognized:"),
  },
  STAT: {
    perm: "l",
    auth: false,
    arg: "optional",
    path: true,
    listOptions: true,
    duringTransfer: true,
    help: "Syntax: STAT [<SP> path name] (server stats [list files]).",
    async run(session, { path }) {
      if (!path) return session.reply(211, statusText(session));
      // RFC 959: a listing over the control connection; no globbing (see the FAQ).
      const fs = session.fs!;
      // RFC 959: 212 for a directory's status, 213 for a file's.
      const code = (await fs.stat(path.real)).isDirectory ? 212 : 213;
      const lines = [`Status of "${path.ftp}":`];
      const options = { useGmtTimes: session.config.useGmtTimes, now: new Date() };
      for await (const line of listLines(fs, listEntries(fs, path.real), options)) lines.push(line);
      lines.push("End of status.");
      await session.reply(code, lines.join("\n"));
    },
  },
  SITE: {
    auth: true,
    arg: "required",
    help: "Syntax: SITE <SP> site-command (execute SITE command).",
    run: (session) => session.reply(501, "Syntax error: SITE needs a sub-command."),
  },
  "SITE HELP": {
    auth: true,
    arg: "optional",
    help: "Syntax: SITE <SP> HELP [<SP> cmd] (show SITE command help).",
    run: (session, { arg }) =>
      helpFor(
        session,
        session.commands,
        arg.trim(),
        "The following SITE commands are recognized:",
        "SITE ",
      ),
  },
};
