/**
 * The C/C++ compiler half of meta packages (`meta-cc`, used like ccache: `CC="meta-cc cc"`): which
 * invocations are cacheable, what their output is, and how they are normalised. Everything after
 * planning (keys, manifests from dep-info, storing, settling, restoring) is index.ts's, shared with
 * rustc: this file is what a new tool costs.
 *
 * Decisions, and why (ccache's, where it has one):
 * - Cacheable: a compile to an object: `-c`, one source file (.c, .cc, .cpp, .cxx, .C, .i, .ii, .s,
 *   .S), `-o FILE`. Everything else passes through with the reason recorded: links (no `-c`), `-E`,
 *   `-S`, `-M`/`-MM` alone, stdin (`-`), response files (`@file`), options that write other files
 *   (`-MD`/`-MMD`/`-MF` of the build itself, `--save-temps`, coverage and profiling data, `-fdump-*`,
 *   `-aux-info`), `-B` (another compiler's parts), `-x` (an explicit language), several sources.
 * - Sources: the headers come from the compiler's own dep-info: a miss runs with `-MD -MF
 *   <out-dir>/.<object>.meta-cc.d` added (not in the key or the derivation's args); the daemon reads
 *   it when storing and removes it. The key holds the source file; the manifests hold every header.
 * - Roots: the working directory, HOME and TMPDIR become tokens (a copy of the project elsewhere
 *   hits), except with debug info (`-g…`, not `-g0`): the object then records the directory it was
 *   compiled in, so the directory stays part of the key (ccache's hash_dir).
 * - Environment that changes the result: the include paths (`CPATH`, `C_INCLUDE_PATH`, …),
 *   `SOURCE_DATE_EPOCH`, `GCC_EXEC_PREFIX`, `COMPILER_PATH`, and the locale of the diagnostics.
 *   `DEPENDENCIES_OUTPUT`/`SUNPRO_DEPENDENCIES` (extra output files) pass.
 * - `__DATE__`, `__TIME__`, `__TIMESTAMP__` in any source or header without SOURCE_DATE_EPOCH: the
 *   compile runs and is not stored (the object depends on the clock).
 */
import { createHash } from "node:crypto";
import path from "node:path";
import { normalise, rootsFrom, type PlanOutcome, type ToolModule } from "./core";
import type { RootToken, ToolPlan } from "../types";

const SOURCE = /\.(c|cc|cp|cpp|cxx|c\+\+|C|i|ii|s|S|sx)$/;

/** Options whose value is the next argument when not glued (`-Ifoo`, `-DX=1` are glued). */
const WITH_VALUE: ReadonlySet<string> = new Set([
  "-o", "-I", "-D", "-U", "-include", "-imacros", "-isystem", "-iquote", "-idirafter", "-iprefix", "-iwithprefix",
  "-iwithprefixbefore", "-isysroot", "-imultilib", "-x", "-MF", "-MT", "-MQ", "-L", "-l", "-B", "-Xpreprocessor",
  "-Xassembler", "-Xlinker", "-aux-info", "--param", "-arch", "-target", "-T", "-u", "-z", "--sysroot", "-G",
]);

/** Variables the compiler reads whatever the source says. */
const KEY_ENV = [
  "CPATH", "C_INCLUDE_PATH", "CPLUS_INCLUDE_PATH", "OBJC_INCLUDE_PATH", "OBJCPLUS_INCLUDE_PATH", "SOURCE_DATE_EPOCH",
  "GCC_EXEC_PREFIX", "COMPILER_PATH", "GCC_COMPARE_DEBUG", "LANG", "LC_ALL", "LC_CTYPE", "LC_MESSAGES",
];

