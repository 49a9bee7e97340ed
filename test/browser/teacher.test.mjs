// The page as a teacher, in headless Chromium: every picture explains itself. After the
// default ResNet-20 run: the results say what they rest on (images, calibration, standard
// error), the injected-SQNR column appears only once it has values, "Inside one layer" opens
// on a live channel, the α legend names every clipping value with its source, the compare
// chart zooms to the range that matters with FP32 as a line, the five questions render with
// the numbers of the run, and nothing overlaps at 1400, 1024 and 390 px. Darknet Tiny at W4A4
// collapses, and the page says so, why, and what to try. Screenshots go to test-results/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { root, startServer, launchBrowser } from './launch.mjs';
import { overlaps } from './layout.mjs';

const results = join(root, 'test-results');

test('every picture explains itself, and the questions are answered live', { timeout: 30 * 60 * 1000 }, async () => {
  const srv = await startServer();
  const browser = await launchBrowser();
  mkdirSync(results, { recursive: true });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(srv.url);
    await page.waitForFunction(() => window.fourbitPage && window.fourbitPage.ready, null, { timeout: 120000 });
    await page.click('#run');
    await page.waitForFunction(() => window.fourbitPage.lastRun, null, { timeout: 15 * 60 * 1000 });
    const run = await page.evaluate(() => window.fourbitPage.lastRun);

    // What the result rests on.
    assert.match(await page.textContent('#summary'), /FP32 top-1 \d+\.\d\d% ± \d\.\d\d .* W4A4 top-1 \d+\.\d\d% ± \d\.\d\d/);
    assert.match(await page.textContent('#run-basis'), /300 test images, calibrated on 260 images; ± is one standard error/);
    assert.equal(run.report.fp32.images, 300);
    assert.ok(run.report.quantized.top1_stderr > 0.5 && run.report.quantized.top1_stderr < 3);
    assert.equal(await page.isHidden('#collapse'), true, 'ResNet-20 at W4A4 has not collapsed');

    // The injected-SQNR column: hidden while it is empty.
    assert.equal(await page.isVisible('#layers th:nth-child(8)'), false, 'no empty SQNR column');

    // Inside one layer: a live channel, and the α legend with every value's source.
    const v = await page.evaluate(() => window.fourbitPage.lastChannel);
    console.log(`opened ${v.layer} channel ${v.channel}: ${v.bits} bits, clip ${v.hi.toFixed(2)}, ACIQ ${v.range_laplace[1].toFixed(2)}, α* ${v.alpha_laplace.toFixed(2)}`);
    assert.ok(v.bits > 0 && !v.dead, 'the opened channel is live');
    const note = await page.textContent('#alpha-note');
    for (const want of [`clip at ${v.hi.toFixed(2)} (used)`, `ACIQ Laplace α* → ${v.range_laplace[1].toFixed(2)}`, `α* = ${v.alpha_laplace.toFixed(2)}`,
      'PCBA width', 'before its ReLU', 'x axis is α itself']) {
      assert.ok(note.includes(want), `the α note says "${want}": ${note}`);
    }
    // A dead channel (0 bits), if the layer has one, is said to be dead.
    const dead = v.channel_bits.indexOf(0);
    if (dead >= 0) {
      await page.fill('#channel-select', String(dead));
      await page.dispatchEvent('#channel-select', 'change');
      await page.waitForFunction((c) => window.fourbitPage.lastChannel.channel === c && !window.fourbitPage.state.busy, dead);
      assert.match(await page.textContent('#alpha-note'), /is dead: PCBA gave it 0 bits/);
    }

    // Find what breaks: the SQNR column appears with its values.
    await page.click('#debug');
    await page.waitForFunction(() => window.fourbitPage.lastDebug, null, { timeout: 5 * 60 * 1000 });
    assert.equal(await page.isVisible('#layers th:nth-child(8)'), true, 'the SQNR column once it has values');

    // The compare chart: zoomed, FP32 as a line, agreement beside top-1.
    await page.click('#compare');
    await page.waitForFunction(() => window.fourbitPage.lastCompare, null, { timeout: 15 * 60 * 1000 });
    const cmp = await page.evaluate(() => {
      const c = window.fourbitPage.state.charts['compare-chart'];
      return { min: c.scales.y.min, labels: c.data.datasets.map((d) => d.label), rows: window.fourbitPage.lastCompare };
    });
    console.log(`compare chart: y from ${cmp.min}, datasets ${cmp.labels.join(' | ')}`);
    assert.ok(cmp.rows.every((r) => r.top1 > 50 && r.agreement > 50));
    assert.ok(cmp.min > 0, 'the y axis starts above 0 when every row is above 50%');
    assert.ok(cmp.labels.some((l) => /agreement/.test(l)) && cmp.labels.some((l) => /^FP32 top-1/.test(l)));

    // The questions the paper raises, answered on this model with the run's numbers.
    await page.evaluate(() => { window.fourbitPage.lastRun = null; });
    await page.click('#run');
    await page.waitForFunction(() => window.fourbitPage.lastRun && !window.fourbitPage.state.busy, null, { timeout: 15 * 60 * 1000 });
    await page.click('#ask');
    await page.waitForFunction(() => window.fourbitPage.lastQuestions, null, { timeout: 20 * 60 * 1000 });
    const answers = await page.evaluate(() => window.fourbitPage.lastQuestions);
    assert.equal(answers.length, 5);
    assert.equal(await page.locator('#answers .answer canvas').count(), 5);
    for (const a of answers) {
      const text = await page.textContent(`#answers .answer[data-id="${a.id}"] p`);
      console.log(`(${a.id}) ${a.variants.map((x) => `${x.name} ${x.result.top1.toFixed(2)}%`).join('; ')}`);
      for (const x of a.variants) {
        const top1 = (x.engine ? x.engine.result : x.result).top1.toFixed(2);
        assert.ok(text.includes(top1 + '%'), `question ${a.id} states ${x.name}'s ${top1}%`);
      }
    }
    const q5 = answers[4].variants;
    assert.ok(q5[1].engine.kernels.qconv > 0 && q5[0].engine.kernels['int32-folded'] > 0);
    assert.ok(answers[2].variants[0].negative_codes > 0.2 && answers[2].variants[1].negative_codes === 0);
    assert.ok(answers[3].shift.shift_after < answers[3].shift.shift_before / 100);

    // Nothing overlaps, nothing runs off the side, at three widths.
    for (const width of [1400, 1024, 390]) {
      await page.setViewportSize({ width, height: 1000 });
      await page.waitForTimeout(500); // the charts follow their boxes
      const layout = await page.evaluate(overlaps);
      assert.deepEqual(layout.overlaps, [], `nothing overlaps at ${width} px`);
      assert.equal(layout.tooWide, false, `the page fits ${width} px (it is ${layout.scrollWidth} px wide: ${layout.wide.join(', ')})`);
      // The whole page at 1400 px; at the narrower widths the controls and results.
      if (width === 1400) await page.screenshot({ path: join(results, `page-${width}.jpg`), fullPage: true, type: 'jpeg', quality: 70 });
      else {
        await page.locator('#controls').scrollIntoViewIfNeeded();
        await page.evaluate(() => document.getElementById('controls').scrollIntoView());
        await page.screenshot({ path: join(results, `page-${width}.jpg`), type: 'jpeg', quality: 70 });
      }
    }
    assert.deepEqual(pageErrors, []);

    // Darknet Tiny at the default W4A4 collapses: the page says so, why, and what to try.
    await page.setViewportSize({ width: 1400, height: 1000 });
    await page.selectOption('#demo', 'darknet');
    await page.waitForFunction(() => window.fourbitPage.state.demo === 'darknet' && !window.fourbitPage.state.busy, null, { timeout: 120000 });
    await page.evaluate(() => { window.fourbitPage.lastRun = null; window.fourbitPage.lastCollapse = null; });
    await page.click('#run');
    await page.waitForFunction(() => window.fourbitPage.lastCollapse, null, { timeout: 15 * 60 * 1000 });
    const collapse = await page.textContent('#collapse');
    console.log('darknet W4A4: ' + collapse.slice(0, 160) + '…');
    assert.equal(await page.isVisible('#collapse'), true);
    assert.match(collapse, /has collapsed/);
    assert.match(collapse, /Why:/);
    assert.match(collapse, /W4A8/);
    const worst = await page.evaluate(() => window.fourbitPage.lastCollapse.worst);
    assert.ok(worst.length > 0 && worst.every((l) => collapse.includes(l)), 'the worst layers are named');
    await page.locator('#results').screenshot({ path: join(results, 'darknet-collapse.png') });
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
    srv.stop();
  }
});
