/**
 * Repository names and versions as the `repo` commands take them: a name without a version, a version that is
 * semver or a release (`23.05`), their order, and which published version a spec means.
 */
import * as semver from "semver";
import { IdError } from "../errors/files";
import { quoteValue } from "../files/name";
import { compareUtf8 } from "../files/order";
import { checkRepositoryVersion, ERR_ID_INVALID_VERSION, ERR_ID_SYNTAX, parseRepositorySpec, versionHint } from "../ids";
import type { VersionRecord } from "../chain/registry";

/**
 * A repository name from the command line, where a version makes no sense (`repo create`, maintainers).
 * @throws IdError ERR_ID_SYNTAX when the id carries a version; the errors of parseRepositorySpec otherwise.
 */
export function parseRepositoryName(input: string): string {
  const spec = parseRepositorySpec(input);
  if (spec.version !== null) {
    // parsed already: the name and version are short and plain, but the input is still quoted as every id is
    throw new IdError(ERR_ID_SYNTAX, `invalid id ${quoteValue(input)}: a repository name is expected, without a version`, { input, field: "repository version" },
      `write ${spec.name}`);
  }
  return spec.name;
}

/** @throws IdError ERR_ID_INVALID_VERSION unless `version` is a repository version (semver, or a release like 23.05). */
export function checkedRepositoryVersion(name: string, version: string): string {
  const problem = checkRepositoryVersion(version);
  if (problem !== null) {
    const input = `${name}:${version}`;
    throw new IdError(ERR_ID_INVALID_VERSION, `invalid id ${quoteValue(input)}: repository version ${quoteValue(version)} ${problem}`,
      { input: input.slice(0, 256), field: "repository version" }, `${versionHint(version)}, or a release like 23.05`);
  }
  return version;
}

/** Release names (`23.05`) order as MAJOR.MINOR.0; anything else the registry holds is semver. */
function repositoryVersionKey(version: string): semver.SemVer | null {
  const release = /^([0-9]+)\.([0-9]+)$/.exec(version);
  if (release !== null) return semver.parse(`${Number(release[1])}.${Number(release[2])}.0`);
  return semver.parse(version);
}

/** Orders repository versions by precedence (release names as MAJOR.MINOR.0); unparsable ones first. */
export function compareRepositoryVersions(a: string, b: string): number {
  const ka = repositoryVersionKey(a);
  const kb = repositoryVersionKey(b);
  if (ka === null || kb === null) return ka === kb ? compareUtf8(a, b) : ka === null ? -1 : 1;
  return semver.compareBuild(ka, kb) || compareUtf8(a, b);
}

/** The version a repository spec names: the exact one, or the highest non-yanked release (pre-releases only if nothing else). */
export function pickRepositoryVersion(versions: readonly VersionRecord[], wanted: string | null): VersionRecord | null {
  if (wanted !== null) return versions.find((v) => v.version === wanted) ?? null;
  const live = versions.filter((v) => !v.yanked).sort((a, b) => compareRepositoryVersions(b.version, a.version));
  return live.find((v) => repositoryVersionKey(v.version)?.prerelease.length === 0) ?? live[0] ?? null;
}
