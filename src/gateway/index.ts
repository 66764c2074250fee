/** `pkg gateway`: the npm registry API and a cargo sparse index served from the chain and the content store. */
export { startGateway, type GatewayOptions, type RunningRegistryGateway } from "./server";
export { createPackageSource, type PackageSource } from "./source";
export { gatewayToken } from "./token";