/** Why an option makes the invocation uncacheable, or null. */
function refusal(flag: string, arg: string): string | null {
  if (flag === "-E" || flag === "-S") return `${flag}: not a compile to an object`;
  if (flag === "-M" || flag === "-MM") return `${flag}: dependencies only`;
  if (flag === "-MD" || flag === "-MMD" || flag === "-MP" || /^-M[FTQ]/.test(arg)) return `${flag}: the build's own dependency file (another output)`;
  if (arg === "-gsplit-dwarf") return "-gsplit-dwarf writes another file (.dwo)";
  if (flag === "-B") return "-B: parts of another compiler";
  if (flag === "-x") return "-x: an explicit language";
  if (flag === "-aux-info") return "-aux-info writes another file";
  if (/^-(-)?save-temps/.test(arg)) return `${arg} writes other files`;
  if (/^-f(profile-|test-coverage|dump-|stack-usage|callgraph-info)|^--coverage$|^-fprofile$/.test(arg)) return `${arg} writes other files`;
  if (arg.startsWith("@")) return "a response file";
  return null;
}

function rootsOf(cwd: string, env: NodeJS.ProcessEnv, keepCwd: boolean): Array<[string, RootToken]> {
  return rootsFrom([
    [keepCwd ? undefined : cwd, "@@PKG_CWD@@"],
    [env.TMPDIR, "@@PKG_TMP@@"],
    [env.HOME, "@@PKG_HOME@@"],
  ]);
}

export const ccTool: ToolModule = {
  name: "cc",
  plan(program: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): PlanOutcome {
    let compile = false;
    let output: string | null = null;
    let debugInfo = false;
    const inputs: string[] = [];
    for (let i = 0; i < args.length; i++) {
      const arg = args[i];
      const glued = /^-(I|D|U|L|l|o|B|x)./.test(arg) ? arg.slice(0, 2) : null;
      const flag = glued ?? (arg.includes("=") && arg.startsWith("--") ? arg.slice(0, arg.indexOf("=")) : arg);
      const why = refusal(flag, arg);
      if (why !== null) return { kind: "pass", reason: why };
      if (arg === "-") return { kind: "pass", reason: "reads the source from stdin" };
      let value: string | null = null;
      if (glued !== null) value = arg.slice(2);
      else if (WITH_VALUE.has(arg)) {
        if (i + 1 >= args.length) return { kind: "pass", reason: `${arg} without a value` };
        value = args[++i];
      }
      if (flag === "-c") compile = true;
      else if (flag === "-o") output = value;
      else if (/^-g(?!0$)/.test(arg)) debugInfo = true;
      else if (arg === "-g0") debugInfo = false;
      else if (value === null && !arg.startsWith("-")) inputs.push(arg);
    }
    if (!compile) return { kind: "pass", reason: "no -c (a link, or a compile and link at once)" };
    if (output === null) return { kind: "pass", reason: "no -o" };
    if (inputs.length !== 1) return { kind: "pass", reason: `${inputs.length} input files` };
    if (!SOURCE.test(inputs[0])) return { kind: "pass", reason: `input ${inputs[0]} is not a C or C++ source` };
    for (const name of ["DEPENDENCIES_OUTPUT", "SUNPRO_DEPENDENCIES"]) if (env[name]) return { kind: "pass", reason: `${name} writes another file` };

    const object = path.resolve(cwd, output);
    const outDir = path.dirname(object);
    const stem = path.basename(object);
    const depInfo = path.join(outDir, `.${stem}.meta-cc.d`);
    const roots = rootsOf(cwd, env, debugInfo);
    const normArgs = args.map((a) => normalise(a, roots));
    const plan: ToolPlan = {
      tool: "cc",
      program,
      versionArgs: ["--version"],
      cwd,
      runArgs: [...args, "-MD", "-MF", depInfo],
      normArgs,
      roots,
      envNames: KEY_ENV.filter((name) => env[name] !== undefined),
      keyFiles: [path.resolve(cwd, inputs[0])],
      externs: [],
      outDir,
      outputStems: [stem],
      depInfo,
      depInfoIsOutput: false,
      ...(env.SOURCE_DATE_EPOCH ? {} : { refuseSources: { pattern: /__(DATE|TIME|TIMESTAMP)__/, reason: "uses __DATE__, __TIME__ or __TIMESTAMP__ (set SOURCE_DATE_EPOCH to cache it)" } }),
      label: path.basename(inputs[0]),
      labelHash: createHash("sha256").update(normalise(object, roots)).digest("hex").slice(0, 16),
    };
    return { kind: "plan", plan };
  },
};
