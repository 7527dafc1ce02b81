/**
 * Setting up the data connection and its form: PASV, EPSV, PORT, EPRT (RFC 959 and
 * RFC 2428), TYPE, MODE, STRU.
 *
 * @module
 */

import { NoFreePassivePort } from "../data/channel.ts";
import { FTPError } from "../errors.ts";
import {
  formatHostPort,
  isIPv4,
  isIPv6,
  parseExtendedAddress,
  parseHostPort,
  sameAddress,
} from "../net.ts";
import type { CommandContext, CommandSpec } from "./table.ts";

/** The RFC 2428 protocol number of the control connection's family. */
function familyOf(ctx: CommandContext): "1" | "2" {
  return isIPv6(ctx.session.localIp) ? "2" : "1";
}

/** Opens a passive listener and resolves to its port; 425 when the range is exhausted. */
async function openPassive(ctx: CommandContext): Promise<number> {
  try {
    return await ctx.data.openPassive(ctx.session.localIp, ctx.config.passivePorts);
  } catch (error) {
    if (!(error instanceof NoFreePassivePort)) throw error;
    ctx.log("warning", `passive connection refused: ${error.message}.`);
    throw new FTPError(425, "Can't open passive connection: every passive port is in use.");
  }
}

/** Checks an active-mode target against bounce protection, then prepares it. */
async function prepareActive(ctx: CommandContext, ip: string, port: number): Promise<void> {
  const { config, command } = ctx;
  if (!config.permitForeignAddresses && !sameAddress(ip, ctx.session.remoteIp)) {
    ctx.log("warning", `${command.name} refused: foreign address ${ip}:${port}.`);
    throw new FTPError(501, `Rejected data connection to foreign address ${ip}:${port}.`);
  }
  if (!config.permitPrivilegedPorts && port < 1024) {
    ctx.log("warning", `${command.name} refused: privileged port ${port}.`);
    throw new FTPError(501, `${command.name} against the privileged port "${port}" refused.`);
  }
  ctx.data.setActive(ip, port);
  await ctx.reply(200, `${command.name} command successful.`);
}

/** The data-connection commands. */
export const connectionCommands: Record<string, CommandSpec> = {
  PASV: {
    auth: true,
    tls: "data",
    arg: "none",
    refusedAfterEpsvAll: true,
    help: "Syntax: PASV (open passive data connection).",
    async run(ctx) {
      const { config } = ctx;
      const { localIp } = ctx.session;
      if (!isIPv4(localIp)) throw new FTPError(425, "PASV can't be used over IPv6; use EPSV.");
      const port = await openPassive(ctx);
      const announced = config.masqueradeAddressMap[localIp] ?? config.masqueradeAddress ?? localIp;
      await ctx.reply(227, `Entering passive mode (${formatHostPort(announced, port)}).`);
    },
  },
  EPSV: {
    auth: true,
    tls: "data",
    arg: "optional",
    feat: "EPSV",
    help: 'Syntax: EPSV [<SP> proto/"ALL"] (open extended passive data connection).',
    async run(ctx) {
      const { arg } = ctx.command;
      const family = familyOf(ctx);
      if (arg.toUpperCase() === "ALL") {
        ctx.state.epsvAll = true;
        return ctx.reply(200, "EPSV ALL command successful.");
      }
      if (arg && arg !== family) {
        if (!/^\d+$/.test(arg)) throw new FTPError(501, "Invalid EPSV argument.");
        throw new FTPError(522, `Network protocol not supported, use (${family}).`);
      }
      const port = await openPassive(ctx);
      await ctx.reply(229, `Entering extended passive mode (|||${port}|).`);
    },
  },
  PORT: {
    auth: true,
    tls: "data",
    arg: "required",
    refusedAfterEpsvAll: true,
    help: "Syntax: PORT <sp> h,h,h,h,p,p (open active data connection).",
    run(ctx) {
      const target = parseHostPort(ctx.command.arg);
      if (!target) throw new FTPError(501, "Invalid PORT format.");
      return prepareActive(ctx, target.ip, target.port);
    },
  },
  EPRT: {
    auth: true,
    tls: "data",
    arg: "required",
    refusedAfterEpsvAll: true,
    feat: "EPRT",
    help: "Syntax: EPRT <SP> |proto|ip|port| (extended active data connection).",
    run(ctx) {
      const target = parseExtendedAddress(ctx.command.arg);
      if (!target) throw new FTPError(501, "Invalid EPRT format.");
      // RFC 2428: a protocol the connection cannot serve is 522, naming the one it can.
      const family = familyOf(ctx);
      if (target.family !== family) {
        throw new FTPError(522, `Network protocol not supported, use (${family}).`);
      }
      return prepareActive(ctx, target.ip, target.port);
    },
  },
  TYPE: {
    auth: true,
    arg: "required",
    help: "Syntax: TYPE <SP> [A | I] (set transfer type).",
    run(ctx) {
      const type = ctx.command.arg.toUpperCase().replaceAll(" ", "");
      if (type === "A" || type === "AN") {
        ctx.state.transferType = "A";
        return ctx.reply(200, "Type set to: ASCII.");
      }
      if (type === "I" || type === "L8") {
        ctx.state.transferType = "I";
        return ctx.reply(200, "Type set to: Binary.");
      }
      throw new FTPError(504, `Unsupported type "${ctx.command.arg}".`);
    },
  },
  MODE: {
    auth: true,
    arg: "required",
    help: "Syntax: MODE <SP> [S | B | C] (set data transfer mode).",
    run(ctx) {
      const mode = ctx.command.arg.toUpperCase();
      if (mode === "S") return ctx.reply(200, "Transfer mode set to: S.");
      if (mode === "B" || mode === "C") throw new FTPError(504, "Unimplemented MODE type.");
      throw new FTPError(501, "Unrecognized MODE type.");
    },
  },
  STRU: {
    auth: true,
    arg: "required",
    help: "Syntax: STRU <SP> [F | R | P] (set file structure).",
    run(ctx) {
      const structure = ctx.command.arg.toUpperCase();
      if (structure === "F") return ctx.reply(200, "File transfer structure set to: F.");
      if (structure === "P" || structure === "R") {
        throw new FTPError(504, "Unimplemented STRU type.");
      }
      throw new FTPError(501, "Unrecognized STRU type.");
    },
  },
};
