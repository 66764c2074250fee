// A js-ipfs node that serves the Kubo RPC API (/api/v0) on 127.0.0.1, for tests of the kubo
// backend. Offline: no swarm listeners, no bootstrap peers, no discovery, no preload.
//
//   node --require ./polyfill.cjs server.js <repo-dir>
//
// Prints one JSON line {"api":"http://127.0.0.1:<port>"} on stdout once the API listens, and
// stops cleanly on SIGTERM/SIGINT.
import { create } from "ipfs-core";
import { HttpApi } from "ipfs-http-server";

const repo = process.argv[2];
if (!repo) {
  console.error("usage: server.js <repo-dir>");
  process.exit(2);
}

const ipfs = await create({
  repo,
  offline: true,
  silent: true,
  preload: { enabled: false },
  init: { algorithm: "Ed25519" },
  config: {
    Addresses: { Swarm: [], API: "/ip4/127.0.0.1/tcp/0", Gateway: "", RPC: "", Delegates: [] },
    Bootstrap: [],
    Discovery: { MDNS: { Enabled: false }, webRTCStar: { Enabled: false } },
  },
  // Without listen addresses libp2p's transport manager would refuse to start (FATAL_ALL).
  libp2p: { transportManager: { faultTolerance: 1 /* FaultTolerance.NO_FATAL */ } },
});

const api = new HttpApi(ipfs);
await api.start();
const { uri } = api._apiServers[0].info;
process.stdout.write(JSON.stringify({ api: uri }) + "\n");

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  try {
    await api.stop();
    await ipfs.stop();
  } finally {
    process.exit(0);
  }
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
