/**
 * Feature negotiation (RFC 2389): FEAT and OPTS.
 *
 * @module
 */

import { FTPError } from "../errors.ts";
import { selectFacts } from "../fs/facts.ts";
import type { CommandSpec } from "./table.ts";

/** Features of the server as a whole rather than of one command: TVFS, its path syntax (RFC 3659). */
const SERVER_FEATURES = ["TVFS"];

/** The feature-negotiation commands. */
export const featureCommands: Record<string, CommandSpec> = {
  FEAT: {
    auth: false,
    arg: "none",
    help: "Syntax: FEAT (list all new features supported).",
    async run(ctx) {
      const lines = new Set(SERVER_FEATURES);
      for (const spec of ctx.commands.values()) {
        const line = typeof spec.feat === "function" ? spec.feat(ctx) : spec.feat;
        if (line) lines.add(line);
      }
      // Each feature line starts with one space (RFC 2389), which the reply's
      // multi-line format gives every middle line.
      await ctx.reply(
        211,
        ["Features supported:", ...[...lines].sort(), "End FEAT."].join("\n"),
      );
    },
  },
  OPTS: {
    auth: false,
    arg: "required",
    feat: "UTF8",
    help: "Syntax: OPTS <SP> command [<SP> options] (set option for command).",
    run(ctx) {
      const { arg } = ctx.command;
      const space = arg.indexOf(" ");
      const command = (space < 0 ? arg : arg.slice(0, space)).toUpperCase();
      const value = space < 0 ? "" : arg.slice(space + 1).trim();
      if (command === "UTF8" || command === "UTF-8") {
        // RFC 2640: path names are always UTF-8 here; the option only confirms it.
        if (value === "" || value.toUpperCase() === "ON") {
          return ctx.reply(200, "Always in UTF8 mode.");
        }
        throw new FTPError(504, "UTF8 can't be turned off.");
      }
      if (command === "MLST") {
        ctx.state.mlstFacts = selectFacts(value);
        return ctx.reply(
          200,
          `MLST OPTS ${ctx.state.mlstFacts.map((fact) => fact + ";").join("")}`,
        );
      }
      throw new FTPError(501, `Invalid OPTS argument: "${command}" has no options.`);
    },
  },
};
