/**
 * Hostile clients of the store daemon and hostile builds (issue 10): direct socket clients (this user, another
 * uid), requests that try to turn names into paths, over-long lines, and builds that try to reach the daemon's
 * full API, read the host, plant symlinks for the daemon to follow, or leave a symlink as their output.
 * Real daemons in this process, real sockets, the real sandbox.
 */
import { expect } from "chai";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, lstat, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from "node:fs/promises";
import net from "node:net";
import { homedir, tmpdir } from "node:os";
import path from "node:path";
import { detectSandbox } from "../../../src/builder/sandbox";
import { sourceOnlyDerivation, writeDerivation, type Derivation } from "../../../src/derivation";
import { runDaemon } from "../../../src/daemon/daemon";
import { MAX_NDJSON_LINE } from "../../../src/daemon/ndjson";
import type { PkgError } from "../../../src/errors";
import { exitCodeOf } from "../../../cli/base";
import { makeSandbox, scriptDerivation, withDaemon } from "./helpers";
import { firstLinkOf } from "../../helpers/dag-pb";
import { rejection } from "../../helpers/errors";
import { skipBecause } from "../../helpers/skip";

/** Sends raw bytes on a fresh connection; resolves with every line received until the daemon closes it (or `ms`). */
function rawExchange(socketPath: string, payload: string | Buffer, ms = 10_000): Promise<{ lines: string[]; closedByDaemon: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(socketPath);
    let text = "";
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ lines: text.split("\n").filter((l) => l !== ""), closedByDaemon: false });
    }, ms);
    socket.on("data", (d) => (text += d.toString()));
    socket.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.on("end", () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ lines: text.split("\n").filter((l) => l !== ""), closedByDaemon: true });
    });
    socket.write(payload);
  });
}

const BAD_NAMES: Array<[string, string]> = [
  ["parent", "../../../../tmp/x"],
  ["dot-dot", ".."],
  ["slash", "a/b"],
  ["absolute", "/etc/passwd"],
  ["NUL", "a\0b"],
  ["newline", "a\nb"],
  ["300 bytes", "x".repeat(300)],
  ["empty", ""],
];

