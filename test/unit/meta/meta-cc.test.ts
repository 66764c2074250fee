/**
 * meta-cc end to end: GNU make and this machine's C compiler build a small C project (two sources, a
 * header) with `CC="meta-cc cc"`, where meta-cc is the same native shim as meta-rustc under another
 * name, against a real store daemon over its unix socket with a real embedded content store. What
 * rustc's tests show for cargo, for a C compiler: misses stored, hits restored byte for byte, headers
 * from the compiler's own dep-info, paths normalised (but not with debug info), uncacheable compiles
 * passed or run without storing.
 */
import { expect } from "chai";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { CID } from "multiformats/cid";
import { buildNativeShim } from "../../../src/meta/native";
import { openEmbeddedStore, type EmbeddedContentStore } from "../../../src/content/embedded";
import { readDerivation } from "../../../src/derivation";
import { runDaemon, type RunningDaemon } from "../../../src/daemon/daemon";
import { skipBecause } from "../../helpers/skip";
import { cargoEnv, run, type LogLine, type RunResult } from "./workspace";

const FILES: Record<string, string> = {
  "greet.h": "#ifndef GREET_H\n#define GREET_H\nconst char *greeting(void);\n#define EXCLAIM \"!\"\n#endif\n",
  "greet.c": '#include "greet.h"\nconst char *greeting(void) { return "hello from C" EXCLAIM; }\n',
  "main.c": '#include <stdio.h>\n#include "greet.h"\nint main(void) { puts(greeting()); return 0; }\n',
  Makefile: "app: main.o greet.o\n\t$(CC) -o app main.o greet.o\n\n%.o: %.c greet.h\n\t$(CC) $(CFLAGS) -c $< -o $@\n\nclean:\n\trm -f app *.o\n",
};
const SOURCES = ["greet.c", "main.c"];

