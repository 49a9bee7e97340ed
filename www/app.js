// app.js — the page: the embedded demo (or the user's model and images), the controls, the
// results and the charts. All computation happens in the fourbit module's Worker.
import { FourBitPool } from './fourbit.js';

const $ = (id) => document.getElementById(id);
const Chart = globalThis.Chart;

const state = {
  fb: null,
  classes: [],
  calib: [], // images for calibration: {bytes} objects
  test: [],
  labels: [],
  calibrated: false,
  plan: null,
  charts: {},
  busy: false,
  keep: {}, // layer name → {wbits: 8, abits: 8}, from clicks on the per-layer table
  sqnr: new Map(), // layer → SQNR of what it injects alone, from "Find what breaks"
};

// Everything the page shows after a run, for tests and curious users.
window.fourbitPage = { state, ready: false, lastRun: null };

function showError(e) {
  const box = $('error');
  box.textContent = String((e && e.message) || e);
  box.hidden = false;
}

function clearError() {
  $('error').hidden = true;
  $('error').textContent = '';
}

function progress(what) {
  return (done, total) => {
    $('progress').max = total;
    $('progress').value = done;
    $('progress-text').textContent = `${what}: ${done} / ${total}`;
  };
}

function setStatus(text) {
  $('progress-text').textContent = text;
}

async function fetchBytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status} ${r.statusText}`);
  return new Uint8Array(await r.arrayBuffer());
}

// busy disables the buttons while a job runs and reports any error on the page.
async function busy(fn) {
  if (state.busy) return;
  state.busy = true;
  clearError();
  for (const id of ['run', 'compare', 'download', 'download-onnx', 'debug', 'engine']) $(id).disabled = true;
  try {
    await fn();
  } catch (e) {
    showError(e);
    setStatus('stopped: ' + ((e && e.message) || e).split('\n')[0]);
  } finally {
    state.busy = false;
    $('run').disabled = $('compare').disabled = !state.fb || state.test.length === 0;
    $('download').disabled = $('download-onnx').disabled = $('debug').disabled = !state.plan;
    // The integer engine runs a plan that carries every tensor as codes.
    $('engine').disabled = !state.plan || !state.plan.options.carry_bits;
  }
}

// loadModel loads one model file (Uint8Array) or several ({name: Uint8Array}: a TF.js model).
async function loadModel(bytes, name) {
  const info = bytes instanceof Uint8Array ? await state.fb.load(bytes) : await state.fb.loadFiles(bytes);
  state.classes = info.classes || state.classes;
  state.calibrated = false;
  state.plan = null;
  $('model-status').textContent = `${name}: ${info.nodes.length} nodes, ${info.params.toLocaleString()} parameters, ` +
    `${(info.macs / 1e6).toFixed(1)} M multiply-adds per image, input ${info.input.join('×')}.`;
}

async function loadDemo(which = 'resnet20') {
  $('thumbs').replaceChildren();
  if (which === 'darknet') return loadDarknetDemo();
  const manifest = await (await fetch('demo/manifest.json')).json();
  await loadModel(await fetchBytes('demo/' + manifest.model), manifest.modelName);
  const read = (list) => Promise.all(list.map(async (it) => ({ bytes: await fetchBytes('demo/' + it.file) })));
  state.calib = await read(manifest.calib);
  state.test = await read(manifest.test);
  state.labels = manifest.test.map((it) => it.label);
  state.classes = manifest.classes;
  $('data-status').textContent = `Embedded CIFAR-10 images: ${state.calib.length} training images for calibration, ` +
    `${state.test.length} test images for evaluation.`;
  state.demo = 'resnet20';
}

// loadDarknetDemo fetches the second demo only when it is chosen: Darknet Tiny (~4 MB of
// TF.js files) and 24 ImageNet images, calibration on half of the classes, evaluation on the
// other half. Labels come from the model's class list (WordNet synsets), never file order.
async function loadDarknetDemo() {
  setStatus('loading Darknet Tiny (about 4 MB)…');
  const manifest = await (await fetch('demo/darknet-manifest.json')).json();
  const files = {};
  await Promise.all(manifest.files.map(async (f) => { files[f.split('/').pop()] = await fetchBytes('demo/' + f); }));
  await loadModel(files, manifest.modelName);
  const read = (list) => Promise.all(list.map(async (it) => ({ bytes: await fetchBytes('demo/' + it.file) })));
  state.calib = await read(manifest.calib);
  state.test = await read(manifest.test);
  state.labels = manifest.test.map((it) => {
    const label = state.classes.indexOf(it.synset);
    if (label < 0) throw new Error(`${it.file}: ${it.synset} is not one of the model's classes`);
    return label;
  });
  $('data-status').textContent = `Embedded ImageNet images, one per class: ${state.calib.length} for calibration ` +
    `(classes at even positions), ${state.test.length} for evaluation (odd positions). Click an image to see what the networks say.`;
  showThumbs(manifest.test.map((it) => 'demo/' + it.file), state.test);
  state.demo = 'darknet';
  setStatus('Darknet Tiny ready');
}

