// fourbit-host.js — runs inside a worker (a browser Web Worker or a Node worker thread):
// starts the Go WebAssembly module and answers {id, method, args} messages with
// {id, result} or {id, error}, and {id, progress: [done, total]} while a call runs (with a
// third element, what was done — learned rounding's report of a layer — where the call says).
// wasm_exec.js (from the Go installation) must have defined globalThis.Go first.

// loadSIMD (name) => Promise<Uint8Array|null> gives 'simd-relaxed.wasm' or 'simd.wasm', the
// SIMD kernels the module calls through fourbit-simd.js (the relaxed-SIMD module where the
// engine has relaxed SIMD); without them (or without SIMD in the engine) the Go kernels run.
import { simdState, simdImports, bindSIMD } from './fourbit-simd.js';

export function serve({ post, listen, instantiate, loadSIMD }) {
  const go = new globalThis.Go();
  const simd = simdState();
  Object.assign(go.importObject, simdImports(simd));
  const ready = new Promise((resolve, reject) => {
    globalThis.fourbitReady = resolve;
    instantiate(go.importObject)
      .then(async (result) => {
        const instance = result.instance || result;
        await bindSIMD(simd, loadSIMD || (() => null), instance.exports.mem);
        go.run(instance).then(
          () => { globalThis.fourbitExited = true; },
          (e) => { globalThis.fourbitExited = String(e); });
      })
      .catch(reject);
  });
  // Calls run one at a time, in order: the module is single-threaded.
  let queue = Promise.resolve();
  listen((msg) => {
    queue = queue.then(() => handle(msg));
  });

  async function handle({ id, method, args }) {
    try {
      await ready;
      if (globalThis.fourbitExited) {
        throw new Error('the fourbit module has stopped (' + globalThis.fourbitExited + '); reload it');
      }
      const fb = globalThis.fourbit;
      if (typeof fb[method] !== 'function') throw new Error('unknown method ' + method);
      const callArgs = (args || []).map((a) =>
        a && a.__progress
          ? (done, total, info) => post({ id, progress: info === undefined ? [done, total] : [done, total, JSON.parse(info)] })
          : a);
      const answer = fb[method](...callArgs);
      if (answer.error !== undefined) post({ id, error: answer.error });
      else if (answer.bytes !== undefined) post({ id, result: answer.bytes });
      else {
        const result = JSON.parse(answer.result);
        if (method === 'features') result.simd_reason = simd.reason; // why SIMD is (not) in use
        post({ id, result });
      }
    } catch (e) {
      post({ id, error: String((e && e.message) || e) });
    }
  }
}
