/**
 * Native packages (published on chain, not mirrored) as the gateway serves them: each version's registry view —
 * its npm document and tarball, or its cargo index line and .crate — is made from its pkg.toml (`meta`) and its
 * tree (`src`), which never change under their CIDs. So it is made once per (meta, src) and kept, not once per
 * head block: a new block re-reads only the package record; what changes there (a yank, a new version) is all the
 * new entry needs. The yanked flag is the record's, applied when the entry is put together.
 */
import { CID } from "multiformats/cid";
import type { PackageRecord, VersionRecord } from "../chain/registry";
import type { ContentStore } from "../content";
import { readPublishedManifest, type Manifest } from "../manifest";
import type { EntryVersion, JsonObject } from "../mirror/entry";

/** Versions' views kept (a view is a document or a line: a few KiB). */
const MAX_VIEWS = 50_000;

/** A version's registry view, from its published pkg.toml; null when the version is not one this registry serves. */
export type VersionView = (version: VersionRecord & { src: string }, manifest: Manifest) => Promise<JsonObject | null>;

export interface NativeVersions {
  /**
   * The versions of `record` that `view` serves, in the record's order, each with the record's yanked flag.
   * `scope` names what the view depends on besides meta and src (the registry and the name it is asked under).
   */
  of(record: PackageRecord, scope: string, view: VersionView): Promise<EntryVersion[]>;
}

export function createNativeVersions(content: Pick<ContentStore, "getBytes">): NativeVersions {
  const views = new Map<string, Promise<JsonObject | null>>();

  function viewOf(record: PackageRecord, version: VersionRecord & { src: string }, scope: string, view: VersionView): Promise<JsonObject | null> {
    const key = `${scope}\0${version.meta}\0${version.src}`;
    let found = views.get(key);
    if (found === undefined) {
      found = (async () => {
        let manifest: Manifest;
        try {
          manifest = await readPublishedManifest(content.getBytes(CID.parse(version.meta)), `${record.key.repository}:${record.key.name}@${version.version} (meta ${version.meta})`);
        } catch {
          return null; // a meta that is not a pkg.toml is no registry's version
        }
        return view(version, manifest);
      })();
      if (views.size >= MAX_VIEWS) views.delete(views.keys().next().value as string);
      views.set(key, found);
      found.catch(() => views.delete(key)); // a missing block is tried again next time
    }
    return found;
  }

  return {
    async of(record, scope, view) {
      const versions: EntryVersion[] = [];
      for (const v of record.versions) {
        if (v.src === null) continue;
        const origin = await viewOf(record, { ...v, src: v.src }, scope, view);
        if (origin !== null) versions.push({ version: v.version, meta: v.meta, src: v.src, yanked: v.yanked, origin });
      }
      return versions;
    },
  };
}
