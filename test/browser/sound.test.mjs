// "Try a sound" in headless Chromium: the demo clip "yes" heard by the float and the W4A8
// keyword network, the same MFCCs as the native CLI on the same file, an MP3 made by Debian's
// lame chosen as a file, a truncated MP3 and an empty file shown as errors with the section
// working afterwards, and no request to any origin but the page's own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root, startServer, launchBrowser } from './launch.mjs';

test('the page hears a sound with the float and the 4-bit keyword network', { timeout: 10 * 60 * 1000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fourbit-sound-'));
  const clip = (n) => join(root, 'testdata', 'speech-commands', `${n}_1000ms.wav`);
  const mp3 = join(dir, 'silence.mp3');
  execFileSync('lame', ['--quiet', '--resample', '44.1', clip('silence'), mp3]);
  const truncated = join(dir, 'truncated.mp3');
  writeFileSync(truncated, readFileSync(mp3).subarray(0, 3000));
  const empty = join(dir, 'empty.wav');
  writeFileSync(empty, new Uint8Array(0));

  const srv = await startServer();
  const browser = await launchBrowser();
  const results = join(root, 'test-results');
  mkdirSync(results, { recursive: true });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 1600 } });
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

    const hear = async (action, name) => {
      await page.evaluate(() => { window.fourbitPage.lastSound = null; });
      await action();
      await page.waitForFunction((n) => window.fourbitPage.lastSound && window.fourbitPage.lastSound.name === n, name, { timeout: 180000 });
      return page.evaluate(() => window.fourbitPage.lastSound);
    };
    const yes = await hear(() => page.click('.sound-demo[data-clip="yes"]'), 'yes_1000ms.wav');
    console.log(`page: yes → FP32 ${yes.fp32[0].name} ${(100 * yes.fp32[0].probability).toFixed(1)}%, W4A8 ${yes.quantized[0].name} ${(100 * yes.quantized[0].probability).toFixed(1)}%`);
    assert.equal(yes.fp32[0].name, 'yes');
    assert.equal(yes.quantized[0].name, 'yes');
    assert.equal(yes.fp32.length, 12, 'every keyword scored');
    assert.equal(yes.mfcc.length, 49 * 10);
    assert.match(await page.textContent('#sound-status'), /FP32: yes .* W4A8: yes/);
    assert.ok(!(await page.locator('#sound-charts').isHidden()), 'the waveform, MFCC and score charts are shown');
    for (const id of ['wave-chart', 'mfcc-chart', 'keyword-chart']) {
      assert.ok(await page.evaluate((i) => !!globalThis.Chart.getChart(document.getElementById(i)), id), `${id} drawn`);
    }

    // The same features as the native CLI on the same file.
    const cli = JSON.parse(execFileSync(join(root, 'bin', 'fourbit'), ['listen', '--json', '--model', join(root, 'testdata/mlperf-tiny/kws_ref_model_float32.tflite'), clip('yes')], { encoding: 'utf8' }));
    let worst = 0;
    cli[0].sound.mfcc.forEach((v, i) => { worst = Math.max(worst, Math.abs(v - yes.mfcc[i])); });
    console.log(`page vs native MFCCs of yes_1000ms.wav: max |Δ| ${worst.toExponential(2)}`);
    assert.ok(worst < 1e-4, 'the page computes the CLI\'s MFCCs');

    // An MP3 (44.1 kHz, from lame) chosen as a file.
    const sil = await hear(() => page.setInputFiles('#sound-file', mp3), 'silence.mp3');
    assert.match(sil.format, /^MP3 44100 Hz/);
    assert.equal(sil.fp32[0].name, 'silence');
    assert.equal(sil.quantized[0].name, 'silence');
    await page.screenshot({ path: join(results, 'page-sound.png'), fullPage: true });

    // Bad files: an error on the page, and the section still hears the next clip.
    for (const [file, want] of [[truncated, /truncated MP3/], [empty, /empty file/]]) {
      await page.setInputFiles('#sound-file', []);
      await page.setInputFiles('#sound-file', file);
      await page.waitForFunction(() => !document.getElementById('error').hidden, null, { timeout: 60000 });
      assert.match(await page.textContent('#error'), want);
    }
    const no = await hear(() => page.click('.sound-demo[data-clip="no"]'), 'no_1000ms.wav');
    assert.equal(no.quantized[0].name, no.fp32[0].name, 'after the errors, the W4A8 network names the float network\'s keyword');
    assert.ok(await page.locator('#error').isHidden(), 'the error is cleared by the next job');
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(foreign, [], 'no request leaves the page\'s origin');
  } finally {
    await browser.close();
    srv.stop();
  }
});
