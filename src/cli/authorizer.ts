/**
 * The accounts the command line serves: the machine's (`--system-users`), a
 * users file's (`--users`), or one user's (`-u`/`-P`) or anonymous, sharing a
 * directory.
 *
 * @module
 */

import { type Authorizer, AuthorizerError } from "../auth/authorizer.ts";
import { DummyAuthorizer } from "../auth/dummy.ts";
import { UnixAuthorizer } from "../auth/unix.ts";
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

/** The machine's accounts (`--system-users`); a {@linkcode CliError} when they cannot be served. */
function systemUsers(
  config: CliConfig,
  warn: (message: string) => void,
  logger: Logger,
): UnixAuthorizer {
  let authorizer: UnixAuthorizer;
  try {
    authorizer = new UnixAuthorizer({
      warn,
      ...(config.msgLogin !== null && { msgLogin: config.msgLogin }),
      ...(config.msgQuit !== null && { msgQuit: config.msgQuit }),
    });
  } catch (error) {
    if (!(error instanceof AuthorizerError)) throw error;
    throw new CliError(`--system-users: ${error.message}`, 1);
  }
  logger.info(
    "users: the system's accounts, each session's files served by a process running as " +
      "its user (downloads streamed, no sendfile)",
  );
  return authorizer;
}

/**
 * The accounts `config` asks for: the system's (`--system-users`), those of the
 * users file (`--users`), or one user (`-u`/`-P`) or anonymous sharing the
 * directory. Throws {@linkcode CliError}.
 */
export async function createAuthorizer(config: CliConfig, logger: Logger): Promise<Authorizer> {
  const warn = (message: string) => logger.warning(message);
  if (config.systemUsers) return systemUsers(config, warn, logger);
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
