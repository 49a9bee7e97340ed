// fourbit-simd.js — binds fourbit's WebAssembly SIMD128 kernels (simd.wasm, assembled from
// kernels/simd.wat) to the Go module. The Go module imports them (//go:wasmimport
// fourbit_simd …); these JavaScript trampolines forward each call to the SIMD module, which
// imports the Go module's own linear memory, so the kernels work on the Go engine's buffers
// in place. Where the engine has relaxed SIMD, simd-relaxed.wasm (simd.wat with
// kernels/relaxed.wat's int8 dot-product kernels added) is bound and `relaxed` answers 1;
// where it has only SIMD128, simd.wasm; where it cannot run SIMD128 (WebAssembly.validate
// fails), `available` answers 0 and the Go kernels run instead.
//
//   const simd = simdState();
//   Object.assign(go.importObject, simdImports(simd));   // before instantiating the Go module
//   const { instance } = await WebAssembly.instantiate(goBytes, go.importObject);
//   await bindSIMD(simd, load, instance.exports.mem);    // before go.run(instance)
//
// load(name) gives the bytes of 'simd-relaxed.wasm' or 'simd.wasm' (null when there are none).

export function simdState() {
  return { kernels: null, relaxed: false, reason: 'not loaded' };
}

export function simdImports(state) {
  const need = (name) => (...args) => {
    if (!state.kernels) throw new Error(`fourbit: SIMD kernel ${name} called without SIMD (${state.reason})`);
    return state.kernels[name](...args);
  };
  return {
    fourbit_simd: {
      available: () => (state.kernels ? 1 : 0),
      relaxed: () => (state.kernels && state.relaxed ? 1 : 0),
      gemm_i32: need('gemm_i32'),
      pad_q: need('pad_q'),
      im2col_q: need('im2col_q'),
      gemm_q: need('gemm_q'),
      im2col_q4: need('im2col_q4'),
      gemm_q4: need('gemm_q4'),
      add_q: need('add_q'),
      sgemm: need('sgemm'),
      im2col_f32: need('im2col_f32'),
      quant_f32: need('quant_f32'),
    },
  };
}

// bindSIMD instantiates the SIMD module on the Go module's memory: simd-relaxed.wasm where
// this engine validates it, else simd.wasm. load is load(name) as above (or simd.wasm's bytes
// themselves). It returns whether kernels are bound; state.reason says which, or why none.
export async function bindSIMD(state, load, memory) {
  const get = async (name) => {
    if (typeof load !== 'function') return name === 'simd.wasm' ? load : null;
    try {
      return await load(name);
    } catch {
      return null;
    }
  };
  const relaxed = await get('simd-relaxed.wasm');
  const relaxedWrong = relaxed && WebAssembly.validate(relaxed) && !relaxedComputes(relaxed);
  if (relaxed && WebAssembly.validate(relaxed) && !relaxedWrong) {
    const { instance } = await WebAssembly.instantiate(relaxed, { go: { mem: memory } });
    state.kernels = instance.exports;
    state.relaxed = true;
    state.reason = 'bound, with relaxed SIMD';
    return true;
  }
  const bytes = await get('simd.wasm');
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
  state.reason = relaxedWrong ? 'bound (this engine\'s relaxed SIMD failed the self-check, so SIMD128 runs)'
    : relaxed ? 'bound (this engine has no relaxed SIMD)' : 'bound';
  return true;
}

// relaxedComputes runs the relaxed-SIMD convolution (im2col_q4, then gemm_q4) once on its own
// scratch memory — a 3×3 convolution of 2 channels of 8-bit codes by 4-bit weights into 8
// rows, K = 18, so the last quad is partial — and compares every code with the same
// convolution computed here.
// An engine whose relaxed SIMD computes anything else (Node 20's experimental baseline
// compiler, Liftoff, drops an accumulator of gemm_q4) is not used for it. The first calls
// run in the engine's baseline tier, which is the tier this checks; the scales are powers of
// two, so the float arithmetic is exact in both implementations.
export function relaxedComputes(bytes) {
  try {
    const mem = new WebAssembly.Memory({ initial: 1 });
    const { exports: k } = new WebAssembly.Instance(new WebAssembly.Module(bytes), { go: { mem } });
    const inC = 2, h = 3, w = 10, m = 8, kk = 18, kq = 5, z = 131;
    const ow = 8, n = ow; // one output row of 8 pixels: one panel
    const SRC = 64, KOFF = 1024, B = 2048, CS = 4096, A = 4608, PAR = 5120, ZR = 5632, DST = 6144;
    const u8 = new Uint8Array(mem.buffer);
    const i32 = new Int32Array(mem.buffer), f32 = new Float32Array(mem.buffer);
    let seed = 12345;
    const rnd = (r) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % r; };
    for (let i = 0; i < inC * h * w; i++) u8[SRC + i] = rnd(256);
    const koff = [];
    for (let c = 0; c < inC; c++) for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) koff.push(c * h * w + ky * w + kx);
    while (koff.length < kq * 4) koff.push(koff[kk - 1]);
    i32.set(koff, KOFF / 4);
    const wt = Array.from({ length: m * kk }, () => rnd(16));
    const zw = Array.from({ length: m }, () => rnd(16));
    for (let r = 0; r < m; r++) {
      let sum = 0;
      for (let j = 0; j < kk; j++) {
        u8[A + (r >> 2) * kq * 16 + (j >> 2) * 16 + (r & 3) * 4 + (j & 3)] = wt[r * kk + j];
        sum += wt[r * kk + j];
      }
      i32[ZR / 4 + (r >> 2) * 8 + (r & 3)] = (128 - z) * sum;
      i32[ZR / 4 + (r >> 2) * 8 + 4 + (r & 3)] = zw[r];
      f32.set([1 / 256, 1 / 128, 64, 0, 255], PAR / 4 + r * 5);
    }
    k.im2col_q4(B, SRC, KOFF, kq, 1, 1, w, 1, 1, z, kk, CS);
    k.gemm_q4(DST, n, A, B, CS, PAR, ZR, m, kq, 1, 1, ow);
    for (let r = 0; r < m; r++) {
      for (let x = 0; x < ow; x++) {
        let v = 0, d = 0;
        for (let j = 0; j < kk; j++) {
          const a = u8[SRC + koff[j] + x] - z;
          v += (wt[r * kk + j] - zw[r]) * a;
          d += a;
        }
        const y = v / 256 + d / 128 + 64; // exact in float32 too: |y| < 2^9, steps of 2^-8
        let q = Math.round(y);
        if (q - y === 0.5 && q % 2 !== 0) q -= 1; // round half to even
        if (u8[DST + r * n + x] !== Math.min(255, Math.max(0, q))) return false;
      }
    }
    return true;
  } catch {
    return false;
  }
}
