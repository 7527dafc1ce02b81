/**
 * {@linkcode protoCmds}: the default command table, every command tsftpd knows.
 *
 * @module
 */

import { accessCommands } from "./access.ts";
import { connectionCommands } from "./connection.ts";
import { featureCommands } from "./features.ts";
import { fileCommands } from "./files.ts";
import { infoCommands } from "./info.ts";
import { metadataCommands } from "./metadata.ts";
import { navigationCommands } from "./navigation.ts";
import { securityCommands } from "./security.ts";
import type { CommandSpec, CommandTable } from "./table.ts";
import { transferCommands } from "./transfer.ts";

/**
 * The default command table (pyftplib's `proto_cmds`). To add a command, copy it:
 * `new Map(protoCmds).set("SITE RMTREE", {...})`, and pass the copy as `commands`.
 */
export const protoCmds: CommandTable = new Map<string, CommandSpec>(Object.entries({
  ...accessCommands,
  ...navigationCommands,
  ...fileCommands,
  ...transferCommands,
  ...connectionCommands,
  ...infoCommands,
  ...featureCommands,
  ...securityCommands,
  ...metadataCommands,
}));
