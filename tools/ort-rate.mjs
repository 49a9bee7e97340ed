// ort-rate.mjs — the measurement of ONNX Runtime that the benchmark scripts share (bench.mjs in
// the page, speed-anchor.mjs and native-bench.mjs in Node): images/s of a session on a batch of
// random ResNet-20 inputs (3×32×32; the values do not change the arithmetic's cost), after
// warm-up runs (past V8's baseline tier), over `seconds` of back-to-back runs.
export async function sessionRate(ort, session, batch, seconds, warmup = 3) {
  const x = new Float32Array(batch * 3 * 32 * 32).map(() => Math.random() * 2 - 1);
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', x, [batch, 3, 32, 32]) };
  for (let i = 0; i < warmup; i++) await session.run(feeds);
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    await session.run(feeds);
    n += batch;
  }
  return n / ((performance.now() - t0) / 1000);
}
