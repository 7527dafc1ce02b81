/**
 * SIGHUP: the users file is read again.
 *
 * @module
 */

import { type UsersFileAuthorizer, UsersFileError } from "../auth/users_file.ts";
import type { Logger } from "../log.ts";
import { describeUsers } from "./authorizer.ts";

/**
 * Re-reads the users file on SIGHUP, until disposed: new logins see the change,
 * running sessions keep their account; a broken file keeps the accounts in place.
 */
export function reloadOnHangup(authorizer: UsersFileAuthorizer, logger: Logger): Disposable {
  if (Deno.build.os === "windows") return { [Symbol.dispose]() {} };
  let reloading = Promise.resolve();
  const reload = () => {
    reloading = reloading.then(async () => {
      try {
        logger.info(`users file reloaded: ${describeUsers(await authorizer.reload())}`);
      } catch (error) {
        const reason = error instanceof UsersFileError ? error.message : String(error);
        logger.error(
          `users file not reloaded, keeping the ${authorizer.summary.users} accounts read ` +
            `before: ${reason}`,
        );
      }
    });
  };
  Deno.addSignalListener("SIGHUP", reload);
  return { [Symbol.dispose]: () => Deno.removeSignalListener("SIGHUP", reload) };
}