// showThumbs lists the evaluation images; a click asks both networks about one.
function showThumbs(urls, images) {
  const box = $('thumbs');
  box.replaceChildren(...urls.map((url, i) => {
    const img = document.createElement('img');
    img.src = url;
    img.alt = url.split('/').pop();
    img.title = 'click: predict this image';
    img.addEventListener('click', () => busy(() => predictImage(images[i].bytes)));
    return img;
  }));
}

function options() {
  const num = (id) => Number($(id).value);
  return {
    wbits: num('wbits'), abits: num('abits'),
    w_per_channel: $('w_per_channel').checked, a_per_channel: $('a_per_channel').checked,
    clip: $('clip').value,
    pcba_w: $('pcba_w').checked, pcba_a: $('pcba_a').checked,
    bias_correct: $('bias_correct').value,
    carry_bits: $('carry').checked ? 8 : 0,
    calib_images: state.calib.length,
    keep: state.keep,
  };
}

async function calibrateOnce() {
  if (state.calibrated) return;
  if ($('calib-mode').value === 'data-free') {
    setStatus('calibrating from the batch norms (no images)…');
    await state.fb.calibrateDataFree();
  } else {
    await state.fb.calibrate(state.calib, progress('calibrating'));
  }
  state.calibrated = true;
}

async function run() {
  const t0 = performance.now();
  await calibrateOnce();
  setStatus('quantizing…');
  state.plan = await state.fb.quantize(options());
  state.sqnr = new Map();
  const rep = await state.fb.evaluate(state.test, state.labels, progress('evaluating FP32 and quantized'));
  const seconds = (performance.now() - t0) / 1000;
  const o = state.plan.options;
  $('summary').textContent = `FP32 top-1 ${rep.fp32.top1.toFixed(2)}%  →  W${o.wbits}A${o.abits} top-1 ` +
    `${rep.quantized.top1.toFixed(2)}% (the same prediction as FP32 on ${rep.agreement.toFixed(1)}% of ` +
    `${rep.fp32.images} images). ${seconds.toFixed(1)} s.`;
  $('summary').dataset.fp32 = rep.fp32.top1;
  $('summary').dataset.quantized = rep.quantized.top1;
  setStatus(`done in ${seconds.toFixed(1)} s`);
  window.fourbitPage.lastRun = { fp32: rep.fp32.top1, quantized: rep.quantized.top1, agreement: rep.agreement, seconds, options: o };
  $('compare-box').hidden = true;
  showLayers(state.plan);
  $('results').hidden = false;
  $('pictures').hidden = false;
  await showChannel();
}

