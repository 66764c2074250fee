/** Where the embedded content store lives when the caller does not say. */
import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";

/**
 * `$XDG_DATA_HOME/chainpkg/ipfs`, or `~/.local/share/chainpkg/ipfs` when XDG_DATA_HOME is unset,
 * empty or relative (the XDG Base Directory spec says relative values are to be ignored).
 */
export function defaultContentDir(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  const dataHome = env.XDG_DATA_HOME;
  const base = dataHome !== undefined && isAbsolute(dataHome) ? dataHome : join(home, ".local", "share");
  return join(base, "chainpkg", "ipfs");
}
