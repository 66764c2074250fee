/**
 * A pkg.lock is a claim: "at block B of this registry, these versions had these meta and src CIDs".
 * Anyone can edit the file (a pull request, a copied lock), and the CIDs decide what is fetched and built,
 * so a lock is checked against the registry at its own block before it is used: every dependency's
 * package and version must exist there, with exactly the lock's meta and src CIDs. One batched read
 * (getPackages at the lock's block) for the whole lock, together with the chain's head.
 *
 * - A mismatch is ERR_LOCK_INTEGRITY (exit 8): the lock's content addresses are not the registry's, an
 *   integrity failure like a block that does not match its hash, not a conflict between two legitimate
 *   states (exit 6: a version published already, a lock for another chain). Nothing is fetched or built.
 * - A lock whose block is past the chain's head (or before the registry existed) cannot be checked:
 *   ERR_LOCK_UNKNOWN_BLOCK (exit 4, an unknown block).
 * - A lock for another chain or registry: ERR_LOCKFILE_CHAIN_MISMATCH, as before (exit 6).
 * - `--offline` trusts the lock and says so ({@link lockCheck}); a lock without dependencies has nothing
 *   to check and needs no chain.
 *
 * Every command that reads a pkg.lock goes through {@link lockCheck} (fetch, instantiate, build, install)
 * or {@link findLockProblems} (lock and update, which restore what does not match and say so).
 */
import path from "node:path";
import { PkgError, isPkgError } from "./errors";
import { checkLockfileChain, parseLockKey, type ChainTarget, type Lockfile } from "./lockfile";
import { ERR_CHAIN_UNKNOWN_BLOCK } from "./chain/errors";
import type { PackageRecord, RegistryClient } from "./chain/registry";

export const ERR_LOCK_INTEGRITY = "ERR_LOCK_INTEGRITY";
export const ERR_LOCK_UNKNOWN_BLOCK = "ERR_LOCK_UNKNOWN_BLOCK";

/** What a lock is checked against: the registry client and the chain it is on. */
export interface LockRegistry {
  client: Pick<RegistryClient, "getPackages" | "blockNumber">;
  chain: ChainTarget;
}

/** One dependency entry that does not match the registry at the lock's block. */
export interface LockProblem {
  /** The lock key: `repo:name` or `repo:name@version`. */
  key: string;
  /** `repo:name`. */
  package: string;
  version: string;
  /** package: not in the registry at the block; version: no such version there; meta, src: another CID there. */
  kind: "package" | "version" | "meta" | "src";
  /** What the lock says (the version for package and version problems, else the CID). */
  locked: string;
  /** What the registry has (null when it has nothing). */
  registry: string | null;
}

/** What is wrong with one entry, without its key or block: `src is X in the lock, Y in the registry`. */
export function lockProblemText(problem: LockProblem): string {
  switch (problem.kind) {
    case "package":
      return `the registry has no package ${problem.package}`;
    case "version":
      return `the registry has no version ${problem.version} of ${problem.package}`;
    case "meta":
    case "src":
      return `${problem.kind} is ${problem.locked} in the lock, ${problem.registry} in the registry`;
  }
}

/** One line about a problem: `crates:dep (0.2.0): src is X in the lock, Y in the registry at block 12`. */
export function describeLockProblem(problem: LockProblem, block: number): string {
  return `${problem.key} (${problem.version}): ${lockProblemText(problem)} at block ${block}`;
}

function baseOf(key: string): { repository: string; name: string } {
  const parsed = parseLockKey(key);
  // keys were checked when the lock was parsed; a hand-made Lockfile object with a bad key cannot match anything
  if ("problem" in parsed) return { repository: key, name: "" };
  return { repository: parsed.repository, name: parsed.name };
}

/** The lock's block is one the registry can answer for, else ERR_LOCK_UNKNOWN_BLOCK. */
function unknownBlock(lock: Lockfile, file: string, head: number | null, cause?: unknown): PkgError {
  const past = head !== null && lock.block > head;
  if ((cause as PkgError | undefined)?.details?.reason === "state-unavailable") {
    return new PkgError(ERR_LOCK_UNKNOWN_BLOCK, `${file}: the node no longer has its block ${lock.block}: old blocks need an archive node`, {
      details: { file, block: lock.block, head },
      hint: "pass the --rpc-url of an archive node, run `pkg lock` to lock at the latest block, or pass --offline to use the lock unchecked",
      cause,
    });
  }
  return new PkgError(
    ERR_LOCK_UNKNOWN_BLOCK,
    past
      ? `${file}: its block ${lock.block} is past the chain's head (block ${head}): it was not made on this chain as it is now`
      : `${file}: its block ${lock.block} is before the registry ${lock.registry} existed`,
    {
      details: { file, block: lock.block, head },
      hint: "run `pkg lock` to lock against this chain again, or pass --offline to use the lock unchecked",
      cause,
    },
  );
}

/**
 * Every dependency of `lock` that the registry, read at the lock's block, does not have as the lock says.
 * One getPackages call for the whole lock (and the head, read alongside). Nothing to check, no call.
 * @throws PkgError ERR_LOCKFILE_CHAIN_MISMATCH (another chain or registry), ERR_LOCK_UNKNOWN_BLOCK, chain errors.
 */
