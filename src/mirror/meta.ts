/**
 * The pkg.toml of a mirrored version: what resolution reads for its inputs, generated from the upstream
 * metadata. Mirrored packages are source-only (no builder: their output is their `src`, as most npm packages
 * and every crate a cargo build vendors), so a native package lists them as inputs and its builder uses them.
 */
import { isSpdxProblem, parseSpdxExpression } from "../files/spdx";
import { serializeManifest, type InputRanges, type Manifest, type ManifestOrigin } from "../manifest";
import type { ContentStore } from "../content";

/** The license of a generated pkg.toml: the upstream one when it is an SPDX expression, else SPDX's NOASSERTION
 * (the upstream text stays in the index entry's origin). */
export function mirrorLicense(upstream: unknown): string {
  if (typeof upstream !== "string" || upstream.length === 0 || upstream.length > 1024) return "NOASSERTION";
  return isSpdxProblem(parseSpdxExpression(upstream)) ? "NOASSERTION" : upstream;
}

export interface MirroredManifest {
  repository: string;
  name: string;
  version: string;
  license: string;
  inputs?: InputRanges;
  nativeInputs?: InputRanges;
  /** For a version published through the gateway: its registry artifact. */
  origin?: ManifestOrigin;
}

export function mirroredManifest(m: MirroredManifest): Manifest {
  return {
    ...(m.origin !== undefined ? { origin: m.origin } : {}),
    repository: m.repository,
    name: m.name,
    version: m.version,
    license: m.license,
    src: ["**"],
    builder: null,
    args: [],
    metaInputs: {},
    nativeInputs: m.nativeInputs ?? {},
    inputs: m.inputs ?? {},
  };
}

/** Stores the version's pkg.toml (pinned: the index entry names it but does not link it) and returns its CID. */
export async function putMeta(content: Pick<ContentStore, "putBytes">, m: MirroredManifest): Promise<string> {
  const text = serializeManifest(mirroredManifest(m), `${m.repository}:${m.name}@${m.version} (generated pkg.toml)`);
  return (await content.putBytes(text, { pin: true })).toString();
}
