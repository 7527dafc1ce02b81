/**
 * {@linkcode onHangup}: the command line's one SIGHUP listener, which runs what
 * each feature asks of a hangup (re-open the log file, re-read the users file).
 *
 * @module
 */

import { type UsersFileAuthorizer, UsersFileError } from "../auth/users_file.ts";
import type { Logger } from "../log.ts";
import { describeUsers } from "./authorizer.ts";

/** One thing a hangup does. */
export type HangupAction = () => void | Promise<void>;

/**
 * Runs `actions` in their order on each SIGHUP, until disposed; a hangup that
 * comes while they run waits for them to finish. What an action throws is logged
 * and the next one runs. With no actions, or on Windows (no SIGHUP), nothing
 * listens, so a hangup keeps its default effect.
 */
export function onHangup(actions: readonly HangupAction[], logger: Logger): Disposable {
  if (actions.length === 0 || Deno.build.os === "windows") return { [Symbol.dispose]() {} };
  let running = Promise.resolve();
  const hangup = () => {
    running = running.then(async () => {
      for (const action of actions) {
        try {
          await action();
        } catch (error) {
          logger.error(`SIGHUP: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    });
  };
  Deno.addSignalListener("SIGHUP", hangup);
  return { [Symbol.dispose]: () => Deno.removeSignalListener("SIGHUP", hangup) };
}

/**
 * What a hangup does to the users file: re-read it. New logins see the change,
 * running sessions keep their account; a broken file keeps the accounts in place.
 */
export function reloadUsers(authorizer: UsersFileAuthorizer, logger: Logger): HangupAction {
  return async () => {
    try {
      logger.info(`users file reloaded: ${describeUsers(await authorizer.reload())}`);
    } catch (error) {
      const reason = error instanceof UsersFileError ? error.message : String(error);
      logger.error(
        `users file not reloaded, keeping the ${authorizer.summary.users} accounts read ` +
          `before: ${reason}`,
      );
    }
  };
}
