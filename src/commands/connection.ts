/**
 * Setting up the data connection and its form: PASV, EPSV, PORT, EPRT (RFC 959 and
 * RFC 2428), TYPE, MODE, STRU.
 *
 * @module
 */

import { NoFreePassivePort } from "../data/channel.ts";
import {
  formatHostPort,
  isIPv4,
  isIPv6,
  parseExtendedAddress,
  parseHostPort,
  sameAddress,
} from "../net.ts";
import type { FTPHandler } from "../session.ts";
import type { CommandSpec } from "./table.ts";

/** The RFC 2428 protocol number of the control connection's family. */
function familyOf(session: FTPHandler): "1" | "2" {
  return isIPv6(session.localIp) ? "2" : "1";
}

/** Replies 501 and returns true once EPSV ALL has locked the session to EPSV. */
async function lockedToEpsv(session: FTPHandler, verb: string): Promise<boolean> {
  if (!session.epsvAll) return false;
  await session.reply(501, `${verb} not allowed after EPSV ALL.`);
  return true;
}

/** Opens a passive listener; replies 425 and returns null when the range is exhausted. */
async function openPassive(session: FTPHandler): Promise<number | null> {
  try {
    return await session.data.openPassive(session.localIp, session.config.passivePorts);
  } catch (error) {
    if (!(error instanceof NoFreePassivePort)) throw error;
    session.log(
      "warning",
      "passive connection refused: every port of the passive range is in use.",
    );
    await session.reply(425, "Can't open passive connection: every passive port is in use.");
    return null;
  }
}

/** Checks an active-mode target against bounce protection, then prepares it. */
async function prepareActive(
  session: FTPHandler,
  verb: string,
  ip: string,
  port: number,
): Promise<void> {
  const { config } = session;
  if (!config.permitForeignAddresses && !sameAddress(ip, session.remoteIp)) {
    session.log("warning", `${verb} refused: foreign address ${ip}:${port}.`);
    return session.reply(501, `Rejected data connection to foreign address ${ip}:${port}.`);
  }
  if (!config.permitPrivilegedPorts && port < 1024) {
    session.log("warning", `${verb} refused: privileged port ${port}.`);
    return session.reply(501, `${verb} against the privileged port "${port}" refused.`);
  }
  session.data.setActive(ip, port);
  await session.reply(200, `${verb} command successful.`);
}

/** The data-connection commands. */
export const connectionCommands: Record<string, CommandSpec> = {
  PASV: {
    auth: true,
    tls: "data",
    arg: "none",
    help: "Syntax: PASV (open passive data connection).",
    async run(session) {
      if (await lockedToEpsv(session, "PASV")) return;
      const { config, localIp } = session;
      if (!isIPv4(localIp)) return session.reply(425, "PASV can't be used over IPv6; use EPSV.");
      const port = await openPassive(session);
      if (port === null) return;
      const announced = config.masqueradeAddressMap[localIp] ?? config.masqueradeAddress ?? localIp;
      await session.reply(227, `Entering passive mode (${formatHostPort(announced, port)}).`);
    },
  },
  EPSV: {
    auth: true,
    tls: "data",
    arg: "optional",
    feat: "EPSV",
    help: 'Syntax: EPSV [<SP> proto/"ALL"] (open extended passive data connection).',
    async run(session, { arg }) {
      const family = familyOf(session);
      if (arg.toUpperCase() === "ALL") {
        session.epsvAll = true;
        return session.reply(200, "EPSV ALL command successful.");
      }
      if (arg && arg !== family) {
        if (!/^\d+$/.test(arg)) return session.reply(501, "Invalid EPSV argument.");
        return session.reply(522, `Network protocol not supported, use (${family}).`);
      }
      const port = await openPassive(session);
      if (port === null) return;
      await session.reply(229, `Entering extended passive mode (|||${port}|).`);
    },
  },
  PORT: {
    auth: true,
    tls: "data",
    arg: "required",
    help: "Syntax: PORT <sp> h,h,h,h,p,p (open active data connection).",
    async run(session, { arg }) {
      if (await lockedToEpsv(session, "PORT")) return;
      const target = parseHostPort(arg);
      if (!target) return session.reply(501, "Invalid PORT format.");
      await prepareActive(session, "PORT", target.ip, target.port);
    },
  },
  EPRT: {
    auth: true,
    tls: "data",
    arg: "required",
    feat: "EPRT",
    help: "Syntax: EPRT <SP> |proto|ip|port| (extended active data connection).",
    async run(session, { arg }) {
      if (await lockedToEpsv(session, "EPRT")) return;
      const target = parseExtendedAddress(arg);
      if (!target) return session.reply(501, "Invalid EPRT format.");
      if (target.family !== "1" && target.family !== "2") {
        return session.reply(522, "Network protocol not supported, use (1,2).");
      }
      await prepareActive(session, "EPRT", target.ip, target.port);
    },
  },
  TYPE: {
    auth: true,
    arg: "required",
    help: "Syntax: TYPE <SP> [A | I] (set transfer type).",
    async run(session, { arg }) {
      const type = arg.toUpperCase().replaceAll(" ", "");
      if (type === "A" || type === "AN") {
        session.transferType = "A";
        return session.reply(200, "Type set to: ASCII.");
      }
      if (type === "I" || type === "L8") {
        session.transferType = "I";
        return session.reply(200, "Type set to: Binary.");
      }
      await session.reply(504, `Unsupported type "${arg}".`);
    },
  },
  MODE: {
    auth: true,
    arg: "required",
    help: "Syntax: MODE <SP> [S | B | C] (set data transfer mode).",
    async run(session, { arg }) {
      const mode = arg.toUpperCase();
      if (mode === "S") return session.reply(200, "Transfer mode set to: S.");
      if (mode === "B" || mode === "C") return session.reply(504, "Unimplemented MODE type.");
      await session.reply(501, "Unrecognized MODE type.");
    },
  },
  STRU: {
    auth: true,
    arg: "required",
    help: "Syntax: STRU <SP> [F | R | P] (set file structure).",
    async run(session, { arg }) {
      const structure = arg.toUpperCase();
      if (structure === "F") return session.reply(200, "File transfer structure set to: F.");
      if (structure === "P" || structure === "R") {
        return session.reply(504, "Unimplemented STRU type.");
      }
      await session.reply(501, "Unrecognized STRU type.");
    },
  },
};
