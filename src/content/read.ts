/**
 * Content going out: file bytes as a stream, and whole trees onto disk. Both read through a
 * verifying BlockStore, so every byte handed out has been checked against its CID.
 */
import { randomBytes } from "node:crypto";
import * as fsCallback from "node:fs";
import { lstat, mkdir, rename, rm, symlink } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { exporter, type UnixFSEntry } from "ipfs-unixfs-exporter";
import type { CID } from "multiformats/cid";
import { isPkgError } from "../errors/index";
import { ContentDestinationExistsError, ContentNotDirectoryError, ContentPathError, ContentUnsupportedError, ContentWriteError } from "../errors/content";
import * as raw from "multiformats/codecs/raw";
import { DAG_PB, decodeBlock, readableStorage } from "./dag";
import { createLimiter } from "../concurrency";
import { checkName } from "./tree";
import type { BlockStore, GetTreeOptions, ReadOptions } from "./types";

/** Blocks of one file read (and verified) ahead of the one being consumed. */
const BLOCK_READ_AHEAD = 8;
/** Files written at once by getTree. */
const FILE_WRITE_CONCURRENCY = 8;

/** Errors of our own pass through; anything the exporter throws means a malformed DAG. */
function asContentError(cid: CID, error: unknown): unknown {
  if (isPkgError(error)) return error;
  if (error instanceof Error && error.name === "AbortError") return error;
  return new ContentUnsupportedError(`${cid.toString()} is not a readable UnixFS DAG: ${String(error)}`, {
    details: { cid: cid.toString() },
    cause: error,
  });
}

async function resolveEntry(blocks: Pick<BlockStore, "getBlock">, cid: CID, options: ReadOptions): Promise<UnixFSEntry> {
  try {
    return await exporter(cid, readableStorage(blocks, options), { signal: options.signal });
  } catch (error) {
    throw asContentError(cid, error);
  }
}

type EntryKind = "file" | "directory" | "symlink";

function kindOf(entry: UnixFSEntry): EntryKind {
  switch (entry.type) {
    case "raw":
    case "identity":
      return "file";
    case "directory":
      return "directory";
    case "file":
      if (entry.unixfs.type === "symlink") return "symlink";
      if (entry.unixfs.type === "file" || entry.unixfs.type === "raw") return "file";
      break;
    case "object":
      break;
  }
  throw new ContentUnsupportedError(`${entry.cid.toString()} is not a UnixFS file, directory or symlink`, {
    details: { cid: entry.cid.toString(), type: entry.type },
  });
}

/**
 * The bytes of a file DAG in order, every block verified by getBlock before its bytes are used.
 *
 * This replaces the exporter's file walker on the hot path. That one reads the children of one
 * node a few at a time and stalls at every node boundary, and pushes into an unbounded queue
 * (a slow consumer lets the whole file pile up in memory). Here reads run a fixed window of
 * blocks ahead of the consumer across the whole DAG, so memory is that window whatever the file.
 * The checks are the exporter's: a dag-pb node must be a UnixFS file with as many block sizes as
 * links, and the bytes must add up to exactly the root's file size.
 */
