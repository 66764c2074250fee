/**
 * The rustc half of meta-rustc: which invocations are cacheable, what their outputs are called, and
 * how their arguments are normalised so that a fresh build directory (another checkout, `rm -rf
 * target`, another pkg build directory) finds what an earlier one stored.
 *
 * Decisions, and why:
 * - Cacheable: a compile cargo runs (`--crate-name`, one `.rs` input file, `--out-dir`, `--emit` with
 *   `dep-info` and no explicit paths, `-C extra-filename`). Everything else passes through with the
 *   reason recorded: cargo's probes (`-vV`, `--print …`, `-` from stdin), `-o`, explicit emit paths.
 * - `-C incremental=…` (cargo passes it for workspace members in debug builds) is removed, from the
 *   key and from the run: a stored output must be a function of the recorded inputs alone, and an
 *   incremental session directory is neither an input we can hash nor an output we can share. A miss
 *   therefore compiles a workspace member non-incrementally (for a first compile that is as fast);
 *   a hit beats any incremental rebuild.
 * - Roots: the profile directory (`target/debug`, the parent of `deps/` or of `build/<pkg>-<hash>`),
 *   the working directory (the workspace root cargo runs rustc in), HOME and TMPDIR are replaced by
 *   tokens in arguments, environment, dep-info and messages, and put back on a hit.
 * - Extern crates enter the key by content (`--extern name=path`); crates rustc finds through
 *   `-L dependency=` are covered by them (each extern's metadata pins its own dependencies by SVH, and
 *   cargo recompiles a crate when one of its dependencies changes). Native libraries named by `-l` are
 *   hashed where the `-L native=`/`all=` directories hold them.
 * - Environment: every `CARGO_*` variable cargo sets for rustc (except the jobserver's
 *   `CARGO_MAKEFLAGS`), `OUT_DIR` and `RUSTC_BOOTSTRAP` are part of the key; what the source reads with
 *   `env!`/`option_env!` is recorded from dep-info's `# env-dep:` lines, per manifest.
 */
import path from "node:path";
import fs from "node:fs";
import { normalise, rootsFrom, type PlanOutcome, type ToolModule } from "./core";
import type { RootToken, ToolPlan } from "../types";

/** Variables rustc reads whatever the source says (besides the source's own `env!` reads). */
export function isKeyEnv(name: string): boolean {
  if (name === "CARGO_MAKEFLAGS") return false;
  return name.startsWith("CARGO") || name === "OUT_DIR" || name === "RUSTC_BOOTSTRAP";
}

/** Options that take a value as the next argument (or glued: `--opt=value`, `-Cvalue`). */
const WITH_VALUE: ReadonlySet<string> = new Set([
  "--crate-name", "--edition", "--error-format", "--json", "--crate-type", "--emit", "--out-dir", "-o",
  "--extern", "-L", "-l", "-C", "--codegen", "--cfg", "--check-cfg", "--cap-lints", "--target", "--print",
  "-A", "-W", "-D", "-F", "--allow", "--warn", "--deny", "--forbid", "--force-warn", "--explain",
  "--sysroot", "--diagnostic-width", "--color", "--remap-path-prefix", "-Z", "--env-set", "--crate-attr",
]);

interface Parsed {
  crateName: string | null;
  crateTypes: string[];
  emit: string[];
  outDir: string | null;
  extraFilename: string;
  externs: Array<[string, string]>;
  searchDirs: Array<[string, string]>;
  libs: string[];
  inputs: string[];
  /** runArgs: the args minus `-C incremental`. */
  runArgs: string[];
  pass: string | null;
}

