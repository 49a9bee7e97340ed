// The relaxed-SIMD kernels (kernels/relaxed.wat) in Chromium, which has relaxed SIMD: the
// module binds them, and its integer engine on per-tensor activations — QConv on relaxed
// SIMD's int8 dot products, and with simd-relaxed.wasm withheld on SIMD128 — predicts exactly
// what the native integer engine (the CLI) predicts, image by image. (Under Node the kernels
// are checked code for code by the kernels package's tests, build.sh's relaxed run.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { root, startServer, launchBrowser } from './launch.mjs';
import { folderImages, nativeEngine } from '../node/helpers.mjs';

const model = join(root, 'testdata/cifar10-resnet/resnet20-12fca82f.th');
const calibDir = join(root, 'testdata/cifar10-png/calib');
const testDir = join(root, 'testdata/cifar10-png/test');
const calibImages = 64;
const flags = ['--a-per-tensor', '--pcba', 'none'];
const options = { a_per_channel: false, pcba_w: false, pcba_a: false, carry_bits: 8, calib_images: calibImages };

test('in Chromium the relaxed-SIMD and the SIMD128 engine predict what the native engine predicts', { timeout: 10 * 60 * 1000 }, async () => {
  const calib = folderImages(calibDir, calibImages).images.map((im) => Array.from(im.bytes));
  const tst = folderImages(testDir, 150);
  const images = tst.images.map((im) => Array.from(im.bytes));
  const want = nativeEngine(model, calibDir, testDir, calibImages, flags).slice(0, images.length);
  const srv = await startServer();
  const browser = await launchBrowser();
  try {
    for (const [name, withheld] of [['relaxed SIMD', []], ['SIMD128', ['simd-relaxed.wasm']]]) {
      const page = await browser.newPage();
      for (const file of withheld) await page.route(`**/${file}`, (r) => r.abort());
      await page.goto(srv.url + 'demo/manifest.json'); // any page of the origin
      const r = await page.evaluate(async ({ modelBytes, calib, images, labels, options }) => {
        const { FourBit } = await import('/fourbit.js');
        const fb = await FourBit.create();
        try {
          const features = await fb.features();
          await fb.load(new Uint8Array(modelBytes));
          await fb.calibrate(calib.map((b) => ({ bytes: new Uint8Array(b) })));
          await fb.quantize({ ...(await fb.defaults()), ...options });
          const info = await fb.buildEngine();
          const rep = await fb.evaluateEngine(images.map((b) => ({ bytes: new Uint8Array(b) })), labels);
          return { features, info: { relaxed_simd: info.relaxed_simd, kernels: info.layers.map((l) => l.kernel) }, predicted: rep.predicted, top1: rep.engine.top1 };
        } finally {
          fb.terminate();
        }
      }, { modelBytes: Array.from(readFileSync(model)), calib, images, labels: tst.labels, options });
      const relaxed = withheld.length === 0;
      assert.equal(r.features.simd, true, `${name}: SIMD bound (${r.features.simd_reason})`);
      assert.equal(r.features.relaxed_simd, relaxed, `${name}: relaxed SIMD bound as asked (${r.features.simd_reason})`);
      assert.equal(r.info.relaxed_simd, relaxed);
      assert.ok(r.info.kernels.includes('qconv'), 'some layer runs QConv');
      let same = 0;
      r.predicted.forEach((p, i) => { if (p === want[i]) same++; });
      console.log(`# Chromium, ${name}: top-1 ${r.top1.toFixed(2)}%, same class as the native engine on ${same}/${want.length}`);
      assert.equal(same, want.length, 'every image gets the native engine\'s class');
      await page.close();
    }
  } finally {
    await browser.close();
    srv.stop();
  }
});