function showLayers(plan) {
  const acts = new Map(plan.activations.map((a) => [a.layer, a]));
  // The worst three: by injected SQNR once "Find what breaks" ran, else by activation MSE.
  const ranked = state.sqnr.size
    ? [...state.sqnr.entries()].filter(([, v]) => v !== null).sort((a, b) => a[1] - b[1]).map(([l]) => l)
    : [...plan.activations].sort((a, b) => b.mse - a.mse).map((a) => a.layer);
  const worst = new Set(ranked.slice(0, 3));
  const body = $('layers').tBodies[0];
  body.replaceChildren();
  const select = $('layer-select');
  const keep = select.value;
  select.replaceChildren();
  for (const w of plan.weights) {
    const a = acts.get(w.layer) || {};
    const tr = body.insertRow();
    if (worst.has(w.layer)) tr.className = 'worst';
    for (const v of [w.layer, w.mean_bits.toFixed(2), w.mse.toExponential(2), a.quantized || '',
      a.mean_bits !== undefined ? a.mean_bits.toFixed(2) : '',
      a.range_lo !== undefined ? `[${a.range_lo.toFixed(2)}, ${a.range_hi.toFixed(2)}]` : '',
      a.mse !== undefined ? a.mse.toExponential(2) : '',
      state.sqnr.has(w.layer) ? (state.sqnr.get(w.layer) === null ? 'exact' : state.sqnr.get(w.layer).toFixed(1)) : '']) {
      tr.insertCell().textContent = v;
    }
    if (state.keep[w.layer]) tr.classList.add('kept');
    tr.title = 'click: keep this layer at 8 bits in the next run';
    tr.addEventListener('click', () => {
      if (state.keep[w.layer]) delete state.keep[w.layer];
      else state.keep[w.layer] = { wbits: 8, abits: 8 };
      tr.classList.toggle('kept', !!state.keep[w.layer]);
      const names = Object.keys(state.keep);
      $('keep-status').textContent = names.length ? `Kept at 8 bits in the next run: ${names.join(', ')}.` : 'Click a layer to keep it at 8 bits in the next run.';
    });
    const opt = document.createElement('option');
    opt.value = opt.textContent = w.layer;
    select.append(opt);
  }
  if ([...select.options].some((o) => o.value === keep)) select.value = keep;
  else if (select.options.length > 1) select.selectedIndex = 1;
}

function chart(id, config) {
  if (state.charts[id]) state.charts[id].destroy();
  config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options || {});
  state.charts[id] = new Chart($(id), config);
}

async function showChannel() {
  const layer = $('layer-select').value;
  if (!layer || !state.plan) return;
  const v = await state.fb.channel(layer, Number($('channel-select').value) || 0);
  $('channel-select').max = v.channels - 1;
  const centres = v.counts.map((_, i) => (v.edges[i] + v.edges[i + 1]) / 2);
  const top = Math.max(...v.counts, ...v.laplace, ...v.gauss);
  const vline = (x, label, color) => ({ type: 'line', label, data: [{ x, y: 0 }, { x, y: top }], borderColor: color, borderDash: [6, 4], pointRadius: 0 });
  const lines = [vline(v.hi, `clip at ${v.hi.toFixed(2)} (used)`, '#c0392b')];
  if (!v.one_sided) lines.push(vline(v.lo, `clip at ${v.lo.toFixed(2)}`, '#c0392b'));
  const lapHi = v.range_laplace[1];
  lines.push(vline(lapHi, `ACIQ Laplace α* → ${lapHi.toFixed(2)}`, '#2471a3'));
  chart('hist-chart', {
    type: 'bar',
    data: {
      datasets: [
        { type: 'bar', label: `${v.node} channel ${v.channel} (${v.bits} bits)`, data: centres.map((x, i) => ({ x, y: v.counts[i] })), backgroundColor: '#aab7c4', barPercentage: 1, categoryPercentage: 1 },
        { type: 'line', label: 'Laplace fit', data: centres.map((x, i) => ({ x, y: v.laplace[i] })), borderColor: '#2471a3', pointRadius: 0 },
        { type: 'line', label: 'Gauss fit', data: centres.map((x, i) => ({ x, y: v.gauss[i] })), borderColor: '#27ae60', pointRadius: 0 },
        ...lines,
      ],
    },
    options: { scales: { x: { type: 'linear', title: { display: true, text: v.one_sided ? 'value (ReLU output)' : 'value' } }, y: { title: { display: true, text: 'density' } } },
      plugins: { title: { display: true, text: 'Activation histogram, fitted priors and clipping values' } } },
  });
  const astar = v.alpha_laplace;
  chart('mse-chart', {
    type: 'line',
    data: {
      datasets: [
        { label: 'expected (Laplace, paper eq. 5)', data: v.alphas.map((x, i) => ({ x, y: v.mse_analytic[i] })), borderColor: '#2471a3', pointRadius: 0 },
        { label: 'measured on the calibration histogram', data: v.alphas.map((x, i) => ({ x, y: v.mse_measured[i] })), borderColor: '#c0392b', pointRadius: 0 },
        { label: `α* = ${astar.toFixed(2)}`, data: [{ x: astar, y: Math.min(...v.mse_measured) }, { x: astar, y: Math.max(...v.mse_measured) }], borderColor: '#555', borderDash: [6, 4], pointRadius: 0 },
      ],
    },
    options: { scales: { x: { type: 'linear', title: { display: true, text: 'clipping value α' } }, y: { type: 'logarithmic', title: { display: true, text: 'MSE' } } },
      plugins: { title: { display: true, text: `MSE(α) at ${v.bits} bits (the paper's Fig. 1, on this channel)` } } },
  });
  chart('bits-chart', {
    type: 'bar',
    data: {
      labels: v.channel_bits.map((_, i) => i),
      datasets: [
        { label: 'activation bits per channel (PCBA)', data: v.channel_bits, backgroundColor: '#2471a3' },
        ...(v.weight_bits ? [{ label: 'weight bits per output channel', data: v.weight_bits, backgroundColor: '#e67e22' }] : []),
      ],
    },
    options: { scales: { x: { title: { display: true, text: 'channel' } }, y: { min: 0, max: 8 } }, plugins: { title: { display: true, text: 'Bits allocated per channel' } } },
  });
  chart('bc-chart', {
    type: 'line',
    data: {
      labels: (v.weight_mean_float || []).map((_, i) => i),
      datasets: [
        { label: 'float weight mean', data: v.weight_mean_float || [], borderColor: '#555', pointRadius: 2 },
        { label: 'quantized, before bias correction', data: v.weight_mean_quant || [], borderColor: '#c0392b', pointRadius: 2 },
        { label: 'quantized, after bias correction', data: v.weight_mean_corrected || [], borderColor: '#27ae60', borderDash: [4, 3], pointRadius: 2 },
      ],
    },
    options: { scales: { x: { title: { display: true, text: 'output channel' } } }, plugins: { title: { display: true, text: `Per-channel weight mean of ${layer}` } } },
  });
}

