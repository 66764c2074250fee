/**
 * The meta-rustc benchmark's workspace: real crates from Debian's librust-*-dev packages (serde with
 * derive, serde_json, regex, anyhow) through a cargo directory source, plus three workspace crates of our
 * own, one with a build script.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";

export const DEBIAN_REGISTRY = "/usr/share/cargo/registry";
export const DEBIAN_PACKAGES = ["librust-serde-dev", "librust-serde-derive-dev", "librust-serde-json-dev", "librust-regex-dev", "librust-anyhow-dev"];
const NEEDED = ["serde-1", "serde_derive-1", "serde_json-1", "regex-1", "anyhow-1"];

function present(): boolean {
  if (!existsSync(DEBIAN_REGISTRY)) return false;
  const have = readdirSync(DEBIAN_REGISTRY);
  return NEEDED.every((prefix) => have.some((d) => d.startsWith(`${prefix}.`)));
}

/** Installs the Debian crates when missing (as root, with apt); returns whether they are there. */
export function ensureDebianCrates(log: (line: string) => void): boolean {
  if (present()) return true;
  if (typeof process.getuid !== "function" || process.getuid() !== 0) {
    log(`Debian crates missing and not root: apt-get install -y ${DEBIAN_PACKAGES.join(" ")}`);
    return false;
  }
  log(`installing ${DEBIAN_PACKAGES.join(" ")} with apt-get`);
  spawnSync("apt-get", ["update"], { stdio: "ignore" });
  const r = spawnSync("apt-get", ["install", "-y", ...DEBIAN_PACKAGES], { stdio: "ignore", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  return r.status === 0 && present();
}

/** sccache, installing Debian's when missing (as root); null when not available. */
export function ensureSccache(log: (line: string) => void): string | null {
  for (const candidate of ["/usr/bin/sccache", "/usr/local/bin/sccache"]) if (existsSync(candidate)) return candidate;
  if (typeof process.getuid === "function" && process.getuid() === 0) {
    log("installing sccache with apt-get");
    spawnSync("apt-get", ["install", "-y", "sccache"], { stdio: "ignore", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
    if (existsSync("/usr/bin/sccache")) return "/usr/bin/sccache";
  }
  return null;
}

const FILES: Record<string, string> = {
  "Cargo.toml": `[workspace]\nmembers = ["benchcore", "benchparse", "benchapp"]\nresolver = "2"\n`,
  ".cargo/config.toml": [
    "[source.crates-io]",
    'replace-with = "debian"',
    "",
    "[source.debian]",
    `directory = "${DEBIAN_REGISTRY}"`,
    "",
    "[net]",
    "offline = true",
    "",
  ].join("\n"),
  "benchcore/Cargo.toml": [
    "[package]",
    'name = "benchcore"',
    'version = "0.1.0"',
    'edition = "2021"',
    'build = "build.rs"',
    "",
    "[dependencies]",
    'serde = { version = "1", features = ["derive"] }',
    "",
  ].join("\n"),
  "benchcore/build.rs": [
    "use std::{env, fs, path::Path};",
    "fn main() {",
    '    let out = env::var("OUT_DIR").unwrap();',
    "    let mut table = String::from(\"pub const SQUARES: [u64; 64] = [\");",
    '    for i in 0..64u64 { table.push_str(&format!("{},", i * i)); }',
    '    table.push_str("];\\n");',
    '    fs::write(Path::new(&out).join("table.rs"), table).unwrap();',
    '    println!("cargo:rerun-if-changed=build.rs");',
    "}",
    "",
  ].join("\n"),
  "benchcore/src/lib.rs": [
    "use serde::{Deserialize, Serialize};",
    'include!(concat!(env!("OUT_DIR"), "/table.rs"));',
    "#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]",
    "pub struct Record { pub name: String, pub value: u64, pub tags: Vec<String> }",
    "pub fn record(name: &str, i: usize) -> Record {",
    '    Record { name: name.to_string(), value: SQUARES[i % 64], tags: vec![format!("t{i}")] }',
    "}",
    "",
  ].join("\n"),
  "benchparse/Cargo.toml": [
    "[package]",
    'name = "benchparse"',
    'version = "0.1.0"',
    'edition = "2021"',
    "",
    "[dependencies]",
    'benchcore = { path = "../benchcore" }',
    'regex = "1"',
    'anyhow = "1"',
    "",
  ].join("\n"),
  "benchparse/src/lib.rs": [
    "use anyhow::{Context, Result};",
    "use benchcore::Record;",
    "use regex::Regex;",
    "pub fn parse(line: &str) -> Result<Vec<Record>> {",
    '    let re = Regex::new(r"(?P<name>[a-z]+)=(?P<n>\\d+)").context("regex")?;',
    "    let mut out = Vec::new();",
    '    for c in re.captures_iter(line) { out.push(benchcore::record(&c["name"], c["n"].parse().context("number")?)); }',
    "    Ok(out)",
    "}",
    "",
  ].join("\n"),
  "benchapp/Cargo.toml": [
    "[package]",
    'name = "benchapp"',
    'version = "0.1.0"',
    'edition = "2021"',
    "",
    "[dependencies]",
    'benchcore = { path = "../benchcore" }',
    'benchparse = { path = "../benchparse" }',
    'serde_json = "1"',
    'anyhow = "1"',
    "",
  ].join("\n"),
  "benchapp/src/main.rs": [
    "fn main() -> anyhow::Result<()> {",
    '    let records = benchparse::parse("a=3 bb=5 ccc=7")?;',
    '    println!("{}", serde_json::to_string(&records)?);',
    "    Ok(())",
    "}",
    "",
  ].join("\n"),
};

/** What `target/debug/benchapp` prints. */
export const BENCH_APP_OUTPUT = '[{"name":"a","value":9,"tags":["t3"]},{"name":"bb","value":25,"tags":["t5"]},{"name":"ccc","value":49,"tags":["t7"]}]';

export function writeBenchWorkspace(dir: string): void {
  for (const [rel, text] of Object.entries(FILES)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  }
}
