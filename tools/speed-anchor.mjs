// speed-anchor measures, in one run on one machine, single-threaded: ONNX Runtime Web (its
// wasm backend, in Node) on fourbit's ONNX export of ResNet-20, and fourbit's own wasm build
// (`fourbit bench` under tools/wasm-exec-simd.mjs, with its relaxed-SIMD kernels — Node 20
// needs --experimental-wasm-relaxed-simd, and --no-liftoff, since its experimental baseline
// compiler computes them wrong and the host's self-check refuses them there — with SIMD128
// only, and with the Go kernels): kernel GOPS, images/s of the fp32 path and of the integer engine. ONNX Runtime
// Web's int8 contender is the plain int8 QDQ model of tools/int8-contender.mjs (needs Debian's
// python3-onnx), which ORT fuses into QLinearConv.
//
//   node tools/speed-anchor.mjs [seconds]     (after ./build.sh cli; needs Go for wasm_exec)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { int8Contender, fusedExport } from './int8-contender.mjs';
import { sessionRate } from './ort-rate.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const seconds = Number(process.argv[2] || 3);
const tmp = mkdtempSync(join(tmpdir(), 'fourbit-anchor-'));
const model = join(tmp, 'resnet20.onnx');
const r20 = join(root, 'testdata', 'cifar10-resnet', 'resnet20-12fca82f.th');
execFileSync(join(root, 'bin', 'fourbit'), ['export', '--model', r20, '--out', model]);

// ONNX Runtime Web, wasm backend, one thread, batches of 50 (and of 1) random images (values do not
// change the float arithmetic's cost).
const ort = await import('onnxruntime-web');
ort.env.wasm.numThreads = 1;
async function ortWebRate(path, batch = 50) {
  return sessionRate(ort, await ort.InferenceSession.create(readFileSync(path), { executionProviders: ['wasm'] }), batch, seconds);
}
const ortWeb = await ortWebRate(model);
const int8 = int8Contender(root, join(root, 'bin', 'fourbit'), tmp);
const ortWebInt8 = int8 ? await ortWebRate(int8) : null;
const ortWebInt8Batch1 = int8 ? await ortWebRate(int8, 1) : null;
const ortWebBatch1 = await ortWebRate(model, 1);
const ortWebFused = await ortWebRate(fusedExport(root, join(root, 'bin', 'fourbit'), tmp));

// fourbit's wasm build, one thread: with its relaxed-SIMD kernels, SIMD128 only, Go kernels.
const wasm = join(tmp, 'fourbit.wasm');
execFileSync('go', ['build', '-tags', 'simd', '-o', wasm, './cmd/fourbit'], { cwd: root, env: { ...process.env, GOOS: 'js', GOARCH: 'wasm' } });
const bench = (noSIMD, relaxed) => JSON.parse(execFileSync('node', [...(relaxed ? ['--experimental-wasm-relaxed-simd', '--no-liftoff'] : []), '--stack-size=8192', join(root, 'tools', 'wasm-exec-simd.mjs'), wasm, 'bench', '--json', '--seconds', String(seconds),
  '--model', r20, '--calib', join(root, 'testdata', 'cifar10-png', 'calib')],
{ cwd: root, encoding: 'utf8', maxBuffer: 1 << 24, env: { ...process.env, ...(noSIMD ? { FOURBIT_NO_SIMD: '1' } : {}) } }));
const summary = (fb) => ({
  simd: fb.simd,
  relaxed_simd: fb.relaxed_simd,
  fp32_images_per_sec: +fb.resnet20_fp32_images_per_sec.toFixed(1),
  w4a4_simulated_images_per_sec: +fb.resnet20_w4a4_simulated_images_per_sec.toFixed(1),
  engine_images_per_sec: +fb.resnet20_w4a4_engine_images_per_sec.toFixed(1),
  engine_per_tensor_images_per_sec: +fb.resnet20_w4a4_per_tensor_engine_images_per_sec.toFixed(1),
  engine_per_tensor_batch1_images_per_sec: +fb.resnet20_w4a4_per_tensor_engine_batch1_images_per_sec.toFixed(1),
  ptq_job_seconds: +fb.calibrate_256_and_quantize_seconds.toFixed(2), // calibrate on 256 images + quantize
  conv_gops: { fp32: fb.conv_f32, int8: fb.conv_int8, int4: fb.conv_int4, int32_folded: fb.conv_int32_folded, qconv: fb.conv_qconv },
  gemm_64x576x1024_gops: { fp32: fb.gemm_f32_64x576x1024_gops, int4: fb.gemm_int4_64x576x1024_gops },
});
console.log(JSON.stringify({
  onnxruntime_web_fp32_images_per_sec: +ortWeb.toFixed(1),
  onnxruntime_web_int8_images_per_sec: ortWebInt8 && +ortWebInt8.toFixed(1),
  onnxruntime_web_int8_batch1_images_per_sec: ortWebInt8Batch1 && +ortWebInt8Batch1.toFixed(1),
  onnxruntime_web_fp32_batch1_images_per_sec: +ortWebBatch1.toFixed(1),
  onnxruntime_web_fourbit_fused_w4a8_images_per_sec: +ortWebFused.toFixed(1),
  fourbit_wasm_relaxed_simd: summary(bench(false, true)),
  fourbit_wasm_simd128: summary(bench(false, false)),
  fourbit_wasm_go_kernels: summary(bench(true, false)),
}, null, 2));