async function findWhatBreaks() {
  setStatus('comparing every layer with the float network…');
  const errs = await state.fb.debug(state.test.slice(0, 32));
  state.sqnr = new Map(errs.map((e) => [e.layer, e.local_db]));
  showLayers(state.plan);
  const worst = errs.filter((e) => e.local_db !== null).slice(0, 3).map((e) => `${e.layer} (${e.local_db.toFixed(1)} dB)`);
  setStatus(`worst layers: ${worst.join(', ')} — click one to keep it at 8 bits, then Run`);
  window.fourbitPage.lastDebug = errs;
}

async function compare() {
  await calibrateOnce();
  const o = options();
  const rows = (await state.fb.rows(`W${o.wbits}A${o.abits}`)).filter((r) => !/σ|percentile|KL|MSE/.test(r.name));
  const results = [];
  const body = $('compare-table').tBodies[0];
  body.replaceChildren();
  $('results').hidden = false;
  $('compare-box').hidden = false;
  for (const [i, row] of rows.entries()) {
    setStatus(`${row.name} (${i + 1}/${rows.length})`);
    row.options.calib_images = state.calib.length;
    row.options.carry_bits = o.carry_bits;
    state.plan = await state.fb.quantize(row.options);
    const rep = await state.fb.evaluate(state.test, state.labels, progress(`${row.name}`), { skipFP32: i > 0 });
    results.push({ name: row.name, top1: rep.quantized.top1, agreement: rep.agreement, fp32: rep.fp32.top1 });
    const tr = body.insertRow();
    for (const v of [row.name, rep.quantized.top1.toFixed(2) + '%', rep.agreement.toFixed(1) + '%']) tr.insertCell().textContent = v;
  }
  const fp32 = results[0].fp32;
  $('summary').textContent = `W${o.wbits}A${o.abits} on ${state.test.length} images; FP32 top-1 ${fp32.toFixed(2)}%.`;
  chart('compare-chart', {
    type: 'bar',
    data: { labels: results.map((r) => r.name), datasets: [{ label: 'top-1 %', data: results.map((r) => r.top1), backgroundColor: '#2471a3' }] },
    options: { plugins: { title: { display: true, text: `The paper's methods at W${o.wbits}A${o.abits} (FP32 ${fp32.toFixed(2)}%)` } },
      scales: { y: { suggestedMin: Math.max(0, Math.min(...results.map((r) => r.top1)) - 5), suggestedMax: fp32 + 1 } } },
  });
  window.fourbitPage.lastCompare = results;
  setStatus('compare done');
  showLayers(state.plan);
}

