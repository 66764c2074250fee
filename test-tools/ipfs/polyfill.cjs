// Node 20 lacks Promise.withResolvers (Node 22+), which some of js-ipfs's newer transitive
// dependencies call. Loaded with `node --require ./polyfill.cjs` before anything else.
if (typeof Promise.withResolvers !== "function") {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new this((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}
