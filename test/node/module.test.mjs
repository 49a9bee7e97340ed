// The browser module under Node: the same job as the native CLI through www/fourbit.js, and
// bad input from JavaScript.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { root, dataDir, hasData, startModule, startPool, folderImages } from './helpers.mjs';

const fourbitCLI = join(root, 'bin', 'fourbit');

// runJob calibrates, quantizes W4A4 with all three methods and evaluates, in the module and
// with the native CLI, and returns both results with the module's timings.
async function runJob(modelPath, calibDir, testDir, calibN, testN) {
  const fb = await startModule();
  try {
    const info = await fb.load(new Uint8Array(readFileSync(modelPath)));
    assert.equal(info.classes.length, 10);
    const calib = folderImages(calibDir, calibN);
    const tests = folderImages(testDir, testN);
    let t0 = performance.now();
    let progressCalls = 0;
    await fb.calibrate(calib.images, () => progressCalls++);
    const plan = await fb.quantize({ wbits: 4, abits: 4, clip: 'aciq-laplace', pcba_w: true, pcba_a: true, bias_correct: 'mean' });
    const calibrateSeconds = (performance.now() - t0) / 1000;
    assert.ok(progressCalls > 0, 'calibration reported progress');
    assert.ok(plan.weights.length > 0);
    t0 = performance.now();
    const rep = await fb.evaluate(tests.images, tests.labels);
    const evalSeconds = (performance.now() - t0) / 1000;
    const cli = JSON.parse(execFileSync(fourbitCLI, ['quantize', '--model', modelPath, '--calib', calibDir,
      '--calib-images', String(calibN), '--data', testDir, '--limit', String(testN),
      '--wbits', '4', '--abits', '4', '--clip', 'aciq-laplace', '--pcba', 'w,a', '--bias-correct', 'mean', '--json'],
      { encoding: 'utf8', maxBuffer: 64 << 20 }));
    return { rep, cli, calibrateSeconds, evalSeconds, images: tests.images.length };
  } finally {
    fb.terminate();
  }
}

function check(name, { rep, cli, calibrateSeconds, evalSeconds, images }) {
  console.log(`${name}: module FP32 ${rep.fp32.top1}% W4A4 ${rep.quantized.top1}% | CLI FP32 ${cli.fp32.top1}% W4A4 ${cli.quantized.top1}%`);
  console.log(`${name}: module calibrate+quantize ${calibrateSeconds.toFixed(1)} s, evaluate ${(2 * images / evalSeconds).toFixed(1)} images/s (FP32 and W4A4 passes)`);
  assert.equal(rep.fp32.images, images);
  assert.equal(rep.fp32.top1, cli.fp32.top1, 'FP32 top-1 equals the native CLI');
  assert.equal(rep.quantized.top1, cli.quantized.top1, 'W4A4 top-1 equals the native CLI');
  assert.equal(rep.agreement, cli.agreement);
}

test('module equals the native CLI on the committed images', async () => {
  const r = await runJob(join(root, 'testdata/cifar10-resnet/resnet20-12fca82f.th'),
    join(root, 'testdata/cifar10-png/calib'), join(root, 'testdata/cifar10-png/test'), 64, 100);
  check('committed data', r);
});

test('module equals the native CLI on 256 calibration and 500 test images of the full data set',
  { skip: hasData ? false : `full data set not found under ${dataDir} (set FOURBIT_DATA)` }, async () => {
    const r = await runJob(join(dataDir, 'cifar10-resnet/resnet20-12fca82f.th'),
      join(dataDir, 'cifar10-png/calib'), join(dataDir, 'cifar10-png/test'), 256, 500);
    check('full data', r);
  });

