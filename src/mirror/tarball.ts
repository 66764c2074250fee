/**
 * Packed sources (an npm `.tgz`, a cargo `.crate`: both gzip'd tar) → the tree a version's `src` is.
 *
 * The archive is hostile: entries are held in memory (never written to disk, so no path can escape and no
 * symlink can be followed), their paths lose the archive's top directory (`package/`, `NAME-VERSION/`) and are
 * checked by the content store's one name rule when the tree is added; links and devices are skipped, as npm's
 * own extraction (pacote) does; the unpacked size and the entry count are bounded, so a gzip bomb stops early.
 * A later entry of the same path replaces an earlier one (tar's rule, and npm's).
 */
import { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { extract } from "tar-stream";
import { PkgError } from "../errors";
import type { TreeEntry } from "../content";
import { ERR_MIRROR_BAD_ARCHIVE } from "./errors";


/** crates.io refuses crates over 10 MB packed; npm's biggest packages unpack to a few hundred MB. */
export const MAX_UNPACKED_BYTES = 1024 * 1024 * 1024;
export const MAX_ENTRIES = 200_000;

export interface UnpackedArchive {
  /** Files (and empty directories) relative to the archive's top directory. */
  entries: TreeEntry[];
  /** The top directory every path was under (`package`, `serde-1.0.0`); "" when paths had none in common. */
  top: string;
  /** What was left out and why (links, devices). */
  skipped: string[];
}

function bad(what: string, problem: string): PkgError {
  return new PkgError(ERR_MIRROR_BAD_ARCHIVE, `${what}: ${problem}`, {
    details: { archive: what },
    hint: "the upstream archive is damaged or hostile; that version is not mirrored",
  });
}

/** Tar paths are `/`-separated; `./a` and `a//b` are normalised, `..` and absolute paths refused. */
function normalise(name: string, what: string): string[] {
  if (name.startsWith("/")) throw bad(what, `entry ${JSON.stringify(name.slice(0, 200))} is an absolute path`);
  const segments = name.split("/").filter((s) => s !== "" && s !== ".");
  if (segments.includes("..")) throw bad(what, `entry ${JSON.stringify(name.slice(0, 200))} leaves the archive ('..')`);
  return segments;
}

/**
 * Unpacks a gzip'd tar held in memory. `what` names it in errors (`npm:left-pad@1.3.0 tarball`).
 * @throws PkgError ERR_MIRROR_BAD_ARCHIVE: not gzip or not tar, a path leaving the archive, over a limit.
 */
export async function unpackTarball(bytes: Uint8Array, what: string, limits: { maxBytes?: number; maxEntries?: number } = {}): Promise<UnpackedArchive> {
  const maxBytes = limits.maxBytes ?? MAX_UNPACKED_BYTES;
  const maxEntries = limits.maxEntries ?? MAX_ENTRIES;
  const files = new Map<string, { segments: string[]; content?: Uint8Array; directory?: true }>();
  const skipped: string[] = [];
  let total = 0;
  let count = 0;
  const tar = extract();
  const gunzip = createGunzip();
  const source = Readable.from([Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)]);
  source.on("error", (error) => tar.destroy(error));
  gunzip.on("error", (error) => tar.destroy(bad(what, `not gzip (${error.message})`)));
  source.pipe(gunzip).pipe(tar);
  try {
    for await (const entry of tar) {
      const header = entry.header;
      if (++count > maxEntries) throw bad(what, `more than ${maxEntries} entries`);
      const segments = normalise(header.name, what);
      const type = header.type;
      if (type === "file" || type === "contiguous-file") {
        const parts: Buffer[] = [];
        for await (const chunk of entry as AsyncIterable<Buffer>) {
          total += chunk.length;
          if (total > maxBytes) throw bad(what, `unpacks to more than ${maxBytes} bytes`);
          parts.push(chunk);
        }
        if (segments.length > 0) files.set(segments.join("/"), { segments, content: Buffer.concat(parts) });
        continue;
      }
      entry.resume();
      if (type === "directory") {
        if (segments.length > 0 && !files.has(segments.join("/"))) files.set(segments.join("/"), { segments, directory: true });
      } else {
        skipped.push(`${header.name} (${type})`);
      }
    }
  } catch (error) {
    if (error instanceof PkgError) throw error;
    throw bad(what, `not a tar archive (${(error as Error).message})`);
  }
  const all = [...files.values()];
  // the top directory: the first segment, when every entry has it and is below it
  const first = all[0]?.segments[0];
  const top = first !== undefined && all.every((f) => f.segments[0] === first && (f.segments.length > 1 || f.directory)) ? first : "";
  const entries: TreeEntry[] = [];
  const directories = new Set<string>();
  for (const file of all) {
    const rest = top === "" ? file.segments : file.segments.slice(1);
    if (rest.length === 0) continue;
    const path = rest.join("/");
    for (let i = 1; i < rest.length; i++) directories.add(rest.slice(0, i).join("/"));
    if (file.content !== undefined) entries.push({ path, content: file.content });
  }
  // empty directories only (non-empty ones are implied by their files); a name that is both is a conflict the store reports
  for (const file of all) {
    if (!file.directory) continue;
    const rest = top === "" ? file.segments : file.segments.slice(1);
    const path = rest.join("/");
    if (rest.length > 0 && !directories.has(path)) entries.push({ path, directory: true });
  }
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { entries, top, skipped };
}
