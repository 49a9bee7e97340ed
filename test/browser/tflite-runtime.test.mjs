// The keyword-spotting DS-CNN (mlperf-tiny/kws_ref_model_float32.tflite) against TensorFlow's
// own TFLite runtime (npm @tensorflow/tfjs-tflite in headless Chromium, tools/tflite-tfjs-check.mjs):
// Arm NN's reference backend does not run its int8 weights with float activations, TFLite
// does — with hybrid kernels that quantize each activation to int8 on the fly, so the two
// agree to the precision of that quantization (stated below), not to 1e-4. Needs the data set
// ($FOURBIT_DATA); skipped, saying so, where it is absent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { root } from './launch.mjs';

const data = process.env.FOURBIT_DATA || join(root, '..', 'shared', 'data');
const model = join(data, 'mlperf-tiny', 'kws_ref_model_float32.tflite');

test('the KWS DS-CNN computes as the TFLite runtime does', { timeout: 5 * 60 * 1000, skip: !existsSync(model) && `${model} is absent (set FOURBIT_DATA)` }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'fourbit-kws-'));
  const n = 8;
  // Inputs on the scale of the benchmark's MFCCs (roughly ±30), from a fixed generator.
  let s = 12345;
  const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const x = new Float32Array(n * 490).map(() => (rnd() * 2 - 1) * 30);
  writeFileSync(join(dir, 'x.f32'), Buffer.from(x.buffer));
  execFileSync('node', [join(root, 'tools', 'tflite-tfjs-check.mjs'), model, join(dir, 'x.f32'), String(n), join(dir, 'ref.f32')], { stdio: 'inherit' });
  execFileSync(join(root, 'bin', 'fourbit'), ['logits', '--model', model, '--tensors', join(dir, 'x.f32'), '--out', join(dir, 'got.f32')], { stdio: ['ignore', 'ignore', 'inherit'] });
  const f32 = (f) => { const b = readFileSync(f); return new Float32Array(b.buffer, b.byteOffset, b.length / 4); };
  const ref = f32(join(dir, 'ref.f32'));
  const got = f32(join(dir, 'got.f32'));
  assert.equal(got.length, ref.length);
  let worst = 0;
  let same = 0;
  for (let i = 0; i < n; i++) {
    const a = ref.subarray(i * 12, (i + 1) * 12);
    const b = got.subarray(i * 12, (i + 1) * 12);
    for (let c = 0; c < 12; c++) worst = Math.max(worst, Math.abs(a[c] - b[c]));
    const top = (v) => v.indexOf(Math.max(...v));
    if (top(a) === top(b)) same++;
  }
  console.log(`KWS vs the TFLite runtime on ${n} inputs: max |Δ probability| ${worst.toExponential(2)}, same top class ${same}/${n}`);
  assert.equal(same, n, 'the same keyword on every input');
  assert.ok(worst < 0.08, `probabilities within the hybrid kernels' int8 rounding (max |Δ| ${worst})`);
});
