import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

/** The Ignition module id; deployment parameters are keyed by it: `{ RegistryModule: { importer } }`. */
export const REGISTRY_MODULE_ID = "RegistryModule";

/**
 * Deploys the package registry (contracts/Registry.sol).
 *
 * Parameter `importer`: the migration account that may act as owner of everything until it calls
 * `sealImport()` (scripts/migrate.ts deploys with the migrating account); the zero address (default)
 * deploys a registry that never had an importer.
 */
const RegistryModule = buildModule(REGISTRY_MODULE_ID, (m) => {
  const importer = m.getParameter<string>("importer", "0x0000000000000000000000000000000000000000");
  const registry = m.contract("Registry", [importer]);
  return { registry };
});

export default RegistryModule;