test('bad input from JavaScript rejects with a message and the next call works', async () => {
  const fb = await startModule();
  try {
    const model = new Uint8Array(readFileSync(join(root, 'testdata/cifar10-resnet/resnet20-12fca82f.th')));
    await assert.rejects(fb.load('not bytes'), /Uint8Array/);
    await assert.rejects(fb.load(new Uint8Array(readFileSync(join(root, 'README.md')))), /load/);
    await assert.rejects(fb.calibrate([{ width: 1 }]), /calibrate/);
    await assert.rejects(fb.calibrate('images'), /array/);
    const info = await fb.load(model);
    assert.ok(info.nodes.length > 10);
    await assert.rejects(fb.quantize({ wbits: 4 }), /calibrate before quantizing/);
    await assert.rejects(fb.calibrate([{ width: 32, height: 32, data: new Uint8ClampedArray(10) }]), /RGBA bytes/);
    await assert.rejects(fb.calibrate([{ bytes: new Uint8Array([1, 2, 3]) }]), /not a PNG or JPEG/);
    const img = { width: 32, height: 32, data: new Uint8ClampedArray(32 * 32 * 4).fill(128) };
    await fb.calibrate([img, img]);
    await assert.rejects(fb.quantize({ wbits: 'four' }), /wbits/);
    await assert.rejects(fb.quantize({ clip: 'magic' }), /unknown clipping method/);
    await assert.rejects(fb.quantize({ colour: 'blue' }), /unknown field/);
    await assert.rejects(fb.quantize(42), /object/);
    await assert.rejects(fb.evaluate([img], [99]), /label/);
    await assert.rejects(fb.infer({ width: 5, height: 5, data: new Uint8Array(3) }), /RGBA bytes/);
    await fb.quantize({});
    // The paper's protocol leaves the residual Adds in float: no integer engine from that plan.
    await assert.rejects(fb.buildEngine(), /carry_bits/);
    const pred = await fb.infer({ width: 50, height: 20, data: new Uint8ClampedArray(50 * 20 * 4).fill(200) });
    assert.equal(pred.fp32.length, 3);
    assert.equal(pred.quantized.length, 3);
    const view = await fb.channel('layer1.0.conv1', 2);
    assert.ok(view.counts.length > 0 && view.mse_analytic.length === 40);
    await assert.rejects(fb.channel('nope', 0), /no quantized activation/);
    const errs = await fb.debug([img]);
    assert.ok(errs.length > 20 && 'sqnr_db' in errs[0] && typeof errs[0].local_db === 'number');
    const exported = await fb.exportModel();
    assert.ok(exported instanceof Uint8Array && exported.length > 100000);
    const doc = JSON.parse(new TextDecoder().decode(exported));
    assert.equal(doc.format, 'fourbit-quantized/1');
    assert.equal(doc.weights.length, 20);
  } finally {
    fb.terminate();
  }
});

test('a pool of two workers evaluates, and runs the integer engine, exactly as one module', async () => {
  const model = new Uint8Array(readFileSync(join(root, 'testdata/cifar10-resnet/resnet20-12fca82f.th')));
  const calib = folderImages(join(root, 'testdata/cifar10-png/calib'), 48);
  const tests = folderImages(join(root, 'testdata/cifar10-png/test'), 101);
  const run = async (fb) => {
    try {
      await fb.load(model);
      await fb.calibrate(calib.images);
      await fb.quantize({ ...(await fb.defaults()), a_per_channel: false, pcba_w: false, pcba_a: false, carry_bits: 8 });
      const rep = await fb.evaluate(tests.images, tests.labels);
      await fb.buildEngine();
      return { ...rep, engine: await fb.evaluateEngine(tests.images, tests.labels) };
    } finally {
      fb.terminate();
    }
  };
  const one = await run(await startModule());
  const pool = await run(await startPool(2));
  for (const key of ['fp32', 'quantized']) {
    assert.equal(pool[key].images, one[key].images);
    assert.equal(pool[key].top1, one[key].top1);
    assert.equal(pool[key].top5, one[key].top5);
    assert.equal(pool[key].top1_count, one[key].top1_count);
    assert.equal(pool[key].top5_count, one[key].top5_count);
  }
  assert.equal(pool.agreed, one.agreed);
  assert.equal(pool.agreement, one.agreement);
  for (const key of ['images', 'top1', 'top5', 'top1_count', 'top5_count', 'top1_stderr']) {
    assert.equal(pool.engine.engine[key], one.engine.engine[key], `engine ${key}`);
  }
  assert.deepEqual(pool.engine.predicted, one.engine.predicted);
  assert.equal(pool.engine.agreed_simulated, one.engine.agreed_simulated);
  assert.equal(pool.engine.agreement_simulated, one.engine.agreement_simulated);
  assert.ok(pool.engine.engine.images_per_sec > 0);
});
