/**
 * {@linkcode LoggedInUsers}: how many sessions each user has logged in on this
 * server, and the rate budgets those sessions share.
 *
 * @module
 */

import { SharedRate } from "../data/shared_rate.ts";
import type { UserSession } from "./authorizer.ts";

/** A user's logged-in sessions: how many, and the rate budgets they share. */
interface LoggedIn {
  count: number;
  upload: SharedRate | null;
  download: SharedRate | null;
}

/** The rates an account sets, in bytes per second: 0 lifts the server's limit, absent keeps it. */
export interface AccountRates {
  /** The most bytes per second all the user's uploads receive together. */
  readonly uploadRate?: number;
  /** The most bytes per second all the user's downloads send together. */
  readonly downloadRate?: number;
}

/** What one session of a user is granted for its rates, and how it leaves. */
export interface JoinedSession {
  /** The grant's rate fields: the user's budgets, replacing the server's per-transfer limits. */
  readonly rates: Pick<UserSession, "readLimit" | "writeLimit" | "readRate" | "writeRate">;
  /** Ends the session's part (once; later calls do nothing). */
  leave(): void;
}

/**
 * The sessions each user has logged in, counted for a most-sessions limit, and
 * each user's upload and download rate as one {@linkcode SharedRate} for all its
 * sessions: a user cannot multiply its rate by opening more sessions.
 */
export class LoggedInUsers {
  readonly #users = new Map<string, LoggedIn>();

  /** How many sessions `username` has logged in right now. */
  sessions(username: string): number {
    return this.#users.get(username)?.count ?? 0;
  }

  /** Counts one more session of `username`, whose account has `account`'s rates. */
  join(username: string, account: AccountRates): JoinedSession {
    const user = this.#users.get(username) ?? { count: 0, upload: null, download: null };
    user.count++;
    user.upload = budget(user.upload, account.uploadRate);
    user.download = budget(user.download, account.downloadRate);
    this.#users.set(username, user);
    let left = false;
    return {
      rates: {
        ...(account.uploadRate !== undefined && { readLimit: 0 }),
        ...(account.downloadRate !== undefined && { writeLimit: 0 }),
        ...(user.upload && { readRate: user.upload }),
        ...(user.download && { writeRate: user.download }),
      },
      leave: () => {
        if (left) return;
        left = true;
        if (--user.count === 0) this.#users.delete(username);
      },
    };
  }
}

/** The budget for `rate`: `current` if it has that rate, a new one else; none for no limit. */
function budget(current: SharedRate | null, rate: number | undefined): SharedRate | null {
  if (rate === undefined || rate === 0) return null;
  return current?.bytesPerSecond === rate ? current : new SharedRate(rate);
}