describe("meta-cc (make, the C compiler and the store daemon)", function () {
  this.timeout(300_000);

  let dir: string;
  let content: EmbeddedContentStore;
  let daemon: RunningDaemon;
  let shim: string;
  let project: string;

  before(async function () {
    if ((await run("sh", ["-c", "command -v make && command -v cc"], { cwd: tmpdir(), env: process.env })).code !== 0) skipBecause(this, "no make or no cc here");
    dir = mkdtempSync(path.join(tmpdir(), "chainpkg-meta-cc-"));
    content = await openEmbeddedStore({ directory: path.join(dir, "content") });
    daemon = await runDaemon({ root: path.join(dir, "store"), socket: path.join(dir, "store.sock"), content, log: () => {} });
    shim = buildNativeShim(path.join(dir, "bin", "meta-cc"), "cc");
    project = path.join(dir, "project");
    write(project);
  });

  after(async () => {
    await daemon?.close();
    await content?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function write(root: string, files: Record<string, string> = FILES): void {
    mkdirSync(root, { recursive: true });
    for (const [name, text] of Object.entries(files)) writeFileSync(path.join(root, name), text);
  }

  let logCount = 0;
  async function make(cwd: string, cflags = "-O2 -Wall", extra: Record<string, string> = {}): Promise<RunResult & { log: LogLine[] }> {
    const log = path.join(dir, `log-${++logCount}.ndjson`);
    const result = await run("make", ["-s", `CC=${shim} cc`, `CFLAGS=${cflags}`], {
      cwd,
      env: cargoEnv({ PKG_STORE_SOCKET: daemon.socket, PKG_META_LOG: log, PKG_BUILD_ID: `cc-${logCount}`, ...extra }),
    });
    const lines = existsSync(log) ? readFileSync(log, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as LogLine) : [];
    return { ...result, log: lines };
  }

  const labels = (log: LogLine[], result: string) => log.filter((l) => l.result === result).map((l) => l.label ?? "?").sort();
  const clean = (root: string) => run("make", ["-s", "clean"], { cwd: root, env: process.env });
  const app = async (root: string) => (await run(path.join(root, "app"), [], { cwd: root, env: process.env })).stdout.trim();
  const objects = (root: string) => Object.fromEntries(["main.o", "greet.o"].map((o) => [o, readFileSync(path.join(root, o)).toString("hex")]));
  const strays = (root: string) => readdirSync(root).filter((f) => f.includes("meta-cc"));

  let first: Record<string, string>;

  it("first build: each compile misses and is stored, the link passes through; the program runs; no file of ours is left", async () => {
    const r = await make(project);
    expect(r.code, r.stderr).to.equal(0);
    expect(labels(r.log, "miss")).to.deep.equal(SOURCES);
    expect(r.log.filter((l) => l.result === "pass").map((l) => l.reason)).to.deep.equal(["no -c (a link, or a compile and link at once)"]);
    expect(r.stderr).to.equal("");
    expect(await app(project)).to.equal("hello from C!");
    expect(strays(project)).to.deep.equal([]);
    first = objects(project);
  });

  it("make clean: every compile is served from the store, the same bytes; each is a derivation whose sources include the headers", async () => {
    await clean(project);
    const r = await make(project);
    expect(r.code, r.stderr).to.equal(0);
    expect(labels(r.log, "hit")).to.deep.equal(SOURCES);
    expect(objects(project)).to.deep.equal(first);
    expect(await app(project)).to.equal("hello from C!");
    const main = await readDerivation(content, CID.parse(r.log.find((l) => l.label === "main.c")!.drv!));
    expect(main.name).to.match(/^cc-main.c-[0-9a-f]{16}$/);
    expect(main.builder).to.deep.equal({ kind: "input", input: "cc", path: "bin/cc" });
    expect(Object.keys(main.inputDrvs)).to.deep.equal(["cc"]);
    expect(main.args).to.deep.equal(["-O2", "-Wall", "-c", "main.c", "-o", "main.o"]);
    const exported = path.join(dir, "main-src");
    await content.getTree(main.src!, exported);
    const tree = (readdirSync(exported, { recursive: true }) as string[]).map((p) => p.split(path.sep).join("/"));
    expect(tree.some((p) => p.endsWith("greet.h"))).to.equal(true);
    expect(tree.some((p) => p.endsWith("usr/include/stdio.h"))).to.equal(true);
  });

  it("a changed header misses (found by the manifest, not the key); changed back, it hits again", async () => {
    const header = path.join(project, "greet.h");
    writeFileSync(header, FILES["greet.h"].replace('"!"', '"?"'));
    try {
      const r = await make(project);
      expect(labels(r.log, "miss")).to.deep.equal(SOURCES);
      expect(await app(project)).to.equal("hello from C?");
    } finally {
      writeFileSync(header, FILES["greet.h"]);
    }
    const back = await make(project);
    expect(labels(back.log, "hit")).to.deep.equal(SOURCES);
    expect(await app(project)).to.equal("hello from C!");
  });

  it("a copy elsewhere hits (the directory is normalised), but not with -g (the object records its directory)", async () => {
    const other = path.join(dir, "elsewhere", "copy");
    write(other);
    const r = await make(other);
    expect(labels(r.log, "hit")).to.deep.equal(SOURCES);
    expect(objects(other)).to.deep.equal(first);
    await clean(project); // (make does not see a change of CFLAGS)
    const debug = await make(project, "-O2 -g");
    expect(labels(debug.log, "miss")).to.deep.equal(SOURCES);
    await clean(other);
    const debugElsewhere = await make(other, "-O2 -g");
    expect(labels(debugElsewhere.log, "miss")).to.deep.equal(SOURCES);
    await clean(other);
    expect(labels((await make(other, "-O2 -g")).log, "hit")).to.deep.equal(SOURCES);
  });

  it("__TIME__ runs the compile but stores nothing (unless SOURCE_DATE_EPOCH); a compile error fails as cc does", async () => {
    const stamped = path.join(dir, "stamped");
    write(stamped, { ...FILES, "greet.c": '#include "greet.h"\nconst char *greeting(void) { return "built at " __TIME__; }\n' });
    const r = await make(stamped);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.equal("");
    await clean(stamped);
    const again = await make(stamped);
    expect(labels(again.log, "miss")).to.include("greet.c");
    await clean(stamped);
    await make(stamped, "-O2 -Wall", { SOURCE_DATE_EPOCH: "1700000000" });
    await clean(stamped);
    expect(labels((await make(stamped, "-O2 -Wall", { SOURCE_DATE_EPOCH: "1700000000" })).log, "hit")).to.include("greet.c");

    const broken = path.join(dir, "broken");
    write(broken, { ...FILES, "greet.c": "const char *greeting(void) { return 42 }\n" });
    const failed = await make(broken);
    expect(failed.code).to.not.equal(0);
    expect(failed.stderr).to.match(/error/);
    expect(labels(failed.log, "failed")).to.deep.equal(["greet.c"]);
    expect(strays(broken)).to.deep.equal([]);
  });
});
