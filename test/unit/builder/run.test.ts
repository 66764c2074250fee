/**
 * runBuild with real processes: the exact environment, PATH (inputs then the base), args expansion,
 * source builders, failures and missing outputs, and the sandbox (no network, read-only file system,
 * unix sockets still reach the store, no process left after a kill or a timeout).
 */
import { spawn } from "node:child_process";
import { promises as fs } from "node:fs";
import net from "node:net";
import path from "node:path";
import { expect } from "chai";
import { BASE_TOOLS, ensureBase } from "../../../src/builder/base";
import {
  ERR_BUILD_ABORTED,
  ERR_BUILD_DIR_NOT_EMPTY,
  ERR_BUILD_FAILED,
  ERR_BUILD_NO_BUILDER,
  ERR_BUILD_NO_OUTPUT,
  ERR_BUILD_TIMEOUT,
  expandArg,
  FAILURE_LOG_LINES,
  runBuild,
} from "../../../src/builder/run";
import { buildUser, detectSandbox } from "../../../src/builder/sandbox";
import { requireBuilt } from "../../helpers/dist";
import { rejectsWith } from "../../helpers/errors";
import { skipBecause } from "../../helpers/skip";
import { waitFor } from "../../helpers/wait";
import { derivation, processesWith, readOnly, request, script, tempDir } from "./helpers";

/** A node script that writes JSON of what it saw to $out. */
const DUMP = `#!/usr/bin/node
const fs = require("fs");
fs.writeFileSync(process.env.out, JSON.stringify({ env: process.env, argv: process.argv.slice(2), cwd: process.cwd() }));
`;

/**
 * A `sleep` argument no other test (nor another run at the same time) uses, to find a build's processes by
 * their command line: this process's pid, and a fraction of each test's own.
 */
function sleepMarker(fraction: string): string {
  return `${1000 + process.pid}.${fraction}`;
}

async function dumpInput(root: string): Promise<string> {
  const dir = path.join(root, "inputs", "tools");
  await script(path.join(dir, "bin", "dump"), DUMP);
  await script(path.join(dir, "bin", "greet"), "#!/bin/sh\necho greetings from an input\n");
  await readOnly(dir);
  return dir;
}

