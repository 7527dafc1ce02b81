/**
 * {@linkcode SessionInfo}: what commands and filesystems may read of a session.
 *
 * @module
 */

/** Who is connected, and how: what commands and filesystems may read of a session. */
export interface SessionInfo {
  /** The client's address (IPv4-mapped addresses in plain IPv4 form). */
  readonly remoteIp: string;
  /** The client's port. */
  readonly remotePort: number;
  /** The server address the client connected to. */
  readonly localIp: string;
  /** The server port the client connected to. */
  readonly localPort: number;
  /** The user name given by USER (logged in or not). */
  readonly username: string;
  /** Whether USER and PASS succeeded. */
  readonly authenticated: boolean;
  /** Whether the control connection is TLS (after AUTH, or implicit FTPS). */
  readonly tlsControl: boolean;
}
