/**
 * FTPS (RFC 4217): AUTH, PBSZ, PROT, and CCC (refused).
 *
 * @module
 */

import { TlsHandshakeError } from "../tls.ts";
import type { FTPHandler } from "../session.ts";
import type { CommandSpec } from "./table.ts";

/** A FEAT line shown only when the server has a certificate. */
function whenTls(line: string): (session: FTPHandler) => string | null {
  return (session) => session.config.tls ? line : null;
}

/** The security commands. */
export const securityCommands: Record<string, CommandSpec> = {
  AUTH: {
    auth: false,
    arg: "required",
    feat: whenTls("AUTH TLS"),
    help: "Syntax: AUTH <SP> TLS|SSL (set up secure control channel).",
    async run(session, { arg }) {
      if (!session.config.tls) {
        return session.reply(502, "AUTH not available: no certificate is configured.");
      }
      if (session.tlsControl) return session.reply(503, "Already using TLS.");
      const mechanism = arg.toUpperCase();
      if (!["TLS", "TLS-C", "SSL", "TLS-P"].includes(mechanism)) {
        return session.reply(504, `Unrecognized AUTH type "${arg}".`);
      }
      await session.reply(234, `AUTH ${mechanism} successful.`);
      try {
        await session.secureControl();
      } catch (error) {
        if (!(error instanceof TlsHandshakeError)) throw error;
        session.log("warning", error.message);
        return session.close();
      }
      // The historic AUTH SSL (and TLS-P) also protected data connections.
      if (mechanism === "SSL" || mechanism === "TLS-P") session.protP = true;
    },
  },
  PBSZ: {
    auth: false,
    arg: "required",
    feat: whenTls("PBSZ"),
    help: "Syntax: PBSZ <SP> 0 (negotiate TLS buffer).",
    async run(session) {
      if (!session.tlsControl) {
        return session.reply(503, "PBSZ not allowed on an insecure control connection.");
      }
      // RFC 4217: the buffer size is meaningless over TLS, and always 0.
      session.pbszSent = true;
      await session.reply(200, "PBSZ=0 successful.");
    },
  },
  PROT: {
    auth: false,
    arg: "required",
    feat: whenTls("PROT"),
    help: "Syntax: PROT <SP> [C|P] (set up un/secure data channel).",
    async run(session, { arg }) {
      if (!session.tlsControl) {
        return session.reply(503, "PROT not allowed on an insecure control connection.");
      }
      if (!session.pbszSent) {
        return session.reply(503, "You must issue the PBSZ command prior to PROT.");
      }
      const level = arg.toUpperCase();
      if (level === "C") {
        session.protP = false;
        return session.reply(200, "Protection set to Clear.");
      }
      if (level === "P") {
        session.protP = true;
        return session.reply(200, "Protection set to Private.");
      }
      if (level === "S" || level === "E") {
        return session.reply(536, `PROT ${level} unsupported (use C or P).`);
      }
      await session.reply(504, `Unrecognized PROT type "${arg}".`);
    },
  },
  CCC: {
    auth: false,
    arg: "none",
    help: "Syntax: CCC (clear command channel; refused).",
    run: (session) => session.reply(534, "CCC refused: the control connection stays encrypted."),
  },
};
