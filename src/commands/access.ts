/**
 * Login and logout: USER, PASS, REIN, QUIT, and ACCT (not implemented).
 *
 * @module
 */

import type { CommandSpec } from "./table.ts";

/** The access-control commands. */
export const accessCommands: Record<string, CommandSpec> = {
  USER: {
    auth: false,
    arg: "required",
    tls: "control",
    help: "Syntax: USER <SP> user-name (set username).",
    async run(session, { arg }) {
      if (session.authenticated) await session.logout();
      session.username = arg;
      // 331 for every name, so replies never tell which users exist (RFC 2577).
      await session.reply(331, "Username ok, send password.");
    },
  },
  PASS: {
    auth: false,
    arg: "optional",
    tls: "control",
    help: "Syntax: PASS [<SP> password] (set user password).",
    async run(session, { arg }) {
      if (session.authenticated) return session.reply(503, "User already authenticated.");
      if (!session.username) return session.reply(503, "Login with USER first.");
      await session.authenticate(arg);
    },
  },
  REIN: {
    auth: false,
    arg: "none",
    help: "Syntax: REIN (flush account).",
    async run(session) {
      await session.logout();
      await session.reply(220, "Ready for new user.");
    },
  },
  QUIT: {
    auth: false,
    arg: "none",
    duringTransfer: true,
    help: "Syntax: QUIT (quit current session).",
    async run(session) {
      // RFC 959: a transfer in progress completes, and its reply is sent, first.
      await session.transfer?.done;
      const text = session.authenticated
        ? await session.config.authorizer.getMsgQuit(session.username)
        : "Goodbye.";
      await session.reply(221, text);
      await session.logout();
      session.close();
    },
  },
  ACCT: {
    auth: false,
    arg: "optional",
    help: "Syntax: ACCT <SP> account-information (not implemented).",
    run: (session) => session.reply(502, "Command not implemented: accounts are not used."),
  },
};
