/**
 * All content store benchmarks: store-put, store-get (vs `cp -r`) and store-memory (vs 200 MB).
 *
 *   npx hardhat run bench/content/index.ts
 */
import { benchStoreMemory } from "./store-memory";
import { benchStorePutGet } from "./store-put-get";

export async function benchContent(): Promise<void> {
  await benchStorePutGet();
  await benchStoreMemory();
}

if (require.main === module) {
  benchContent().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