function parse(args: string[]): Parsed {
  const p: Parsed = { crateName: null, crateTypes: [], emit: [], outDir: null, extraFilename: "", externs: [], searchDirs: [], libs: [], inputs: [], runArgs: [], pass: null };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    let flag = arg;
    let value: string | null = null;
    let consumedNext = false;
    if (arg.startsWith("--") && arg.includes("=")) {
      flag = arg.slice(0, arg.indexOf("="));
      value = arg.slice(arg.indexOf("=") + 1);
    } else if (/^-[CLlAWDFZ]./.test(arg)) {
      flag = arg.slice(0, 2);
      value = arg.slice(2);
    } else if (WITH_VALUE.has(arg)) {
      if (i + 1 >= args.length) {
        p.pass = `${arg} without a value`;
        return p;
      }
      value = args[i + 1];
      consumedNext = true;
    }
    const next = consumedNext ? args[i + 1] : null;
    const keep = (): void => {
      p.runArgs.push(arg);
      if (next !== null) p.runArgs.push(next);
    };
    if (consumedNext) i++;

    switch (flag) {
      case "-":
        p.pass = "reads the crate from stdin";
        return p;
      case "-V":
      case "-vV":
      case "--version":
      case "--print":
      case "--explain":
      case "-h":
      case "--help":
        p.pass = `probe (${flag})`;
        return p;
      case "-o":
        p.pass = "-o names the output file";
        return p;
      case "--crate-name":
        p.crateName = value;
        keep();
        break;
      case "--crate-type":
        p.crateTypes.push(...value!.split(","));
        keep();
        break;
      case "--emit":
        for (const kind of value!.split(",")) {
          if (kind.includes("=")) {
            p.pass = `--emit names a path (${kind})`;
            return p;
          }
          p.emit.push(kind);
        }
        keep();
        break;
      case "--out-dir":
        p.outDir = value;
        keep();
        break;
      case "-C":
      case "--codegen": {
        const setting = value!;
        if (setting.startsWith("incremental=")) break; // removed: see the top of this file
        if (setting.startsWith("extra-filename=")) p.extraFilename = setting.slice("extra-filename=".length);
        keep();
        break;
      }
      case "--extern": {
        const spec = value!;
        const eq = spec.indexOf("=");
        if (eq > 0) {
          const name = spec.slice(0, eq).replace(/^[a-z_-]+:/, ""); // noprelude:name, priv:name
          p.externs.push([name, spec.slice(eq + 1)]);
        }
        keep();
        break;
      }
      case "-L": {
        const spec = value!;
        const eq = spec.indexOf("=");
        const kind = eq > 0 && /^(dependency|crate|native|framework|all)$/.test(spec.slice(0, eq)) ? spec.slice(0, eq) : "all";
        p.searchDirs.push([kind, kind === "all" && eq <= 0 ? spec : spec.slice(eq + 1)]);
        keep();
        break;
      }
      case "-l": {
        // [KIND[:MODIFIERS]=]NAME[:RENAME]
        const spec = value!;
        const name = (spec.includes("=") ? spec.slice(spec.indexOf("=") + 1) : spec).split(":")[0];
        p.libs.push(name);
        keep();
        break;
      }
      default:
        if (!arg.startsWith("-") && !consumedNext && value === null) p.inputs.push(arg);
        keep();
    }
  }
  return p;
}

/** The profile directory of an out-dir: `target/debug` for `target/debug/deps` and `target/debug/build/x-hash`. */
export function profileDir(outDir: string): string {
  if (path.basename(outDir) === "deps") return path.dirname(outDir);
  if (path.basename(path.dirname(outDir)) === "build") return path.dirname(path.dirname(outDir));
  return outDir;
}

function rootsOf(outDir: string, cwd: string, env: NodeJS.ProcessEnv): Array<[string, RootToken]> {
  return rootsFrom([
    [profileDir(outDir), "@@PKG_TARGET@@"],
    [cwd, "@@PKG_CWD@@"],
    [env.TMPDIR, "@@PKG_TMP@@"],
    [env.HOME, "@@PKG_HOME@@"],
  ]);
}

export const rustcTool: ToolModule = {
  name: "rustc",
  plan(program: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): PlanOutcome {
    const p = parse(args);
    if (p.pass !== null) return { kind: "pass", reason: p.pass };
    if (p.crateName === null) return { kind: "pass", reason: "no --crate-name" };
    if (p.inputs.length !== 1) return { kind: "pass", reason: `${p.inputs.length} input files` };
    if (!p.inputs[0].endsWith(".rs")) return { kind: "pass", reason: `input ${p.inputs[0]} is not a .rs file` };
    if (p.outDir === null) return { kind: "pass", reason: "no --out-dir" };
    if (!p.emit.includes("dep-info")) return { kind: "pass", reason: "no dep-info emitted (sources unknown)" };
    if (p.extraFilename === "") return { kind: "pass", reason: "no -C extra-filename (outputs not told apart)" };

    const outDir = path.resolve(cwd, p.outDir);
    const roots = rootsOf(outDir, cwd, env);
    const stem = `${p.crateName}${p.extraFilename}`;
    const externs: Array<[string, string]> = p.externs.map(([name, file]) => [name, path.resolve(cwd, file)]);
    for (const lib of p.libs) {
      for (const [kind, dir] of p.searchDirs) {
        if (kind !== "native" && kind !== "all") continue;
        for (const file of [`lib${lib}.a`, `lib${lib}.so`]) {
          const full = path.resolve(cwd, dir, file);
          if (fs.existsSync(full)) externs.push([`lib:${lib}`, full]);
        }
      }
    }
    const plan: ToolPlan = {
      tool: "rustc",
      program,
      versionArgs: ["-vV"],
      cwd,
      runArgs: p.runArgs,
      normArgs: p.runArgs.map((a) => normalise(a, roots)),
      roots,
      envNames: Object.keys(env).filter(isKeyEnv).sort(),
      keyFiles: [path.resolve(cwd, p.inputs[0])],
      externs,
      outDir,
      outputStems: [`lib${stem}`, stem],
      depInfo: path.join(outDir, `${stem}.d`),
      label: p.crateName,
      labelHash: p.extraFilename.replace(/^-/, ""),
    };
    return { kind: "plan", plan };
  },
};
