// The page's methods beyond the paper in headless Chromium: learned rounding runs in the
// module's workers with its progress shown layer by layer (layer, reconstruction error) and
// is never worse than nearest on any layer's samples; a long learned-rounding job is cancelled
// mid-way, the page says so without an error, and the next run works.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { root, startServer, launchBrowser } from './launch.mjs';

test('learned rounding runs in the page with progress, and a run can be cancelled', { timeout: 25 * 60 * 1000 }, async () => {
  const srv = await startServer();
  const browser = await launchBrowser();
  const results = join(root, 'test-results');
  mkdirSync(results, { recursive: true });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 1800 } });
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(srv.url);
    await page.waitForFunction(() => window.fourbitPage && window.fourbitPage.ready, null, { timeout: 120000 });

    // A short learned-rounding job to the end.
    await page.selectOption('#rounding', 'learned');
    await page.fill('#rounding_iters', '10');
    const seen = [];
    const watch = setInterval(async () => {
      try {
        const t = await page.textContent('#progress-text');
        if (/learned rounding: layer/.test(t) && seen[seen.length - 1] !== t) seen.push(t);
      } catch { /* the page is busy */ }
    }, 200);
    await page.click('#run');
    await page.waitForFunction(() => window.fourbitPage.lastRun, null, { timeout: 15 * 60 * 1000 });
    clearInterval(watch);
    const run = await page.evaluate(() => window.fourbitPage.lastRun);
    const rounding = await page.evaluate(() => window.fourbitPage.state.plan.rounding);
    console.log(`page: learned rounding (10 steps per layer) W4A4 ${run.quantized}% (FP32 ${run.fp32}%, agreement ${run.agreement}%), ${run.seconds.toFixed(1)} s; progress seen: ${seen.length} messages, e.g. "${seen[0]}"`);
    assert.equal(run.options.rounding, 'learned');
    assert.ok(rounding.length >= 20, `a report per layer (${rounding.length})`);
    for (const r of rounding) assert.ok(r.loss <= r.nearest_loss, `${r.layer}: learned ${r.loss} worse than nearest ${r.nearest_loss}`);
    assert.ok(seen.length >= 1, 'learned rounding shows its progress');
    assert.match(seen[0], /learned rounding: layer \d+ \/ \d+, .*: reconstruction error/);
    assert.ok(run.quantized > 80, 'W4A4 with learned rounding in a sane range');

    // A long job, cancelled once it has started.
    await page.fill('#rounding_iters', '5000');
    await page.click('#run');
    await page.waitForFunction(() => /learned rounding: layer/.test(document.getElementById('progress-text').textContent), null, { timeout: 10 * 60 * 1000 });
    assert.equal(await page.isVisible('#cancel'), true, 'Cancel is offered while learned rounding runs');
    await page.click('#cancel');
    await page.waitForFunction(() => document.getElementById('progress-text').textContent === 'cancelled', null, { timeout: 5 * 60 * 1000 });
    assert.equal(await page.isVisible('#error'), false, 'a cancel is not an error');
    assert.equal(await page.isVisible('#cancel'), false);
    await page.screenshot({ path: join(results, 'page-cancelled.png'), fullPage: true });

    // The page works again: a plain run.
    await page.selectOption('#rounding', 'nearest');
    await page.evaluate(() => { window.fourbitPage.lastRun = null; });
    await page.click('#run');
    await page.waitForFunction(() => window.fourbitPage.lastRun, null, { timeout: 15 * 60 * 1000 });
    const after = await page.evaluate(() => window.fourbitPage.lastRun);
    console.log(`page: after the cancel, nearest W4A4 ${after.quantized}% (agreement ${after.agreement}%)`);
    assert.equal(after.options.rounding, 'nearest');
    assert.ok(after.quantized > 80);
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
    srv.stop();
  }
});
