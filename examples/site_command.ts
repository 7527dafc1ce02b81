/**
 * A custom SITE command: the seed's FAQ "What about SITE commands?" (section 4.4.8), which adds
 * `SITE RMTREE` to a copy of `proto_cmds`. Here it is one entry of the command table: the
 * session checks the login, the argument, the jail and the `d` permission on the path before
 * `run` is called, and an `FTPError` thrown by `run` becomes the reply.
 *
 * ```sh
 * deno run -A examples/site_command.ts [directory]
 * curl -u user:12345 -Q "SITE RMTREE build" ftp://127.0.0.1:2121/
 * ```
 *
 * @module
 */

import { posix } from "node:path";
import {
  type CommandSpec,
  DummyAuthorizer,
  type FileSystem,
  FTPError,
  FTPServer,
  type FTPServerOptions,
  protoCmds,
} from "../mod.ts";

/** Removes the directory `path` and everything in it, through the session's filesystem. */
async function removeTree(fs: FileSystem, path: string): Promise<void> {
  for (const entry of await Array.fromAsync(fs.list(path))) {
    const child = posix.join(path, entry.name);
    if (entry.stat?.type === "dir") await removeTree(fs, child);
    else await fs.remove(child);
  }
  await fs.rmdir(path);
}

/** `SITE RMTREE path`: removes a directory tree, but never the user's home. */
export const siteRmtree: CommandSpec = {
  perm: "d",
  auth: true,
  arg: "required",
  path: "arg",
  help: "Syntax: SITE <SP> RMTREE <SP> path (remove directory tree).",
  async run(ctx) {
    const path = ctx.path!.ftp;
    if (path === "/") throw new FTPError(550, "Can't remove the home directory.");
    if ((await ctx.fs.lstat(path)).type !== "dir") throw new FTPError(550, "Not a directory.");
    await removeTree(ctx.fs, path);
    await ctx.reply(250, "Directory tree removed.");
  },
};

/** Any {@linkcode FTPServer} option but the authorizer and commands, and the directory to share. */
export type Options = Omit<FTPServerOptions, "authorizer" | "commands"> & { directory?: string };

/** A server on port 2121 for `user` (password `12345`) and anonymous that knows SITE RMTREE. */
export function createServer({ directory = Deno.cwd(), ...options }: Options = {}): FTPServer {
  const authorizer = new DummyAuthorizer();
  authorizer.addUser("user", "12345", directory, { perm: "elradfmwMT" });
  authorizer.addAnonymous(directory);
  const commands = new Map(protoCmds).set("SITE RMTREE", siteRmtree);
  return new FTPServer({ port: 2121, ...options, authorizer, commands });
}

if (import.meta.main) {
  await using server = createServer({ directory: Deno.args[0] });
  await server.serveForever();
}
