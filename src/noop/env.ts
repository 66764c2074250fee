/**
 * Which variables a client sends with `noop-build` (src/noop/client.ts, native/pkg-noop.c, which
 * spells the same rule out in C): everything the answer depends on (the store, the data and config
 * directories, oclif's switches, the system), and nothing else of the environment.
 */
export function isNoopEnvName(name: string): boolean {
  return name.startsWith("PKG_") || name.startsWith("XDG_") || name === "HOME" || name === "DEBUG" || name === "CLI_FLAGS_DEBUG";
}
