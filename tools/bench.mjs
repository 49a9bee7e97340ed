// bench.mjs — the browser half of tools/browser-bench.mjs: in one page, single-threaded,
// ONNX Runtime Web (wasm backend, SIMD) on fourbit's float ONNX export of ResNet-20, and
// fourbit's module (its worker, one thread): FP32 forward, and the W4A4 integer engine with
// per-channel and per-tensor activations, on the committed CIFAR-10 images.
import { FourBit, FourBitPool } from '../www/fourbit.js';
import { sessionRate } from './ort-rate.mjs';

const params = new URLSearchParams(location.search);
const seconds = Number(params.get('seconds') || 3);
const noSIMD = params.get('nosimd') === '1';

async function bytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

async function main() {
  const manifest = await (await fetch('../www/demo/manifest.json')).json();
  const read = (list) => Promise.all(list.map(async (it) => ({ bytes: await bytes('../www/demo/' + it.file) })));
  const calib = (await read(manifest.calib)).slice(0, 256);
  const test = await read(manifest.test);
  const labels = manifest.test.map((it) => it.label);
  const fb = await FourBit.create();
  const out = { features: await fb.features() };
  await fb.load(await bytes('../www/demo/' + manifest.model));
  const fp = await fb.evaluate(test, labels);
  out.fourbit_fp32_images_per_sec = fp.fp32.images_per_sec;
  await fb.calibrate(calib);
  const defaults = await fb.defaults();
  for (const [name, o] of [['per_channel', {}], ['per_tensor', { a_per_channel: false, pcba_w: false, pcba_a: false }]]) {
    await fb.quantize({ ...defaults, ...o, carry_bits: 8, calib_images: 256 });
    await fb.buildEngine();
    await fb.evaluateEngine(test.slice(0, 50), labels.slice(0, 50)); // past V8's baseline tier
    let best = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000 || best === 0) {
      const r = await fb.evaluateEngine(test, labels);
      best = Math.max(best, r.engine.images_per_sec);
    }
    out[`fourbit_engine_${name}_images_per_sec`] = best;
  }
  // Two workers (FourBitPool: the images split between two modules), per-tensor engine.
  const pool = await FourBitPool.create({ size: 2 });
  await pool.load(await bytes('../www/demo/' + manifest.model));
  await pool.calibrate(calib);
  await pool.quantize({ ...defaults, a_per_channel: false, pcba_w: false, pcba_a: false, carry_bits: 8, calib_images: 256 });
  await pool.buildEngine();
  await pool.evaluateEngine(test.slice(0, 100), labels.slice(0, 100));
  let bestPool = 0;
  const tp = performance.now();
  while (performance.now() - tp < seconds * 1000 || bestPool === 0) {
    const r = await pool.evaluateEngine(test, labels);
    bestPool = Math.max(bestPool, r.engine.images_per_sec);
  }
  out.fourbit_engine_per_tensor_two_workers_images_per_sec = bestPool;
  pool.terminate();
  const onnx = await fb.exportONNX({ quantized: false });
  // fourbit's fused export (W4A8, per-tensor activations: the form ORT's integer kernels take).
  await fb.quantize({ ...defaults, wbits: 4, abits: 8, a_per_channel: false, pcba_w: false, pcba_a: false, bias_correct: 'off', carry_bits: 8, calib_images: 256 });
  const fused = await fb.exportONNX({ fused: true });
  fb.terminate();

  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmPaths = new URL('../node_modules/onnxruntime-web/dist/', location.href).href;
  const rate = async (model, batch = 50) =>
    sessionRate(ort, await ort.InferenceSession.create(model, { executionProviders: ['wasm'] }), batch, seconds);
  out.onnxruntime_web_fp32_images_per_sec = await rate(onnx);
  out.onnxruntime_web_fourbit_fused_w4a8_images_per_sec = await rate(fused);
  // The plain int8 contender, when browser-bench.mjs could write it (see int8-contender.mjs).
  const int8 = await fetch('../int8.onnx');
  const int8Model = int8.ok ? new Uint8Array(await int8.arrayBuffer()) : null;
  out.onnxruntime_web_int8_images_per_sec = int8Model ? await rate(int8Model) : null;
  out.onnxruntime_web_int8_batch1_images_per_sec = int8Model ? await rate(int8Model, 1) : null;
  out.onnxruntime_web_fp32_batch1_images_per_sec = await rate(onnx, 1);
  window.benchResult = out;
  document.getElementById('out').textContent = JSON.stringify(out, null, 2);
}

main().catch((e) => { window.benchResult = { error: String(e && e.stack || e) }; });
