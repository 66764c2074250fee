/**
 * What the `invoke` handler may touch for a request that came through a build's own socket (src/daemon/daemon.ts):
 * the daemon runs outside the sandbox, often as root, so every path a build names (argv, cwd, --out-dir, dep-info,
 * externs, sources) is hostile. Such a request may make the daemon
 * - run (for `-vV`) only programs of the system (`/usr`…) or of the trusted host paths — never one the build
 *   made or a store path a package built;
 * - read only the build's own directories, the store's paths and those programs' trees;
 * - write (a hit's outputs) only into the build's own directories — and the daemon never does for a build:
 *   the shim, inside the sandbox, copies a hit's files itself.
 * Paths are compared after resolving symlinks (a link in the build directory to /etc/shadow is outside). A plan
 * that names anything outside is not cached (`pass`): the shim runs the tool itself, in the sandbox.
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import type { ToolPlan } from "./types";

/** Absolute roots, symlinks resolved. */
export interface InvokeConfinement {
  /** What a request may make the daemon execute. */
  exec: string[];
  /** What it may make the daemon read (exec's roots are readable too). */
  read: string[];
  /** What it may make the daemon write. */
  write: string[];
}

function within(child: string, parent: string): boolean {
  return child === parent || child.startsWith(parent.endsWith("/") ? parent : `${parent}/`);
}

/** `p` with every symlink resolved; for a path that does not exist yet, its nearest existing ancestor's. */
export async function resolveReal(p: string): Promise<string> {
  const absolute = path.resolve(p);
  let rest = "";
  let current = absolute;
  for (;;) {
    try {
      const real = await fs.realpath(current);
      return rest === "" ? real : path.join(real, rest);
    } catch {
      const parent = path.dirname(current);
      if (parent === current) return absolute;
      rest = rest === "" ? path.basename(current) : path.join(path.basename(current), rest);
      current = parent;
    }
  }
}

export async function isConfined(p: string, roots: readonly string[]): Promise<boolean> {
  const real = await resolveReal(p);
  return roots.some((root) => within(real, root));
}

/** Why `plan` reaches outside what `confine` allows, or null when it does not. */
export async function planOutside(plan: ToolPlan, confine: InvokeConfinement): Promise<string | null> {
  const readable = [...confine.read, ...confine.exec];
  if (!(await isConfined(plan.program, confine.exec))) return `the tool ${plan.program} is not a program of the system or a trusted host path`;
  for (const dir of [plan.outDir, plan.depInfo]) {
    if (!(await isConfined(dir, confine.write))) return `${dir} is outside the build's directories`;
  }
  // cwd: a dependency's crate is compiled in its (read-only) store path
  for (const file of [plan.cwd, ...plan.keyFiles, ...plan.externs.map(([, f]) => f)]) {
    if (!(await isConfined(file, readable))) return `${file} is outside what the build may read`;
  }
  return null;
}
