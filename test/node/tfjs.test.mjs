// TF.js layers models: TensorFlow.js itself (tfjs-layers on its CPU backend) builds Keras
// models covering every layer fourbit's reader converts, saves them as model.json + a shard,
// and predicts on random inputs; fourbit reads the saved files and must give the same outputs.
// Darknet Tiny (the ImageNet network in the data set) is checked the same way when present.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { root } from './helpers.mjs';

const fourbit = join(root, 'bin', 'fourbit');
await tf.setBackend('cpu');
const made = [];
after(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));

// A deterministic generator, so that a failure can be replayed.
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
    return s / 2 ** 32;
  };
}

// randomizeWeights gives every weight random values (variances positive), so that batch
// norms are not identities and every weight's position matters.
function randomizeWeights(model, seed) {
  const r = rng(seed);
  model.setWeights(model.getWeights().map((w) => {
    const pos = w.name && w.name.includes('variance');
    const v = Float32Array.from({ length: w.size }, () => (pos ? 0.5 + r() : 2 * r() - 1) * (w.shape.length > 1 ? 0.5 : 1));
    return tf.tensor(v, w.shape);
  }));
}

// save writes the model in the layers format (model.json + one shard) to a new folder.
async function save(model, extra = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'fourbit-tfjs-'));
  made.push(dir);
  await model.save(tf.io.withSaveHandler(async (a) => {
    const json = {
      format: 'layers-model',
      modelTopology: a.modelTopology,
      weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: a.weightSpecs }],
      ...extra,
    };
    writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
    writeFileSync(join(dir, 'group1-shard1of1.bin'), Buffer.from(a.weightData));
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  return dir;
}

// compare runs n random inputs through TF.js and through fourbit (NCHW) and returns the
// largest absolute difference and the largest output magnitude.
function compare(model, dir, n, seed) {
  const [, h, w, c] = model.inputs[0].shape;
  const r = rng(seed);
  const nhwc = Float32Array.from({ length: n * h * w * c }, () => 2 * r() - 1);
  const nchw = new Float32Array(nhwc.length);
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let ch = 0; ch < c; ch++) {
          nchw[((i * c + ch) * h + y) * w + x] = nhwc[((i * h + y) * w + x) * c + ch];
        }
      }
    }
  }
  const want = model.predict(tf.tensor(nhwc, [n, h, w, c])).dataSync();
  writeFileSync(join(dir, 'in.f32'), Buffer.from(nchw.buffer));
  execFileSync(fourbit, ['logits', '--model', join(dir, 'model.json'), '--tensors', join(dir, 'in.f32'), '--out', join(dir, 'out.f32')], { encoding: 'utf8' });
  const b = readFileSync(join(dir, 'out.f32'));
  const got = new Float32Array(b.buffer, b.byteOffset, b.length / 4);
  assert.equal(got.length, want.length, 'output size');
  let maxDiff = 0;
  let maxAbs = 0;
  for (let i = 0; i < got.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
    maxAbs = Math.max(maxAbs, Math.abs(want[i]));
  }
  return { maxDiff, maxAbs };
}

test('functional model with every layer the reader converts matches TF.js', async () => {
  const input = tfl.input({ shape: [13, 11, 3] });
  let x = tfl.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', useBias: false }).apply(input);
  x = tfl.layers.batchNormalization({ epsilon: 0.001 }).apply(x);
  x = tfl.layers.leakyReLU({ alpha: 0.1 }).apply(x);
  x = tfl.layers.zeroPadding2d({ padding: [[1, 0], [0, 2]] }).apply(x);
  const dw = tfl.layers.depthwiseConv2d({ kernelSize: [3, 2], depthMultiplier: 2, padding: 'same', activation: 'relu6' }).apply(x);
  const a = tfl.layers.maxPooling2d({ poolSize: 2, strides: 1, padding: 'same' }).apply(dw);
  const b = tfl.layers.conv2d({ filters: 16, kernelSize: 1, activation: 'relu' }).apply(dw);
  let y = tfl.layers.add().apply([a, b]);
  y = tfl.layers.reLU({ maxValue: 6 }).apply(y);
  const c = tfl.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }).apply(y);
  const d = tfl.layers.conv2d({ filters: 5, kernelSize: 3, strides: 2, padding: 'same', dilationRate: 1 }).apply(y);
  let z = tfl.layers.concatenate().apply([c, d]);
  z = tfl.layers.activation({ activation: 'relu' }).apply(z);
  z = tfl.layers.dropout({ rate: 0.5 }).apply(z);
  z = tfl.layers.flatten().apply(z);
  z = tfl.layers.dense({ units: 10 }).apply(z);
  const model = tfl.model({ inputs: input, outputs: z });
  randomizeWeights(model, 1);
  const dir = await save(model);
  const { maxDiff, maxAbs } = compare(model, dir, 8, 2);
  console.log(`# functional: max abs diff ${maxDiff}, max abs output ${maxAbs}`);
  assert.ok(maxAbs > 0.1, `outputs are not trivial (max |y| ${maxAbs})`);
  assert.ok(maxDiff <= 1e-4 * Math.max(1, maxAbs), `max |Δ| ${maxDiff} (max |y| ${maxAbs})`);
});

