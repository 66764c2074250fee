/**
 * Derivations: the canonical DAG-CBOR encoding and its CID (literal test vectors, so an accidental change
 * of the encoding fails here), validation of every field with stable codes, and fast-check properties:
 * round trip, key and set order irrelevance, and that changing any field changes the CID.
 */
import { createHash } from "node:crypto";
import { expect } from "chai";
import * as dagCbor from "@ipld/dag-cbor";
import fc from "fast-check";
import { CID } from "multiformats/cid";
import { create as createDigest } from "multiformats/hashes/digest";
import {
  currentSystem,
  dagCborCid,
  decodeDerivation,
  derivationCid,
  encodeDerivation,
  ERR_DERIVATION_DECODE,
  ERR_DERIVATION_EXTRA_FIELD,
  ERR_DERIVATION_INTEGRITY,
  ERR_DERIVATION_INVALID_ARGS,
  ERR_DERIVATION_INVALID_BUILDER,
  ERR_DERIVATION_INVALID_ENV,
  ERR_DERIVATION_INVALID_INPUT,
  ERR_DERIVATION_INVALID_NAME,
  ERR_DERIVATION_INVALID_OUTPUT,
  ERR_DERIVATION_INVALID_PACKAGE,
  ERR_DERIVATION_INVALID_SRC,
  ERR_DERIVATION_INVALID_SYSTEM,
  ERR_DERIVATION_INVALID_TYPE,
  ERR_DERIVATION_MISSING_FIELD,
  ERR_DERIVATION_NOT_CANONICAL,
  ERR_DERIVATION_UNSUPPORTED,
  ERR_DERIVATION_UNSUPPORTED_FORMAT,
  type Derivation,
  type DerivationInput,
} from "../../src/derivation";
import { compareUtf8 } from "../../src/files/order";
import { isWellFormedUnicode } from "../../src/files/toml";
import type { InputKind } from "../../src/manifest";
import type { ErrorCode } from "../../src/errors";
import { throwsWith } from "../helpers/errors";

const RAW = 0x55;
const DAG_PB = 0x70;

/** A CID of `text`'s sha2-256 with the given codec: fixed inputs for the vectors. */
function cidOf(text: string, codec: number): CID {
  return CID.createV1(codec, createDigest(0x12, createHash("sha256").update(text).digest()));
}

/** JSON with CIDs as {"/": cid}: compares derivations by value, whatever their key order or CID instances. */
function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

const depDerivation = (): Derivation => ({
  format: 1,
  name: "dep-0.2.0",
  system: "x86_64-linux",
  builder: { kind: "none" },
  args: [],
  env: {},
  src: cidOf("dep src", DAG_PB),
  inputSrcs: [cidOf("dep src", DAG_PB)],
  inputDrvs: {},
  outputs: { out: { kind: "input-addressed" } },
  package: { repository: "crates", name: "dep", version: "0.2.0", meta: cidOf("dep meta", RAW) },
});

const helloDerivation = (): Derivation => ({
  format: 1,
  name: "hello-1.0.0",
  system: "x86_64-linux",
  builder: { kind: "input", input: "cargo", path: "bin/cargo" },
  args: ["build", "--release"],
  env: { RUST_BACKTRACE: "1" },
  src: cidOf("hello src", DAG_PB),
  inputSrcs: [cidOf("hello src", DAG_PB)],
  inputDrvs: {
    cargo: { drv: dagCborCid(new TextEncoder().encode("cargo drv")), kinds: ["meta-input"], output: "out" },
    dep: { drv: derivationCid(depDerivation()), kinds: ["input"], output: "out" },
    rustc: { drv: dagCborCid(new TextEncoder().encode("rustc drv")), kinds: ["input", "native-input"], output: "out" },
  },
  outputs: { out: { kind: "input-addressed" } },
  package: { repository: "crates", name: "hello", version: "1.0.0", meta: cidOf("hello meta", RAW) },
});

