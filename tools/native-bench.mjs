// native-bench measures, in one run on one machine, one thread: onnxruntime-node (MLAS, its
// CPU execution provider) on fourbit's float ONNX export of ResNet-20, and fourbit's native
// CLI (`fourbit bench --threads 1`), built with GOEXPERIMENT=simd (its AVX-512 kernels where
// the CPU has them) and without (the portable Go kernels): images/s at batch 1 and batch 50.
//
//   node tools/native-bench.mjs [seconds]     (after ./build.sh cli)
//
// The int8 contender is onnxruntime-node on a plain int8 QDQ model of ResNet-20 — symmetric int8
// weights per output channel, uint8 activations per tensor (fourbit's W8A8 calibration), int32
// biases — which ORT fuses into QLinearConv/QLinearAdd/QGemm: `tools/ort-int8.py` writes it from
// fourbit's QDQ export (it needs Debian's python3-onnx; without it the int8 side is skipped with
// a line saying so).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { int8Contender, fusedExport } from './int8-contender.mjs';
import { createRequire } from 'node:module';
import { sessionRate } from './ort-rate.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const seconds = Number(process.argv[2] || 3);
const tmp = mkdtempSync(join(tmpdir(), 'fourbit-native-'));
const model = join(tmp, 'resnet20.onnx');
const r20 = join(root, 'testdata', 'cifar10-resnet', 'resnet20-12fca82f.th');
const cli = join(root, 'bin', 'fourbit');
execFileSync(cli, ['export', '--model', r20, '--out', model]);

const ort = createRequire(import.meta.url)('onnxruntime-node');
const session = await ort.InferenceSession.create(readFileSync(model), { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' });
const ortRate = async (session, batch) => +(await sessionRate(ort, session, batch, seconds, 5)).toFixed(1);
const ortFP32 = { batch1: await ortRate(session, 1), batch50: await ortRate(session, 50) };

// The int8 contender (see the top).
let ortInt8 = null;
const int8 = int8Contender(root, cli, tmp);
if (int8) {
  const s8 = await ort.InferenceSession.create(readFileSync(int8), { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' });
  ortInt8 = { batch1: await ortRate(s8, 1), batch50: await ortRate(s8, 50) };
}
const sf = await ort.InferenceSession.create(readFileSync(fusedExport(root, cli, tmp)), { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' });
const ortFused = { batch1: await ortRate(sf, 1), batch50: await ortRate(sf, 50) };

const portable = join(tmp, 'fourbit-portable');
execFileSync('go', ['build', '-o', portable, './cmd/fourbit'], { cwd: root, env: { ...process.env, GOEXPERIMENT: '' } });
const bench = (bin) => {
  const b = JSON.parse(execFileSync(bin, ['bench', '--json', '--threads', '1', '--seconds', String(seconds), '--model', r20, '--calib', join(root, 'testdata', 'cifar10-png', 'calib')], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 24 }));
  return {
    native_simd: b.native_simd,
    fp32: { batch1: +b.resnet20_fp32_batch1_images_per_sec.toFixed(1), batch50: +b.resnet20_fp32_images_per_sec.toFixed(1) },
    w4a4_simulated_batch50: +b.resnet20_w4a4_simulated_images_per_sec.toFixed(1),
    engine_paper_config: { batch1: +b.resnet20_w4a4_engine_batch1_images_per_sec.toFixed(1), batch50: +b.resnet20_w4a4_engine_images_per_sec.toFixed(1) },
    engine_per_tensor: { batch1: +b.resnet20_w4a4_per_tensor_engine_batch1_images_per_sec.toFixed(1), batch50: +b.resnet20_w4a4_per_tensor_engine_images_per_sec.toFixed(1) },
  };
};
const simd = bench(cli);
const go = bench(portable);
console.log(JSON.stringify({
  onnxruntime_node_fp32: ortFP32,
  onnxruntime_node_int8: ortInt8,
  onnxruntime_node_fourbit_fused_w4a8: ortFused,
  fourbit_native: simd,
  fourbit_portable: go,
  ratios: {
    fp32_vs_ort_fp32: { batch1: +(simd.fp32.batch1 / ortFP32.batch1).toFixed(3), best: +(Math.max(simd.fp32.batch1, simd.fp32.batch50) / Math.max(ortFP32.batch1, ortFP32.batch50)).toFixed(3) },
    ...(ortInt8 && {
      w4a4_engine_per_tensor_vs_ort_int8: {
        batch1: +(simd.engine_per_tensor.batch1 / ortInt8.batch1).toFixed(3),
        best: +(Math.max(simd.engine_per_tensor.batch1, simd.engine_per_tensor.batch50) / Math.max(ortInt8.batch1, ortInt8.batch50)).toFixed(3),
      },
    }),
  },
}, null, 2));
