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
