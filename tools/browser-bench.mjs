// browser-bench runs tools/bench.html in headless Chromium (single thread): ONNX Runtime Web
// FP32 on ResNet-20 beside fourbit's module — FP32 and the W4A4 integer engine, with its
// WebAssembly SIMD128 kernels and with the Go kernels (simd.wasm withheld).
//
//   node tools/browser-bench.mjs [seconds]     (after ./build.sh page and ./build.sh cli)
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const seconds = Number(process.argv[2] || 3);
// Serve the repository (www/ and node_modules/onnxruntime-web/dist/) on 127.0.0.1.
const proc = spawn(join(root, 'bin', 'fourbit'), ['serve', '--dir', root, '--addr', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise((resolve, reject) => {
  let buf = '';
  proc.stdout.on('data', (d) => {
    buf += d;
    const m = buf.match(/http:\/\/[^\s]+\//);
    if (m) resolve(m[0]);
  });
  setTimeout(() => reject(new Error('fourbit serve did not start')), 20000);
});
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});
const results = {};
try {
  for (const noSIMD of [false, true]) {
    const page = await browser.newPage();
    if (noSIMD) await page.route('**/simd.wasm', (r) => r.abort());
    await page.goto(`${url}tools/bench.html?seconds=${seconds}`);
    await page.waitForFunction(() => window.benchResult, null, { timeout: 15 * 60 * 1000 });
    const r = await page.evaluate(() => window.benchResult);
    if (r.error) throw new Error(r.error);
    results[noSIMD ? 'go_kernels' : 'simd'] = r;
    await page.close();
  }
} finally {
  await browser.close();
  proc.kill();
}
console.log(JSON.stringify(results, null, 2));