describe("hostile clients of the store daemon (direct socket requests)", function () {
  this.timeout(60_000);
  const f = withDaemon();

  it("get-path and add-path refuse every name that is not one plain path component (ERR_NAME_INVALID, exit 7); nothing is written outside the store", async () => {
    const cid = await f.s.content.putTree([{ path: "a.txt", content: "a\n" }]);
    const victim = path.join(f.s.dir, "victim");
    await mkdir(victim);
    await writeFile(path.join(victim, "keep"), "mine\n");
    const file = path.join(f.s.dir, "file.txt");
    await writeFile(file, "x\n");
    for (const [label, name] of BAD_NAMES) {
      // the name as it would reach the victim directory from the store's paths/
      const escape = name === "../../../../tmp/x" ? path.relative(path.join(f.s.storeDir, "paths"), victim) : name;
      for (const op of ["get-path", "add-path"] as const) {
        const params = op === "get-path" ? { cid: cid.toString(), name: escape } : { path: file, name: escape };
        const error = await rejection(f.client.request(op, params));
        expect(error.code, `${op} ${label}`).to.equal("ERR_NAME_INVALID");
        expect(exitCodeOf(error.code)).to.equal(7);
        expect(error.message, `${op} ${label}`).to.not.include("\n");
        expect(error.message.length, `${op} ${label}`).to.be.below(300);
      }
    }
    expect(await readdir(victim)).to.deep.equal(["keep"]);
    expect(await readFile(path.join(victim, "keep"), "utf8")).to.equal("mine\n");
    expect(await readdir(path.join(f.s.storeDir, "paths"))).to.deep.equal([]);
    // and a good name still works
    const got = (await f.client.request("get-path", { cid: cid.toString(), name: "fine" })) as { path: string };
    expect(path.dirname(got.path)).to.equal(path.join(f.s.storeDir, "paths"));
  });

  it("content whose root is a symlink never becomes a store path (get-path; how builds get their src and inputs)", async () => {
    const dir = path.join(f.s.dir, "linkroot");
    await mkdir(dir);
    await symlink(homedir(), path.join(dir, "home"));
    const linkCid = await f.s.content.putDirectory(dir);
    // the DAG of the link alone: the directory's only entry
    const child = firstLinkOf(await f.s.content.getBlock(linkCid));
    const error = await rejection(f.client.request("get-path", { cid: child.toString(), name: "home" }));
    expect(error.code).to.equal("ERR_STORE_BAD_CID");
    expect(exitCodeOf(error.code)).to.equal(7);
    expect(error.message).to.match(/symbolic link/);
    expect(await readdir(path.join(f.s.storeDir, "paths"))).to.deep.equal([]);
  });

  it("a request line longer than 1 MiB is answered with an error and the connection closed; the daemon serves others", async () => {
    const huge = `{"op":"status","pad":"${"x".repeat(MAX_NDJSON_LINE + 10)}"}\n`;
    const result = await rawExchange(f.s.socket, huge);
    expect(result.closedByDaemon).to.equal(true);
    expect(result.lines).to.have.length(1);
    const answer = JSON.parse(result.lines[0]!) as { ok: boolean; error: { code: string; message: string } };
    expect(answer.ok).to.equal(false);
    expect(answer.error.code).to.equal("ERR_STORE_BAD_REQUEST");
    expect(answer.error.message).to.match(/longer than/);
    // the same without a newline at all: the daemon does not wait for it to end
    const endless = await rawExchange(f.s.socket, Buffer.alloc(MAX_NDJSON_LINE + 4096, "y"));
    expect(endless.closedByDaemon).to.equal(true);
    const status = (await f.client.request("status")) as { pid: number };
    expect(status.pid).to.equal(process.pid);
  });

  it("another uid cannot connect to the daemon's socket (the full API serves only this user's CLI)", async function () {
    if (typeof process.getuid !== "function" || process.getuid() !== 0) skipBecause(this, "not root: cannot become another uid");
    const code = `require("net").connect(${JSON.stringify(f.s.socket)}).on("connect", () => { console.log("connected"); process.exit(0); }).on("error", (e) => { console.log(e.code); process.exit(0); });`;
    const child = spawn("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "-e", code], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    await new Promise((resolve) => child.on("exit", resolve));
    expect(out.trim()).to.be.oneOf(["EACCES", "ENOENT"]);
  });
});

describe("the daemon's socket directory", function () {
  this.timeout(30_000);

  it("is chmodded only when the daemon created it; an existing directory keeps its mode; one others may write (not sticky) is refused", async () => {
    const s = await makeSandbox();
    try {
      const mine = path.join(s.dir, "mine");
      await mkdir(mine, { mode: 0o755 });
      await chmod(mine, 0o755);
      const daemon = await runDaemon({ root: s.storeDir, socket: path.join(mine, "d.sock"), content: s.content, log: () => {} });
      expect((await stat(mine)).mode & 0o777).to.equal(0o755);
      expect((await stat(path.join(mine, "d.sock"))).mode & 0o777).to.equal(0o600);
      await daemon.close();

      const created = path.join(s.dir, "new", "run");
      const second = await runDaemon({ root: s.storeDir, socket: path.join(created, "d.sock"), content: s.content, log: () => {} });
      expect((await stat(created)).mode & 0o777).to.equal(0o700);
      await second.close();

      const open = path.join(s.dir, "open");
      await mkdir(open);
      await chmod(open, 0o777);
      const error = await rejection(runDaemon({ root: s.storeDir, socket: path.join(open, "d.sock"), content: s.content, log: () => {} }));
      expect(error.code).to.equal("ERR_STORE_SOCKET_DIR_UNSAFE");
      expect((await stat(open)).mode & 0o777).to.equal(0o777);
    } finally {
      await s.cleanup();
    }
  });
});

/** A derivation whose builder is a node script (node's built-ins: sockets without a shell tool). */
async function nodeDerivation(content: import("../../../src/content/types").ContentStore, name: string, script: string, extra: Array<{ path: string; content: string }> = []) {
  const src = await content.putTree([{ path: "build.js", content: `#!${process.execPath}\n${script}\n` }, ...extra]);
  const derivation: Derivation = { ...sourceOnlyDerivation(name, src), builder: { kind: "source", path: "build.js" } };
  return (await writeDerivation(content, derivation)).cid;
}

describe("hostile builds (real sandbox)", function () {
  this.timeout(120_000);
  const f = withDaemon();

  before(async function () {
    const sandbox = await detectSandbox();
    if (!sandbox.available) skipBecause(this, `the build sandbox is not available here: ${sandbox.reason ?? "no reason given"}`);
    // node must be inside the build's root (the system's /usr, or a trusted host path)
    if (!process.execPath.startsWith("/usr/")) skipBecause(this, `node (${process.execPath}) is not under /usr/, so not inside a build's root`);
  });

  it("a build's socket answers only invoke, as that build: get-path, add-path, add-substitute, gc, status and shutdown are refused; the main socket is not in its root", async () => {
    const other = await scriptDerivation(f.s.content, { name: "victim-1.0", script: 'mkdir -p "$out"; echo real > "$out/v"' });
    const evil = await f.s.content.putTree([{ path: "v", content: "evil\n" }]);
    const ops = [
      { op: "get-path", cid: evil.toString(), name: "../../../x" },
      { op: "get-path", cid: evil.toString(), name: "ok" },
      { op: "add-path", path: "/etc/hostname" },
      { op: "add-substitute", drv: other.toString(), cid: evil.toString() },
      { op: "gc" },
      { op: "status" },
      { op: "shutdown" },
      { op: "invoke", tool: "no-such-tool", phase: "settle", buildId: "someone-else" },
    ];
    const drv = await nodeDerivation(
      f.s.content,
      "prober-1.0",
      `const net = require("net"), fs = require("fs");
const ops = ${JSON.stringify(ops)};
const results = {};
function ask(sock, op, i) {
  return new Promise((resolve) => {
    const s = net.connect(sock);
    let got = "";
    s.on("data", (d) => { got += d; if (got.includes("\\n")) { s.destroy(); resolve(JSON.parse(got.split("\\n")[0])); } });
    s.on("error", (e) => resolve({ connectError: e.code }));
    s.on("connect", () => s.write(JSON.stringify({ id: i, ...op }) + "\\n"));
  });
}
(async () => {
  results.socket = process.env.PKG_STORE_SOCKET;
  results.answers = [];
  for (let i = 0; i < ops.length; i++) results.answers.push(await ask(process.env.PKG_STORE_SOCKET, ops[i], i));
  results.main = await ask(${JSON.stringify(f.s.socket)}, { op: "status" }, 99);
  results.mainExists = fs.existsSync(${JSON.stringify(f.s.socket)});
  fs.writeFileSync(process.env.out, JSON.stringify(results));
})();`,
    );
    const result = (await f.client.request("realise", { drv: drv.toString() })) as { outputs: { out: string }; sandbox?: string };
    expect(result.sandbox).to.equal("namespaces");
    const seen = JSON.parse(await readFile(result.outputs.out, "utf8")) as {
      socket: string;
      answers: Array<{ ok: boolean; error?: { code: string; message: string } }>;
      main: { connectError?: string };
      mainExists: boolean;
    };
    expect(seen.socket).to.be.a("string").and.not.equal(f.s.socket);
    for (const [i, answer] of seen.answers.entries()) {
      expect(answer.ok, JSON.stringify(ops[i])).to.equal(false);
      if (ops[i]!.op === "invoke") expect(answer.error!.code).to.match(/^ERR_META_|^ERR_STORE_BAD_REQUEST/);
      else expect(answer.error!.message, JSON.stringify(ops[i])).to.match(/not available on a build's socket/);
    }
    expect(seen.main.connectError).to.equal("ENOENT");
    expect(seen.mainExists).to.equal(false);
    // nothing the build asked for happened: no substitute, the daemon still runs, the victim builds for real
    const victim = (await f.client.request("realise", { drv: other.toString() })) as { outputs: { out: string }; built: boolean };
    expect(victim.built).to.equal(true);
    expect(await readFile(path.join(victim.outputs.out, "v"), "utf8")).to.equal("real\n");
    // the build's socket is gone with the build
    expect(existsSync(seen.socket)).to.equal(false);
  });

  it("a build's invoke cannot make the daemon run a program the build made, nor read or write outside the build's directories", async () => {
    const marker = path.join(f.s.dir, "daemon-ran-it");
    const drv = await nodeDerivation(
      f.s.content,
      "invoker-1.0",
      `const net = require("net"), fs = require("fs"), path = require("path");
const cwd = process.cwd();
// a "compiler" that, run by the daemon outside the sandbox, would leave a file on the host
fs.writeFileSync(path.join(cwd, "fake-cc"), "#!/bin/sh\\necho pwned > ${marker}\\necho fake 1.0\\n", { mode: 0o755 });
fs.writeFileSync(path.join(cwd, "a.c"), "int x;\\n");
fs.symlinkSync("/etc", path.join(cwd, "etc-link"));
const env = { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: process.env.TMPDIR };
const asks = [
  [path.join(cwd, "fake-cc"), "-c", "a.c", "-o", "a.o"],
  ["/usr/bin/cc", "-c", "a.c", "-o", "/etc/pwned.o"],
  ["/usr/bin/cc", "-c", "a.c", "-o", "etc-link/pwned.o"],
];
function ask(argv, i) {
  return new Promise((resolve) => {
    const s = net.connect(process.env.PKG_STORE_SOCKET);
    let got = "";
    s.on("data", (d) => { got += d; if (got.includes("\\n")) { s.destroy(); resolve(JSON.parse(got.split("\\n")[0])); } });
    s.on("error", (e) => resolve({ connectError: e.code }));
    s.on("connect", () => s.write(JSON.stringify({ id: i, op: "invoke", tool: "cc", phase: "lookup", argv, cwd, env, uid: 0 }) + "\\n"));
  });
}
(async () => {
  const answers = [];
  for (let i = 0; i < asks.length; i++) answers.push(await ask(asks[i], i));
  fs.writeFileSync(process.env.out, JSON.stringify(answers));
})();`,
    );
    const result = (await f.client.request("realise", { drv: drv.toString() }).catch((e: PkgError) => { throw new Error(JSON.stringify(e.details).slice(0, 3000)); })) as { outputs: { out: string } };
    const answers = JSON.parse(await readFile(result.outputs.out, "utf8")) as Array<{ ok: boolean; result?: { action: string; reason: string } }>;
    expect(answers).to.have.length(3);
    for (const answer of answers) {
      expect(answer.ok).to.equal(true);
      expect(answer.result!.action).to.equal("pass");
      expect(answer.result!.reason).to.match(/^not cached: /);
    }
    expect(answers[0]!.result!.reason).to.match(/not a program of the system/);
    expect(answers[1]!.result!.reason).to.match(/outside the build's directories/);
    expect(answers[2]!.result!.reason).to.match(/outside the build's directories/);
    expect(existsSync(marker)).to.equal(false);
  });

  it("a build runs as an unprivileged user in a minimal root: no /root, /home, /etc/shadow, no store paths outside its closure, nothing writable but its own directories", async () => {
    const unrelated = await scriptDerivation(f.s.content, { name: "unrelated-1.0", script: 'mkdir -p "$out"; echo secret > "$out/s"' });
    const unrelatedOut = ((await f.client.request("realise", { drv: unrelated.toString() })) as { outputs: { out: string } }).outputs.out;
    const outside = await mkdtemp(path.join(tmpdir(), "chainpkg-outside-"));
    // a file of the daemon user's home (root's: /root), beside what trusted host paths may show of it
    const secret = path.join(homedir(), `.chainpkg-test-secret-${process.pid}`);
    await writeFile(secret, "secret\n", { mode: 0o644 });
    try {
      const drv = await scriptDerivation(f.s.content, {
        name: "snoop-1.0",
        script: [
          'mkdir -p "$out"',
          'id -u > "$out/uid"',
          `for p in /home /etc/shadow /etc/hostname /var /opt "${secret}" "` + unrelatedOut + '" "' + f.s.contentDir + '" "' + path.join(f.s.storeDir, "index.sqlite") + '" "' + outside + '"; do',
          '  if [ -e "$p" ]; then echo "$p" >> "$out/visible"; fi',
          "done",
          'touch "' + outside + '/x" 2>/dev/null && echo outside-written >> "$out/writes" || true',
          "touch /x 2>/dev/null && echo root-written >> \"$out/writes\" || true",
          "touch /tmp/x 2>/dev/null && echo tmp-written >> \"$out/writes\" || true",
          'touch "$TMPDIR/x" && echo own-tmp-written >> "$out/writes"',
          'ls / | sort | tr "\\n" " " > "$out/root"',
        ].join("\n"),
      });
      const result = (await f.client.request("realise", { drv: drv.toString() })) as { outputs: { out: string } };
      const out = result.outputs.out;
      // root's daemon: the build user; a user's daemon: nobody inside a user namespace (that user on the host)
      expect((await readFile(path.join(out, "uid"), "utf8")).trim()).to.equal("65534");
      expect(existsSync(path.join(out, "visible"))).to.equal(false, existsSync(path.join(out, "visible")) ? await readFile(path.join(out, "visible"), "utf8") : "");
      expect((await readFile(path.join(out, "writes"), "utf8")).trim()).to.equal("own-tmp-written");
      expect(await readdir(outside)).to.deep.equal([]);
      const root = (await readFile(path.join(out, "root"), "utf8")).trim().split(" ");
      expect(root).to.not.include("home");
      expect(root).to.include("usr");
      // what the build made is the daemon user's (root's for a root daemon), read-only
      const st = await stat(path.join(out, "uid"));
      expect(st.uid).to.equal(typeof process.getuid === "function" ? process.getuid() : st.uid);
      expect(st.mode & 0o222).to.equal(0);
    } finally {
      await rm(outside, { recursive: true, force: true });
      await rm(secret, { force: true });
    }
  });

  it("a build script that is a symlink to a host file is refused, and the daemon never chmods the target", async () => {
    const target = path.join(f.s.dir, "host-file");
    await writeFile(target, "#!/bin/sh\necho pwned\n", { mode: 0o644 });
    await chmod(target, 0o644);
    const tree = path.join(f.s.dir, "tree");
    await mkdir(tree);
    await symlink(target, path.join(tree, "build.sh"));
    // and one through a linked directory: ./bin/build.sh where bin → the host directory
    const tree2 = path.join(f.s.dir, "tree2");
    await mkdir(tree2);
    await symlink(path.dirname(target), path.join(tree2, "bin"));
    for (const [dir, builder] of [[tree, "build.sh"], [tree2, "bin/host-file"]] as const) {
      const src = await f.s.content.putDirectory(dir);
      const derivation: Derivation = { ...sourceOnlyDerivation("linked-1.0", src), builder: { kind: "source", path: builder } };
      const drv = (await writeDerivation(f.s.content, derivation)).cid;
      const error = await rejection(f.client.request("realise", { drv: drv.toString() }));
      expect(error.code).to.equal("ERR_BUILD_BUILDER_NOT_FOUND");
      expect(error.message).to.match(/symbolic link/);
      expect((await stat(target)).mode & 0o777).to.equal(0o644);
    }
  });

  it("an output that is a symlink to a host directory is refused: nothing of the target enters the store", async () => {
    const secret = path.join(f.s.dir, "secret");
    await mkdir(secret);
    await writeFile(path.join(secret, "key"), "hunter2\n");
    const drv = await scriptDerivation(f.s.content, { name: "link-out-1.0", script: `ln -s ${secret} "$out"` });
    const error = await rejection(f.client.request("realise", { drv: drv.toString() }));
    expect(error.code).to.equal("ERR_BUILD_NO_OUTPUT");
    expect(error.message).to.match(/symbolic link/);
    for (const entry of await readdir(path.join(f.s.storeDir, "paths"))) {
      expect(existsSync(path.join(f.s.storeDir, "paths", entry, "key")), entry).to.equal(false);
    }
    expect((await f.client.request("query", { drv: drv.toString() })) as unknown).to.equal(null);
    expect((await lstat(secret)).isDirectory()).to.equal(true);
  });
});
