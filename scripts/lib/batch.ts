import { ethers } from "ethers";
import type { IRegistry } from "../../typechain-types";

/** One version to publish: binary CIDs as hex. */
export interface Release {
  version: string;
  metaCid: string;
  srcCid: string;
}

/** The releases of one package, oldest first (the order they are published in). */
export interface PackageReleaseList {
  repositoryId: string;
  /** The package's name. */
  name: string;
  /** For messages, e.g. "crates/hello". */
  label: string;
  releases: Release[];
}

/** One publishBatch transaction. */
export interface BatchChunk {
  entries: IRegistry.PackageReleasesStruct[];
  versionCount: number;
  /** Upper estimate of the gas it uses (see {@link versionGas}). */
  estimatedGas: number;
  /** For messages: first and last release in it. */
  label: string;
}

export interface PlanOptions {
  /** At most this many versions per transaction (default 200). */
  maxVersionsPerTx?: number;
  /** At most this much estimated gas per transaction (default 15,000,000: half of a 30M block). */
  maxGasPerTx?: number;
}

export const DEFAULT_MAX_VERSIONS_PER_TX = 200;
export const DEFAULT_MAX_GAS_PER_TX = 15_000_000;

/**
 * Upper estimates of publishBatch's gas, measured on Registry (solc 0.8.28, viaIR, Hardhat 2.29's EVM) and
 * rounded up. A version writes three new slots; its bytes cost calldata, validation and event data (measured:
 * 70.2k for a 5-byte version, 75.2k for 26 bytes); a version longer than 28 bytes also stores its string: a
 * length slot plus one per 32 bytes (measured: 149.5k for 56 bytes). An entry adds the package checks, the
 * head/count write and the event; a transaction adds its base cost (measured together: 53.6k).
 */
export const GAS_PER_TX = 30_000;
export const GAS_PER_ENTRY = 40_000;
export const GAS_PER_VERSION = 71_000;
export const GAS_PER_VERSION_BYTE = 300;
export const GAS_PER_STORED_SLOT = 22_500;

export function versionGas(version: string): number {
  const length = version.length;
  const gas = GAS_PER_VERSION + GAS_PER_VERSION_BYTE * length;
  return length <= 28 ? gas : gas + GAS_PER_STORED_SLOT * (1 + Math.ceil(length / 32));
}

/** A binary CID's header (the CID without its 32-byte digest) and digest, as hex. */
export function splitCid(cid: string): { header: string; digest: string } {
  const bytes = ethers.getBytes(cid);
  if (bytes.length < 34) throw new Error(`not a binary CID with a 32-byte digest: ${cid}`);
  return {
    header: ethers.hexlify(bytes.subarray(0, bytes.length - 32)),
    digest: ethers.hexlify(bytes.subarray(bytes.length - 32)),
  };
}

/** Versions in publishBatch's packed form: per version one length byte then its ASCII bytes. */
export function packVersions(versions: readonly string[]): string {
  const parts: Uint8Array[] = [];
  for (const version of versions) {
    if (version.length === 0 || version.length > 255 || !/^[\x21-\x7e]+$/.test(version)) {
      throw new Error(`cannot pack version ${JSON.stringify(version)}: 1..255 printable ASCII bytes expected`);
    }
    parts.push(Uint8Array.of(version.length), ethers.toUtf8Bytes(version));
  }
  return ethers.hexlify(ethers.concat(parts));
}

/** The inverse of {@link packVersions}. */
export function unpackVersions(packed: string): string[] {
  const bytes = ethers.getBytes(packed);
  const versions: string[] = [];
  for (let offset = 0; offset < bytes.length; ) {
    const end = offset + 1 + bytes[offset];
    if (end > bytes.length) throw new Error(`packed versions truncated at byte ${offset}`);
    versions.push(ethers.toUtf8String(bytes.subarray(offset + 1, end)));
    offset = end;
  }
  return versions;
}

/**
 * Splits releases into publishBatch transactions: consecutive releases of a package whose meta and src CIDs
 * share headers form one entry (another header pair starts another entry for the same package), and a
 * transaction closes when the next version would pass `maxVersionsPerTx` or `maxGasPerTx`. Releases keep
 * their order: within a package, across entries and across transactions.
 */
export function planBatches(packages: readonly PackageReleaseList[], options: PlanOptions = {}): BatchChunk[] {
  const maxVersions = options.maxVersionsPerTx ?? DEFAULT_MAX_VERSIONS_PER_TX;
  const maxGas = options.maxGasPerTx ?? DEFAULT_MAX_GAS_PER_TX;
  if (maxVersions < 1) throw new Error("maxVersionsPerTx must be at least 1");
  if (GAS_PER_TX + GAS_PER_ENTRY + versionGas("x".repeat(64)) > maxGas) {
    throw new Error(`maxGasPerTx ${maxGas} cannot hold even one version`);
  }

  const chunks: BatchChunk[] = [];
  interface Open {
    entry: { repositoryId: string; name: string; metaCidHeader: string; srcCidHeader: string };
    versions: string[];
    metaDigests: string[];
    srcDigests: string[];
  }
  let entries: Open[] = [];
  let versionCount = 0;
  let gas = GAS_PER_TX;
  let first = "";
  let last = "";

  const close = () => {
    if (versionCount === 0) return;
    chunks.push({
      entries: entries.map((open) => ({
        repositoryId: open.entry.repositoryId,
        name: open.entry.name,
        versions: packVersions(open.versions),
        metaCidHeader: open.entry.metaCidHeader,
        metaDigests: open.metaDigests,
        srcCidHeader: open.entry.srcCidHeader,
        srcDigests: open.srcDigests,
      })),
      versionCount,
      estimatedGas: gas,
      label: first === last ? first : `${first} .. ${last}`,
    });
    entries = [];
    versionCount = 0;
    gas = GAS_PER_TX;
  };

  for (const pkg of packages) {
    for (const release of pkg.releases) {
      const meta = splitCid(release.metaCid);
      const src = splitCid(release.srcCid);
      const current = entries.at(-1);
      const sameEntry =
        current !== undefined &&
        current.entry.repositoryId === pkg.repositoryId &&
        current.entry.name === pkg.name &&
        current.entry.metaCidHeader === meta.header &&
        current.entry.srcCidHeader === src.header;
      const cost = versionGas(release.version) + (sameEntry ? 0 : GAS_PER_ENTRY);
      if (versionCount > 0 && (versionCount + 1 > maxVersions || gas + cost > maxGas)) {
        close();
      }
      let open = entries.at(-1);
      if (open === undefined || !sameEntry) {
        open = {
          entry: { repositoryId: pkg.repositoryId, name: pkg.name, metaCidHeader: meta.header, srcCidHeader: src.header },
          versions: [],
          metaDigests: [],
          srcDigests: [],
        };
        entries.push(open);
        gas += GAS_PER_ENTRY;
      }
      open.versions.push(release.version);
      open.metaDigests.push(meta.digest);
      open.srcDigests.push(src.digest);
      gas += versionGas(release.version);
      if (versionCount === 0) first = `${pkg.label} ${release.version}`;
      last = `${pkg.label} ${release.version}`;
      versionCount += 1;
    }
  }
  close();
  return chunks;
}
