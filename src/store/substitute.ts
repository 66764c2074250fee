/**
 * Substitution (Nix's word): instead of building a derivation, fetch an output someone already built.
 * A substituter only answers "which CID is the output `output` of `drv`?"; the realiser (realise.ts)
 * fetches that DAG through the content store (the embedded store asks its trustless gateways, kubo the
 * network), recomputes its CID the way built outputs are added, and only then registers it. So a
 * substituter is trusted for availability, never for correctness: a wrong answer costs a build.
 *
 * The first substituter is a local table in the store index, `substitutes(drv, output, cid, source,
 * added)`, filled by the daemon op `add-substitute` (`pkg store substitute`); the compute layer and
 * published build files plug in later as further {@link Substituter}s.
 */
import { CID } from "multiformats/cid";
import { ERR_STORE_BAD_CID, StoreError } from "./errors";
import type { Store } from "./store";

export interface Substituter {
  name: string;
  /** The CID (string) of the output `output` of derivation `drv`, or null when this substituter does not know it. */
  query(drv: string, output: string): Promise<string | null>;
}

/** Created here, not in store.ts's schema: only daemons that substitute need it, and IF NOT EXISTS makes it idempotent. */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS substitutes(drv TEXT NOT NULL, output TEXT NOT NULL, cid TEXT NOT NULL,
  source TEXT NOT NULL, added INTEGER NOT NULL, PRIMARY KEY (drv, output));
`;

function ensureTable(store: Store): void {
  store.db.exec(SCHEMA);
}

function checkCid(value: string, what: string): string {
  try {
    return CID.parse(value).toV1().toString();
  } catch {
    throw new StoreError(ERR_STORE_BAD_CID, `${what} "${value}" is not a CID`, { details: { [what]: value }, hint: "pass a CIDv1 such as bafy…" });
  }
}

export interface SubstituteRecord {
  drv: string;
  output: string;
  cid: string;
  source: string;
  added: number;
}

/** Records that `cid` is the output `output` of `drv` (replacing an earlier answer for the same pair). */
export function addSubstitute(store: Store, entry: { drv: string; output?: string; cid: string; source?: string }): SubstituteRecord {
  ensureTable(store);
  const record: SubstituteRecord = {
    drv: checkCid(entry.drv, "drv"),
    output: entry.output ?? "out",
    cid: checkCid(entry.cid, "cid"),
    source: entry.source ?? "local",
    added: Date.now(),
  };
  store.db
    .prepare("INSERT OR REPLACE INTO substitutes(drv, output, cid, source, added) VALUES (?, ?, ?, ?, ?)")
    .run(record.drv, record.output, record.cid, record.source, record.added);
  return record;
}

/** The substituter backed by the store's `substitutes` table. */
export function localSubstituter(store: Store): Substituter {
  ensureTable(store);
  const get = store.db.prepare("SELECT cid FROM substitutes WHERE drv = ? AND output = ?").pluck();
  return {
    name: "local",
    query(drv, output) {
      return Promise.resolve((get.get(drv, output) as string | undefined) ?? null);
    },
  };
}
