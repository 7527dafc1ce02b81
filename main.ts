/**
 * The `tsftpd` command: `deno task start` runs it, `deno task compile` builds it.
 *
 * @module
 */

import { main } from "./src/cli.ts";

if (import.meta.main) Deno.exit(await main(Deno.args));