async function* fileBytes(blocks: Pick<BlockStore, "getBlock">, entry: UnixFSEntry, options: ReadOptions): AsyncGenerator<Uint8Array> {
  if (entry.type === "raw" || entry.type === "identity") {
    yield* entry.content({ signal: options.signal });
    return;
  }
  if (entry.type !== "file") throw new Error("unreachable: not a file");
  const malformed = malformedFile(entry.cid);

  // What is still to be read, the next piece on top: bytes held in a node, or a child block
  // (whose read may already have started).
  const stack: Piece[] = [];
  const expand = (unchecked: UnixFSEntry): void => {
    const node = fileNode(unchecked, malformed);
    const links = node.node.Links;
    for (let i = links.length - 1; i >= 0; i--) stack.push({ cid: links[i].Hash });
    if (node.unixfs.data !== undefined && node.unixfs.data.byteLength > 0) stack.push({ data: node.unixfs.data });
  };
  expand(entry);

  const expected = entry.unixfs.fileSize();
  let produced = 0n;
  while (stack.length > 0) {
    options.signal?.throwIfAborted();
    for (let i = stack.length - 1, ahead = 0; i >= 0 && ahead < BLOCK_READ_AHEAD; i--) {
      const piece = stack[i];
      if ("data" in piece) continue;
      ahead++;
      if (piece.read === undefined) {
        piece.read = blocks.getBlock(piece.cid, options);
        // Awaited below unless an earlier piece fails first; never an unhandled rejection.
        piece.read.catch(() => undefined);
      }
    }
    const piece = stack.pop() as Piece;
    let bytes: Uint8Array;
    if ("data" in piece) {
      bytes = piece.data;
    } else {
      const block = await (piece.read as Promise<Uint8Array>);
      if (piece.cid.code === raw.code) {
        bytes = block;
      } else if (piece.cid.code === DAG_PB) {
        let node: UnixFSEntry;
        try {
          node = await decodeBlock(piece.cid, block);
        } catch (error) {
          throw malformed(`${piece.cid.toString()}: ${String(error)}`);
        }
        expand(node);
        continue;
      } else {
        throw malformed(`${piece.cid.toString()} has codec 0x${piece.cid.code.toString(16)}`);
      }
    }
    produced += BigInt(bytes.byteLength);
    if (produced > expected) throw malformed(`more bytes than its size of ${expected}`);
    if (bytes.byteLength > 0) yield bytes;
  }
  if (produced < expected) throw malformed(`${produced} bytes where its size says ${expected}`);
}

type Piece = { data: Uint8Array } | { cid: CID; read?: Promise<Uint8Array> };

function malformedFile(root: CID): (reason: string) => Error {
  return (reason) => new ContentUnsupportedError(`${root.toString()} is not a readable UnixFS file: ${reason}`, { details: { cid: root.toString() } });
}

/** A dag-pb node of a file DAG, checked as the exporter checks it. */
function fileNode(node: UnixFSEntry, malformed: (reason: string) => Error): UnixFSEntry & { type: "file" } {
  if (node.type !== "file" || (node.unixfs.type !== "file" && node.unixfs.type !== "raw")) {
    throw malformed(`${node.cid.toString()} is not a UnixFS file node`);
  }
  if (node.node.Links.length !== node.unixfs.blockSizes.length) throw malformed(`${node.cid.toString()} has inconsistent block sizes and links`);
  return node;
}

/** A raw leaf to verify and write at `offset` of an open file; it must be `size` bytes long. */
export interface LeafWrite {
  cid: CID;
  offset: number;
  size: number;
}

/**
 * What writeTree reads through: verified blocks, and optionally a bulk path for raw leaves that
 * verifies each and writes it straight into the output file (the embedded store's block
 * workers). `writeLeaves` returns the indexes of leaves it did not write (missing, not matching,
 * another size, or not for it to handle); those go through getBlock, which fetches or fails.
 * With `create`, a non-empty answer means the file was not made at all.
 */
/** Where writeLeaves writes: an open file, or a new file that holds exactly these leaves (created
 * "wx" with `mode`, and not left behind unless all of them are in it). */
export type LeafTarget = { fd: number } | { create: string; mode: number };

export interface TreeBlocks extends Pick<BlockStore, "getBlock"> {
  writeLeaves?(target: LeafTarget, leaves: readonly LeafWrite[], options: ReadOptions): Promise<number[]>;
  /** Whether writeLeaves is worth using for `bytes` more to write (it may have a start-up cost). */
  worthWriteLeaves?(bytes: number): boolean;
}

/** Whether to go through writeLeaves for a file (or tree) of `bytes`. */
function bulk(blocks: TreeBlocks, bytes: number): blocks is TreeBlocks & Required<Pick<TreeBlocks, "writeLeaves">> {
  return blocks.writeLeaves !== undefined && (blocks.worthWriteLeaves?.(bytes) ?? true);
}

/** The bytes of a UnixFS file or raw block, streamed; each block is verified before its bytes are yielded. */
export async function* readBytes(blocks: Pick<BlockStore, "getBlock">, cid: CID, options: ReadOptions = {}): AsyncGenerator<Uint8Array> {
  const entry = await resolveEntry(blocks, cid, options);
  if (kindOf(entry) !== "file" || entry.type === "directory" || entry.type === "object") {
    throw new ContentUnsupportedError(`${cid.toString()} is not a file`, { details: { cid: cid.toString() } });
  }
  try {
    yield* fileBytes(blocks, entry, options);
  } catch (error) {
    throw asContentError(cid, error);
  }
}

