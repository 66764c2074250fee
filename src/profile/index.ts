/**
 * Profiles: what a user has installed, as generations of symlinks (Nix's profiles and user environments).
 * layout.ts says how a profiles directory looks on disk; generations.ts makes, reads and switches generations;
 * environment.ts plans a generation's symlinks; lock.ts keeps one writer per profile; install.ts adds and
 * removes packages; store.ts wires it all to the local store.
 */
export * from "./layout";
export * from "./generations";
export * from "./environment";
export * from "./lock";
export * from "./install";
export * from "./store";
