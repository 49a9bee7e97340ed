// browser-bench runs tools/bench.html in headless Chromium (single thread): ONNX Runtime Web
// FP32 on ResNet-20, on the plain int8 contender (tools/int8-contender.mjs, served as
// /int8.onnx) and on fourbit's fused W4A8 export, beside fourbit's module — FP32 and the W4A4
// integer engine, with its WebAssembly relaxed-SIMD kernels (Chromium has relaxed SIMD), with
// SIMD128 only (simd-relaxed.wasm withheld) and with the Go kernels (both modules withheld).
//
//   node tools/browser-bench.mjs [seconds]     (after ./build.sh page)
import { join, dirname, normalize, extname } from 'node:path';
import { createServer } from 'node:http';
import { readFile, readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { int8Contender } from './int8-contender.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const seconds = Number(process.argv[2] || 3);
// Serve the repository (www/, tools/ and node_modules/onnxruntime-web/dist/) on 127.0.0.1.
const types = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };
const tmp = mkdtempSync(join(tmpdir(), 'fourbit-browser-bench-'));
const int8 = int8Contender(root, join(root, 'bin', 'fourbit'), tmp);
const server = createServer((req, res) => {
  const pathname = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  if (pathname === '/int8.onnx') {
    if (!int8) { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'Content-Type': 'application/octet-stream' }).end(readFileSync(int8));
    return;
  }
  const path = normalize(join(root, pathname));
  if (!path.startsWith(root)) { res.writeHead(403).end(); return; }
  readFile(path, (err, data) => {
    if (err) { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'Content-Type': types[extname(path)] || 'application/octet-stream' }).end(data);
  });
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${server.address().port}/`;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});
const results = {};
try {
  for (const [name, withheld] of [['relaxed_simd', []], ['simd128', ['simd-relaxed.wasm']], ['go_kernels', ['simd-relaxed.wasm', 'simd.wasm']]]) {
    const page = await browser.newPage();
    for (const file of withheld) await page.route(`**/${file}`, (r) => r.abort());
    await page.goto(`${url}tools/bench.html?seconds=${seconds}`);
    await page.waitForFunction(() => window.benchResult, null, { timeout: 15 * 60 * 1000 });
    const r = await page.evaluate(() => window.benchResult);
    if (r.error) throw new Error(r.error);
    results[name] = r;
    await page.close();
  }
} finally {
  await browser.close();
  server.close();
}
console.log(JSON.stringify(results, null, 2));
