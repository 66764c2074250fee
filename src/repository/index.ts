/**
 * Repositories, one operation per file: create, curated, lock (and the lock a command works from), publish,
 * read, yank, fetch. A repository with no published versions is a rolling release; a published version's meta
 * is its repo.lock, and every byte read back is checked against that CID.
 */
export * from "./errors";
export * from "./names";
export * from "./read";
export * from "./create";
export * from "./curated";
export * from "./lock";
export * from "./publish";
export * from "./yank";
export * from "./fetch";
export type { TxReceipt } from "../chain/registry";