describe("build/run: runBuild", function () {
  let root: string;
  beforeEach(async () => {
    root = await tempDir();
  });
  afterEach(async () => {
    await fs.chmod(root, 0o755).catch(() => undefined);
    await fs.rm(root, { recursive: true, force: true }).catch(() => undefined);
  });

  it("sets exactly the documented environment, in a writable copy of src", async () => {
    const tools = await dumpInput(root);
    const meta = path.join(root, "inputs", "meta-rustc");
    await fs.mkdir(meta, { recursive: true });
    const src = path.join(root, "src");
    await fs.mkdir(src);
    await fs.writeFile(path.join(src, "a.txt"), "a");
    await readOnly(src);
    const drv = derivation({ kind: "input", input: "tools", path: "bin/dump" }, [], { FOO: "bar", LANG: "en_US.UTF-8" });
    const req = request(root, drv, {
      src,
      inputs: { tools: { path: tools, drv: "bafy-tools" }, "meta-rustc": { path: meta, drv: "bafy-meta" } },
      closure: [tools, meta, "/zzz/other"],
    });
    const result = await runBuild(req);
    const seen = JSON.parse(await fs.readFile(req.outputs.out!, "utf8")) as { env: Record<string, string>; cwd: string };
    const build = req.buildDir;
    expect(Object.keys(seen.env).sort()).to.deep.equal(
      [
        "FOO", "HOME", "LANG", "NIX_BUILD_CORES", "PATH", "PKG_BUILD_CORES", "PKG_BUILD_ID", "PKG_CLOSURE",
        "PKG_INPUTS", "PKG_STORE_SOCKET", "PKG_SYSTEM", "SOURCE_DATE_EPOCH", "TMPDIR", "TZ", "meta-rustc",
        "meta_rustc", "out", "tools",
      ].sort(),
    );
    const base = await ensureBase(req.baseDir);
    expect(seen.env).to.deep.include({
      FOO: "bar",
      LANG: "en_US.UTF-8", // the derivation's env wins over the defaults
      TZ: "UTC",
      SOURCE_DATE_EPOCH: "1",
      NIX_BUILD_CORES: "2",
      PKG_BUILD_CORES: "2",
      HOME: path.join(build, "home"),
      TMPDIR: path.join(build, "tmp"),
      PATH: `${meta}/bin:${tools}/bin:${base.dir}`,
      PKG_INPUTS: `meta-rustc=${meta}\ntools=${tools}`,
      PKG_CLOSURE: [tools, meta, "/zzz/other"].sort().join("\n"),
      PKG_STORE_SOCKET: req.storeSocket,
      PKG_BUILD_ID: "build-1",
      PKG_SYSTEM: "x86_64-linux",
      "meta-rustc": meta,
      meta_rustc: meta,
      tools,
      out: req.outputs.out,
    });
    expect(seen.cwd).to.equal(path.join(build, "src"));
    expect(await fs.readFile(path.join(build, "src", "a.txt"), "utf8")).to.equal("a");
    await fs.writeFile(path.join(build, "src", "a.txt"), "writable"); // the copy is writable
    expect(result.builder).to.equal(path.join(tools, "bin", "dump"));
  });

  it("expands only $name, ${name} and $name/… of outputs and inputs, without a shell", async () => {
    const tools = await dumpInput(root);
    const args = ["$out", "${out}", "$tools/bin", "${tools}/x/y", "$nope", "x$out", "$HOME", "$out-x", "a b;$(true)", "'$out'", "$"];
    const req = request(root, derivation({ kind: "input", input: "tools", path: "bin/dump" }, args), {
      inputs: { tools: { path: tools, drv: "bafy-tools" } },
    });
    const result = await runBuild(req);
    const out = req.outputs.out!;
    const seen = JSON.parse(await fs.readFile(out, "utf8")) as { argv: string[] };
    const expected = [out, out, `${tools}/bin`, `${tools}/x/y`, "$nope", "x$out", "$HOME", "$out-x", "a b;$(true)", "'$out'", "$"];
    expect(seen.argv).to.deep.equal(expected);
    expect(result.args).to.deep.equal(expected);
    expect(expandArg("$meta-rustc/bin/meta-rustc", { "meta-rustc": "/m" })).to.equal("/m/bin/meta-rustc");
  });

  it("runs a source builder (made executable) with inputs' bin/ then the base on PATH, and streams its log", async () => {
    const tools = await dumpInput(root);
    const src = path.join(root, "src");
    await fs.mkdir(src);
    await fs.writeFile(
      path.join(src, "build.sh"),
      [
        "#!/bin/sh",
        "set -e",
        "echo building in $(pwd)",
        "greet",
        'mkdir -p "$out/share"',
        'printf "%s\\n" "$(echo hello | sed s/hello/sed-works/)" > "$out/share/sed"',
        'if command -v gcc >/dev/null 2>&1; then echo "gcc visible" > "$out/share/gcc"; fi',
        "echo done",
      ].join("\n"),
      { mode: 0o644 }, // not executable in the package: runBuild makes it so
    );
    await readOnly(src);
    const req = request(root, derivation({ kind: "source", path: "build.sh" }), {
      src,
      inputs: { tools: { path: tools, drv: "bafy-tools" } },
    });
    await runBuild(req);
    const out = req.outputs.out!;
    expect(await fs.readFile(path.join(out, "share", "sed"), "utf8")).to.equal("sed-works\n");
    expect(await fs.stat(path.join(out, "share", "gcc")).catch(() => null), "gcc is not in the base").to.equal(null);
    expect(req.lines).to.deep.equal([`building in ${path.join(req.buildDir, "src")}`, "greetings from an input", "done"]);
  });

  it("the base holds the documented tools as links to host programs", async () => {
    const base = await ensureBase(path.join(root, "base"));
    for (const tool of ["sh", "bash", "env", "cat", "cp", "sed", "grep", "awk", "find", "xargs", "tar", "gzip", "diff"]) {
      expect(base.tools, tool).to.have.property(tool);
      expect(await fs.readlink(path.join(base.dir, tool))).to.equal(base.tools[tool]);
    }
    expect(Object.keys(base.tools).length + base.missing.length).to.equal(BASE_TOOLS.length);
    expect(base.tools).to.not.have.property("gcc");
    expect((await ensureBase(path.join(root, "base"))).dir).to.equal(base.dir); // created once
  });

  it("a failing build: ERR_BUILD_FAILED names the derivation and the status, with the last log lines", async () => {
    const src = path.join(root, "src");
    await script(path.join(src, "build.sh"), '#!/bin/sh\nfor i in $(seq 1 30); do echo "line $i"; done\necho "oops" >&2\nexit 3\n');
    const req = request(root, derivation({ kind: "source", path: "build.sh" }), { src });
    const error = await rejectsWith(runBuild(req), ERR_BUILD_FAILED);
    expect(error.message).to.contain("test-1.0.0").and.contain("status 3");
    expect(error.message).to.not.contain("\n");
    expect(error.hint).to.be.a("string");
    const log = error.details.log as string[];
    expect(log).to.have.length(FAILURE_LOG_LINES);
    expect(log[log.length - 1]).to.equal("oops");
    expect(log[0]).to.equal("line 12");
    expect(req.lines).to.have.length(31);
  });

  it("exit 0 without $out is ERR_BUILD_NO_OUTPUT", async () => {
    const src = path.join(root, "src");
    await script(path.join(src, "build.sh"), "#!/bin/sh\necho nothing\n");
    const error = await rejectsWith(runBuild(request(root, derivation({ kind: "source", path: "build.sh" }), { src })), ERR_BUILD_NO_OUTPUT);
    expect(error.message).to.contain("test-1.0.0").and.contain("out");
  });

  it("refuses a source-only derivation and a used build directory", async () => {
    await rejectsWith(runBuild(request(root, derivation({ kind: "none" }))), ERR_BUILD_NO_BUILDER);
    await fs.mkdir(path.join(root, "build"));
    await fs.writeFile(path.join(root, "build", "junk"), "");
    const src = path.join(root, "src");
    await script(path.join(src, "build.sh"), "#!/bin/sh\nmkdir $out\n");
    await rejectsWith(runBuild(request(root, derivation({ kind: "source", path: "build.sh" }), { src })), ERR_BUILD_DIR_NOT_EMPTY);
  });

  it("sandbox off: the result says none and why", async () => {
    const src = path.join(root, "src");
    await script(path.join(src, "build.sh"), "#!/bin/sh\nmkdir $out\n");
    const result = await runBuild(request(root, derivation({ kind: "source", path: "build.sh" }), { src, sandbox: "off" }));
    expect(result.sandbox).to.equal("none");
    expect(result.sandboxReason).to.be.a("string");
  });

  it("without namespaces, a stopped build's process group is killed (its background jobs too)", async () => {
    const marker = sleepMarker("5");
    const src = path.join(root, "src");
    await script(path.join(src, "build.sh"), `#!/bin/sh\nsleep ${marker} &\necho started\nwait\n`);
    const req = request(root, derivation({ kind: "source", path: "build.sh" }), { src, sandbox: "off", timeoutMs: 1000 });
    await rejectsWith(runBuild(req), ERR_BUILD_TIMEOUT);
    let left: number[] = [];
    for (let i = 0; i < 20 && (left = await processesWith(`sleep ${marker}`)).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(left).to.deep.equal([]);
  });

  it("passes long lines without newlines on in pieces", async () => {
    const src = path.join(root, "src");
    await script(path.join(src, "build.sh"), '#!/bin/sh\nhead -c 200000 /dev/zero | tr "\\0" x\nmkdir "$out"\n');
    const req = request(root, derivation({ kind: "source", path: "build.sh" }), { src });
    await runBuild(req);
    expect(req.lines.map((l) => l.length)).to.deep.equal([65536, 65536, 65536, 200000 - 3 * 65536]);
  });

  describe("the sandbox (namespaces)", function () {
    before(async function () {
      const support = await detectSandbox();
      if (!support.available) skipBecause(this, support.reason ?? "the build sandbox is not available here");
    });

    it("has no network: a TCP server on the host's 127.0.0.1 cannot be reached (it can without the sandbox)", async () => {
      const server = net.createServer((socket) => socket.end("hi\n"));
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const port = (server.address() as net.AddressInfo).port;
      try {
        const src = path.join(root, "src");
        await script(
          path.join(src, "build.sh"),
          `#!/bin/bash\nif exec 3<>/dev/tcp/127.0.0.1/${port}; then read -r line <&3; echo "connected $line" > "$out"; else echo refused > "$out"; fi\n`,
        );
        const req = request(root, derivation({ kind: "source", path: "build.sh" }), { src, sandbox: "strict" });
        const result = await runBuild(req);
        expect(result.sandbox).to.equal("namespaces");
        expect(await fs.readFile(req.outputs.out!, "utf8")).to.equal("refused\n");

        const open = request(path.join(root, "open"), derivation({ kind: "source", path: "build.sh" }), { src, sandbox: "off" });
        await runBuild(open);
        expect(await fs.readFile(open.outputs.out!, "utf8")).to.equal("connected hi\n");
      } finally {
        server.close();
      }
    });

    it("makes the file system read-only except the build directory and the outputs' directory", async () => {
      const outside = path.join(root, "outside");
      await fs.mkdir(outside);
      const src = path.join(root, "src");
      await script(
        path.join(src, "build.sh"),
        [
          "#!/bin/sh",
          `touch ${outside}/x 2>/dev/null && echo outside-written || echo outside-refused`,
          "touch /tmp/chainpkg-sandbox-escape 2>/dev/null && echo tmp-written || echo tmp-refused",
          'touch "$TMPDIR/x" && echo tmpdir-written',
          'touch "$HOME/x" && echo home-written',
          "touch ./x && echo src-written",
          "mount -o remount,rw / 2>/dev/null && echo remounted || echo remount-refused",
          'mkdir "$out" && echo out-written',
        ].join("\n") + "\n",
      );
      const req = request(root, derivation({ kind: "source", path: "build.sh" }), { src, sandbox: "strict" });
      await runBuild(req);
      expect(req.lines).to.deep.equal(["outside-refused", "tmp-refused", "tmpdir-written", "home-written", "src-written", "remount-refused", "out-written"]);
      expect(await fs.readdir(outside)).to.deep.equal([]);
    });

    it("unix sockets on the file system still work (how meta packages reach the store daemon)", async () => {
      const socketPath = path.join(root, "store.sock");
      const server = net.createServer((socket) => socket.on("data", (data) => socket.end(`pong:${data.toString().trim()}\n`)));
      await new Promise<void>((resolve) => server.listen(socketPath, resolve));
      // the daemon gives a build's socket to the build user (a root daemon's builds are not root)
      const user = buildUser();
      if (user !== null) await fs.chown(socketPath, user.uid, user.gid);
      try {
        const src = path.join(root, "src");
        await script(
          path.join(src, "build.js"),
          `#!/usr/bin/node
const s = require("net").connect(process.env.PKG_STORE_SOCKET, () => s.write("ping\\n"));
let got = "";
s.on("data", (d) => (got += d));
s.on("end", () => require("fs").writeFileSync(process.env.out, got));
s.on("error", (e) => { console.error(e.message); process.exit(1); });
`,
        );
        const req = request(root, derivation({ kind: "source", path: "build.js" }), { src, sandbox: "strict", storeSocket: socketPath });
        await runBuild(req);
        expect(await fs.readFile(req.outputs.out!, "utf8")).to.equal("pong:ping\n");
      } finally {
        server.close();
      }
    });

    it("for a user who is not root: the same sandbox inside a user namespace (no network, read-only file system, no capabilities)", async function () {
      this.timeout(600_000); // builds dist/ first when it is missing
      // Needs root to become another user, and the built runBuild (dist/), copied to where that user can read it
      // (a checkout may sit in a directory only root can enter). It needs node's built-ins only.
      if (typeof process.getuid !== "function" || process.getuid() !== 0) skipBecause(this, "not root: cannot become another user");
      const dist = path.dirname(path.dirname(requireBuilt("dist/src/builder/run.js")[0]));
      await fs.cp(path.join(dist, "builder"), path.join(root, "dist", "builder"), { recursive: true });
      await fs.cp(path.join(dist, "errors"), path.join(root, "dist", "errors"), { recursive: true });
      await fs.cp(path.join(dist, "files"), path.join(root, "dist", "files"), { recursive: true });
      const built = path.join(root, "dist", "builder", "run.js");
      const nobody = ["--reuid=65534", "--regid=65534", "--clear-groups"];
      const userns = await new Promise<boolean>((resolve) =>
        spawn("setpriv", [...nobody, "unshare", "--user", "--map-root-user", "true"], { stdio: "ignore" }).on("exit", (code) => resolve(code === 0)),
      );
      if (!userns) skipBecause(this, "unprivileged user namespaces are disabled here");
      const server = net.createServer((socket) => socket.end("hi\n"));
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const port = (server.address() as net.AddressInfo).port;
      try {
        const outside = path.join(root, "outside");
        await fs.mkdir(outside);
        const src = path.join(root, "src");
        await script(
          path.join(src, "build.sh"),
          [
            "#!/bin/bash",
            `if exec 3<>/dev/tcp/127.0.0.1/${port}; then echo connected; else echo net-refused; fi 2>/dev/null`,
            `touch ${outside}/x 2>/dev/null && echo outside-written || echo outside-refused`,
            "mount -o remount,rw / 2>/dev/null && echo remounted || echo remount-refused",
            'echo "uid $(id -u)"',
            'mkdir "$out" && echo out-written',
          ].join("\n") + "\n",
        );
        // everything the build uses belongs to that user (nobody), as a user's own store would
        await new Promise((resolve) => spawn("chown", ["-R", "65534:65534", root]).on("exit", resolve));
        const code = `
          const { runBuild } = require(${JSON.stringify(built)});
          const root = ${JSON.stringify(root)};
          const lines = [];
          runBuild({
            drv: ${JSON.stringify(derivation({ kind: "source", path: "build.sh" }))},
            drvCid: "bafyreitestderivation", src: root + "/src", inputs: {}, closure: [],
            outputs: { out: root + "/store/tmp/b1/aaaa-test-1.0.0" }, buildDir: root + "/build",
            storeSocket: root + "/store.sock", buildId: "b", cores: 2, log: (l) => lines.push(l),
            baseDir: root + "/base", sandbox: "strict",
          }).then((r) => console.log(JSON.stringify({ sandbox: r.sandbox, lines })), (e) => { console.error(e.message); process.exit(1); });`;
        const child = spawn("setpriv", [...nobody, process.execPath, "-e", code], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: root } });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
        child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
        const status = await new Promise<number | null>((resolve) => child.on("exit", resolve));
        expect(status, stderr).to.equal(0);
        const result = JSON.parse(stdout) as { sandbox: string; lines: string[] };
        expect(result.sandbox).to.equal("namespaces");
        expect(result.lines).to.deep.equal(["net-refused", "outside-refused", "remount-refused", "uid 65534", "out-written"]);
        expect(await fs.readdir(outside)).to.deep.equal([]);
      } finally {
        server.close();
      }
    });

    it("a build whose daemon is killed (SIGKILL) leaves no process behind", async function () {
      this.timeout(60_000);
      const marker = sleepMarker("125");
      const src = path.join(root, "src");
      await script(path.join(src, "build.sh"), `#!/bin/sh\nsleep ${marker} &\necho started\nwait\n`);
      const req = request(root, derivation({ kind: "source", path: "build.sh" }), { src, sandbox: "strict" });
      const { log: _log, lines: _lines, ...plain } = req;
      const program = `
        const { runBuild } = require(${JSON.stringify(path.resolve(__dirname, "../../../src/builder/run"))});
        const request = JSON.parse(process.argv[1]);
        runBuild({ ...request, log: (line) => console.log(line) }).catch(() => {});
      `;
      const daemon = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", program, JSON.stringify(plain)], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      await new Promise<void>((resolve, reject) => {
        let out = "";
        daemon.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          if (out.includes("started")) resolve();
        });
        daemon.on("exit", () => reject(new Error(`the daemon stand-in exited: ${out}`)));
      });
      await waitFor(async () => (await processesWith(`sleep ${marker}`)).length === 1, { what: `the build's \`sleep ${marker}\` to start` });
      daemon.kill("SIGKILL");
      let left: number[] = [];
      for (let i = 0; i < 30 && (left = await processesWith(`sleep ${marker}`)).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
      expect(left).to.deep.equal([]);
    });

    for (const how of ["abort", "timeout"] as const) {
      it(`a build stopped by ${how} leaves no process behind (even ones that left its process group)`, async () => {
        const marker = sleepMarker(how === "abort" ? "25" : "75");
        const src = path.join(root, "src");
        // GNU timeout moves itself (and so its sleep) to a process group of its own; setsid is not among the base's tools
        await script(
          path.join(src, "build.sh"),
          `#!/bin/sh\nsleep ${marker} &\ntimeout 99999 sleep ${marker} &\necho started\nwait\n`,
        );
        const controller = new AbortController();
        let notStarted: Error | undefined;
        const req = request(root, derivation({ kind: "source", path: "build.sh" }), {
          src,
          sandbox: "strict",
          signal: controller.signal,
          timeoutMs: how === "timeout" ? 1500 : undefined,
          log: (line) => {
            // aborted once both sleeps run, and the timeout that left the process group (its command line names the marker too)
            if (line === "started" && how === "abort") {
              void waitFor(async () => (await processesWith(`sleep ${marker}`)).length === 3, { what: `both \`sleep ${marker}\` and the timeout to start` })
                .catch((error: Error) => (notStarted = error))
                .finally(() => controller.abort());
            }
          },
        });
        await rejectsWith(runBuild(req), how === "abort" ? ERR_BUILD_ABORTED : ERR_BUILD_TIMEOUT);
        if (notStarted) throw notStarted;
        let left: number[] = [];
        for (let i = 0; i < 20; i++) {
          left = await processesWith(`sleep ${marker}`);
          if (left.length === 0) break;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        expect(left).to.deep.equal([]);
      });
    }
  });
});