describe("derivation encoding", () => {
  it("matches the literal test vectors (a change of the encoding is a change of every CID)", () => {
    // The bytes were checked by hand against RFC 8949 canonical CBOR (map keys by length, then bytes; CIDs as
    // tag 42 over 0x00 + binary CID), and the CID recomputed outside this code (Python hashlib + base32).
    const dep = encodeDerivation(depDerivation());
    expect(Buffer.from(dep).toString("hex")).to.equal(
      "ab63656e76a063737263d82a5825000170122017ee82c19e8a13ac1110f17ea373f55848d51a6a149bdb948ce889cea15a3b79646172677380" +
      "646e616d65696465702d302e322e3066666f726d6174016673797374656d6c7838365f36342d6c696e7578676275696c646572a1646b696e64" +
      "646e6f6e65676f757470757473a1636f7574a1646b696e646f696e7075742d616464726573736564677061636b616765a4646d657461d82a58" +
      "2500015512206780664f85a1978e6ac11c1be5110b1445d79b4b0470af5c64a63991145136e5646e616d65636465706776657273696f6e6530" +
      "2e322e306a7265706f7369746f72796663726174657369696e70757444727673a069696e7075745372637381d82a582500017012201" +
      "7ee82c19e8a13ac1110f17ea373f55848d51a6a149bdb948ce889cea15a3b79",
    );
    expect(derivationCid(depDerivation()).toString()).to.equal("bafyreiaubjarwe3okrt2aghgcqhgb4vtvnmtpri562hdbeuanjlvhs62kq");
    expect(derivationCid(helloDerivation()).toString()).to.equal("bafyreibztqbf323lukpvz465bhy5epiyeoqgquebsaosv546digixatzya");
    expect(encodeDerivation(helloDerivation()).length).to.equal(622);
  });

  it("is a CIDv1 dag-cbor sha2-256 of the bytes, and reads back to the same value", () => {
    const d = helloDerivation();
    const bytes = encodeDerivation(d);
    const cid = derivationCid(d);
    expect([cid.version, cid.code, cid.multihash.code]).to.deep.equal([1, 0x71, 0x12]);
    expect(cid.multihash.digest).to.deep.equal(new Uint8Array(createHash("sha256").update(bytes).digest()));
    expect(plain(decodeDerivation(bytes, cid))).to.deep.equal(plain(d));
  });

  it("stores CIDs as IPLD links (tag 42), so DAG walkers reach inputs, sources and meta", () => {
    const decoded = dagCbor.decode(encodeDerivation(helloDerivation())) as Record<string, unknown>;
    expect(CID.asCID(decoded.src)?.toString()).to.equal(cidOf("hello src", DAG_PB).toString());
    const inputs = decoded.inputDrvs as Record<string, { drv: unknown }>;
    expect(CID.asCID(inputs.dep.drv)?.toString()).to.equal(derivationCid(depDerivation()).toString());
  });

  it("sorts sets (inputSrcs, kinds) and ignores object key order", () => {
    const d = helloDerivation();
    const extra = cidOf("patch", RAW);
    const a = { ...d, inputSrcs: [d.src!, extra] };
    const b = { ...d, inputSrcs: [extra, d.src!] };
    expect(derivationCid(a).equals(derivationCid(b))).to.equal(true);
    const kinds: InputKind[] = ["native-input", "input"];
    const shuffled = { ...d, inputDrvs: { rustc: { ...d.inputDrvs.rustc, kinds }, dep: d.inputDrvs.dep, cargo: d.inputDrvs.cargo } };
    expect(derivationCid(shuffled).equals(derivationCid(d))).to.equal(true);
    const reversed = Object.fromEntries(Object.entries(d).reverse()) as unknown as Derivation;
    expect(Buffer.from(encodeDerivation(reversed)).equals(Buffer.from(encodeDerivation(d)))).to.equal(true);
  });

  it("names this machine's system the Nix way", () => {
    expect(currentSystem()).to.match(/^[a-z0-9_]+-[a-z]+$/);
    if (process.platform === "linux" && process.arch === "x64") expect(currentSystem()).to.equal("x86_64-linux");
  });
});