test('sequential model: valid padding, dilation, global pools, dense activations', async () => {
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [16, 15, 3], filters: 6, kernelSize: 3, padding: 'valid', dilationRate: 2, activation: 'relu' }),
      tfl.layers.batchNormalization(),
      tfl.layers.averagePooling2d({ poolSize: [2, 3], padding: 'valid' }),
      tfl.layers.conv2d({ filters: 12, kernelSize: 2, padding: 'same', activation: 'hardSigmoid' }),
      tfl.layers.globalMaxPooling2d({}),
      tfl.layers.dense({ units: 7, activation: 'relu6' }),
      tfl.layers.dense({ units: 4, activation: 'softmax' }),
    ],
  });
  randomizeWeights(model, 3);
  const dir = await save(model);
  const { maxDiff } = compare(model, dir, 6, 4);
  assert.ok(maxDiff <= 1e-5, `max |Δ| ${maxDiff}`);

  const gap = tfl.sequential({
    layers: [
      tfl.layers.depthwiseConv2d({ inputShape: [9, 9, 4], kernelSize: 3, strides: 2, padding: 'same' }),
      tfl.layers.globalAveragePooling2d({}),
      tfl.layers.dense({ units: 3 }),
    ],
  });
  randomizeWeights(gap, 5);
  const d2 = await save(gap);
  assert.ok(compare(gap, d2, 4, 6).maxDiff <= 1e-5);
});

test('unsupported layers are listed in one error; shards that disagree with the manifest are refused', async () => {
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, activation: 'tanh' }),
      tfl.layers.upSampling2d({ size: [2, 2] }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 2 }),
    ],
  });
  const dir = await save(model);
  const run = (d) => {
    try {
      execFileSync(fourbit, ['info', '--model', d], { encoding: 'utf8', stdio: 'pipe' });
      return '';
    } catch (e) {
      return String(e.stderr);
    }
  };
  const msg = run(dir);
  assert.match(msg, /unsupported layers: .*tanh.*UpSampling2D/s);

  const ok = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units: 2 })] });
  const d2 = await save(ok);
  writeFileSync(join(d2, 'group1-shard1of1.bin'), Buffer.alloc(12)); // 3 floats, the manifest wants 10
  assert.match(run(d2), /disagree with the shards/);
});

const darknet = join(root, 'testdata', 'imagenet-darknet-tiny'); // a copy of the data set's
test('Darknet Tiny (ImageNet, TF.js layers) matches TF.js', async () => {
  const model = await tfl.loadLayersModel(tf.io.fromMemory(await (async () => {
    const json = JSON.parse(readFileSync(join(darknet, 'model.json'), 'utf8'));
    const specs = json.weightsManifest.flatMap((g) => g.weights);
    const data = Buffer.concat(json.weightsManifest.flatMap((g) => g.paths.map((p) => readFileSync(join(darknet, p)))));
    return { modelTopology: json.modelTopology, weightSpecs: specs, weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.length) };
  })()));
  const dir = mkdtempSync(join(tmpdir(), 'fourbit-darknet-'));
  made.push(dir);
  // Inputs in the model's range (pixels / 255), spatially smooth like images.
  const n = 2;
  const r = rng(7);
  const [h, w, c] = [224, 224, 3];
  const nhwc = new Float32Array(n * h * w * c);
  for (let i = 0; i < n; i++) {
    const f = Array.from({ length: 6 }, () => r());
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let ch = 0; ch < c; ch++) {
      nhwc[((i * h + y) * w + x) * c + ch] = 0.5 + 0.25 * Math.sin(f[ch] * 0.2 * x + f[ch + 3] * 0.15 * y) + 0.2 * (r() - 0.5);
    }
  }
  const nchw = new Float32Array(nhwc.length);
  for (let i = 0; i < n; i++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let ch = 0; ch < c; ch++) {
    nchw[((i * c + ch) * h + y) * w + x] = nhwc[((i * h + y) * w + x) * c + ch];
  }
  const want = model.predict(tf.tensor(nhwc, [n, h, w, c])).dataSync();
  writeFileSync(join(dir, 'in.f32'), Buffer.from(nchw.buffer));
  execFileSync(fourbit, ['logits', '--model', darknet, '--tensors', join(dir, 'in.f32'), '--out', join(dir, 'out.f32')]);
  const b = readFileSync(join(dir, 'out.f32'));
  const got = new Float32Array(b.buffer, b.byteOffset, b.length / 4);
  assert.equal(got.length, want.length);
  let maxDiff = 0;
  let maxAbs = 0;
  for (let i = 0; i < got.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
    maxAbs = Math.max(maxAbs, Math.abs(want[i]));
  }
  console.log(`# darknet: max abs diff ${maxDiff}, max abs logit ${maxAbs}`);
  assert.ok(maxAbs > 1, `logits are not trivial (max ${maxAbs})`);
  assert.ok(maxDiff <= 1e-3, `max |Δlogit| ${maxDiff}`);
  for (let i = 0; i < n; i++) {
    const top = (v) => v.slice(i * 1000, (i + 1) * 1000).reduce((best, x, j, a) => (x > a[best] ? j : best), 0);
    assert.equal(top(got), top(want), `image ${i}: same class`);
  }
});
