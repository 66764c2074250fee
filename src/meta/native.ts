/**
 * Compiles the native meta-rustc shim (examples/toolchains/meta-rustc/meta-rustc.rs, std only) with
 * this machine's rustc, as the package's build.sh does: for tests and benchmarks, which run the shim
 * without building the package through a store.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { PkgError } from "../errors";

export const ERR_META_SHIM_BUILD = "ERR_META_SHIM_BUILD";

/** The repository root, from src/meta (ts-node) or dist/src/meta (compiled). */
const REPO_ROOT =
  [path.join(__dirname, "..", ".."), path.join(__dirname, "..", "..", "..")].find((dir) =>
    existsSync(path.join(dir, "examples", "toolchains", "meta-rustc", "meta-rustc.rs")),
  ) ?? path.join(__dirname, "..", "..");

/** The shim's one source: it finds its tool from its own name (`meta-rustc`, `meta-cc`). */
const SHIM_SOURCE = path.join(REPO_ROOT, "examples", "toolchains", "meta-rustc", "meta-rustc.rs");

/** Sources of each tool's shim (one program under two names). */
export const SHIM_SOURCES: Record<string, string> = {
  rustc: SHIM_SOURCE,
  cc: SHIM_SOURCE,
};

/** rustc of this machine: rustup's proxy directory first (PATH may not have it), else PATH. */
export function hostRustc(): string {
  const home = process.env.HOME ?? "/root";
  const proxy = path.join(process.env.CARGO_HOME ?? path.join(home, ".cargo"), "bin", "rustc");
  return existsSync(proxy) ? proxy : "rustc";
}

/** Compile `meta-<tool>` to `out` (optimised: it runs once per tool invocation); `out`'s name must be `meta-<tool>`. */
export function buildNativeShim(out: string, tool = "rustc", rustc = hostRustc()): string {
  const source = SHIM_SOURCES[tool];
  if (source === undefined) throw new PkgError(ERR_META_SHIM_BUILD, `no native shim for ${tool}`, { hint: `known: ${Object.keys(SHIM_SOURCES).join(", ")}` });
  mkdirSync(path.dirname(out), { recursive: true });
  try {
    execFileSync(rustc, ["-O", "--edition", "2021", source, "-o", out], { stdio: ["ignore", "ignore", "pipe"] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString("utf8") ?? "";
    throw new PkgError(ERR_META_SHIM_BUILD, `${rustc} could not compile ${source}: ${(stderr || (error as Error).message).trim().split("\n").slice(0, 6).join("\n")}`, {
      hint: "is rustc installed (and a linker, cc)?",
    });
  }
  return out;
}