describe("derivation validation", () => {
  type Mutation = (d: Record<string, unknown>) => unknown;
  const set = (field: string, value: unknown): Mutation => (d) => ({ ...d, [field]: value });
  const hello = () => plainValue(helloDerivation());
  /** A structural copy that keeps CID instances (what a decoder would see). */
  function plainValue(d: Derivation): Record<string, unknown> {
    return dagCbor.decode(dagCbor.encode(d)) as unknown as Record<string, unknown>;
  }
  const withInput = (name: string, patch: Partial<Record<keyof DerivationInput, unknown>>): Mutation => (d) => {
    const inputs = d.inputDrvs as Record<string, Record<string, unknown>>;
    return { ...d, inputDrvs: { ...inputs, [name]: { ...inputs[name], ...patch } } };
  };
  const v0 = CID.createV0(createDigest(0x12, createHash("sha256").update("x").digest()));
  const srcOnly = () => plainValue(depDerivation());

  const table: [string, () => unknown, ErrorCode][] = [
    ["not a map", () => ["a"], ERR_DERIVATION_INVALID_TYPE],
    ["an unknown field", () => ({ ...hello(), extra: 1 }), ERR_DERIVATION_EXTRA_FIELD],
    ["a missing field", () => { const d = hello(); delete d.env; return d; }, ERR_DERIVATION_MISSING_FIELD],
    ["a newer format", () => set("format", 2)(hello()), ERR_DERIVATION_UNSUPPORTED_FORMAT],
    ["format as a string", () => set("format", "1")(hello()), ERR_DERIVATION_INVALID_TYPE],
    ["a name with '/'", () => set("name", "a/b")(hello()), ERR_DERIVATION_INVALID_NAME],
    ["a name starting with '.'", () => set("name", ".hidden")(hello()), ERR_DERIVATION_INVALID_NAME],
    ["a system without a dash", () => set("system", "linux")(hello()), ERR_DERIVATION_INVALID_SYSTEM],
    ["an unknown builder kind", () => set("builder", { kind: "docker" })(hello()), ERR_DERIVATION_UNSUPPORTED],
    ["a builder input not in inputDrvs", () => set("builder", { kind: "input", input: "gcc", path: "bin/gcc" })(hello()), ERR_DERIVATION_INVALID_BUILDER],
    ["a builder path with '..'", () => set("builder", { kind: "input", input: "cargo", path: "../x" })(hello()), ERR_DERIVATION_INVALID_BUILDER],
    ["an absolute source builder", () => set("builder", { kind: "source", path: "/bin/sh" })(hello()), ERR_DERIVATION_INVALID_BUILDER],
    ["a builder with an extra field", () => set("builder", { kind: "none", path: "x" })(srcOnly()), ERR_DERIVATION_EXTRA_FIELD],
    ["args with a builder of kind none", () => set("args", ["x"])(srcOnly()), ERR_DERIVATION_INVALID_ARGS],
    ["env with a builder of kind none", () => set("env", { A: "1" })(srcOnly()), ERR_DERIVATION_INVALID_ENV],
    ["a builder of kind none without src", () => ({ ...srcOnly(), src: null, inputSrcs: [] }), ERR_DERIVATION_INVALID_BUILDER],
    ["an argument with NUL", () => set("args", ["a\u0000b"])(hello()), ERR_DERIVATION_INVALID_ARGS],
    ["an argument with a lone surrogate", () => set("args", ["\ud800"])(hello()), ERR_DERIVATION_INVALID_ARGS],
    ["an argument that is a number", () => set("args", [1])(hello()), ERR_DERIVATION_INVALID_TYPE],
    ["env setting $out", () => set("env", { out: "/tmp" })(hello()), ERR_DERIVATION_INVALID_ENV],
    ["env setting an input's $name", () => set("env", { dep: "x" })(hello()), ERR_DERIVATION_INVALID_ENV],
    ["env setting PATH", () => set("env", { PATH: "/bin" })(hello()), ERR_DERIVATION_INVALID_ENV],
    ["env in the builder's PKG_ prefix", () => set("env", { PKG_CORES: "4" })(hello()), ERR_DERIVATION_INVALID_ENV],
    ["env with a bad name", () => set("env", { "A-B": "1" })(hello()), ERR_DERIVATION_INVALID_ENV],
    ["env with a non-string value", () => set("env", { A: 1 })(hello()), ERR_DERIVATION_INVALID_TYPE],
    ["a CIDv0 src", () => ({ ...hello(), src: v0, inputSrcs: [v0] }), ERR_DERIVATION_INVALID_SRC],
    ["a src missing from inputSrcs", () => set("inputSrcs", [cidOf("other", RAW)])(hello()), ERR_DERIVATION_INVALID_SRC],
    ["a source listed twice", () => { const d = hello(); return { ...d, inputSrcs: [d.src, d.src] }; }, ERR_DERIVATION_INVALID_SRC],
    ["src as a string", () => set("src", cidOf("hello src", DAG_PB).toString())(hello()), ERR_DERIVATION_INVALID_TYPE],
    ["an input drv that is not a derivation CID", () => withInput("dep", { drv: cidOf("x", RAW) })(hello()), ERR_DERIVATION_INVALID_INPUT],
    ["an input name with uppercase", () => { const d = hello(); return { ...d, inputDrvs: { ...(d.inputDrvs as object), Dep: (d.inputDrvs as Record<string, unknown>).dep } }; }, ERR_DERIVATION_INVALID_INPUT],
    ["an input with no kinds", () => withInput("dep", { kinds: [] })(hello()), ERR_DERIVATION_INVALID_INPUT],
    ["an input with an unknown kind", () => withInput("dep", { kinds: ["runtime"] })(hello()), ERR_DERIVATION_INVALID_INPUT],
    ["an input with a kind twice", () => withInput("dep", { kinds: ["input", "input"] })(hello()), ERR_DERIVATION_INVALID_INPUT],
    ["an input with a bad output name", () => withInput("dep", { output: "Out" })(hello()), ERR_DERIVATION_INVALID_INPUT],
    ["an input with an extra field", () => withInput("dep", { version: "1" } as never)(hello()), ERR_DERIVATION_EXTRA_FIELD],
    ["no `out` output", () => set("outputs", { bin: { kind: "input-addressed" } })(hello()), ERR_DERIVATION_INVALID_OUTPUT],
    ["an output kind from the future", () => set("outputs", { out: { kind: "content-addressed" } })(hello()), ERR_DERIVATION_UNSUPPORTED],
    ["an output name with '-'", () => set("outputs", { out: { kind: "input-addressed" }, "d-ev": { kind: "input-addressed" } })(hello()), ERR_DERIVATION_INVALID_OUTPUT],
    ["an input named like an output", () => set("outputs", { out: { kind: "input-addressed" }, dep: { kind: "input-addressed" } })(hello()), ERR_DERIVATION_INVALID_INPUT],
    ["a package version that is a range", () => { const d = hello(); return { ...d, package: { ...(d.package as object), version: "^1.0.0" } }; }, ERR_DERIVATION_INVALID_PACKAGE],
    ["a package with a bad name", () => { const d = hello(); return { ...d, package: { ...(d.package as object), name: "Hello" } }; }, ERR_DERIVATION_INVALID_PACKAGE],
    ["a package missing meta", () => { const d = hello(); const p = { ...(d.package as Record<string, unknown>) }; delete p.meta; return { ...d, package: p }; }, ERR_DERIVATION_MISSING_FIELD],
  ];

  for (const [what, make, code] of table) {
    it(`refuses ${what} (${code}), when encoding and when decoding`, () => {
      throwsWith(() => encodeDerivation(make() as Derivation), code);
      if (what.includes("surrogate")) return; // DAG-CBOR would write U+FFFD: no such bytes to decode
      const bytes = dagCbor.encode(make());
      const error = throwsWith(() => decodeDerivation(bytes, dagCborCid(bytes)), code);
      expect(error.message).to.match(/^derivation bafyrei[a-z2-7]+: /);
      expect(error.details.field).to.be.a("string");
    });
  }

  it("names the field in the message", () => {
    const error = throwsWith(() => encodeDerivation(withInput("dep", { kinds: ["runtime"] })(hello()) as Derivation), ERR_DERIVATION_INVALID_INPUT);
    expect(error.message).to.equal('derivation: inputDrvs.dep.kinds[0]: "runtime" is not an input kind');
    expect(error.details.field).to.equal("inputDrvs.dep.kinds[0]");
  });

  it("refuses bytes that are not DAG-CBOR, are not canonical, or are not the CID's", () => {
    throwsWith(() => decodeDerivation(new Uint8Array([0xff, 0x00])), ERR_DERIVATION_DECODE);
    const good = encodeDerivation(helloDerivation());
    throwsWith(() => decodeDerivation(new Uint8Array([...good, 0x00])), ERR_DERIVATION_DECODE);
    // a valid value whose sets are out of order: decodable, but not the one encoding
    const d = hello();
    const [lo, hi] = [cidOf("zzz", RAW), d.src as CID].sort((a, b) => compareUtf8(a.toString(), b.toString()));
    throwsWith(() => decodeDerivation(dagCbor.encode({ ...d, inputSrcs: [hi, lo] })), ERR_DERIVATION_NOT_CANONICAL);
    expect(decodeDerivation(dagCbor.encode({ ...d, inputSrcs: [lo, hi] })).inputSrcs).to.have.length(2);
    const kinds = dagCbor.encode(withInput("rustc", { kinds: ["native-input", "input"] })(d));
    throwsWith(() => decodeDerivation(kinds), ERR_DERIVATION_NOT_CANONICAL);
    // the right bytes under another CID, and a CID that is no derivation's
    throwsWith(() => decodeDerivation(good, derivationCid(depDerivation())), ERR_DERIVATION_INTEGRITY);
    throwsWith(() => decodeDerivation(good, CID.createV1(RAW, derivationCid(helloDerivation()).multihash)), ERR_DERIVATION_INTEGRITY);
  });
});

