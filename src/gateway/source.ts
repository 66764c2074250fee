/**
 * What the gateway serves from: the registry at the chain's head, mirrored packages through their snapshot (the
 * same `withSnapshots` reader resolution uses, so what `npm install` gets through the gateway is what `pkg lock`
 * would pick), and the content store, which verifies every block by its CID.
 *
 * Answers are cached per head block: the head is asked for at most once a second, and a package read at a block
 * is not read again at that block (the cache is a bounded map, rebuilt from the chain at will). A version that
 * appears on chain is served within a second of its block.
 */
import type { PackageRecord, RegistryClient } from "../chain/registry";
import type { ContentStore } from "../content";
import type { PackageEntry } from "../mirror/entry";
import type { MirroredPackageRecord } from "../mirror/read";

export interface GatewayPackage {
  record: PackageRecord;
  /** The snapshot entry of a mirrored package (what its upstream registry said); null for a native package. */
  entry: PackageEntry | null;
  block: number;
}

export interface PackageSource {
  /** The package at the head, or null; `repository` and `name` are the registry's (already mapped) names. */
  get(repository: string, name: string): Promise<GatewayPackage | null>;
  content: Pick<ContentStore, "getBytes" | "getBlock">;
}

const HEAD_TTL_MS = 1000;
const MAX_CACHED = 20_000;

export function createPackageSource(params: {
  /** A registry client whose getPackages reads snapshots too (the session's). */
  client: Pick<RegistryClient, "getPackages" | "blockNumber">;
  content: Pick<ContentStore, "getBytes" | "getBlock">;
}): PackageSource {
  const { client, content } = params;
  let head: { block: number; at: number; pending: Promise<number> | null } = { block: -1, at: 0, pending: null };
  const cache = new Map<string, Promise<GatewayPackage | null>>();

  async function headBlock(): Promise<number> {
    if (Date.now() - head.at < HEAD_TTL_MS && head.block >= 0) return head.block;
    head.pending ??= client.blockNumber().then(
      (block) => {
        head = { block, at: Date.now(), pending: null };
        return block;
      },
      (error: unknown) => {
        head.pending = null;
        throw error;
      },
    );
    return head.pending;
  }

  return {
    content,
    async get(repository, name) {
      const block = await headBlock();
      const key = `${repository}:${name}@${block}`;
      let found = cache.get(key);
      if (found === undefined) {
        found = client.getPackages([{ repository, name }], { blockTag: block }).then(([record]) => {
          if (record === null) return null;
          return { record, entry: (record as MirroredPackageRecord).entry ?? null, block };
        });
        found.catch(() => cache.delete(key));
        if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string);
        cache.set(key, found);
      }
      return found;
    },
  };
}
