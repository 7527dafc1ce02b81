/**
 * Moving around: PWD, CWD, CDUP, SMNT (not implemented), and their X-variants.
 *
 * @module
 */

import { quote } from "../session.ts";
import type { FTPHandler, ResolvedPath } from "../session.ts";
import type { CommandSpec } from "./table.ts";

/** Changes directory; `code` is 250 for CWD and, as RFC 959 lists it, 200 for CDUP. */
async function changeDirectory(
  session: FTPHandler,
  path: ResolvedPath,
  code: number,
): Promise<void> {
  const fs = session.fs!;
  await fs.chdir(path.real);
  await session.reply(code, `"${quote(fs.cwd)}" is the current directory.`);
}

const PWD: CommandSpec = {
  auth: true,
  arg: "none",
  help: "Syntax: PWD (get current working directory).",
  run: (session) => session.reply(257, `"${quote(session.fs!.cwd)}" is the current directory.`),
};

const CWD: CommandSpec = {
  perm: "e",
  auth: true,
  arg: "required",
  path: true,
  help: "Syntax: CWD <SP> dir-name (change working directory).",
  run: (session, { path }) => changeDirectory(session, path!, 250),
};

const CDUP: CommandSpec = {
  perm: "e",
  auth: true,
  arg: "none",
  help: "Syntax: CDUP (go to parent directory).",
  async run(session) {
    const path = await session.resolvePath("..", "e");
    if (path) await changeDirectory(session, path, 200);
  },
};

/** The navigation commands. */
export const navigationCommands: Record<string, CommandSpec> = {
  PWD,
  CWD,
  CDUP,
  XPWD: { ...PWD, help: "Syntax: XPWD (obsolete; same as PWD)." },
  XCWD: { ...CWD, help: "Syntax: XCWD <SP> dir-name (obsolete; same as CWD)." },
  XCUP: { ...CDUP, help: "Syntax: XCUP (obsolete; same as CDUP)." },
  SMNT: {
    auth: true,
    arg: "optional",
    help: "Syntax: SMNT <SP> path-name (not implemented).",
    run: (session) =>
      session.reply(502, "Command not implemented: structure mount is not supported."),
  },
};
