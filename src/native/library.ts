/**
 * {@linkcode linuxLibrary}: a system library opened through FFI, once, where it
 * can be. The only module that calls `Deno.dlopen`.
 *
 * @module
 */

/** The symbols of a library of interface `S`. */
export type Symbols<S extends Deno.ForeignLibraryInterface> = Deno.DynamicLibrary<S>["symbols"];

/**
 * A function that gives the `symbols` of the library `path`, opened on its first
 * call and kept for the process; `null` where it cannot be had: another system
 * than Linux, FFI not granted, or no such library here (the callers fall back).
 */
export function linuxLibrary<S extends Deno.ForeignLibraryInterface>(
  path: string,
  symbols: S,
): () => Symbols<S> | null {
  let library: Symbols<S> | null | undefined;
  return () => {
    if (library !== undefined) return library;
    library = null;
    if (Deno.build.os !== "linux") return library;
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return library;
    try {
      library = Deno.dlopen(path, symbols).symbols;
    } catch {
      // Not on this system (a musl system names its C library otherwise; no libcrypt).
    }
    return library;
  };
}
