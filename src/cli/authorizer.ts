/**
 * The accounts the command line serves: a users file's (`--users`), or one
 * user's (`-u`/`-P`) or anonymous, sharing a directory.
 *
 * @module
 */

import type { Authorizer } from "../auth/authorizer.ts";
import { DummyAuthorizer } from "../auth/dummy.ts";
import { systemReason } from "../errors.ts";
import type { Logger } from "../log.ts";
import { UsersFileAuthorizer, UsersFileError, type UsersFileSummary } from "../auth/users_file.ts";
import { CliError } from "./errors.ts";
import type { CliConfig } from "./parse.ts";

/** The one-line account of a users file: `FILE: 3 users (anonymous among them), 2 overrides`. */
export function describeUsers(summary: UsersFileSummary): string {
  const { file, users, anonymous, overrides } = summary;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  return `${file}: ${plural(users, "user")}${anonymous ? " (anonymous among them)" : ""}, ` +
    plural(overrides, "override");
}

/** Loads the users file `path`; its problems become a {@linkcode CliError} (status 2, no hint). */
export async function loadUsers(
  path: string,
  warn?: (message: string) => void,
): Promise<UsersFileAuthorizer> {
  try {
    return await UsersFileAuthorizer.load(path, { warn });
  } catch (error) {
    if (error instanceof UsersFileError) throw new CliError(error.message, 2, false);
    throw error;
  }
}

function sharedDirectory(path: string): string {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (error) {
    const reason = systemReason(error);
    throw new CliError(`cannot share ${path}: ${reason}`, 1);
  }
  if (!info.isDirectory) throw new CliError(`cannot share ${path}: not a directory`, 1);
  return path;
}

/**
 * The accounts `config` asks for: those of the users file (`--users`), or one user
 * (`-u`/`-P`) or anonymous sharing the directory. Throws {@linkcode CliError}.
 */
export async function createAuthorizer(config: CliConfig, logger: Logger): Promise<Authorizer> {
  const warn = (message: string) => logger.warning(message);
  if (config.users !== null) {
    const authorizer = await loadUsers(config.users, warn);
    logger.info(`users: ${describeUsers(authorizer.summary)}`);
    return authorizer;
  }
  const directory = sharedDirectory(config.directory);
  const options = {
    perm: config.write ? "elradfmwMT" : "elr",
    ...(config.msgLogin !== null && { msgLogin: config.msgLogin }),
    ...(config.msgQuit !== null && { msgQuit: config.msgQuit }),
  };
  const authorizer = new DummyAuthorizer({ warn });
  if (config.username !== null) {
    authorizer.addUser(config.username, config.password ?? "", directory, options);
  } else {
    authorizer.addAnonymous(directory, options);
  }
  return authorizer;
}
