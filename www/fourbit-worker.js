// fourbit-worker.js — the browser's module Worker around fourbit.wasm.
import './wasm_exec.js';
import { serve } from './fourbit-host.js';

serve({
  post: (m) => self.postMessage(m),
  listen: (f) => self.addEventListener('message', (e) => f(e.data)),
  instantiate: (imports) =>
    WebAssembly.instantiateStreaming(fetch(new URL('fourbit.wasm', import.meta.url)), imports),
  loadSIMD: async (name) => {
    const r = await fetch(new URL(name, import.meta.url));
    return r.ok ? new Uint8Array(await r.arrayBuffer()) : null;
  },
});