// runEngine packs the quantized network and runs it with integer kernels (WebAssembly SIMD128
// where the browser has it) on the evaluation images, on one thread.
async function runEngine() {
  setStatus('building the integer engine…');
  const info = await state.fb.buildEngine();
  const rep = await state.fb.evaluateEngine(state.test, state.labels, progress('integer engine'));
  const e = rep.engine;
  $('engine-status').textContent = `Integer engine (${info.simd ? 'WebAssembly SIMD128 kernels' : 'portable Go kernels'}): ` +
    `top-1 ${e.top1.toFixed(2)}%, the simulated network's class on ${rep.agreement_simulated.toFixed(1)}% of ${e.images} images, ` +
    `${e.images_per_sec.toFixed(1)} images/s on one thread; weights ${info.packed_bytes.toLocaleString()} bytes packed ` +
    `vs ${info.float_bytes.toLocaleString()} fp32. ` + kernelSummary(info.kernels);
  window.fourbitPage.lastEngine = { ...rep, info };
  setStatus('integer engine done');
}

// kernelSummary says which kernels ran the layers, and why the paper's per-channel
// activations are the slow path.
function kernelSummary(count) {
  const parts = Object.entries(count).map(([k, n]) => `${n} ${k}`).join(', ');
  const hint = count['int32-folded'] > 1
    ? ' Per-channel activation scales cannot share one integer dot product, so those layers fold the scales into 31-bit weights (int32-folded); with per-tensor activations the convs run the fused 4-bit kernel (qconv), about ten times faster.'
    : '';
  return `Layers: ${parts}.${hint}`;
}

async function tryImage(file) {
  await predictImage(new Uint8Array(await file.arrayBuffer()));
}

async function predictImage(bytes) {
  $('try-image').src = URL.createObjectURL(new Blob([bytes]));
  $('try-image').hidden = false;
  const pred = await state.fb.infer({ bytes }, 3);
  const list = (title, classes) => {
    const div = document.createElement('div');
    const h = document.createElement('strong');
    h.textContent = title;
    const ol = document.createElement('ol');
    for (const c of classes || []) {
      const li = document.createElement('li');
      li.textContent = `${c.name || c.index} — ${(100 * c.probability).toFixed(1)}%`;
      ol.append(li);
    }
    div.append(h, ol);
    return div;
  };
  const out = [list('FP32', pred.fp32)];
  out.push(pred.quantized ? list(`${state.plan ? 'W' + state.plan.options.wbits + 'A' + state.plan.options.abits : 'quantized'}`, pred.quantized)
    : Object.assign(document.createElement('p'), { textContent: 'Run a quantization to see the 4-bit network\'s answer too.' }));
  $('predictions').replaceChildren(...out);
  window.fourbitPage.lastPrediction = pred;
}

// readFolder turns a webkitdirectory selection into labelled images: class = folder name.
async function readFolder(files) {
  const byClass = new Map();
  for (const f of files) {
    if (!/\.(png|jpe?g)$/i.test(f.name)) continue;
    const parts = (f.webkitRelativePath || f.name).split('/');
    const cls = parts.length >= 2 ? parts[parts.length - 2] : 'unknown';
    if (!byClass.has(cls)) byClass.set(cls, []);
    byClass.get(cls).push(f);
  }
  if (byClass.size === 0) throw new Error('no PNG or JPEG images in the chosen folder');
  const names = state.classes.length ? state.classes : [...byClass.keys()].sort();
  const images = [];
  const labels = [];
  for (const [cls, list] of byClass) {
    const label = names.indexOf(cls);
    if (label < 0) throw new Error(`folder "${cls}" is not one of the model's classes (${names.join(', ')})`);
    for (const f of list) {
      images.push({ bytes: new Uint8Array(await f.arrayBuffer()) });
      labels.push(label);
    }
  }
  return { images, labels };
}

