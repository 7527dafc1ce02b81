/**
 * Whether this machine can run the IPv6 tests.
 *
 * @module
 */

/** Whether this machine has an IPv6 loopback (`::1`) to listen on. */
export const hasIPv6Loopback: boolean = (() => {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
})();
