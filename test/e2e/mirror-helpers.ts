/** What the mirror end-to-end tests share: the chain's view of a repository, and the data directory's content store. */
import path from "node:path";
import { connectRegistry } from "../../src/chain/registry";
import { openEmbeddedStore, type EmbeddedContentStore } from "../../src/content";

/** A repository's versions as the chain at `rpcUrl` holds them. */
export async function repositoryVersionsAt(rpcUrl: string, registry: string, name: string) {
  const client = await connectRegistry({ rpcUrl, address: registry });
  try {
    return await client.getRepositoryVersions(name);
  } finally {
    client.close();
  }
}

/** The embedded content store of a data directory, opened in this process for the length of `work`. */
export async function withContentOf<T>(dataDir: string, work: (content: EmbeddedContentStore) => Promise<T>): Promise<T> {
  const content = await openEmbeddedStore({ directory: path.join(dataDir, "ipfs") });
  try {
    return await work(content);
  } finally {
    await content.close();
  }
}

/** A stream's bytes. */
export async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts);
}
