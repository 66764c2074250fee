/**
 * The journal: an append-only NDJSON file of every state change the node acknowledged, in execution order.
 * Line 1 is a header naming the genesis it applies to; each further line is one request with what it did
 * (its result, the head block after it and the timestamp of the first block it mined). A line is written
 * and fsync'd before the client sees the answer, so a crash can only lose a request nobody was told about.
 */
import { open, truncate, type FileHandle } from "node:fs/promises";
import { readFileOrNull } from "../files/read";
import { NodeError, ERR_NODE_JOURNAL_CORRUPT } from "../errors/node";

export const JOURNAL_VERSION = 1;

export interface JournalHeader {
  journal: "pkg-node";
  version: number;
  chainId: string;
  /** Hash of block 0 of the internal node; a replay onto another genesis cannot give the same chain. */
  genesis: string;
  initialDate: string;
}

export interface JournalEntry {
  /** 1-based, consecutive. */
  seq: number;
  method: string;
  params?: unknown;
  ok: boolean;
  result?: unknown;
  /** For requests that failed but still changed the chain (a reverted transaction is mined by Hardhat). */
  error?: { code: number; message: string; txHash?: string };
  /** The latest block right after the request. */
  head: { number: number; hash: string };
  /** Present when the request mined blocks: the first one's number and timestamp. */
  mined?: { from: number; timestamp: number };
}

export interface JournalLine {
  /** 1-based line in the file (the header is line 1). */
  line: number;
  entry: JournalEntry;
}

export interface LoadedJournal {
  header: JournalHeader | null;
  entries: JournalLine[];
  /** Bytes of the file that hold whole, valid lines (the file is truncated to this when a tail was dropped). */
  size: number;
}

function isHeader(value: unknown): value is JournalHeader {
  const v = value as JournalHeader;
  return !!v && typeof v === "object" && v.journal === "pkg-node" && typeof v.version === "number" &&
    typeof v.chainId === "string" && typeof v.genesis === "string";
}

function isEntry(value: unknown): value is JournalEntry {
  const v = value as JournalEntry;
  return !!v && typeof v === "object" && typeof v.seq === "number" && typeof v.method === "string" &&
    typeof v.ok === "boolean" && !!v.head && typeof v.head.number === "number" && typeof v.head.hash === "string" &&
    (v.mined === undefined || (typeof v.mined.from === "number" && typeof v.mined.timestamp === "number"));
}

function corrupt(file: string, line: number, problem: string): NodeError {
  return new NodeError(ERR_NODE_JOURNAL_CORRUPT, `journal ${file}: line ${line} ${problem}`, {
    details: { file, line },
    hint: "the journal was damaged in the middle (not by a crash while writing); restore it from a backup, or move the node directory away to start a new, empty chain",
  });
}

/**
 * Reads the journal. A last line that is incomplete or unreadable (the process died while writing it, so
 * it was never acknowledged) is dropped with a warning and cut off the file; damage anywhere else throws.
 */
export async function loadJournal(file: string, warn: (line: string) => void): Promise<LoadedJournal> {
  const bytes = await readFileOrNull(file);
  if (bytes === null) return { header: null, entries: [], size: 0 };
  const lines: { text: string; start: number; end: number }[] = [];
  let start = 0;
  while (start < bytes.length) {
    const newline = bytes.indexOf(0x0a, start);
    const end = newline === -1 ? bytes.length : newline + 1;
    lines.push({ text: bytes.subarray(start, newline === -1 ? bytes.length : newline).toString("utf8"), start, end });
    start = end;
  }

  let header: JournalHeader | null = null;
  const entries: JournalLine[] = [];
  let size = 0;
  for (let i = 0; i < lines.length; i++) {
    const { text, start: lineStart, end } = lines[i];
    const number = i + 1;
    const last = i === lines.length - 1;
    const terminated = bytes[end - 1] === 0x0a;
    let value: unknown;
    let problem: string | null = null;
    if (!terminated) {
      problem = "is incomplete (no end of line)";
    } else {
      try {
        value = JSON.parse(text);
        if (i === 0 ? !isHeader(value) : !isEntry(value)) problem = i === 0 ? "is not a pkg node journal header" : "is not a journal entry";
      } catch {
        problem = "is not valid JSON";
      }
    }
    if (problem === null && i > 0 && (value as JournalEntry).seq !== entries.length + 1) {
      problem = `has sequence number ${(value as JournalEntry).seq}, expected ${entries.length + 1}`;
    }
    if (problem !== null) {
      if (!last) throw corrupt(file, number, problem);
      warn(
        `warning: journal ${file}: the last line (${number}) ${problem}: the node stopped while writing it, ` +
          "so that request was never acknowledged; dropping it",
      );
      await truncate(file, lineStart);
      const handle = await open(file, "r+");
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      break;
    }
    if (i === 0) {
      header = value as JournalHeader;
      if (header.version !== JOURNAL_VERSION) {
        throw corrupt(file, 1, `has journal version ${header.version}; this pkg reads version ${JOURNAL_VERSION}`);
      }
    } else {
      entries.push({ line: number, entry: value as JournalEntry });
    }
    size = end;
  }
  return { header, entries, size };
}

/** Appends lines durably: each append returns once the line is on disk (fdatasync). */
export class JournalWriter {
  private constructor(
    private readonly handle: FileHandle,
    private size: number,
    readonly file: string,
  ) {}

  /** Opens the journal for appending; `size` is the length of its valid part (see loadJournal). */
  static async open(file: string, size: number): Promise<JournalWriter> {
    const handle = await open(file, "a");
    return new JournalWriter(handle, size, file);
  }

  async append(record: JournalHeader | JournalEntry): Promise<void> {
    const buffer = Buffer.from(`${JSON.stringify(record)}\n`, "utf8");
    try {
      let written = 0;
      while (written < buffer.length) {
        const { bytesWritten } = await this.handle.write(buffer, written, buffer.length - written);
        written += bytesWritten;
      }
      await this.handle.datasync();
      this.size += buffer.length;
    } catch (error) {
      // Leave no half line behind; the caller stops accepting writes.
      await this.handle.truncate(this.size).catch(() => undefined);
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}
