/**
 * Child process of the concurrency test: waits until a shared start time, then adds the same
 * pseudo-random content to the store several times and prints the root CID.
 *   put-same.ts <store-dir> <bytes> <seed> <repeats> <start-at-ms>
 */
import { openEmbeddedStore } from "../../../../src/content";
import { pseudoRandomBytes } from "../helpers";

async function main(): Promise<void> {
  const [directory, size, seed, repeats, startAt] = process.argv.slice(2);
  const store = await openEmbeddedStore({ directory });
  const bytes = pseudoRandomBytes(Number(size), Number(seed));
  while (Date.now() < Number(startAt)) await new Promise((resolve) => setTimeout(resolve, 1));
  const cids = new Set<string>();
  for (let i = 0; i < Number(repeats); i++) {
    const [a, b] = await Promise.all([store.putBytes(bytes), store.putBytes(bytes)]);
    cids.add(a.toString()).add(b.toString());
  }
  process.stdout.write(`${[...cids].join(",")}\n`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
