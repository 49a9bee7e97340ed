// ort-check compares a model run by ONNX Runtime (onnxruntime-node, CPU) with logits fourbit
// wrote (`fourbit logits`): the share of images with the same top-1 class and the largest
// absolute logit difference.
//
//   node tools/ort-check.mjs MODEL.onnx INPUTS.f32 LOGITS.f32 N C H W
//
// INPUTS.f32 holds N preprocessed images (float32, N×C×H×W) and LOGITS.f32 fourbit's N×classes
// outputs, both little-endian, as `fourbit logits --inputs … --out …` writes them.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

function f32(path) {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}

// ortCheck runs model on the inputs in batches and compares with ref.
export async function ortCheck(model, inputsPath, refPath, n, shape, { batch = 50 } = {}) {
  const ort = require('onnxruntime-node');
  const x = f32(inputsPath);
  const ref = f32(refPath);
  const per = shape.reduce((a, b) => a * b, 1);
  if (x.length !== n * per) throw new Error(`${inputsPath}: ${x.length} values, want ${n}×${per}`);
  const classes = ref.length / n;
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  let same = 0;
  let maxDiff = 0;
  const predicted = [];
  const start = performance.now();
  for (let i = 0; i < n; i += batch) {
    const b = Math.min(batch, n - i);
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', x.subarray(i * per, (i + b) * per), [b, ...shape]) };
    const y = (await session.run(feeds))[session.outputNames[0]].data;
    if (y.length !== b * classes) throw new Error(`ONNX Runtime gave ${y.length / b} outputs per image, fourbit ${classes}`);
    for (let j = 0; j < b; j++) {
      let a = 0;
      let r = 0;
      for (let c = 0; c < classes; c++) {
        const u = y[j * classes + c];
        const v = ref[(i + j) * classes + c];
        if (u > y[j * classes + a]) a = c;
        if (v > ref[(i + j) * classes + r]) r = c;
        const d = Math.abs(u - v);
        if (!(d <= maxDiff)) maxDiff = d; // NaN propagates
      }
      predicted.push(a);
      if (a === r) same++;
    }
  }
  return { images: n, agreement: (100 * same) / n, maxAbsLogitDiff: maxDiff, seconds: (performance.now() - start) / 1000, predicted };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [model, inputs, ref, n, ...shape] = process.argv.slice(2);
  const r = await ortCheck(model, inputs, ref, Number(n), shape.map(Number));
  delete r.predicted;
  console.log(JSON.stringify(r));
}