// ---------------------------------------------------------------- properties

const arbCid = fc
  .tuple(fc.uint8Array({ minLength: 1, maxLength: 16 }), fc.constantFrom(RAW, DAG_PB))
  .map(([bytes, codec]) => CID.createV1(codec, createDigest(0x12, createHash("sha256").update(bytes).digest())));
const arbDrvCid = fc.uint8Array({ minLength: 1, maxLength: 16 }).map((bytes) => dagCborCid(bytes));
const arbText = fc.string({ unit: "binary", maxLength: 12 }).filter((s) => !s.includes("\u0000") && isWellFormedUnicode(s));
const arbInputName = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,8}$/).filter((n) => n !== "out");
const arbEnvName = fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,8}$/).filter((n) => !["HOME", "PATH", "TMPDIR"].includes(n) && !n.startsWith("PKG_"));
const arbKinds = fc.subarray(["input", "meta-input", "native-input"] as InputKind[], { minLength: 1 });
const arbInput: fc.Arbitrary<DerivationInput> = fc.record({ drv: arbDrvCid, kinds: arbKinds, output: fc.constantFrom("out", "dev", "lib") });
const arbPath = fc.array(fc.stringMatching(/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,6}$/).filter((s) => s !== "." && s !== ".."), { minLength: 1, maxLength: 3 }).map((s) => s.join("/"));