/**
 * Nix keeps one permission bit of a file: executable or not. Applying a DAG's full UnixFS mode
 * could create setuid or world-writable files from untrusted content, so only that bit survives.
 */
function fileMode(entry: UnixFSEntry): number {
  return entry.type === "file" && entry.unixfs.mode !== undefined && (entry.unixfs.mode & 0o111) !== 0 ? 0o755 : 0o644;
}

const openFast = promisify(fsCallback.open);
const writeFast = promisify(fsCallback.write);
const closeFast = promisify(fsCallback.close);

async function writeAt(fd: number, bytes: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < bytes.byteLength; ) {
    done += (await writeFast(fd, bytes, done, bytes.byteLength - done, position + done)).bytesWritten;
  }
}

/** Leaves per writeLeaves call: enough to amortise a worker round trip, few enough to share a file out. */
const LEAVES_PER_BATCH = 16;

/**
 * The leaves of a file DAG with their offsets, and the bytes held in its nodes: the inner nodes
 * are read (verified) and checked here. Every inner node must account for exactly the bytes its
 * parent says it holds, and (checked when written) every leaf must be exactly its block size, so
 * the file comes out as the exporter would stream it.
 */
async function planDagFile(blocks: TreeBlocks, entry: UnixFSEntry, options: ReadOptions): Promise<{ leaves: LeafWrite[]; data: Array<{ offset: number; bytes: Uint8Array }> }> {
  const malformed = malformedFile(entry.cid);
  const leaves: LeafWrite[] = [];
  const data: Array<{ offset: number; bytes: Uint8Array }> = [];
  const visit = async (unchecked: UnixFSEntry, offset: number): Promise<void> => {
    const node = fileNode(unchecked, malformed);
    let position = offset;
    const held = node.unixfs.data;
    if (held !== undefined && held.byteLength > 0) {
      data.push({ offset: position, bytes: held });
      position += held.byteLength;
    }
    const links = node.node.Links;
    for (let i = 0; i < links.length; i++) {
      const cid = links[i].Hash;
      const size = node.unixfs.blockSizes[i];
      if (cid.code === raw.code) {
        leaves.push({ cid, offset: position, size: Number(size) });
      } else if (cid.code === DAG_PB) {
        const bytes = await blocks.getBlock(cid, options);
        let child: UnixFSEntry;
        try {
          child = await decodeBlock(cid, bytes);
        } catch (error) {
          throw malformed(`${cid.toString()}: ${String(error)}`);
        }
        if (child.type !== "file" || child.unixfs.fileSize() !== size) throw malformed(`${cid.toString()} does not hold the ${size} bytes its parent says`);
        await visit(child, position);
      } else {
        throw malformed(`${cid.toString()} has codec 0x${cid.code.toString(16)}`);
      }
      position += Number(size);
    }
  };
  await visit(entry, 0);
  return { leaves, data };
}

/**
 * A file DAG written through `writeLeaves`. A small one (one batch of leaves, no bytes in its
 * nodes) is created, written and closed by a worker in one go; a larger one is opened here and
 * its leaves are written in batches, in parallel. Leaves the workers could not write go through
 * getBlock.
 */
async function writeDagFile(blocks: TreeBlocks & Required<Pick<TreeBlocks, "writeLeaves">>, entry: UnixFSEntry, path: string, mode: number, options: ReadOptions): Promise<void> {
  const malformed = malformedFile(entry.cid);
  const { leaves, data } = await planDagFile(blocks, entry, options);
  if (data.length === 0 && leaves.length <= LEAVES_PER_BATCH) {
    if ((await blocks.writeLeaves({ create: path, mode }, leaves, options)).length === 0) return;
  }
  await createFile(path, mode, async (fd) => {
    for (const piece of data) await writeAt(fd, piece.bytes, piece.offset);
    const batches: Array<Promise<void>> = [];
    for (let first = 0; first < leaves.length; first += LEAVES_PER_BATCH) {
      const batch = leaves.slice(first, first + LEAVES_PER_BATCH);
      batches.push(
        (async () => {
          for (const index of await blocks.writeLeaves({ fd }, batch, options)) {
            const leaf = batch[index];
            const bytes = await blocks.getBlock(leaf.cid, options);
            if (bytes.byteLength !== leaf.size) throw malformed(`${leaf.cid.toString()} is ${bytes.byteLength} bytes, not ${leaf.size}`);
            await writeAt(fd, bytes, leaf.offset);
          }
        })(),
      );
    }
    const results = await Promise.allSettled(batches);
    for (const result of results) if (result.status === "rejected") throw result.reason;
  });
}

