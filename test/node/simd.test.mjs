// The WebAssembly SIMD128 kernels (kernels/simd.wat) inside the browser module: the module
// reports them bound, and the whole integer engine run by the module — with SIMD and with
// the portable Go kernels — predicts exactly what the native integer engine (the CLI)
// predicts, image by image, on both engine paths (per-channel activations: gemm_i32;
// per-tensor activations: QConv's im2col_q/gemm_q and add_q). Single-thread images/s are printed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { root, startModule, folderImages, nativeEngine } from './helpers.mjs';

const model = join(root, 'testdata/cifar10-resnet/resnet20-12fca82f.th');
const calibDir = join(root, 'testdata/cifar10-png/calib');
const testDir = join(root, 'testdata/cifar10-png/test');
// The first 64 calibration images (the CLI's and folderImages' order: classes interleaved).
const calibImages = 64;

const paths = [
  { name: 'per-channel activations (int32-folded, gemm_i32)', flags: [], options: {}, kernel: 'int32-folded' },
  { name: 'per-tensor activations (qconv: im2col_q, gemm_q, add_q)', flags: ['--a-per-tensor', '--pcba', 'none'],
    options: { a_per_channel: false, pcba_w: false, pcba_a: false }, kernel: 'qconv' },
];

test('the browser module\'s integer engine, with and without SIMD, predicts what the native engine predicts', { timeout: 20 * 60 * 1000 }, async () => {
  const calib = folderImages(calibDir, calibImages);
  const tst = folderImages(testDir, 150);
  for (const path of paths) {
    const want = nativeEngine(model, calibDir, testDir, calibImages, path.flags).slice(0, tst.images.length);
    assert.equal(want.length, tst.images.length);
    for (const noSIMD of [false, true]) {
      const fb = await startModule({ noSIMD });
      try {
        assert.equal((await fb.features()).simd, !noSIMD, 'SIMD kernels bound as asked');
        await fb.load(new Uint8Array(readFileSync(model)));
        await fb.calibrate(calib.images);
        const defaults = await fb.defaults();
        await fb.quantize({ ...defaults, ...path.options, carry_bits: 8, calib_images: calibImages });
        const info = await fb.buildEngine();
        assert.equal(info.simd, !noSIMD);
        assert.ok(info.layers.some((l) => l.kernel === path.kernel), `some layer runs ${path.kernel}`);
        const rep = await fb.evaluateEngine(tst.images, tst.labels);
        let same = 0;
        rep.predicted.forEach((p, i) => { if (p === want[i]) same++; });
        console.log(`# ${path.name}, ${noSIMD ? 'Go kernels' : 'SIMD128'}: top-1 ${rep.engine.top1.toFixed(2)}%, ` +
          `same class as the native engine on ${same}/${want.length}, ${rep.engine.images_per_sec.toFixed(1)} images/s (one thread)`);
        assert.equal(same, want.length, 'every image gets the native engine\'s class');
      } finally {
        fb.terminate();
      }
    }
  }
});