const arbDerivation: fc.Arbitrary<Derivation> = fc
  .record({
    name: fc.stringMatching(/^[a-z0-9][a-z0-9.+_-]{0,20}$/),
    system: fc.constantFrom("x86_64-linux", "aarch64-darwin", "x86_64-unknown-linux-musl", "wasm32-wasi"),
    inputDrvs: fc.dictionary(arbInputName, arbInput, { maxKeys: 4 }),
    src: fc.option(arbCid, { nil: null }),
    extraSrcs: fc.uniqueArray(arbCid, { maxLength: 3, selector: (c) => c.toString() }),
    args: fc.array(arbText, { maxLength: 4 }),
    env: fc.dictionary(arbEnvName, arbText, { maxKeys: 3 }),
    package: fc.option(fc.record({
      repository: fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/),
      name: fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/),
      version: fc.tuple(fc.nat(20), fc.nat(20), fc.nat(20)).map(([a, b, c]) => `${a}.${b}.${c}`),
      meta: arbCid,
    }), { nil: null }),
    builderChoice: fc.nat(),
    builderPath: arbPath,
    dev: fc.boolean(),
  })
  .map((r): Derivation => {
    const inputs = Object.keys(r.inputDrvs);
    const srcs = r.src === null ? r.extraSrcs : [r.src, ...r.extraSrcs.filter((c) => !c.equals(r.src!))];
    const variants = [
      ...(r.src !== null ? (["none", "source"] as const) : []),
      ...(inputs.length > 0 ? (["input"] as const) : []),
    ];
    const kind = variants.length === 0 ? null : variants[r.builderChoice % variants.length];
    const outputs: Derivation["outputs"] = kind !== "none" && r.dev && !inputs.includes("dev")
      ? { out: { kind: "input-addressed" }, dev: { kind: "input-addressed" } }
      : { out: { kind: "input-addressed" } };
    const base = { format: 1 as const, name: r.name, system: r.system, src: r.src, inputSrcs: srcs, inputDrvs: r.inputDrvs, outputs, package: r.package };
    if (kind === null || kind === "input") {
      // with no src and no inputs a derivation needs some builder: use an input-less... input builder is impossible,
      // so give it an input named "tool"
      const inputDrvs = kind === null ? { tool: { drv: dagCborCid(new Uint8Array([1])), kinds: ["native-input" as InputKind], output: "out" } } : r.inputDrvs;
      const input = kind === null ? "tool" : inputs[r.builderChoice % inputs.length];
      const env = Object.fromEntries(Object.entries(r.env).filter(([k]) => !(k in inputDrvs)));
      return { ...base, inputDrvs, builder: { kind: "input", input, path: r.builderPath }, args: r.args, env };
    }
    if (kind === "source") return { ...base, builder: { kind: "source", path: r.builderPath }, args: r.args, env: r.env };
    return { ...base, builder: { kind: "none" }, args: [], env: {} };
  });

