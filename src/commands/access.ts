/**
 * Login and logout: USER, PASS, REIN, QUIT, and ACCT (not implemented).
 *
 * @module
 */

import { FTPError } from "../errors.ts";
import type { CommandSpec } from "./table.ts";

/** The access-control commands. */
export const accessCommands: Record<string, CommandSpec> = {
  USER: {
    auth: false,
    arg: "required",
    tls: "control",
    help: "Syntax: USER <SP> user-name (set username).",
    run: (ctx) => ctx.login.user(ctx.command.arg),
  },
  PASS: {
    auth: false,
    arg: "optional",
    tls: "control",
    help: "Syntax: PASS [<SP> password] (set user password).",
    run(ctx) {
      if (ctx.session.authenticated) throw new FTPError(503, "User already authenticated.");
      if (!ctx.session.username) throw new FTPError(503, "Login with USER first.");
      return ctx.login.pass(ctx.command.arg);
    },
  },
  REIN: {
    auth: false,
    arg: "none",
    help: "Syntax: REIN (flush account).",
    async run(ctx) {
      await ctx.login.logout();
      await ctx.reply(220, "Ready for new user.");
    },
  },
  QUIT: {
    auth: false,
    arg: "none",
    duringTransfer: true,
    help: "Syntax: QUIT (quit current session).",
    async run(ctx) {
      // RFC 959: a transfer in progress completes, and its reply is sent, first; one
      // still waiting for its data connection has nothing to complete, and is given up.
      if (ctx.transfer && !ctx.transfer.dtp) await ctx.abortTransfer();
      await ctx.transfer?.done;
      const { authenticated, username } = ctx.session;
      const text = authenticated ? await ctx.login.authorizer.getMsgQuit(username) : "Goodbye.";
      await ctx.reply(221, text);
      await ctx.login.logout();
      ctx.close();
    },
  },
  ACCT: {
    auth: false,
    arg: "optional",
    help: "Syntax: ACCT <SP> account-information (not implemented).",
    run() {
      throw new FTPError(502, "Command not implemented: accounts are not used.");
    },
  },
};
