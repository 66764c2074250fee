/**
 * CAR (Content Addressable aRchive, v1) export and import over any BlockStore. Export streams the
 * DAG's verified blocks in DFS order; import verifies each block against its CID before storing
 * it, so a CAR from anywhere can be trusted exactly as far as its CIDs.
 */
import type { CID } from "multiformats/cid";
import { walkDag } from "./dag";
import type { BlockStore, CarExportOptions, CarImportOptions, ContentStore } from "./types";

/** The Content-Type parameters our CAR streams satisfy (trustless gateway spec, IPIP-412). */
export function carContentType(options: Pick<CarExportOptions, "dups"> = {}): string {
  return `application/vnd.ipld.car; version=1; order=dfs; dups=${options.dups ? "y" : "n"}`;
}

/**
 * The DAG under `root` (or under each of several roots, all named in the header) as a CARv1 byte stream. Blocks are read (and verified) as the stream is
 * consumed, so memory stays at a few blocks whatever the DAG's size. A block that is missing or
 * corrupt ends the stream with an error after the blocks before it.
 */
export async function* exportCar(blocks: Pick<BlockStore, "getBlock">, root: CID | readonly CID[], options: CarExportOptions = {}): AsyncGenerator<Uint8Array> {
  // @ipld/car ships only an "import" export condition, so it is loaded with import().
  const { CarWriter } = await import("@ipld/car/writer");
  const roots = Array.isArray(root) ? [...(root as readonly CID[])] : [root as CID];
  const { writer, out } = CarWriter.create(roots);
  let stopped = false;
  // Several roots (`pkg store export A B`): a block two of them share is written once, unless dups are asked for.
  const written = new Set<string>();

  // CarWriter is push-based: `put` resolves once the reader has drained the bytes. A producer
  // task pushes while this generator pulls; on early exit it drains so the producer can finish.
  const producer = (async () => {
    try {
      for (const one of roots) {
        const walk = walkDag(blocks, one, { ...options, leaves: "read" });
        for await (const block of walk) {
          if (stopped) break;
          if (block.bytes === undefined) continue;
          if (roots.length > 1 && !options.dups) {
            const key = block.cid.toString();
            if (written.has(key)) continue;
            written.add(key);
          }
          await writer.put({ cid: block.cid, bytes: block.bytes });
          if (options.scope === "block") break;
        }
      }
    } finally {
      await writer.close();
    }
  })();

  const chunks = out[Symbol.asyncIterator]();
  let finished = false;
  try {
    for (;;) {
      const next = await chunks.next();
      if (next.done) break;
      yield next.value;
    }
    await producer;
    finished = true;
  } finally {
    if (!finished) {
      stopped = true;
      for (let next = await chunks.next(); !next.done; next = await chunks.next());
      await producer.catch(() => undefined);
    }
  }
}

async function* toAsync(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield* chunks;
}

/** Reads a CAR stream, checks and stores every block; returns the header's roots. Blocks that
 * are not reachable from a root are stored too: a CAR is a bag of verified blocks. */
export async function importCar(
  blocks: Pick<BlockStore, "putBlock">,
  car: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: CarImportOptions = {},
): Promise<CID[]> {
  const { CarBlockIterator } = await import("@ipld/car/iterator");
  const iterator = await CarBlockIterator.fromIterable(toAsync(car));
  for await (const block of iterator) {
    options.signal?.throwIfAborted();
    // putBlock verifies the bytes against the CID before anything is written.
    await blocks.putBlock(block.cid as CID, block.bytes, options);
  }
  return (await iterator.getRoots()) as CID[];
}

/**
 * A content store's `exportCar` and `importCar`, the same for every backend: export streams from its own
 * (verifying) getBlock; import verifies each block through its own putBlock (never trusting a daemon's
 * dag/import), then pins the roots when asked, offline (every block is local by then, or the CAR was incomplete).
 */
export function carMethods(store: Pick<ContentStore, "getBlock" | "putBlock" | "pin">): Pick<ContentStore, "exportCar" | "importCar"> {
  return {
    exportCar(cid, options = {}) {
      return exportCar(store, cid, options);
    },
    async importCar(car, options = {}) {
      const roots = await importCar(store, car, options);
      if (options.pin) {
        for (const root of roots) await store.pin(root, { ...options, offline: true });
      }
      return roots;
    },
  };
}