/** O_CREAT|O_EXCL|O_NOFOLLOW ("wx", and no link followed even where O_EXCL alone would): never
 * write through something that already exists (e.g. a symlink planted by a malicious DAG that
 * lists one name twice). */
const CREATE_FLAGS = fsCallback.constants.O_WRONLY | fsCallback.constants.O_CREAT | fsCallback.constants.O_EXCL | fsCallback.constants.O_NOFOLLOW;

async function createFile(path: string, mode: number, write: (fd: number) => Promise<void>): Promise<void> {
  const fd = await openFast(path, CREATE_FLAGS, mode);
  try {
    await write(fd);
  } finally {
    await closeFast(fd);
  }
}

async function writeFileEntry(blocks: TreeBlocks, entry: UnixFSEntry, path: string, options: ReadOptions): Promise<void> {
  if (entry.type === "directory" || entry.type === "object") throw new Error("unreachable: not a file");
  if (entry.type === "file" && bulk(blocks, Number(entry.unixfs.fileSize()))) {
    await writeDagFile(blocks, entry, path, fileMode(entry), options);
    return;
  }
  await createFile(path, fileMode(entry), async (fd) => {
    let position = 0;
    for await (const chunk of fileBytes(blocks, entry, options)) {
      await writeAt(fd, chunk, position);
      position += chunk.byteLength;
    }
  });
}

/**
 * A file that is a single raw block, written without reading it here first: the directory
 * listing gives its CID and (untrusted) size, which is all writeLeaves needs. If that fails for
 * any reason the block goes through getBlock, and its verified bytes, whatever their number, are
 * the file.
 */
async function writeRawFile(blocks: TreeBlocks & Required<Pick<TreeBlocks, "writeLeaves">>, cid: CID, sizeHint: number, path: string, options: ReadOptions): Promise<void> {
  if ((await blocks.writeLeaves({ create: path, mode: 0o644 }, [{ cid, offset: 0, size: sizeHint }], options)).length === 0) return;
  const bytes = await blocks.getBlock(cid, options);
  await createFile(path, 0o644, (fd) => writeAt(fd, bytes, 0));
}

function symlinkTarget(entry: UnixFSEntry): string {
  if (entry.type !== "file" || entry.unixfs.data === undefined) return "";
  return new TextDecoder().decode(entry.unixfs.data);
}

/** An error of the file system (it has an errno code), as opposed to one of the DAG or our own. */
function isSystemError(error: unknown): error is NodeJS.ErrnoException & { code: string } {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === "string" && /^E[A-Z]+$/.test((error as NodeJS.ErrnoException).code!);
}

/** "EACCES: permission denied" out of Node's "EACCES: permission denied, mkdir '/some/temporary'". */
function systemReason(error: NodeJS.ErrnoException): string {
  return error.message.split(", ")[0] || String(error.code);
}

/**
 * A failure while writing one entry: a name that exists already in a directory this call created
 * (EEXIST: the DAG lists it twice) is the content's fault, named by its path in the tree; any other
 * system error is the destination's.
 */
function entryError(error: unknown, rel: string, destination: string): unknown {
  if (!isSystemError(error)) return error;
  if (error.code === "EEXIST" && rel !== "") return new ContentPathError(rel, "appears more than once in its directory");
  return new ContentWriteError(destination, systemReason(error), { cause: error, details: { code: error.code } });
}

/**
 * Writes the DAG under `cid` to `destination`: a directory tree, or a single file. Everything is
 * written into a temporary sibling of the destination (same filesystem, so the final rename is
 * atomic) and renamed into place once every block has been read and verified; on any error the
 * temporary is removed and the destination never appears.
 *
 * The content is untrusted, so nothing is ever written through a symlink: every directory is one
 * this call made (mkdir, which fails on anything already there), every file is created with
 * O_CREAT|O_EXCL|O_NOFOLLOW, symlinks in the DAG are created as symlinks and never written into,
 * and a name listed twice fails (ERR_CONTENT_PATH) whichever kind comes first. Errors name paths
 * inside the tree (`sub/..`), never the temporary. `options.directory` refuses a root that is not
 * a directory (ERR_CONTENT_NOT_DIRECTORY) before anything is written.
 */
