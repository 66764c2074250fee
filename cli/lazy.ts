/**
 * The core, loaded when a command runs rather than when oclif lists commands for --help: ethers, the IPFS
 * libraries and typechain cost a few hundred milliseconds that `pkg --help` should not pay (bench cli-start).
 * `require` (not `import()`): from CommonJS, `import()` is an ESM import that wants file extensions.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
export const load = {
  access: () => require("../src/access") as typeof import("../src/access"),
  config: () => require("../src/config") as typeof import("../src/config"),
  errors: () => require("../src/errors") as typeof import("../src/errors"),
  fetch: () => require("../src/fetch") as typeof import("../src/fetch"),
  ids: () => require("../src/ids") as typeof import("../src/ids"),
  install: () => require("../src/install") as typeof import("../src/install"),
  instantiate: () => require("../src/instantiate") as typeof import("../src/instantiate"),
  keys: () => require("../src/keys") as typeof import("../src/keys"),
  lock: () => require("../src/lock") as typeof import("../src/lock"),
  lockfile: () => require("../src/lockfile") as typeof import("../src/lockfile"),
  lockVerify: () => require("../src/lock-verify") as typeof import("../src/lock-verify"),
  manifest: () => require("../src/manifest") as typeof import("../src/manifest"),
  name: () => require("../src/files/name") as typeof import("../src/files/name"),
  node: () => require("../src/node") as typeof import("../src/node"),
  profile: () => require("../src/profile") as typeof import("../src/profile"),
  publish: () => require("../src/publish") as typeof import("../src/publish"),
  repolock: () => require("../src/repolock") as typeof import("../src/repolock"),
  repository: () => require("../src/repository") as typeof import("../src/repository"),
  session: () => require("../src/session") as typeof import("../src/session"),
  yank: () => require("../src/yank") as typeof import("../src/yank"),
  content: () => require("../src/content") as typeof import("../src/content"),
  storeClient: () => require("../src/daemon/client") as typeof import("../src/daemon/client"),
  storeDaemon: () => require("../src/daemon/daemon") as typeof import("../src/daemon/daemon"),
  storeErrors: () => require("../src/store/errors") as typeof import("../src/store/errors"),
  buildDirectory: () => require("../src/build-directory") as typeof import("../src/build-directory"),
  buildPublished: () => require("../src/build-published") as typeof import("../src/build-published"),
  buildRepository: () => require("../src/repository/build") as typeof import("../src/repository/build"),
  instantiateRepository: () => require("../src/repository/instantiate") as typeof import("../src/repository/instantiate"),
  mirror: () => require("../src/mirror/import") as typeof import("../src/mirror/import"),
  mirrorNpm: () => require("../src/mirror/npm") as typeof import("../src/mirror/npm"),
  mirrorCrates: () => require("../src/mirror/crates") as typeof import("../src/mirror/crates"),
  mirrorNixpkgs: () => require("../src/mirror/nixpkgs") as typeof import("../src/mirror/nixpkgs"),
  mirrorDiff: () => require("../src/mirror/diff") as typeof import("../src/mirror/diff"),
  shareServe: () => require("../src/share/serve") as typeof import("../src/share/serve"),
  shareExport: () => require("../src/share/export") as typeof import("../src/share/export"),
  shareImport: () => require("../src/share/import") as typeof import("../src/share/import"),
};