/** Rebuilds every map with its keys in another order and every set shuffled, driven by `seed`. */
function scramble(value: unknown, seed: number): unknown {
  let state = seed >>> 0 || 1;
  const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0);
  const shuffle = <T>(items: T[]): T[] => {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = next() % (i + 1);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  };
  const walk = (v: unknown, key: string): unknown => {
    if (CID.asCID(v) !== null || v === null || typeof v !== "object") return v;
    if (Array.isArray(v)) return key === "inputSrcs" || key === "kinds" ? shuffle(v) : v.map((x) => walk(x, ""));
    return Object.fromEntries(shuffle(Object.entries(v)).map(([k, x]) => [k, walk(x, k)]));
  };
  return walk(value, "");
}

describe("derivation properties", () => {
  it("round trips: decode(encode(d)) is d, and encodes to the same bytes", () => {
    fc.assert(fc.property(arbDerivation, (d) => {
      const bytes = encodeDerivation(d);
      const back = decodeDerivation(bytes, dagCborCid(bytes));
      expect(plain(back)).to.deep.equal(plain(normalise(d)));
      expect(Buffer.from(encodeDerivation(back)).equals(Buffer.from(bytes))).to.equal(true);
    }), { numRuns: 300 });
  });

  it("does not depend on object key order or set order", () => {
    fc.assert(fc.property(arbDerivation, fc.integer(), (d, seed) => {
      const scrambled = scramble(d, seed) as Derivation;
      expect(derivationCid(scrambled).equals(derivationCid(d))).to.equal(true);
    }), { numRuns: 300 });
  });

  const mutations: Record<string, (d: Derivation) => Derivation> = {
    name: (d) => ({ ...d, name: `${d.name}x` }),
    system: (d) => ({ ...d, system: d.system === "riscv64-linux" ? "x86_64-linux" : "riscv64-linux" }),
    builder: (d) => {
      switch (d.builder.kind) {
        case "input": return { ...d, builder: { ...d.builder, path: `${d.builder.path}x` } };
        case "source": return { ...d, builder: { kind: "source", path: `${d.builder.path}x` } };
        case "none": return { ...d, builder: { kind: "source", path: "build.sh" } };
      }
    },
    args: (d) => (d.builder.kind === "none" ? { ...d, builder: { kind: "source", path: "b" }, args: ["x"] } : { ...d, args: [...d.args, "x"] }),
    env: (d): Derivation => (d.builder.kind === "none"
      ? { ...d, builder: { kind: "source", path: "b" }, env: { EXTRA: "1" } as Record<string, string> }
      : { ...d, env: { ...d.env, EXTRA_Z9: "1" } as Record<string, string> }),
    src: (d) => {
      const fresh = CID.createV1(RAW, createDigest(0x12, createHash("sha256").update(`fresh ${d.src}`).digest()));
      return { ...d, src: fresh, inputSrcs: [...d.inputSrcs.filter((c) => d.src === null || !c.equals(d.src)), fresh] };
    },
    inputSrcs: (d) => ({ ...d, inputSrcs: [...d.inputSrcs, CID.createV1(RAW, createDigest(0x12, createHash("sha256").update(`extra ${d.inputSrcs.join()}`).digest()))] }),
    inputDrvs: (d) => {
      const name = Object.keys(d.inputDrvs)[0];
      if (name === undefined) return { ...d, inputDrvs: { zz: { drv: dagCborCid(new Uint8Array([9])), kinds: ["input"], output: "out" } } };
      const input = d.inputDrvs[name];
      return { ...d, inputDrvs: { ...d.inputDrvs, [name]: { ...input, drv: dagCborCid(new Uint8Array([...input.drv.bytes, 1])) } } };
    },
    kinds: (d) => {
      const name = Object.keys(d.inputDrvs)[0];
      if (name === undefined) return mutations.inputDrvs(d);
      const input = d.inputDrvs[name];
      const kinds: InputKind[] = input.kinds.length === 3 ? ["input"] : (["input", "meta-input", "native-input"] as InputKind[]);
      return { ...d, inputDrvs: { ...d.inputDrvs, [name]: { ...input, kinds } } };
    },
    output: (d) => {
      const name = Object.keys(d.inputDrvs)[0];
      if (name === undefined) return mutations.inputDrvs(d);
      const input = d.inputDrvs[name];
      return { ...d, inputDrvs: { ...d.inputDrvs, [name]: { ...input, output: input.output === "out" ? "bin" : "out" } } };
    },
    outputs: (d) => (d.builder.kind === "none"
      ? { ...d, builder: { kind: "source", path: "b" }, outputs: { ...d.outputs, doc_output_extra: { kind: "input-addressed" } } }
      : { ...d, outputs: { ...d.outputs, doc_output_extra: { kind: "input-addressed" } } }),
    package: (d) => (d.package === null
      ? { ...d, package: { repository: "r", name: "n", version: "1.0.0", meta: cidOf("m", RAW) } }
      : { ...d, package: { ...d.package, version: `${d.package.version}-1` } }),
    meta: (d) => (d.package === null ? mutations.package(d) : { ...d, package: { ...d.package, meta: cidOf(`other ${d.package.meta}`, RAW) } }),
  };

  it("changes the CID when any field changes", () => {
    fc.assert(fc.property(arbDerivation, fc.constantFrom(...Object.keys(mutations)), (d, field) => {
      const changed = mutations[field](d);
      expect(plain(normalise(changed))).to.not.deep.equal(plain(normalise(d)));
      expect(derivationCid(changed).equals(derivationCid(d)), field).to.equal(false);
    }), { numRuns: 500 });
  });
});

/** The canonical form, computed independently of the encoder: sets sorted by UTF-8. */
function normalise(d: Derivation): Derivation {
  const byString = (a: CID, b: CID) => compareUtf8(a.toString(), b.toString());
  const inputDrvs = Object.fromEntries(Object.entries(d.inputDrvs).map(([k, v]) => [k, { ...v, kinds: [...v.kinds].sort(compareUtf8) }]));
  return { ...d, inputSrcs: [...d.inputSrcs].sort(byString), inputDrvs };
}
