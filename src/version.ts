/**
 * The version of tsftpd, from `deno.json`'s `version`: the one place it is written.
 *
 * @module
 */

import denoJson from "../deno.json" with { type: "json" };

/** The version of tsftpd. */
export const VERSION: string = denoJson.version;
