/**
 * The worker that verifies SHA-512-crypt hashes off the event loop: it is sent a
 * {@linkcode Sha512CryptJob} and answers `{ id, ok }` (or `{ id, error }`). Loaded
 * only through `new Worker` by `PasswordVerifier`.
 *
 * @module
 */

import { type Sha512CryptAnswer, type Sha512CryptJob, verifySha512Crypt } from "./sha512_crypt.ts";

/** What this module sees of its worker scope. */
interface WorkerScope {
  onmessage: ((event: MessageEvent<Sha512CryptJob>) => void) | null;
  postMessage(message: Sha512CryptAnswer): void;
}

const scope = globalThis as unknown as WorkerScope;
scope.onmessage = (event) => {
  const job = event.data;
  try {
    scope.postMessage({ id: job.id, ok: verifySha512Crypt(job) });
  } catch (error) {
    scope.postMessage({
      id: job.id,
      error: error instanceof Error ? error.message : String(error),
    });
  }
};
