/**
 * FTPS (RFC 4217): AUTH, PBSZ, PROT, and CCC (refused).
 *
 * @module
 */

import { FTPError } from "../errors.ts";
import { TlsHandshakeError } from "../tls.ts";
import type { CommandContext, CommandSpec } from "./table.ts";

/** A FEAT line shown only when the server has a certificate. */
function whenTls(line: string): (ctx: CommandContext) => string | null {
  return (ctx) => ctx.config.tls ? line : null;
}

/** Refuses PBSZ and PROT before AUTH: they belong to a TLS session (RFC 4217). */
function requireSecureControl(ctx: CommandContext): void {
  if (!ctx.session.tlsControl) {
    throw new FTPError(503, `${ctx.command.name} not allowed on an insecure control connection.`);
  }
}

/** The security commands. */
export const securityCommands: Record<string, CommandSpec> = {
  AUTH: {
    auth: false,
    arg: "required",
    feat: whenTls("AUTH TLS"),
    help: "Syntax: AUTH <SP> TLS|SSL (set up secure control channel).",
    async run(ctx) {
      if (!ctx.config.tls) {
        throw new FTPError(502, "AUTH not available: no certificate is configured.");
      }
      if (ctx.session.tlsControl) throw new FTPError(503, "Already using TLS.");
      const { arg } = ctx.command;
      const mechanism = arg.toUpperCase();
      if (!["TLS", "TLS-C", "SSL", "TLS-P"].includes(mechanism)) {
        throw new FTPError(504, `Unrecognized AUTH type "${arg}".`);
      }
      await ctx.reply(234, `AUTH ${mechanism} successful.`);
      try {
        await ctx.secureControl();
      } catch (error) {
        if (!(error instanceof TlsHandshakeError)) throw error;
        ctx.log("warning", error.message);
        return ctx.close();
      }
      // The historic AUTH SSL (and TLS-P) also protected data connections.
      if (mechanism === "SSL" || mechanism === "TLS-P") ctx.state.protP = true;
    },
  },
  PBSZ: {
    auth: false,
    arg: "required",
    feat: whenTls("PBSZ"),
    help: "Syntax: PBSZ <SP> 0 (negotiate TLS buffer).",
    async run(ctx) {
      requireSecureControl(ctx);
      // RFC 4217: the buffer size is meaningless over TLS, and always 0.
      ctx.state.pbszSent = true;
      await ctx.reply(200, "PBSZ=0 successful.");
    },
  },
  PROT: {
    auth: false,
    arg: "required",
    feat: whenTls("PROT"),
    help: "Syntax: PROT <SP> [C|P] (set up un/secure data channel).",
    run(ctx) {
      requireSecureControl(ctx);
      if (!ctx.state.pbszSent) {
        throw new FTPError(503, "You must issue the PBSZ command prior to PROT.");
      }
      const { arg } = ctx.command;
      const level = arg.toUpperCase();
      if (level === "C" || level === "P") {
        ctx.state.protP = level === "P";
        return ctx.reply(200, `Protection set to ${level === "P" ? "Private" : "Clear"}.`);
      }
      if (level === "S" || level === "E") {
        throw new FTPError(536, `PROT ${level} unsupported (use C or P).`);
      }
      throw new FTPError(504, `Unrecognized PROT type "${arg}".`);
    },
  },
  CCC: {
    auth: false,
    arg: "none",
    help: "Syntax: CCC (clear command channel; refused).",
    run() {
      throw new FTPError(534, "CCC refused: the control connection stays encrypted.");
    },
  },
};