export async function findLockProblems(lock: Lockfile, file: string, registry: LockRegistry): Promise<LockProblem[]> {
  const keys = Object.keys(lock.dependencies).sort();
  if (keys.length === 0) return [];
  checkLockfileChain(lock, registry.chain, file);
  const packages = [...new Set(keys.map((key) => { const b = baseOf(key); return `${b.repository}:${b.name}`; }))];
  const [head, read] = await Promise.allSettled([
    registry.client.blockNumber(),
    registry.client.getPackages(packages.map((p) => ({ repository: p.split(":")[0], name: p.split(":")[1] })), { blockTag: lock.block }),
  ]);
  if (head.status === "fulfilled" && lock.block > head.value) throw unknownBlock(lock, file, head.value);
  if (read.status === "rejected") {
    if (isPkgError(read.reason, ERR_CHAIN_UNKNOWN_BLOCK)) throw unknownBlock(lock, file, head.status === "fulfilled" ? head.value : null, read.reason);
    throw read.reason;
  }
  if (head.status === "rejected") throw head.reason;
  const records = new Map<string, PackageRecord | null>(packages.map((p, i) => [p, read.value[i]]));
  const problems: LockProblem[] = [];
  for (const key of keys) {
    const entry = lock.dependencies[key];
    const base = baseOf(key);
    const pkg = `${base.repository}:${base.name}`;
    const record = records.get(pkg) ?? null;
    const problem = (kind: LockProblem["kind"], locked: string, onChain: string | null) =>
      problems.push({ key, package: pkg, version: entry.version, kind, locked, registry: onChain });
    if (record === null) {
      problem("package", entry.version, null);
      continue;
    }
    const version = record.versions.find((v) => v.version === entry.version);
    if (version === undefined) {
      problem("version", entry.version, null);
      continue;
    }
    if (version.meta !== entry.meta) problem("meta", entry.meta, version.meta);
    if (version.src !== entry.src) problem("src", entry.src, version.src);
  }
  return problems;
}

/** The error for a lock that does not match the registry: one line, the first problem, how many more. */
export function lockIntegrityError(file: string, block: number, problems: readonly LockProblem[]): PkgError {
  const first = problems[0];
  const others = [...new Set(problems.slice(1).map((p) => p.key))].filter((k) => k !== first.key);
  const more = others.length === 0 ? "" : ` (and ${others.length} more: ${others.slice(0, 4).join(", ")}${others.length > 4 ? ", …" : ""})`;
  const keys = [...new Set(problems.map((p) => p.package))];
  return new PkgError(ERR_LOCK_INTEGRITY, `${file}: dependency ${first.key} (${first.version}) does not match the registry at block ${block}: ${lockProblemText(first)}${more}`, {
    details: { file, block, problems },
    hint: `the lock was edited or made against another registry; run \`pkg lock\` to restore the registry's entries (it prints what it changes), or \`pkg update ${keys.join(" ")}\``,
  });
}

/**
 * Refuses a lock that does not match the registry at its block.
 * @throws PkgError ERR_LOCK_INTEGRITY (exit 8), ERR_LOCK_UNKNOWN_BLOCK (exit 4), ERR_LOCKFILE_CHAIN_MISMATCH, chain errors.
 */
export async function verifyLock(lock: Lockfile, file: string, registry: LockRegistry): Promise<void> {
  const problems = await findLockProblems(lock, file, registry);
  if (problems.length > 0) throw lockIntegrityError(file, lock.block, problems);
}

/** How a command checks the pkg.lock it reads, before it uses it. */
export interface LockCheck {
  /** Checks `lock` (read from `file`); throws when it must not be used. */
  verify(lock: Lockfile, file: string): Promise<void>;
  /** Whether the lock is used unchecked (--offline): results must not be remembered as checked. */
  trusted: boolean;
}

/** Errors of opening the chain that `--offline` gets around: said with the lock's name and that way out. */
const UNREACHABLE = /^ERR_(CHAIN_UNREACHABLE|CHAIN_NO_REGISTRY|CONFIG_NO_REGISTRY|CHAIN_WRONG_NETWORK)$/;

/**
 * The check of a command that reads a lock. Online (the default) the registry is opened only when the lock
 * has dependencies to check; `offline` trusts the lock and says so through `warn`.
 */
export function lockCheck(params: { offline: boolean; registry: () => Promise<LockRegistry>; warn: (message: string) => void }): LockCheck {
  if (params.offline) {
    return {
      trusted: true,
      async verify(lock, given) {
        const file = path.resolve(given);
        const count = Object.keys(lock.dependencies).length;
        if (count > 0) params.warn(`--offline: ${file} is trusted as it is; its ${count} dependencies' CIDs were not checked against the registry`);
      },
    };
  }
  return {
    trusted: false,
    async verify(lock, given) {
      if (Object.keys(lock.dependencies).length === 0) return;
      const file = path.resolve(given); // messages name the lock wherever the command ran
      let registry: LockRegistry;
      try {
        registry = await params.registry();
      } catch (error) {
        if (isPkgError(error) && UNREACHABLE.test(error.code)) {
          throw new PkgError(error.code, `cannot check ${file} against the registry: ${error.message}`, {
            details: { ...error.details, file },
            hint: `${error.hint ? `${error.hint.replace(/\.$/, "")}; ` : ""}or pass --offline to use the lock unchecked`,
            cause: error,
          });
        }
        throw error;
      }
      await verifyLock(lock, file, registry);
    },
  };
}
