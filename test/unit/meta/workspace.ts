/**
 * A real cargo workspace for the meta-rustc tests: a binary (`app`) over three path dependencies — a
 * library with a build script that generates code into OUT_DIR (`corelib`), a library over it (`util`)
 * and a proc-macro crate (`macros`, no registry crates needed).
 */
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

export const WORKSPACE_FILES: Record<string, string> = {
  "Cargo.toml": `[workspace]\nmembers = ["app", "crates/macros", "crates/corelib", "crates/util"]\nresolver = "2"\n`,
  "crates/macros/Cargo.toml": `[package]\nname = "macros"\nversion = "0.1.0"\nedition = "2021"\n\n[lib]\nproc-macro = true\n`,
  "crates/macros/src/lib.rs": `use proc_macro::TokenStream;\n\n#[proc_macro]\npub fn answer(_input: TokenStream) -> TokenStream {\n    "42".parse().unwrap()\n}\n`,
  "crates/corelib/Cargo.toml": `[package]\nname = "corelib"\nversion = "0.3.0"\nedition = "2021"\nbuild = "build.rs"\n`,
  "crates/corelib/build.rs": [
    "use std::{env, fs, path::Path};",
    "fn main() {",
    '    let out = env::var("OUT_DIR").unwrap();',
    '    fs::write(Path::new(&out).join("generated.rs"), "pub const GENERATED: &str = \\"from build script\\";\\n").unwrap();',
    '    println!("cargo:rerun-if-changed=build.rs");',
    "}",
    "",
  ].join("\n"),
  "crates/corelib/src/lib.rs": [
    'include!(concat!(env!("OUT_DIR"), "/generated.rs"));',
    'pub const VERSION: &str = env!("CARGO_PKG_VERSION");',
    'pub fn greet(who: &str) -> String { format!("hello, {who}") }',
    "",
  ].join("\n"),
  "crates/util/Cargo.toml": `[package]\nname = "util"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\ncorelib = { path = "../corelib" }\n`,
  "crates/util/src/lib.rs": `pub fn shout(s: &str) -> String { corelib::greet(s).to_uppercase() }\n`,
  "app/Cargo.toml": [
    "[package]",
    'name = "app"',
    'version = "0.1.0"',
    'edition = "2021"',
    "",
    "[dependencies]",
    'util = { path = "../crates/util" }',
    'corelib = { path = "../crates/corelib" }',
    'macros = { path = "../crates/macros" }',
    "",
  ].join("\n"),
  "app/src/main.rs": [
    "fn main() {",
    '    println!("{} | {} {} | answer={}", util::shout("world"), corelib::GENERATED, corelib::VERSION, macros::answer!());',
    "}",
    "",
  ].join("\n"),
};

/** What `target/debug/app` prints. */
export const APP_OUTPUT = "HELLO, WORLD | from build script 0.3.0 | answer=42";

export function writeWorkspace(dir: string, files: Record<string, string> = WORKSPACE_FILES): void {
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  }
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Run a program (asynchronously: the daemon may live in this very process). */
export function run(program: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr, ms: Date.now() - started }));
  });
}

/** The environment for cargo: this one without anything that would change cargo's or rustc's behaviour. */
export function cargoEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(RUSTC_WRAPPER|RUSTC_WORKSPACE_WRAPPER|RUSTFLAGS|CARGO_TARGET_DIR|CARGO_INCREMENTAL|CARGO_BUILD_.*|PKG_.*|SCCACHE_.*)$/.test(k)) continue;
    env[k] = v;
  }
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

export interface LogLine {
  tool: string;
  label?: string;
  result: "hit" | "miss" | "pass" | "fallback" | "failed";
  reason?: string;
  drv?: string;
  ms: number;
}
