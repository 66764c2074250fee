/**
 * Generates the host toolchain bootstrap packages (toolchains:rustc, cargo, gcc, node) for THIS
 * machine: pkg.toml with the real host paths and versions, host.sh, cargo's wrapper.
 *
 *   npx ts-node scripts/toolchains.ts [DIR]      (default: examples/toolchains)
 *   node -e 'require("./dist/src/builder/host").writeHostToolchains(DIR)'   (after npm run build)
 *
 * Regenerate whenever the host toolchain changes: host.sh refuses to build a package whose recorded
 * `--version` no longer matches the program.
 */
import path from "node:path";
import { writeHostToolchains } from "../src/builder/host";

async function main(): Promise<void> {
  const dir = path.resolve(process.argv[2] ?? path.join(__dirname, "..", "examples", "toolchains"));
  for (const t of await writeHostToolchains(dir)) console.log(`${path.join(dir, t.tool)}: toolchains:${t.tool} ${t.version}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
