import { expect } from "chai";
import { promises as fs, readFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseBuildfile, readBuildfile, writeBuildfile, type Buildfile } from "../../../src/buildfile";
import { FileFormatError } from "../../../src/errors/files";
import { writeFileAtomic } from "../../../src/files/atomic";
import { parseLockfile, readLockfile, writeLockfile, type Lockfile } from "../../../src/lockfile";
import { parseManifest, readManifest, writeManifest, type Manifest } from "../../../src/manifest";

const fixtures = path.join(__dirname, "../../fixtures/files");
const manifest = parseManifest(readFileSync(path.join(fixtures, "seed/pkg.toml"), "utf8"));
const lock = parseLockfile(readFileSync(path.join(fixtures, "valid/pkg.lock"), "utf8"));
const build = parseBuildfile(readFileSync(path.join(fixtures, "valid/pkg.build.toml"), "utf8"));

interface Format<T> {
  name: string;
  file: string;
  valid: T;
  invalid: T;
  write: (file: string, value: T) => Promise<void>;
  read: (file: string) => Promise<T>;
}

const formats: Format<unknown>[] = [
  { name: "manifest", file: "pkg.toml", valid: manifest, invalid: { ...manifest, version: "1" } satisfies Manifest, write: writeManifest as never, read: readManifest },
  { name: "lockfile", file: "pkg.lock", valid: lock, invalid: { ...lock, package: "nope" } satisfies Lockfile, write: writeLockfile as never, read: readLockfile },
  {
    name: "buildfile",
    file: "pkg.build.toml",
    valid: build,
    invalid: { builds: [...build.builds, build.builds[0]] } satisfies Buildfile,
    write: writeBuildfile as never,
    read: readBuildfile,
  },
];

describe("atomic writes", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "pkg-write-"));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  for (const f of formats) {
    describe(f.name, () => {
      it("writes a file that reads back equal, leaving nothing else", async () => {
        const file = path.join(dir, f.file);
        await f.write(file, f.valid);
        expect(await f.read(file)).to.deep.equal(f.valid);
        expect(await fs.readdir(dir)).to.deep.equal([f.file]);
      });

      it("leaves no file and no temp file when serializing fails", async () => {
        const file = path.join(dir, f.file);
        let error: unknown;
        try {
          await f.write(file, f.invalid);
        } catch (e) {
          error = e;
        }
        expect(error).to.be.instanceOf(FileFormatError);
        expect((error as FileFormatError).details.file).to.equal(file);
        expect(await fs.readdir(dir)).to.deep.equal([]);
      });

      it("keeps the old file intact when serializing the new one fails", async () => {
        const file = path.join(dir, f.file);
        await f.write(file, f.valid);
        const before = await fs.readFile(file, "utf8");
        await f.write(file, f.invalid).catch(() => undefined);
        expect(await fs.readFile(file, "utf8")).to.equal(before);
        expect(await fs.readdir(dir)).to.deep.equal([f.file]);
      });
    });
  }

  describe("writeFileAtomic", () => {
    it("replaces an existing file and keeps its mode", async () => {
      const file = path.join(dir, "pkg.toml");
      await fs.writeFile(file, "old");
      await fs.chmod(file, 0o600);
      await writeFileAtomic(file, "new");
      expect(await fs.readFile(file, "utf8")).to.equal("new");
      expect((await fs.stat(file)).mode & 0o777).to.equal(0o600);
    });

    it("removes its temp file when the rename fails", async () => {
      const target = path.join(dir, "pkg.lock");
      await fs.mkdir(target);
      await fs.writeFile(path.join(target, "keep"), "x"); // a non-empty directory cannot be renamed over
      let failed = false;
      await writeFileAtomic(target, "data").catch(() => (failed = true));
      expect(failed).to.equal(true);
      expect(await fs.readdir(dir)).to.deep.equal(["pkg.lock"]);
    });

    it("fails without leaving anything when the directory does not exist", async () => {
      let failed = false;
      await writeFileAtomic(path.join(dir, "missing", "pkg.toml"), "data").catch(() => (failed = true));
      expect(failed).to.equal(true);
      expect(await fs.readdir(dir)).to.deep.equal([]);
    });
  });
});
