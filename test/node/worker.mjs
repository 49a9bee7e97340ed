// A Node worker thread that hosts fourbit.wasm exactly as the browser's fourbit-worker.js
// does, through the same fourbit-host.js.
import { parentPort, workerData } from 'node:worker_threads';
import { readFileSync } from 'node:fs';

await import(new URL('../../www/wasm_exec.js', import.meta.url));
const { serve } = await import(new URL('../../www/fourbit-host.js', import.meta.url));

serve({
  post: (m) => parentPort.postMessage(m),
  listen: (f) => parentPort.on('message', f),
  instantiate: (imports) => WebAssembly.instantiate(readFileSync(workerData.wasm), imports),
  loadSIMD: async (name) => (workerData.noSIMD ? null : readFileSync(new URL(`../../www/${name}`, import.meta.url))),
});
