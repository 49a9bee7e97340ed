// The page's second demo in headless Chromium: Darknet Tiny (ImageNet, TF.js layers format)
// loaded only when chosen, quantized with image calibration and data-free, predictions in
// words; then the same model loaded from its files as a user would give them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { root, startServer, launchBrowser } from './launch.mjs';

test('the page runs Darknet Tiny from ImageNet, lazily loaded, with predictions in words', { timeout: 20 * 60 * 1000 }, async () => {
  const srv = await startServer();
  const browser = await launchBrowser();
  const results = join(root, 'test-results');
  mkdirSync(results, { recursive: true });
  const names = readFileSync(join(root, 'testdata/imagenet-darknet-tiny/names.txt'), 'utf8').trim().split('\n');
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 1800 } });
    const requests = [];
    page.on('request', (r) => requests.push(r.url()));
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(srv.url);
    await page.waitForFunction(() => window.fourbitPage && window.fourbitPage.ready, null, { timeout: 120000 });
    assert.ok(!requests.some((u) => u.includes('/demo/darknet')), 'Darknet is not fetched before it is chosen');

    await page.selectOption('#demo', 'darknet');
    await page.waitForFunction(() => window.fourbitPage.state.demo === 'darknet', null, { timeout: 120000 });
    assert.match(await page.textContent('#model-status'), /Darknet Tiny .*1,039,912 parameters/);
    assert.equal(await page.locator('#thumbs img').count(), 12);

    // W4A8 with calibration on the 12 even-class images, then data-free.
    await page.fill('#abits', '8');
    const runs = {};
    for (const mode of ['images', 'data-free']) {
      await page.selectOption('#calib-mode', mode);
      await page.evaluate(() => { window.fourbitPage.lastRun = null; });
      await page.click('#run');
      await page.waitForFunction(() => window.fourbitPage.lastRun, null, { timeout: 15 * 60 * 1000 });
      runs[mode] = await page.evaluate(() => window.fourbitPage.lastRun);
      console.log(`darknet page, calibration ${mode}: FP32 ${runs[mode].fp32.toFixed(2)}% W4A8 ${runs[mode].quantized.toFixed(2)}% (agreement ${runs[mode].agreement.toFixed(1)}%), ${runs[mode].seconds.toFixed(1)} s`);
      assert.equal(await page.isHidden('#error'), true, `no error (${mode})`);
    }
    assert.equal(runs.images.fp32, runs['data-free'].fp32);
    assert.ok(runs.images.fp32 >= 25, 'FP32 top-1 on the 12 evaluation images is sane');

    // A click on an evaluation image: both networks answer with class names.
    await page.evaluate(() => { window.fourbitPage.lastPrediction = null; });
    await page.click('#thumbs img >> nth=0');
    await page.waitForFunction(() => window.fourbitPage.lastPrediction, null, { timeout: 60000 });
    const pred = await page.evaluate(() => window.fourbitPage.lastPrediction);
    assert.ok(names.includes(pred.fp32[0].name), `FP32 answer "${pred.fp32[0].name}" is a class name`);
    assert.ok(names.includes(pred.quantized[0].name));
    assert.ok((await page.textContent('#predictions')).includes(pred.fp32[0].name));
    await page.screenshot({ path: join(results, 'page-darknet.png'), fullPage: true });

    // The same model from its files, as a user drops them: model.json, shards, labels, names.
    const dir = join(root, 'testdata/imagenet-darknet-tiny');
    await page.setInputFiles('#model-file', readdirSync(dir).map((f) => join(dir, f)));
    await page.waitForFunction(() => /TF\.js model: 37 nodes/.test(document.getElementById('model-status').textContent), null, { timeout: 120000 });
    assert.equal(await page.isHidden('#error'), true);
    // Shards missing: an error in words.
    await page.setInputFiles('#model-file', [join(dir, 'model.json'), join(dir, 'labels.txt')]);
    await page.waitForSelector('#error:not([hidden])', { timeout: 30000 });
    assert.match(await page.textContent('#error'), /shard .* is missing/);

    const origin = new URL(srv.url).origin;
    assert.deepEqual(requests.filter((u) => !u.startsWith(origin + '/') && !u.startsWith('data:') && !u.startsWith('blob:')), []);
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
    srv.stop();
  }
});
