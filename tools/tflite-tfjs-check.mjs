#!/usr/bin/env node
// tflite-tfjs-check.mjs — TensorFlow's own TFLite runtime (npm @tensorflow/tfjs-tflite: the
// TFLite C++ interpreter compiled to WebAssembly) in headless Chromium, as fourbit's second
// TFLite referee, for the models Arm NN's reference backend does not run (int8 weights with
// float activations: hybrid kernels).
//
//   node tools/tflite-tfjs-check.mjs MODEL.tflite INPUTS.f32 N OUTPUTS.f32
//
// Same contract as tools/tflite-check.py: N float32 inputs in fourbit's layout (per image
// C×H×W for an NHWC model), the N outputs written as float32, row-major. Everything is served
// from this machine (node_modules), nothing is fetched from the network.
import { createServer } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, dirname, extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [model, inputs, nArg, outputs] = process.argv.slice(2);
if (!outputs) {
  console.error('usage: node tools/tflite-tfjs-check.mjs MODEL.tflite INPUTS.f32 N OUTPUTS.f32');
  process.exit(2);
}
const n = Number(nArg);
const nm = join(root, 'node_modules', '@tensorflow');
const files = {
  '/core.js': join(nm, 'tfjs-core', 'dist', 'tf-core.min.js'),
  '/cpu.js': join(nm, 'tfjs-backend-cpu', 'dist', 'tf-backend-cpu.min.js'),
  '/tflite.js': join(nm, 'tfjs-tflite', 'dist', 'tf-tflite.min.js'),
  '/model.tflite': model,
  '/x.f32': inputs,
};
const page = `<!doctype html><script src="/core.js"></script><script src="/cpu.js"></script><script src="/tflite.js"></script>`;
const types = { '.js': 'text/javascript', '.wasm': 'application/wasm' };
const server = createServer((req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  let file = files[path];
  if (!file && path.startsWith('/wasm/') && !path.includes('..')) file = join(nm, 'tfjs-tflite', 'wasm', path.slice(6));
  if (path === '/') {
    res.writeHead(200, { 'content-type': 'text/html' });
    return res.end(page);
  }
  try {
    const body = readFileSync(file);
    res.writeHead(200, { 'content-type': types[extname(file)] || 'application/octet-stream' });
    res.end(body);
  } catch {
    res.writeHead(404);
    res.end();
  }
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}/`;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-dev-shm-usage'],
});
try {
  const p = await browser.newPage();
  await p.goto(url);
  const out = await p.evaluate(async (n) => {
    tflite.setWasmPath('/wasm/');
    const m = await tflite.loadTFLiteModel('/model.tflite', { numThreads: 1 });
    const x = new Float32Array(await (await fetch('/x.f32')).arrayBuffer());
    const shape = m.inputs[0].shape.map((d) => (d < 0 ? 1 : d));
    const per = shape.slice(1).reduce((a, b) => a * b, 1);
    if (x.length !== n * per) throw new Error(`${x.length} values for ${n} inputs of shape ${shape}`);
    const ys = [];
    for (let i = 0; i < n; i++) {
      let img = x.subarray(i * per, (i + 1) * per);
      if (shape.length === 4) { // fourbit's C×H×W to the model's H×W×C
        const [, h, w, c] = shape;
        const t = new Float32Array(per);
        for (let ch = 0; ch < c; ch++) for (let yy = 0; yy < h; yy++) for (let xx = 0; xx < w; xx++) t[(yy * w + xx) * c + ch] = img[(ch * h + yy) * w + xx];
        img = t;
      }
      const y = m.predict(tf.tensor(img, [1, ...shape.slice(1)], 'float32'));
      const t = Array.isArray(y) ? y[0] : (y instanceof tf.Tensor ? y : Object.values(y)[0]);
      ys.push(...t.dataSync());
    }
    return ys;
  }, n);
  writeFileSync(outputs, Buffer.from(new Float32Array(out).buffer));
} finally {
  await browser.close();
  server.close();
}
