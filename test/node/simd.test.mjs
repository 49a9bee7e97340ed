// The WebAssembly SIMD128 kernels (kernels/simd.wat) inside the browser module: the module
// reports them bound, and the whole integer engine run by the module — with SIMD and with
// the portable Go kernels — predicts exactly what the native integer engine (the CLI)
// predicts, image by image, on both engine paths (per-channel activations: gemm_i32;
// per-tensor activations: QConv's im2col_q/gemm_q and add_q). Single-thread images/s are printed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { root, startModule, folderImages } from './helpers.mjs';

const fourbit = join(root, 'bin', 'fourbit');
const model = join(root, 'testdata/cifar10-resnet/resnet20-12fca82f.th');
const calibDir = join(root, 'testdata/cifar10-png/calib');
const testDir = join(root, 'testdata/cifar10-png/test');
// The first 64 calibration images (the CLI's and folderImages' order: classes interleaved).
const calibImages = 64;

// nativeEngine returns the native integer engine's top-1 class of every test image.
function nativeEngine(flags) {
  const tmp = mkdtempSync(join(tmpdir(), 'fourbit-simd-'));
  try {
    const out = JSON.parse(execFileSync(fourbit, ['logits', '--model', model, '--data', testDir, '--calib', calibDir,
      '--engine', '--calib-images', String(calibImages), ...flags, '--out', join(tmp, 'y.f32')], { encoding: 'utf8' }));
    const b = readFileSync(join(tmp, 'y.f32'));
    const y = new Float32Array(b.buffer, b.byteOffset, b.length / 4);
    const classes = out.classes;
    return Array.from({ length: out.images }, (_, i) => {
      let best = 0;
      for (let c = 1; c < classes; c++) if (y[i * classes + c] > y[i * classes + best]) best = c;
      return best;
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

const paths = [
  { name: 'per-channel activations (int32-folded, gemm_i32)', flags: [], options: {}, kernel: 'int32-folded' },
  { name: 'per-tensor activations (qconv: im2col_q, gemm_q, add_q)', flags: ['--a-per-tensor', '--pcba', 'none'],
    options: { a_per_channel: false, pcba_w: false, pcba_a: false }, kernel: 'qconv' },
];

test('the browser module\'s integer engine, with and without SIMD, predicts what the native engine predicts', { timeout: 20 * 60 * 1000 }, async () => {
  const calib = folderImages(calibDir, calibImages);
  const tst = folderImages(testDir, 150);
  for (const path of paths) {
    const want = nativeEngine(path.flags).slice(0, tst.images.length);
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