// dropZone highlights el while files are dragged over it and hands dropped files to onFiles.
function dropZone(el, onFiles) {
  el.addEventListener('dragover', (e) => { e.preventDefault(); el.classList.add('over'); });
  el.addEventListener('dragleave', () => el.classList.remove('over'));
  el.addEventListener('drop', (e) => {
    e.preventDefault();
    e.stopPropagation();
    el.classList.remove('over');
    onFiles(e.dataTransfer.files);
  });
}

async function main() {
  try {
    // One module per core (up to 4): evaluation fans out over them.
    state.fb = await FourBitPool.create({ size: Math.min(navigator.hardwareConcurrency || 2, 4) });
    await loadDemo();
    const f = await state.fb.features();
    $('kernels').textContent = f.simd
      ? 'Integer kernels: WebAssembly SIMD128 (kernels/simd.wat).'
      : `Integer kernels: the portable Go kernels — no WebAssembly SIMD128 here (${f.simd_reason}).`;
    window.fourbitPage.features = f;
    window.fourbitPage.ready = true;
  } catch (e) {
    showError(e);
  }
  $('run').disabled = $('compare').disabled = !state.fb || state.test.length === 0;
  $('run').addEventListener('click', () => busy(run));
  $('compare').addEventListener('click', () => busy(compare));
  $('debug').addEventListener('click', () => busy(findWhatBreaks));
  $('engine').addEventListener('click', () => busy(runEngine));
  $('download').addEventListener('click', () => busy(async () => {
    const bytes = await state.fb.exportModel();
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([bytes], { type: 'application/json' }));
    a.download = 'model-quantized.fourbit.json';
    a.click();
  }));
  $('download-onnx').addEventListener('click', () => busy(async () => {
    const bytes = await state.fb.exportONNX();
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
    a.download = 'model-quantized.qdq.onnx';
    a.click();
  }));
  $('layer-select').addEventListener('change', () => busy(showChannel));
  $('channel-select').addEventListener('change', () => busy(showChannel));
  const loadUserModel = (list) => busy(async () => {
    const files = [...list].filter((f) => !f.name.startsWith('.'));
    if (files.length === 0) return;
    if (files.length === 1 && files[0].name !== 'model.json') {
      await loadModel(new Uint8Array(await files[0].arrayBuffer()), files[0].name);
    } else {
      // Several files: a TF.js layers model (model.json, its shards, labels.txt, names.txt).
      const byName = {};
      for (const f of files) byName[f.name] = new Uint8Array(await f.arrayBuffer());
      const json = files.find((f) => f.name === 'model.json');
      await loadModel(byName, json && json.webkitRelativePath ? json.webkitRelativePath.split('/')[0] : 'TF.js model');
    }
    state.demo = 'user';
    $('thumbs').replaceChildren();
    $('results').hidden = $('pictures').hidden = true;
  });
  $('model-file').addEventListener('change', (e) => loadUserModel(e.target.files));
  $('model-folder').addEventListener('change', (e) => loadUserModel(e.target.files));
  dropZone($('model'), (files) => loadUserModel(files));
  $('demo').addEventListener('change', (e) => busy(async () => {
    await loadDemo(e.target.value);
    $('results').hidden = $('pictures').hidden = true;
  }));
  $('calib-mode').addEventListener('change', () => { state.calibrated = false; });
  $('image-folder').addEventListener('change', (e) => busy(async () => {
    const { images, labels } = await readFolder(e.target.files);
    // Calibrate on half, evaluate on the other half (every second image), never the same ones.
    state.calib = images.filter((_, i) => i % 2 === 0);
    state.test = images.filter((_, i) => i % 2 === 1);
    state.labels = labels.filter((_, i) => i % 2 === 1);
    state.calibrated = false;
    $('data-status').textContent = `Your images: ${state.calib.length} for calibration (even positions), ${state.test.length} for evaluation (odd positions).`;
  }));
  $('image-file').addEventListener('change', (e) => busy(async () => { if (e.target.files[0]) await tryImage(e.target.files[0]); }));
  dropZone($('drop'), (files) => { if (files[0]) busy(() => tryImage(files[0])); });
}

main();
