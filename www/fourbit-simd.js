// fourbit-simd.js — binds fourbit's WebAssembly SIMD128 kernels (simd.wasm, assembled from
// kernels/simd.wat) to the Go module. The Go module imports them (//go:wasmimport
// fourbit_simd …); these JavaScript trampolines forward each call to the SIMD module, which
// imports the Go module's own linear memory, so the kernels work on the Go engine's buffers
// in place. Where the engine cannot run SIMD128 (WebAssembly.validate fails), `available`
// answers 0 and the Go kernels run instead.
//
//   const simd = simdState();
//   Object.assign(go.importObject, simdImports(simd));   // before instantiating the Go module
//   const { instance } = await WebAssembly.instantiate(goBytes, go.importObject);
//   await bindSIMD(simd, simdBytes, instance.exports.mem); // before go.run(instance)

export function simdState() {
  return { kernels: null, reason: 'not loaded' };
}

export function simdImports(state) {
  const need = (name) => (...args) => {
    if (!state.kernels) throw new Error(`fourbit: SIMD kernel ${name} called without SIMD (${state.reason})`);
    return state.kernels[name](...args);
  };
  return {
    fourbit_simd: {
      available: () => (state.kernels ? 1 : 0),
      gemm_i32: need('gemm_i32'),
      im2col_q: need('im2col_q'),
      gemm_q: need('gemm_q'),
      add_q: need('add_q'),
      sgemm: need('sgemm'),
      quant_f32: need('quant_f32'),
    },
  };
}

// bindSIMD instantiates the SIMD module on the Go module's memory. It returns whether the
// kernels are bound; state.reason says why not.
export async function bindSIMD(state, bytes, memory) {
  if (!bytes) {
    state.reason = 'simd.wasm not found';
    return false;
  }
  if (!WebAssembly.validate(bytes)) {
    state.reason = 'this WebAssembly engine has no SIMD128';
    return false;
  }
  const { instance } = await WebAssembly.instantiate(bytes, { go: { mem: memory } });
  state.kernels = instance.exports;
  state.reason = 'bound';
  return true;
}
