/**
 * Setting up the data connection and its form: PASV, PORT, TYPE, MODE, STRU.
 *
 * @module
 */

import { NoFreePassivePort } from "../data/channel.ts";
import { formatHostPort, isIPv4, parseHostPort } from "../net.ts";
import type { CommandSpec } from "./table.ts";

/** The data-connection commands. */
export const connectionCommands: Record<string, CommandSpec> = {
  PASV: {
    auth: true,
    arg: "none",
    help: "Syntax: PASV (open passive data connection).",
    async run(session) {
      const { config, localIp } = session;
      if (!isIPv4(localIp)) return session.reply(425, "PASV can't be used over IPv6; use EPSV.");
      let port: number;
      try {
        port = await session.data.openPassive(localIp, config.passivePorts);
      } catch (error) {
        if (!(error instanceof NoFreePassivePort)) throw error;
        session.log("warning", "PASV refused: every port of the passive range is in use.");
        return session.reply(425, "Can't open passive connection: every passive port is in use.");
      }
      const announced = config.masqueradeAddressMap[localIp] ?? config.masqueradeAddress ?? localIp;
      await session.reply(227, `Entering passive mode (${formatHostPort(announced, port)}).`);
    },
  },
  PORT: {
    auth: true,
    arg: "required",
    help: "Syntax: PORT <sp> h,h,h,h,p,p (open active data connection).",
    async run(session, { arg }) {
      const target = parseHostPort(arg);
      if (!target) return session.reply(501, "Invalid PORT format.");
      const { config } = session;
      if (!config.permitForeignAddresses && target.ip !== session.remoteIp) {
        session.log("warning", `PORT refused: foreign address ${target.ip}:${target.port}.`);
        return session.reply(
          501,
          `Rejected data connection to foreign address ${target.ip}:${target.port}.`,
        );
      }
      if (!config.permitPrivilegedPorts && target.port < 1024) {
        session.log("warning", `PORT refused: privileged port ${target.port}.`);
        return session.reply(501, `PORT against the privileged port "${target.port}" refused.`);
      }
      session.data.setActive(target.ip, target.port);
      await session.reply(200, "PORT command successful.");
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
