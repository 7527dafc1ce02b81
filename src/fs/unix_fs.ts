/**
 * {@linkcode UnixFilesystem}: the local disk as the user sees it, from `/`, the
 * session starting in the home (pyftplib's `UnixFilesystem`).
 *
 * @module
 */

import type { SessionInfo } from "../session_info.ts";
import { AbstractedFS } from "./abstracted_fs.ts";
import { ftpNorm } from "./virtual_path.ts";

/**
 * The whole local disk: virtual paths are real paths, and the session starts in
 * `home` rather than `/`. Nothing confines the user but the system's own
 * permissions, so it belongs with a process that runs as the user (what
 * `UnixAuthorizer` starts for each session); an `AbstractedFS` jails instead.
 */
export class UnixFilesystem extends AbstractedFS {
  /** The home, where the session starts. */
  readonly startDirectory: string;

  /** The disk from `/`, for a user whose home is the real directory `home`. */
  constructor(home: string, session?: SessionInfo) {
    super("/", session, { kernelJail: false });
    this.startDirectory = ftpNorm("/", home);
  }
}
