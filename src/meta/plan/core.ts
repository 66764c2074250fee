/**
 * The generic half of the daemon's planner for meta packages (`meta-rustc`, later `meta-cc`): what a
 * tool module is, and the root normalisation every tool shares. The planner runs in the store daemon
 * (index.ts): the native shim (examples/toolchains/meta-rustc/meta-rustc.rs) only sends argv, cwd and
 * environment, so everything that needs parsing or hashing happens in a warm process.
 */
import fs from "node:fs";
import path from "node:path";
import type { RootToken, ToolPlan } from "../types";

/** What a tool module says about one invocation. */
export type PlanOutcome = { kind: "plan"; plan: ToolPlan } | { kind: "pass"; reason: string };

/** The tool-specific half: argument parsing and normalisation. */
export interface ToolModule {
  /** "rustc" */
  name: string;
  plan(program: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): PlanOutcome;
}

/**
 * An invocation's roots from `[directory or undefined, token]` candidates, in order of preference:
 * absolute ones only, never `/`, each directory once (the first token wins), longest first (so that
 * normalising replaces the deepest root of a path).
 */
export function rootsFrom(candidates: ReadonlyArray<[string | undefined, RootToken]>): Array<[string, RootToken]> {
  const roots: Array<[string, RootToken]> = [];
  for (const [root, token] of candidates) {
    if (!root || !path.isAbsolute(root)) continue;
    const clean = root.length > 1 ? root.replace(/\/+$/, "") : root;
    if (clean === "/" || roots.some(([r]) => r === clean)) continue;
    roots.push([clean, token]);
  }
  return roots.sort((a, b) => b[0].length - a[0].length);
}

/** Replace every root token by the invocation's absolute root. */
export function denormalise(text: string, roots: ReadonlyArray<[string, RootToken]>): string {
  let out = text;
  for (const [root, token] of roots) out = out.split(token).join(root);
  return out;
}

/** Replace every absolute root by its token (roots are sorted longest first). */
export function normalise(text: string, roots: ReadonlyArray<[string, RootToken]>): string {
  let out = text;
  for (const [root, token] of roots) out = out.split(root).join(token);
  return out;
}

/** The absolute path of `program`, looked up in PATH when it has no slash (as execvp would). */
export function resolveProgram(program: string, env: NodeJS.ProcessEnv, cwd: string): string {
  if (program.includes("/")) return path.resolve(cwd, program);
  for (const dir of (env.PATH ?? "").split(":")) {
    if (dir === "") continue;
    const candidate = path.resolve(cwd, dir, program);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return program;
}
