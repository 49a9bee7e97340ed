// End-to-end test of the page in headless Chromium: the default W4A4 job with all methods,
// the same numbers as the Node API on the same images and options, an image dropped for
// prediction, a corrupt file shown as an error and a successful run after it, and no request
// to any origin but the page's own. Screenshots go to test-results/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { root, startServer, launchBrowser } from './launch.mjs';
import { startModule } from '../node/helpers.mjs';

test('the page quantizes ResNet-20 to W4A4 in the browser', { timeout: 20 * 60 * 1000 }, async () => {
  const srv = await startServer();
  const browser = await launchBrowser();
  const results = join(root, 'test-results');
  mkdirSync(results, { recursive: true });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 1800 }, acceptDownloads: true });
    const origin = new URL(srv.url).origin;
    const foreign = [];
    page.on('request', (r) => {
      const u = r.url();
      if (!u.startsWith(origin + '/') && !u.startsWith('data:') && !u.startsWith('blob:')) foreign.push(u);
    });
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(srv.url);
    await page.waitForFunction(() => window.fourbitPage && window.fourbitPage.ready, null, { timeout: 120000 });

    // The default job: W4A4, ACIQ + PCBA + bias correction.
    await page.click('#run');
    await page.waitForFunction(() => window.fourbitPage.lastRun, null, { timeout: 15 * 60 * 1000 });
    const run = await page.evaluate(() => window.fourbitPage.lastRun);
    console.log(`page: FP32 ${run.fp32}% W4A4 ${run.quantized}% (agreement ${run.agreement}%), Run → result ${run.seconds.toFixed(1)} s`);
    const shown = await page.textContent('#summary');
    assert.match(shown, /FP32 top-1 \d+\.\d\d% .* W4A4 top-1 \d+\.\d\d%/);
    assert.ok(run.fp32 > 85 && run.fp32 <= 100, 'FP32 top-1 in a sane range');
    assert.ok(run.quantized > 80 && run.quantized <= run.fp32 + 2, 'W4A4 top-1 in a sane range');
    assert.ok(await page.locator('#layers tbody tr').count() >= 20, 'per-layer table');
    await page.screenshot({ path: join(results, 'page-after-run.png'), fullPage: true });

    // The integer engine, on WebAssembly SIMD128 with relaxed SIMD's int8 dot products
    // (Chromium has relaxed SIMD and passes the host's self-check).
    assert.match(await page.textContent('#kernels'), /WebAssembly SIMD128 \(kernels\/simd\.wat\), with relaxed SIMD/);
    await page.click('#engine');
    await page.waitForFunction(() => window.fourbitPage.lastEngine, null, { timeout: 10 * 60 * 1000 });
    const eng = await page.evaluate(() => window.fourbitPage.lastEngine);
    console.log(`page: integer engine (SIMD ${eng.info.simd}) top-1 ${eng.engine.top1.toFixed(2)}%, agreement with the simulation ${eng.agreement_simulated.toFixed(1)}%, ${eng.engine.images_per_sec.toFixed(1)} images/s`);
    assert.equal(eng.info.simd, true);
    assert.equal(eng.info.relaxed_simd, true); // bound; this plan's layers are all int32-folded, which it does not run
    assert.ok(eng.agreement_simulated >= 95, 'the engine agrees with the simulation');
    assert.match(await page.textContent('#engine-status'), /Integer engine \(WebAssembly SIMD128 kernels\): .* images\/s on (\d+ workers|one thread)/);

    // The same images and options through the Node API give the same numbers.
    const manifest = JSON.parse(readFileSync(join(root, 'www/demo/manifest.json'), 'utf8'));
    const read = (list) => list.map((it) => ({ bytes: new Uint8Array(readFileSync(join(root, 'www/demo', it.file))) }));
    const fb = await startModule();
    try {
      await fb.load(new Uint8Array(readFileSync(join(root, 'www/demo', manifest.model))));
      await fb.calibrate(read(manifest.calib));
      await fb.quantize(run.options);
      const rep = await fb.evaluate(read(manifest.test), manifest.test.map((it) => it.label));
      assert.equal(rep.fp32.top1, run.fp32, 'FP32 top-1 equals the Node API');
      assert.equal(rep.quantized.top1, run.quantized, 'W4A4 top-1 equals the Node API');
    } finally {
      fb.terminate();
    }

    // Drop an image on the drop zone: predictions of both networks.
    const catFile = readdirSync(join(root, 'testdata/cifar10-png/test/cat')).sort()[0];
    const catBytes = [...readFileSync(join(root, 'testdata/cifar10-png/test/cat', catFile))];
    await page.evaluate((bytes) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(bytes)], 'cat.png', { type: 'image/png' }));
      document.getElementById('drop').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, catBytes);
    await page.waitForFunction(() => window.fourbitPage.lastPrediction, null, { timeout: 60000 });
    const pred = await page.evaluate(() => window.fourbitPage.lastPrediction);
    assert.equal(pred.fp32.length, 3);
    assert.equal(pred.quantized.length, 3);
    assert.ok((await page.textContent('#predictions')).includes('FP32'));

    // Download the quantized network as ONNX (QDQ): a model file starting with ir_version.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-onnx')]);
    assert.equal(download.suggestedFilename(), 'model-quantized.qdq.onnx');
    const onnxBytes = readFileSync(await download.path());
    assert.ok(onnxBytes.length > 100000 && onnxBytes[0] === 0x08, `ONNX download of ${onnxBytes.length} bytes`);

    // A corrupt model file: an error in words, the page keeps working.
    await page.setInputFiles('#model-file', join(root, 'README.md'));
    await page.waitForSelector('#error:not([hidden])', { timeout: 30000 });
    const err = await page.textContent('#error');
    console.log('error shown: ' + err.split('\n')[0]);
    assert.match(err, /load/);
    await page.screenshot({ path: join(results, 'page-error.png'), fullPage: false });
    await page.evaluate(() => { window.fourbitPage.lastRun = null; });
    await page.click('#run');
    await page.waitForFunction(() => window.fourbitPage.lastRun, null, { timeout: 15 * 60 * 1000 });
    assert.equal(await page.isHidden('#error'), true, 'the error is cleared by the next run');
    const again = await page.evaluate(() => window.fourbitPage.lastRun);
    assert.equal(again.quantized, run.quantized, 'the run after the error gives the same result');

    // Find what breaks, keep the worst layer at 8 bits, run again.
    await page.click('#debug');
    await page.waitForFunction(() => window.fourbitPage.lastDebug, null, { timeout: 5 * 60 * 1000 });
    const worstLayer = await page.evaluate(() => window.fourbitPage.lastDebug.find((e) => e.local_db !== null).layer);
    await page.click(`#layers tbody tr:has(td:text-is("${worstLayer}"))`);
    assert.ok(await page.locator('#layers tbody tr.kept').count() === 1, 'the clicked layer is marked');
    await page.evaluate(() => { window.fourbitPage.lastRun = null; });
    await page.click('#run');
    await page.waitForFunction(() => window.fourbitPage.lastRun, null, { timeout: 15 * 60 * 1000 });
    const kept = await page.evaluate(() => window.fourbitPage.lastRun.options.keep);
    assert.deepEqual(Object.keys(kept), [worstLayer]);
    console.log(`kept ${worstLayer} at 8 bits: W4A4 top-1 ${(await page.evaluate(() => window.fourbitPage.lastRun.quantized)).toFixed(2)}%`);

    // Without the SIMD kernels (as in a browser without SIMD128): the Go kernels, and the page says so.
    const plain = await browser.newPage();
    await plain.route('**/simd*.wasm', (r) => r.abort()); // simd.wasm and simd-relaxed.wasm
    await plain.goto(srv.url);
    await plain.waitForFunction(() => window.fourbitPage && window.fourbitPage.ready, null, { timeout: 120000 });
    assert.match(await plain.textContent('#kernels'), /portable Go kernels — no WebAssembly SIMD128 here/);
    await plain.close();

    assert.deepEqual(foreign, [], 'no request left the page\'s origin');
    assert.deepEqual(pageErrors, [], 'no uncaught errors on the page');
  } finally {
    await browser.close();
    srv.stop();
  }
});