export async function writeTree(blocks: TreeBlocks, cid: CID, destination: string, options: GetTreeOptions = {}): Promise<void> {
  const target = resolve(destination);
  if (await lstat(target).then(() => true, () => false)) throw new ContentDestinationExistsError(target);
  const { directory: mustBeDirectory, ...readOnly } = options;
  try {
    await mkdir(dirname(target), { recursive: true });
  } catch (error) {
    // mkdir -p says EEXIST when the parent is a file: say that
    if (isSystemError(error) && error.code === "EEXIST") throw new ContentWriteError(target, `${dirname(target)} is not a directory`, { cause: error, details: { code: "ENOTDIR" } });
    throw entryError(error, "", target);
  }
  const temporary = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString("hex")}.tmp`);

  // One failure stops the other writers quickly; we still wait for all of them before removing
  // the temporary tree, so nothing is written into it after it is gone.
  const abort = new AbortController();
  const signal = readOnly.signal ? AbortSignal.any([readOnly.signal, abort.signal]) : abort.signal;
  const readOptions: ReadOptions = { ...readOnly, signal };
  const limit = createLimiter(FILE_WRITE_CONCURRENCY);
  let firstError: unknown;
  const fail = (error: unknown): never => {
    if (firstError === undefined) {
      firstError = error;
      abort.abort(error);
    }
    throw error;
  };

  /** `rel`: the path inside the tree ("" for the root). `sizeHint`: the size a directory gives for the child (its link's Tsize). */
  async function writeNode(entryCid: CID, path: string, rel: string, known?: UnixFSEntry, sizeHint?: number): Promise<void> {
    const children = await limit(async () => {
      signal.throwIfAborted();
      try {
        if (known === undefined && entryCid.code === raw.code && sizeHint !== undefined && bulk(blocks, sizeHint)) {
          await writeRawFile(blocks, entryCid, sizeHint, path, readOptions);
          return [];
        }
        const entry = known ?? (await resolveEntry(blocks, entryCid, readOptions));
        switch (kindOf(entry)) {
          case "file":
            await writeFileEntry(blocks, entry, path, readOptions);
            return [];
          case "symlink":
            await symlink(symlinkTarget(entry), path);
            return [];
          case "directory": {
            await mkdir(path, { mode: 0o755 });
            const listed: Array<{ cid: CID; path: string; rel: string; size: number }> = [];
            if (entry.type !== "directory") return listed;
            for await (const child of entry.entries({ signal })) {
              const childRel = rel === "" ? child.name : `${rel}/${child.name}`;
              checkName(child.name, childRel);
              listed.push({ cid: child.cid, path: join(path, child.name), rel: childRel, size: Number(child.size) });
            }
            return listed;
          }
        }
      } catch (error) {
        throw entryError(error, rel, target);
      }
    }).catch(fail);
    // Children run outside the parent's slot: a directory waiting for its children must not
    // hold a slot they need.
    const results = await Promise.allSettled(children.map((child) => writeNode(child.cid, child.path, child.rel, undefined, child.size)));
    if (results.some((result) => result.status === "rejected")) throw firstError;
  }

  try {
    const root = await resolveEntry(blocks, cid, readOptions);
    if (mustBeDirectory && kindOf(root) !== "directory") {
      throw new ContentNotDirectoryError(cid.toString(), kindOf(root));
    }
    // Tells the bulk path how much is coming: a directory's links carry the size of what is
    // under them (untrusted, but only used for this guess).
    if (root.type === "directory") bulk(blocks, root.node.Links.reduce((sum, link) => sum + (link.Tsize ?? 0), 0));
    await writeNode(cid, temporary, "", root);
    try {
      await rename(temporary, target);
    } catch (error) {
      throw entryError(error, "", target);
    }
  } catch (error) {
    await rm(temporary, { recursive: true, force: true });
    throw asContentError(cid, firstError ?? error);
  }
}
