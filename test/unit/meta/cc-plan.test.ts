/**
 * The C compiler's tool module (meta-cc) on argument lists as make, autotools and cc-rs write them.
 */
import { expect } from "chai";
import { ccTool } from "../../../src/meta/plan/cc";

const DIR = "/work/proj";
const outcome = (args: string[], env: NodeJS.ProcessEnv = { HOME: "/home/u" }) => ccTool.plan("/usr/bin/cc", args, DIR, env);

describe("meta-cc: compiler arguments", () => {
  it("a compile to an object: its output, the shim's own dep-info (not an output), roots normalised, the source in the key", () => {
    const o = outcome(["-O2", "-I", `${DIR}/include`, "-DNAME=x", "-c", "src/a.c", "-o", "build/a.o"], { HOME: "/home/u", CPATH: "/opt/inc", PATH: "/bin" });
    if (o.kind !== "plan") throw new Error(o.reason);
    const p = o.plan;
    expect(p.outDir).to.equal(`${DIR}/build`);
    expect(p.outputStems).to.deep.equal(["a.o"]);
    expect(p.depInfo).to.equal(`${DIR}/build/.a.o.meta-cc.d`);
    expect(p.depInfoIsOutput).to.equal(false);
    expect(p.runArgs.slice(-3)).to.deep.equal(["-MD", "-MF", p.depInfo]);
    expect(p.normArgs).to.deep.equal(["-O2", "-I", "@@PKG_CWD@@/include", "-DNAME=x", "-c", "src/a.c", "-o", "build/a.o"]);
    expect(p.keyFiles).to.deep.equal([`${DIR}/src/a.c`]);
    expect(p.envNames).to.deep.equal(["CPATH"]);
    expect(p.label).to.equal("a.c");
    expect(p.labelHash).to.match(/^[0-9a-f]{16}$/);
    expect(p.refuseSources?.pattern.test("x = __DATE__;")).to.equal(true);
  });

  it("with debug info the directory stays in the key (the object records it); -g0 and SOURCE_DATE_EPOCH as expected", () => {
    const g = outcome(["-g", "-c", "a.c", "-o", "a.o"]);
    if (g.kind !== "plan") throw new Error(g.reason);
    expect(g.plan.roots.map(([, token]) => token)).to.not.include("@@PKG_CWD@@");
    const g0 = outcome(["-g", "-g0", "-c", "a.c", "-o", "a.o"]);
    if (g0.kind !== "plan") throw new Error(g0.reason);
    expect(g0.plan.roots.map(([, token]) => token)).to.include("@@PKG_CWD@@");
    const dated = outcome(["-c", "a.c", "-o", "a.o"], { SOURCE_DATE_EPOCH: "1" });
    if (dated.kind !== "plan") throw new Error(dated.reason);
    expect(dated.plan.refuseSources).to.equal(undefined);
    expect(dated.plan.envNames).to.deep.equal(["SOURCE_DATE_EPOCH"]);
  });

  it("passes what is not one compile to one object, or writes other files, each with its reason", () => {
    const cases: Array<[string[], RegExp]> = [
      [["-o", "app", "a.o", "b.o"], /no -c/],
      [["-c", "a.c"], /no -o/],
      [["-c", "a.c", "b.c", "-o", "x.o"], /2 input files/],
      [["-c", "a.rs", "-o", "a.o"], /not a C or C\+\+ source/],
      [["-E", "a.c", "-o", "a.i"], /-E/],
      [["-S", "a.c", "-o", "a.s"], /-S/],
      [["-c", "-", "-o", "a.o"], /stdin/],
      [["-c", "a.c", "-o", "a.o", "-MD", "-MF", "a.d"], /dependency file/],
      [["-c", "a.c", "-o", "a.o", "-MFa.d"], /dependency file/],
      [["-c", "a.c", "-o", "a.o", "--coverage"], /writes other files/],
      [["-c", "a.c", "-o", "a.o", "-fprofile-arcs"], /writes other files/],
      [["-c", "a.c", "-o", "a.o", "-save-temps"], /writes other files/],
      [["-c", "a.c", "-o", "a.o", "-gsplit-dwarf"], /\.dwo/],
      [["-x", "c", "-c", "a", "-o", "a.o"], /explicit language/],
      [["-B/opt/gcc", "-c", "a.c", "-o", "a.o"], /another compiler/],
      [["@args.rsp"], /response file/],
      [["-c", "a.c", "-o"], /-o without a value/],
    ];
    for (const [args, reason] of cases) {
      const o = outcome(args);
      expect(o.kind, args.join(" ")).to.equal("pass");
      if (o.kind === "pass") expect(o.reason, args.join(" ")).to.match(reason);
    }
    const deps = outcome(["-c", "a.c", "-o", "a.o"], { DEPENDENCIES_OUTPUT: "a.d" });
    expect(deps.kind).to.equal("pass");
  });
});
