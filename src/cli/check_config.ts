/**
 * `tsftpd check-config FILE`: checks a users file as `--users FILE` would, without
 * starting a server.
 *
 * @module
 */

import { UsersFileAuthorizer, UsersFileError, type UsersFileSummary } from "../auth/users_file.ts";
import { CliError } from "./errors.ts";

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

/** Runs `tsftpd check-config ARGS`; resolves to the exit status. */
export async function checkConfigCommand(args: string[]): Promise<number> {
  if (args.length !== 1 || args[0].startsWith("-")) {
    throw new CliError("check-config takes one argument: the users file to check");
  }
  const warnings: string[] = [];
  using authorizer = await loadUsers(args[0], (message) => warnings.push(message));
  for (const warning of warnings) console.error(`tsftpd: warning: ${warning}`);
  console.log(`${describeUsers(authorizer.summary)}: OK`);
  return 0;
}
