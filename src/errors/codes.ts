/**
 * Every error code the project raises, with its exit code and what it means: the one table `exitCodeOf`,
 * `PkgError` (whose constructor takes only a code of this table) and the docs read. A code is stable once
 * released: it may get a clearer summary, never another name. docs/errors.md says how to add one.
 *
 * Exit codes (README, "Exit codes"): 0 ok, 1 other, 2 usage, 3 chain unreachable / no registry / wrong
 * network, 4 unknown package, version, block or file, 5 not authorized / key problem, 6 exists or conflicts,
 * 7 invalid file, id or store request, 8 content or store integrity, 9 a build failed, 10 store daemon
 * unreachable, gone, of another store or version, or already running.
 *
 * This module imports nothing: cli/base.ts loads it with every command, `--help` included (bench cli-start).
 */

/** The exit code of a failed command; 0 (success) is no error's. */
export type ExitCode = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10;

export interface ErrorCodeInfo {
  /** What the process exits with when a command fails with this code. */
  readonly exit: ExitCode;
  /** One line for the docs: what happened, in the user's words. */
  readonly summary: string;
}

export const ERROR_CODES = {
  // --- the CLI itself
  ERR_USAGE: { exit: 2, summary: "the command line is wrong: an unknown flag, a missing argument or arguments in the wrong order" },
  ERR_INTERNAL: { exit: 1, summary: "an unexpected failure (a bug, or an error code this version does not know)" },

  // --- chain and registry (src/chain/)
  ERR_CHAIN_UNREACHABLE: { exit: 3, summary: "no chain node answers at the RPC URL" },
  ERR_CHAIN_NO_REGISTRY: { exit: 3, summary: "the contract at the registry address is not a registry" },
  ERR_CHAIN_WRONG_NETWORK: { exit: 3, summary: "the node is on another chain than the network configured for it" },
  ERR_CHAIN_NO_SIGNER: { exit: 5, summary: "the command sends a transaction but no key is configured" },
  ERR_CHAIN_INSUFFICIENT_FUNDS: { exit: 5, summary: "the signing account has too little ETH to pay for the transaction (its gas and value)" },
  ERR_CHAIN_UNAUTHORIZED: { exit: 5, summary: "the signing account may not change this repository or package" },
  ERR_CHAIN_VERSION_EXISTS: { exit: 6, summary: "the version (or one equal to it under semver) is already published" },
  ERR_CHAIN_UNKNOWN_REPOSITORY: { exit: 4, summary: "the repository is not in the registry" },
  ERR_CHAIN_UNKNOWN_PACKAGE: { exit: 4, summary: "the package (or repository) is not in the registry" },
  ERR_CHAIN_UNKNOWN_VERSION: { exit: 4, summary: "the version was never published" },
  ERR_CHAIN_EXISTS: { exit: 6, summary: "a repository or package of that name exists already" },
  ERR_CHAIN_INVALID_INPUT: { exit: 1, summary: "the registry refused the transaction's input" },
  ERR_CHAIN_REVERTED: { exit: 1, summary: "the transaction or call failed on chain for a reason the registry does not name" },
  ERR_CHAIN_UNKNOWN_BLOCK: { exit: 4, summary: "the block is past the chain's head, before the registry, or gone from a non-archive node" },
  ERR_CID_INVALID: { exit: 7, summary: "a text given as a CID is not one" },

  // --- keys and accounts (src/keys.ts, `pkg key`)
  ERR_KEY_INVALID: { exit: 5, summary: "the private key in the environment is not a valid key" },
  ERR_KEY_KEYSTORE: { exit: 5, summary: "the keystore cannot be read, or is not an ethers JSON keystore" },
  ERR_KEY_BAD_PASSWORD: { exit: 5, summary: "the keystore's password is wrong" },
  ERR_KEY_PASSWORD_REQUIRED: { exit: 5, summary: "a keystore needs a password and there is no terminal to ask for it" },
  ERR_KEY_NO_ACCOUNT: { exit: 5, summary: "the node has no unlocked account of that number" },
  ERR_KEY_KEYSTORE_EXISTS: { exit: 6, summary: "a keystore file exists already where a new one was to be written" },

  // --- configuration (src/config.ts)
  ERR_CONFIG_INVALID: { exit: 7, summary: "the config file is not valid" },
  ERR_CONFIG_UNKNOWN_NETWORK: { exit: 4, summary: "the network is not in the config file" },
  ERR_CONFIG_NO_REGISTRY: { exit: 3, summary: "no registry address is known for the network" },

  // --- the local chain node (src/node/, `pkg node`)
  ERR_NODE_PORT_IN_USE: { exit: 6, summary: "the node's port is taken, most likely by another node" },
  ERR_NODE_LOCKED: { exit: 6, summary: "another pkg node is already running on the data directory" },
  ERR_NODE_REPLAY_DIVERGED: { exit: 3, summary: "replaying the node's journal gave another chain than the one recorded" },
  ERR_NODE_JOURNAL_CORRUPT: { exit: 3, summary: "the node's journal is damaged and cannot be replayed" },
  ERR_NODE_JOURNAL_WRITE: { exit: 3, summary: "a change could not be written to the node's journal; the node takes no more" },
  ERR_NODE_START_FAILED: { exit: 3, summary: "the local chain node did not start, or could not deploy the registry" },
  ERR_NODE_EXITED: { exit: 3, summary: "the local chain node died while it was running" },
  ERR_NODE_INVALID_OPTION: { exit: 2, summary: "an option of `pkg node` cannot be honoured (a non-loopback host, a bad port)" },
  ERR_NODE_DEPLOYMENT_CORRUPT: { exit: 3, summary: "the node's deployment.json is not a deployment record" },

  // --- package ids and names typed by the user (src/ids.ts, src/files/name.ts)
  ERR_ID_SYNTAX: { exit: 7, summary: "the package or repository id does not follow repo[:version]/name[:version]" },
  ERR_ID_INVALID_NAME: { exit: 7, summary: "a name in the id is not a valid name" },
  ERR_ID_INVALID_VERSION: { exit: 7, summary: "a version in the id is not a valid version" },
  ERR_NAME_INVALID: { exit: 7, summary: "the name cannot be a file name (empty, `.`, `..`, a `/`, NUL or control character, too long)" },

  // --- pkg.toml (src/manifest.ts)
  ERR_MANIFEST_TOML: { exit: 7, summary: "pkg.toml is not valid TOML" },
  ERR_MANIFEST_NOT_FOUND: { exit: 4, summary: "there is no pkg.toml where one was looked for" },
  ERR_MANIFEST_MISSING_FIELD: { exit: 7, summary: "pkg.toml lacks a required field or table" },
  ERR_MANIFEST_UNKNOWN_KEY: { exit: 7, summary: "pkg.toml has a key or table that pkg does not know" },
  ERR_MANIFEST_INVALID_TYPE: { exit: 7, summary: "a field of pkg.toml has the wrong type, or text that is not valid Unicode" },
  ERR_MANIFEST_INVALID_NAME: { exit: 7, summary: "the package or repository name in pkg.toml is not a valid name" },
  ERR_MANIFEST_INVALID_VERSION: { exit: 7, summary: "the version in pkg.toml is not a valid version" },
  ERR_MANIFEST_INVALID_LICENSE: { exit: 7, summary: "the license in pkg.toml is not an SPDX expression" },
  ERR_MANIFEST_INVALID_SRC: { exit: 7, summary: "a src pattern in pkg.toml is malformed or listed twice" },
  ERR_MANIFEST_INVALID_BUILDER: { exit: 7, summary: "the builder in pkg.toml is malformed or names something that is not there" },
  ERR_MANIFEST_INVALID_ARGS: { exit: 7, summary: "the builder arguments in pkg.toml are invalid, or set without a builder" },
  ERR_MANIFEST_INVALID_INPUT: { exit: 7, summary: "an input key in pkg.toml is not repo:name" },
  ERR_MANIFEST_INVALID_RANGE: { exit: 7, summary: "an input's version range in pkg.toml is empty or not a semver range" },
  ERR_MANIFEST_SRC_NOT_FOUND: { exit: 4, summary: "a src path in pkg.toml does not exist" },
  ERR_MANIFEST_SRC_NO_MATCH: { exit: 4, summary: "a src glob in pkg.toml matches no files" },
  ERR_MANIFEST_SRC_OUTSIDE: { exit: 7, summary: "a src path (or a symlink in it) leads outside the package directory" },
  ERR_MANIFEST_SRC_LOOP: { exit: 7, summary: "a src path is a symlink loop" },
  ERR_MANIFEST_SRC_UNSUPPORTED: { exit: 7, summary: "a src path is neither a regular file nor a directory" },
  ERR_MANIFEST_TOO_LARGE: { exit: 7, summary: "pkg.toml or one of its fields is over its size limit" },

  // --- pkg.lock (src/lockfile.ts, src/lock.ts, src/lock-verify.ts)
  ERR_LOCKFILE_TOML: { exit: 7, summary: "pkg.lock is not valid TOML" },
  ERR_LOCKFILE_NOT_FOUND: { exit: 4, summary: "there is no pkg.lock; `pkg lock` writes one" },
  ERR_LOCKFILE_MISSING_FIELD: { exit: 7, summary: "pkg.lock lacks a required field or table" },
  ERR_LOCKFILE_UNKNOWN_KEY: { exit: 7, summary: "pkg.lock has a key that pkg does not know" },
  ERR_LOCKFILE_INVALID_TYPE: { exit: 7, summary: "a field of pkg.lock has the wrong type or is out of range" },
  ERR_LOCKFILE_UNSUPPORTED_FORMAT: { exit: 7, summary: "pkg.lock is in a format this version of pkg does not read" },
  ERR_LOCKFILE_INVALID_CID: { exit: 7, summary: "a CID in pkg.lock is malformed or not in canonical form" },
  ERR_LOCKFILE_INVALID_REGISTRY: { exit: 7, summary: "the registry in pkg.lock is not a checksummed address" },
  ERR_LOCKFILE_INVALID_KEY: { exit: 7, summary: "a dependency key in pkg.lock is not repo:name[@version], or disagrees with its version" },
  ERR_LOCKFILE_INVALID_VERSION: { exit: 7, summary: "a locked version in pkg.lock is not a valid version" },
  ERR_LOCKFILE_DUPLICATE_EDGE: { exit: 7, summary: "a dependency in pkg.lock lists the same input twice" },
  ERR_LOCKFILE_UNKNOWN_DEPENDENCY: { exit: 7, summary: "a dependency in pkg.lock points at an entry the lock does not have" },
  ERR_LOCKFILE_CYCLE: { exit: 7, summary: "the dependencies in pkg.lock form a cycle" },
  ERR_LOCKFILE_UNREACHABLE: { exit: 7, summary: "pkg.lock holds an entry that no input of the package leads to" },
  ERR_LOCKFILE_CHAIN_MISMATCH: { exit: 6, summary: "pkg.lock was made against another chain or registry" },
  ERR_LOCKFILE_TOO_LARGE: { exit: 7, summary: "pkg.lock is over its size limit" },
  ERR_LOCK_UNKNOWN_DEPENDENCY: { exit: 4, summary: "a dependency named on the command line is not in pkg.lock" },
  ERR_LOCK_INTEGRITY: { exit: 8, summary: "pkg.lock pins CIDs the registry does not have for those versions" },
  ERR_LOCK_UNKNOWN_BLOCK: { exit: 4, summary: "pkg.lock was made at a block the chain does not have" },

  // --- pkg.build.toml (src/buildfile.ts)
  ERR_BUILDFILE_TOML: { exit: 7, summary: "pkg.build.toml is not valid TOML" },
  ERR_BUILDFILE_NOT_FOUND: { exit: 4, summary: "there is no pkg.build.toml; `pkg build` writes one" },
  ERR_BUILDFILE_MISSING_FIELD: { exit: 7, summary: "a build in pkg.build.toml lacks a required field" },
  ERR_BUILDFILE_UNKNOWN_KEY: { exit: 7, summary: "pkg.build.toml has a key that pkg does not know" },
  ERR_BUILDFILE_INVALID_TYPE: { exit: 7, summary: "a field of pkg.build.toml has the wrong type" },
  ERR_BUILDFILE_INVALID_NAME: { exit: 7, summary: "a build's name in pkg.build.toml is not a valid name" },
  ERR_BUILDFILE_DUPLICATE_NAME: { exit: 7, summary: "two builds in pkg.build.toml have the same name" },
  ERR_BUILDFILE_INVALID_CID: { exit: 7, summary: "a CID in pkg.build.toml is malformed, not canonical or listed twice" },
  ERR_BUILDFILE_INVALID_ARGS: { exit: 7, summary: "a build's arguments in pkg.build.toml contain NUL or invalid text" },
  ERR_BUILDFILE_INVALID_SYSTEM: { exit: 7, summary: "a build's system in pkg.build.toml is not a system name" },
  ERR_BUILDFILE_TOO_LARGE: { exit: 7, summary: "pkg.build.toml is over its size limit" },

  // --- repo.lock (src/repolock.ts)
  ERR_REPOLOCK_TOML: { exit: 7, summary: "repo.lock is not valid TOML" },
  ERR_REPOLOCK_NOT_FOUND: { exit: 4, summary: "the repo.lock file does not exist" },
  ERR_REPOLOCK_MISSING_FIELD: { exit: 7, summary: "repo.lock lacks a required field or table" },
  ERR_REPOLOCK_UNKNOWN_KEY: { exit: 7, summary: "repo.lock has a key that pkg does not know" },
  ERR_REPOLOCK_INVALID_TYPE: { exit: 7, summary: "a field of repo.lock has the wrong type or is out of range" },
  ERR_REPOLOCK_UNSUPPORTED_FORMAT: { exit: 7, summary: "repo.lock is in a format this version of pkg does not read" },
  ERR_REPOLOCK_INVALID_CID: { exit: 7, summary: "a CID in repo.lock is malformed or not in canonical form" },
  ERR_REPOLOCK_INVALID_NAME: { exit: 7, summary: "a package name in repo.lock is not a valid name" },
  ERR_REPOLOCK_INVALID_VERSION: { exit: 7, summary: "a package version in repo.lock is not a valid version" },
  ERR_REPOLOCK_INVALID_REGISTRY: { exit: 7, summary: "the registry in repo.lock is not a checksummed address" },
  ERR_REPOLOCK_CHAIN_MISMATCH: { exit: 6, summary: "repo.lock was made against another chain or registry" },
  ERR_REPOLOCK_TOO_LARGE: { exit: 7, summary: "repo.lock is over its size limit" },

  // --- derivations (src/derivation.ts)
  ERR_DERIVATION_DECODE: { exit: 7, summary: "the derivation's bytes are not DAG-CBOR" },
  ERR_DERIVATION_NOT_CANONICAL: { exit: 7, summary: "the derivation is valid but not in canonical form" },
  ERR_DERIVATION_INTEGRITY: { exit: 8, summary: "the CID is not a derivation CID, or the bytes do not match it" },
  ERR_DERIVATION_UNSUPPORTED_FORMAT: { exit: 7, summary: "the derivation is in a format this version of pkg does not read" },
  ERR_DERIVATION_UNSUPPORTED: { exit: 7, summary: "the derivation uses a variant (such as a builder kind) this pkg does not know" },
  ERR_DERIVATION_MISSING_FIELD: { exit: 7, summary: "the derivation lacks a required field" },
  ERR_DERIVATION_EXTRA_FIELD: { exit: 7, summary: "the derivation has a field its format does not have" },
  ERR_DERIVATION_INVALID_TYPE: { exit: 7, summary: "a field of the derivation has the wrong type" },
  ERR_DERIVATION_INVALID_NAME: { exit: 7, summary: "the derivation's name is not a valid derivation name" },
  ERR_DERIVATION_INVALID_SYSTEM: { exit: 7, summary: "the derivation's system is not a system name" },
  ERR_DERIVATION_INVALID_BUILDER: { exit: 7, summary: "the derivation's builder is malformed or points outside its input" },
  ERR_DERIVATION_INVALID_ARGS: { exit: 7, summary: "the derivation's arguments are invalid, or set without a builder" },
  ERR_DERIVATION_INVALID_ENV: { exit: 7, summary: "the derivation's environment has an invalid or reserved variable" },
  ERR_DERIVATION_INVALID_SRC: { exit: 7, summary: "a source of the derivation is not a valid CID, or is listed twice" },
  ERR_DERIVATION_INVALID_INPUT: { exit: 7, summary: "an input of the derivation is not a derivation CID, or is malformed" },
  ERR_DERIVATION_INVALID_OUTPUT: { exit: 7, summary: "an output of the derivation has an invalid name or description" },
  ERR_DERIVATION_INVALID_PACKAGE: { exit: 7, summary: "the derivation's package provenance has an invalid name or version" },

  // --- resolving and instantiating (src/resolve.ts, src/instantiate.ts)
  ERR_RESOLVE_UNKNOWN_PACKAGE: { exit: 4, summary: "an input of the package is not in the registry" },
  ERR_RESOLVE_NO_MATCH: { exit: 4, summary: "no published version of an input satisfies its version range" },
  ERR_RESOLVE_BAD_META: { exit: 7, summary: "the published pkg.toml of an input is invalid" },
  ERR_RESOLVE_CYCLE: { exit: 7, summary: "the inputs of the chosen versions form a cycle" },
  ERR_RESOLVE_LOCK_MISMATCH: { exit: 8, summary: "pkg.lock pins CIDs that differ from the registry's for that version" },
  ERR_INSTANTIATE_BAD_META: { exit: 7, summary: "the published pkg.toml of a locked package is invalid" },
  ERR_INSTANTIATE_CYCLE: { exit: 7, summary: "a package depends on itself through its inputs" },
  ERR_INSTANTIATE_INPUT_FAILED: { exit: 7, summary: "an input could not be instantiated, so neither can the package" },
  ERR_INSTANTIATE_INPUT_NOT_LOCKED: { exit: 7, summary: "an input of a package is not pinned by the lock it is instantiated from" },
  ERR_INSTANTIATE_LOCK_MISMATCH: { exit: 6, summary: "the lock does not match the package's inputs (missing or different entries)" },
  ERR_INSTANTIATE_META_MISMATCH: { exit: 6, summary: "the meta CID in the lock is the pkg.toml of another package or version" },
  ERR_INSTANTIATE_NAME_CONFLICT: { exit: 6, summary: "two inputs, or an input and an output, would have the same name in a build" },
  ERR_INSTANTIATE_STALE_LOCK: { exit: 7, summary: "pkg.lock was made for another pkg.toml; `pkg lock` makes a new one" },
  ERR_INSTANTIATE_INCOMPLETE: { exit: 7, summary: "`repo instantiate`: some packages could not be instantiated" },

  // --- publishing and fetching packages (src/publish.ts, src/fetch.ts)
  ERR_PUBLISH_NO_REPOSITORY: { exit: 4, summary: "the repository named in pkg.toml does not exist" },
  ERR_PUBLISH_PUSH: { exit: 1, summary: "a configured IPFS node to push published content to failed" },
  ERR_PUBLISH_VERSION_EXISTS: { exit: 6, summary: "this version of the package is already published" },
  ERR_FETCH_UNKNOWN_PACKAGE: { exit: 4, summary: "the package is not in the registry" },
  ERR_FETCH_UNKNOWN_VERSION: { exit: 4, summary: "the package has no such version, or none that is not yanked" },
  ERR_FETCH_DESTINATION_EXISTS: { exit: 6, summary: "the destination directory exists already" },
  ERR_FETCH_DESTINATION_DIRECTORY_NOT_FOUND: { exit: 4, summary: "a parent of the destination is not a directory" },
  ERR_FETCH_DESTINATION_UNWRITABLE: { exit: 1, summary: "the destination cannot be created (the system's reason is given)" },
  ERR_FETCH_CORRUPT_TREE: { exit: 8, summary: "the published sources cannot be a package directory (unsafe or malformed)" },
  ERR_FETCH_META_CONFLICT: { exit: 6, summary: "the sources hold a pkg.toml that differs from the published one" },

  // --- repositories (src/repository/, `repo`)
  ERR_REPO_EXISTS: { exit: 6, summary: "a repository of that name exists already" },
  ERR_REPO_UNKNOWN: { exit: 4, summary: "the repository does not exist" },
  ERR_REPO_UNKNOWN_VERSION: { exit: 4, summary: "the repository version is not published" },
  ERR_REPO_NO_MATCHING_VERSION: { exit: 4, summary: "every version of the repository is yanked" },
  ERR_REPO_VERSION_EXISTS: { exit: 6, summary: "this repository version is already published" },
  ERR_REPO_INVALID_BLOCK: { exit: 1, summary: "the block is not yet on the chain, or was given for a versioned repository" },
  ERR_REPO_LOCK_MISMATCH: { exit: 6, summary: "repo.lock pins a package version that is not published with those CIDs" },
  ERR_REPO_META_MISMATCH: { exit: 6, summary: "a repository version's published lock is for another repository" },
  ERR_REPO_META_CONFLICT: { exit: 6, summary: "a package's sources hold a pkg.toml that differs from its published one" },
  ERR_REPO_IS_SNAPSHOT: { exit: 7, summary: "the repository version is a mirror snapshot (an index), not a repo.lock of pinned packages" },
  ERR_REPO_DESTINATION_EXISTS: { exit: 6, summary: "the destination directory exists already" },

  // --- profiles (src/profile/, src/install.ts, `pkg install`, `pkg profile`)
  ERR_PROFILE_CONFLICT: { exit: 6, summary: "two installed packages provide the same file at the same priority" },
  ERR_PROFILE_PACKAGE_NOT_FOUND: { exit: 4, summary: "the package is not installed in the profile" },
  ERR_PROFILE_AMBIGUOUS_NAME: { exit: 1, summary: "the name matches several installed packages" },
  ERR_PROFILE_GENERATION_NOT_FOUND: { exit: 4, summary: "the profile has no generation of that number" },
  ERR_PROFILE_NO_PREVIOUS_GENERATION: { exit: 1, summary: "the current generation is the oldest: there is nothing to roll back to" },
  ERR_PROFILE_NO_GENERATION: { exit: 1, summary: "the profile has no generations yet" },
  ERR_PROFILE_PATH_NOT_FOUND: { exit: 4, summary: "a store path the profile needs is gone from the store" },
  ERR_PROFILE_NOT_STORE_PATH: { exit: 1, summary: "the path to install is not a path in the store" },
  ERR_PROFILE_CORRUPT: { exit: 8, summary: "the profile is damaged (its link, manifest or generations)" },
  ERR_PROFILE_LOCKED: { exit: 6, summary: "another command is changing the profile" },
  ERR_PROFILE_INVALID: { exit: 7, summary: "a profile name, priority or age is not valid" },

  // --- the content store (src/content/, src/errors/content.ts)
  ERR_CONTENT_INTEGRITY: { exit: 8, summary: "a block's bytes do not match its CID" },
  ERR_CONTENT_NOT_FOUND: { exit: 4, summary: "the content is neither in the local store nor on a configured gateway" },
  ERR_CONTENT_UNSUPPORTED: { exit: 1, summary: "the content is of a kind this store cannot read or store" },
  ERR_CONTENT_PATH: { exit: 1, summary: "a path inside a file tree is unsafe or malformed" },
  ERR_CONTENT_NOT_DIRECTORY: { exit: 1, summary: "the content is a file or a symlink where a directory was asked for" },
  ERR_CONTENT_DESTINATION_EXISTS: { exit: 6, summary: "something exists already where the content was to be written" },
  ERR_CONTENT_WRITE: { exit: 1, summary: "the content cannot be written to the destination (permission, full disk…)" },
  ERR_CAR_INVALID: { exit: 7, summary: "a CAR file is not a well-formed CARv1 archive" },
  ERR_CAR_INCOMPLETE: { exit: 8, summary: "a CAR file lacks blocks of the DAGs it names as roots" },
  ERR_CAR_NOT_FOUND: { exit: 4, summary: "the CAR file to import does not exist" },
  ERR_SERVE_LISTEN: { exit: 1, summary: "`pkg store serve` cannot listen on the address given" },
  ERR_CONTENT_BACKEND: { exit: 1, summary: "the IPFS node or a gateway failed (down, an HTTP error, a bad reply)" },

  // --- the local store and its daemon (src/store/); these also come back over the daemon's socket
  ERR_STORE_BAD_CID: { exit: 7, summary: "the request names something that is not a (derivation) CID" },
  ERR_STORE_UNKNOWN_DERIVATION: { exit: 4, summary: "the derivation, or a source it names, is not in the content store" },
  ERR_STORE_PATH_NOT_FOUND: { exit: 4, summary: "the path named is not in the store, or does not exist" },
  ERR_STORE_BAD_REQUEST: { exit: 7, summary: "the store daemon cannot understand the request" },
  ERR_STORE_BAD_PATH: { exit: 7, summary: "the path to add is a symbolic link, not a file or directory" },
  ERR_STORE_DAEMON_UNREACHABLE: { exit: 10, summary: "no store daemon answers on the socket and none could be started" },
  ERR_STORE_LOCKED: { exit: 10, summary: "another store daemon is already running on this store" },
  ERR_STORE_SOCKET_DIR_UNSAFE: { exit: 1, summary: "another user could replace the daemon's socket: its directory is not safe" },
  ERR_STORE_SOCKET_UNUSABLE: { exit: 1, summary: "the store daemon cannot create or listen on its socket" },
  ERR_STORE_DAEMON_MISMATCH: { exit: 10, summary: "the daemon on the socket serves another store or speaks another protocol version" },
  ERR_STORE_DAEMON_GONE: { exit: 10, summary: "the store daemon went away during the request" },
  ERR_STORE_CORRUPT: { exit: 8, summary: "`pkg store verify` found damaged or missing store content" },

  // --- builds (src/build/, src/store/realise.ts)
  ERR_BUILD_FAILED: { exit: 9, summary: "the builder failed: non-zero exit, a signal, or it could not start" },
  ERR_BUILD_NO_OUTPUT: { exit: 9, summary: "the builder succeeded but did not create an output" },
  ERR_BUILD_TIMEOUT: { exit: 9, summary: "the build ran past its time limit and was killed" },
  ERR_BUILD_ABORTED: { exit: 9, summary: "the build was stopped before it started" },
  ERR_BUILD_NO_BUILDER: { exit: 9, summary: "the derivation has no builder: its output is its source" },
  ERR_BUILD_BUILDER_NOT_FOUND: { exit: 9, summary: "the builder program is not in its input, or lies outside it" },
  ERR_BUILD_INPUT_MISSING: { exit: 9, summary: "the builder or an argument names an input the build was not given" },
  ERR_BUILD_ENV_CONFLICT: { exit: 9, summary: "an input has the name of an output" },
  ERR_BUILD_DIR_NOT_EMPTY: { exit: 9, summary: "the build directory is not empty" },
  ERR_BUILD_SANDBOX_UNAVAILABLE: { exit: 9, summary: "a strict sandbox was asked for and this system cannot provide one" },
  ERR_BUILD_HOST_TOOL_NOT_FOUND: { exit: 9, summary: "a host toolchain (rustc, cargo, gcc, node) is not installed" },
  ERR_BUILD_INPUT_FAILED: { exit: 9, summary: "an input failed to build, so this package was not built" },
  ERR_BUILD_NOT_REPRODUCIBLE: { exit: 9, summary: "`--rebuild`: the second build's output differs from the first" },
  ERR_BUILD_INCOMPLETE: { exit: 9, summary: "`repo build`: some packages failed to build" },
  ERR_BUILD_VARIANT_ARGS: { exit: 9, summary: "a recorded variant's arguments no longer start with pkg.toml's" },

  // --- meta packages (src/meta/: tool shims such as meta-rustc, served by the store daemon)
  ERR_META_BAD_REQUEST: { exit: 7, summary: "the meta package's request to the daemon is malformed (mismatched versions)" },
  ERR_META_TOOL_VERSION: { exit: 1, summary: "the wrapped tool does not exist or cannot report its version" },
  ERR_META_INPUT_MISSING: { exit: 1, summary: "a file the wrapped tool reads cannot be read" },
  ERR_META_OUTPUT: { exit: 1, summary: "the wrapped tool did not write an output it should have" },
  ERR_META_SHIM_BUILD: { exit: 1, summary: "there is no native shim for the tool" },

  // --- mirrors of npm, crates.io and nixpkgs (src/mirror/, `pkg mirror`)
  ERR_MIRROR_BAD_INDEX: { exit: 8, summary: "a mirror snapshot index is malformed: not a UnixFS HAMT of fanout 256, or an entry in the wrong slot" },
  ERR_MIRROR_BAD_ENTRY: { exit: 8, summary: "a package entry of a mirror snapshot is not of the entry format, or is another package's" },
  ERR_MIRROR_BAD_ARCHIVE: { exit: 8, summary: "an upstream tarball or .crate is not a gzip'd tar, or holds a path that leaves it" },
  ERR_MIRROR_INTEGRITY: { exit: 8, summary: "downloaded bytes do not match the digest the upstream registry published for them" },
  ERR_MIRROR_UPSTREAM: { exit: 1, summary: "the upstream registry or index cannot be reached or answered with an error" },
  ERR_MIRROR_UNKNOWN_PACKAGE: { exit: 4, summary: "the upstream registry has no package of that name" },
  ERR_MIRROR_BAD_SOURCE: { exit: 7, summary: "the upstream index or channel file is malformed (config.json, an index line, packages.json)" },
  ERR_MIRROR_NOT_SNAPSHOT: { exit: 7, summary: "the CID is not a mirror snapshot (no .snapshot record at its root)" },
  ERR_MIRROR_NAME: { exit: 7, summary: "an upstream name cannot become a package name (characters, or over 64 once escaped)" },
  ERR_MIRROR_BUSY: { exit: 6, summary: "another `pkg mirror` is importing into the same repository" },

  // --- the registry gateway (src/gateway/, `pkg gateway`)
  ERR_PUBLISH_FROM: { exit: 7, summary: "`pkg publish --from npm|cargo`: the tool could not pack the package, or the package was refused" },
  ERR_GATEWAY_PACK_TOO_LARGE: { exit: 8, summary: "a native version's tree is too large for the gateway to pack as a tarball or .crate (not served)" },
  ERR_GATEWAY_LISTEN: { exit: 6, summary: "the gateway cannot listen on that address (the port is taken, or the host is not this machine's)" },
} as const satisfies Record<string, ErrorCodeInfo>;

/** A code of {@link ERROR_CODES}: the only codes a PkgError may have. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Whether `code` is a code of the table (e.g. one received over a socket). */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.prototype.hasOwnProperty.call(ERROR_CODES, code);
}

/** The exit code of a command that fails with `code`; 1 for a code the table does not have. */
export function exitCodeOf(code: string): ExitCode {
  return isErrorCode(code) ? ERROR_CODES[code].exit : 1;
}
