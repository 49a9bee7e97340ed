// app.js — the page: the embedded demo (or the user's model and images), the controls, the
// results and the charts. All computation happens in the fourbit module's Worker.
import { FourBitPool } from './fourbit.js';
import { setupSound } from './sound.js';

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

// busy runs jobs one at a time, in the order asked: a job asked for while another runs waits
// its turn (a click on a button that also ends an edit of the channel field must not be
// lost), and a job already waiting is not queued twice. Buttons stay enabled while a job runs
// — a disabled button would swallow that click — and any error is reported on the page.
function busy(fn) {
  state.pending = state.pending || new Set();
  if (state.pending.has(fn)) return state.queue;
  state.pending.add(fn);
  state.queue = (state.queue || Promise.resolve()).then(() => {
    state.pending.delete(fn);
    return job(fn);
  });
  return state.queue;
}

async function job(fn) {
  state.busy = true;
  document.body.classList.add('working');
  clearError();
  try {
    await fn();
  } catch (e) {
    if (state.cancelled) {
      state.cancelled = false; // the workers were ended on purpose: not an error
    } else {
      showError(e);
      setStatus('stopped: ' + ((e && e.message) || e).split('\n')[0]);
    }
  } finally {
    state.busy = false;
    document.body.classList.remove('working');
    $('run').disabled = $('compare').disabled = !state.fb || state.test.length === 0;
    $('download').disabled = $('download-onnx').disabled = $('debug').disabled = $('ask').disabled = !state.plan;
    // The integer engine runs a plan that carries every tensor as codes.
    $('engine').disabled = !state.plan || !state.plan.options.carry_bits;
  }
}

// loadModel loads one model file (Uint8Array) or several ({name: Uint8Array}: a TF.js model).
async function loadModel(bytes, name) {
  state.lastModel = { bytes, name };
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
    wclip: $('wclip').value,
    rounding: $('rounding').value,
    rounding_iters: num('rounding_iters'),
    // Learned rounding fits on up to 128 of the calibration images in the page (256 in the
    // CLI): in WebAssembly each layer's problem costs two partial forward passes over them.
    rounding_images: Math.min(128, state.calib.length),
    empirical_bias: $('empirical_bias').checked,
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

// describeRun says what a result rests on: how many images, the calibration, the standard
// error of top-1 on that many images.
function describeRun(rep) {
  const calib = rep.calib_images ? `calibrated on ${rep.calib_images} images` : 'calibrated data-free (batch-norm statistics)';
  return `${rep.fp32.images} test images, ${calib}; ± is one standard error of top-1 on ${rep.fp32.images} images`;
}

async function run() {
  const t0 = performance.now();
  await calibrateOnce();
  setStatus('quantizing…');
  const o0 = options();
  state.plan = await quantizeCancellable(o0);
  state.sqnr = new Map();
  const rep = await state.fb.evaluate(state.test, state.labels, progress('evaluating FP32 and quantized'));
  const seconds = (performance.now() - t0) / 1000;
  const o = state.plan.options;
  $('summary').textContent = `FP32 top-1 ${rep.fp32.top1.toFixed(2)}% ± ${rep.fp32.top1_stderr.toFixed(2)}  →  W${o.wbits}A${o.abits} top-1 ` +
    `${rep.quantized.top1.toFixed(2)}% ± ${rep.quantized.top1_stderr.toFixed(2)} (the same prediction as FP32 on ${rep.agreement.toFixed(1)}% of ` +
    `${rep.fp32.images} images: ${rep.agreed}). ${seconds.toFixed(1)} s.`;
  $('run-basis').textContent = describeRun(rep) + '.';
  $('summary').dataset.fp32 = rep.fp32.top1;
  $('summary').dataset.quantized = rep.quantized.top1;
  setStatus(`done in ${seconds.toFixed(1)} s`);
  window.fourbitPage.lastRun = { fp32: rep.fp32.top1, quantized: rep.quantized.top1, agreement: rep.agreement, seconds, options: o, report: rep };
  $('compare-box').hidden = true;
  showLayers(state.plan);
  $('results').hidden = false;
  $('pictures').hidden = false;
  $('questions').hidden = false;
  await showChannel(-1);
  await explainCollapse(rep);
}

// quantizeCancellable quantizes; while learned rounding runs it shows the layer being fitted
// and its reconstruction error, and offers Cancel.
async function quantizeCancellable(o) {
  if (o.rounding !== 'learned') return state.fb.quantize(o);
  $('cancel').hidden = false;
  try {
    return await state.fb.quantize(o, (done, total, r) => {
      $('progress').max = total;
      $('progress').value = done;
      $('progress-text').textContent = `learned rounding: layer ${done} / ${total}, ${r.layer}: reconstruction error ` +
        `${r.nearest_loss.toPrecision(3)} (nearest) → ${r.loss.toPrecision(3)}, ${r.flipped} weights rounded the other way, ${r.seconds.toFixed(1)} s`;
    });
  } finally {
    $('cancel').hidden = true;
  }
}

// cancel stops a running job by ending the module's workers, then starts fresh ones with the
// same model: the calibration is redone on the next run.
async function cancel() {
  if (!state.busy || !state.fb) return;
  state.cancelled = true;
  state.fb.terminate();
  state.fb = null;
  state.queue = (state.queue || Promise.resolve()).then(() => job(async () => {
    setStatus('cancelled; starting the module again…');
    state.fb = await FourBitPool.create({ size: Math.min(navigator.hardwareConcurrency || 2, 4) });
    if (state.lastModel) await loadModel(state.lastModel.bytes, state.lastModel.name);
    setStatus('cancelled');
  }));
}

// explainCollapse says so when the quantized network has lost the float network's answers
// (the module's verdict, rep.collapsed), names the layers that break it (Find what breaks,
// run here on a few images) and what to try.
async function explainCollapse(rep) {
  const box = $('collapse');
  box.hidden = !rep.collapsed;
  window.fourbitPage.lastCollapse = null;
  if (!rep.collapsed) return;
  const o = state.plan.options;
  const kept = (100 * rep.quantized.top1_count / Math.max(rep.fp32.top1_count, 1)).toFixed(0);
  box.textContent = `The W${o.wbits}A${o.abits} network has collapsed: it keeps ${kept}% of the float network's correct answers ` +
    `(${rep.quantized.top1.toFixed(2)}% against ${rep.fp32.top1.toFixed(2)}%) and gives the float network's class on only ` +
    `${rep.agreement.toFixed(1)}% of the images. Looking for the layers that break it…`;
  setStatus('the quantized network collapsed: finding the layers that break it…');
  await findWhatBreaks();
  const worst = window.fourbitPage.lastDebug.filter((e) => e.local_db !== null).slice(0, 3);
  const names = worst.map((e) => `${e.layer} (${e.local_db.toFixed(1)} dB)`).join(', ');
  const tries = [];
  if (o.abits < 8) tries.push(`activations at 8 bits (W${o.wbits}A8): at ${o.abits} bits each activation has only ${2 ** o.abits} levels`);
  tries.push(`keep the worst layers at 8 bits — click ${worst.map((e) => e.layer).join(', ')} in the table below, then Run`);
  if (!o.pcba_w || !o.pcba_a || o.clip === 'none' || o.bias_correct === 'off') tries.push('all three of the paper\'s methods (ACIQ, PCBA, bias correction)');
  box.textContent = `The W${o.wbits}A${o.abits} network has collapsed: it keeps ${kept}% of the float network's correct answers ` +
    `(${rep.quantized.top1.toFixed(2)}% against ${rep.fp32.top1.toFixed(2)}%) and gives the float network's class on only ` +
    `${rep.agreement.toFixed(1)}% of the images. Why: at ${o.abits}-bit activations and ${o.wbits}-bit weights every layer rounds ` +
    `its output onto a coarse grid, and each layer passes the noise of those before it on, amplified; in a small network with narrow ` +
    `layers there is no redundancy to absorb it. The layers that inject the most noise on their own (SQNR, higher is better): ${names}. ` +
    `What to try: ${tries.join('; ')}.`;
  window.fourbitPage.lastCollapse = { text: box.textContent, worst: worst.map((e) => e.layer) };
}

function showLayers(plan) {
  // The paper's activation of each layer (the tensors carried for the integer engine besides
  // are not layers of the table).
  const acts = new Map(plan.activations.filter((a) => !a.carried).map((a) => [a.layer, a]));
  // The worst three: by injected SQNR once "Find what breaks" ran, else by activation MSE.
  const ranked = state.sqnr.size
    ? [...state.sqnr.entries()].filter(([, v]) => v !== null).sort((a, b) => a[1] - b[1]).map(([l]) => l)
    : [...acts.values()].sort((a, b) => b.mse - a.mse).map((a) => a.layer);
  const worst = new Set(ranked.slice(0, 3));
  const body = $('layers').tBodies[0];
  body.replaceChildren();
  // The injected-SQNR column has values only after "Find what breaks".
  $('layers').classList.toggle('no-sqnr', state.sqnr.size === 0);
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
  if (!$(id)) return;
  config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options || {});
  state.charts[id] = new Chart($(id), config);
}

// showChannel draws one channel of the chosen layer: the given one, or with -1 a live,
// representative channel that the module picks (the median spread among channels with bits).
async function showChannel(channel = Number($('channel-select').value) || 0) {
  const layer = $('layer-select').value;
  if (!layer || !state.plan) return;
  const v = await state.fb.channel(layer, channel);
  $('channel-select').max = v.channels - 1;
  $('channel-select').value = v.channel;
  window.fourbitPage.lastChannel = v;
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
  // Which clipping value is which, and where each comes from.
  const method = { none: 'min-max (no clipping)', 'aciq-laplace': 'ACIQ with the Laplace prior', 'aciq-gauss': 'ACIQ with the Gauss prior',
    kl: 'KL divergence', mse: 'an MSE search' }[v.clip] || v.clip;
  const where = v.per_tensor ? 'over the whole tensor (one range for every channel, so not this channel\'s own)' : 'for this channel';
  const fit = v.fit_before_relu
    ? `fitted to the layer's output before its ReLU (μ = ${v.mean.toFixed(2)}, b = ${v.b.toFixed(3)}); the ReLU's output is clipped one-sided, [0, max(μ, 0) + α]`
    : `fitted to this output (μ = ${v.mean.toFixed(2)}, b = ${v.b.toFixed(3)}); the range is [max(min, μ − α), that + 2α]`;
  $('alpha-note').textContent = v.dead
    ? `Channel ${v.channel} is dead: PCBA gave it 0 bits — its spread is so small beside the other channels' that every value is quantized to 0. Pick another channel to see a live one.`
    : `Red, "clip at ${v.hi.toFixed(2)} (used)": the range this plan quantizes with, [${v.lo.toFixed(2)}, ${v.hi.toFixed(2)}], chosen by ${method} ${where} at ${v.bits} bits (this channel's PCBA width). ` +
      `Blue, "ACIQ Laplace α* → ${lapHi.toFixed(2)}": where ACIQ's Laplace α* = ${astar.toFixed(2)} for ${v.bits} bits puts the clip, with the prior ${fit}. ` +
      `The MSE(α) chart's x axis is α itself, so its "α* = ${astar.toFixed(2)}" is the same value before the mean is added${v.per_tensor || v.clip !== 'aciq-laplace' ? '; the used range differs because the plan chose it another way' : ''}.`;
  $('alpha-note').classList.toggle('dead', v.dead);
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
    results.push({ name: row.name, top1: rep.quantized.top1, stderr: rep.quantized.top1_stderr, agreement: rep.agreement, fp32: rep.fp32.top1 });
    const tr = body.insertRow();
    for (const v of [row.name, `${rep.quantized.top1.toFixed(2)}% ± ${rep.quantized.top1_stderr.toFixed(2)}`, rep.agreement.toFixed(1) + '%']) tr.insertCell().textContent = v;
    $('compare-basis').textContent = describeRun(rep) + '.';
  }
  const fp32 = results[0].fp32;
  $('summary').textContent = `W${o.wbits}A${o.abits} on ${state.test.length} images; FP32 top-1 ${fp32.toFixed(2)}%.`;
  compareChart(results, fp32, `W${o.wbits}A${o.abits}`);
  window.fourbitPage.lastCompare = results;
  setStatus('compare done');
  showLayers(state.plan);
}

// axisMin is the lower end of a percentage axis that shows the differences between values:
// a little below the lowest when all exceed 50%, else 0.
function axisMin(values) {
  const lo = Math.min(...values);
  return lo > 50 ? Math.max(0, Math.floor(lo - 2)) : 0;
}

// compareChart draws top-1 and agreement per method with FP32 as a line, the y axis zoomed to
// the range that holds them (the paper's differences are a few points).
function compareChart(results, fp32, bits) {
  const min = axisMin([fp32, ...results.flatMap((r) => [r.top1, r.agreement])]);
  chart('compare-chart', {
    type: 'bar',
    data: {
      labels: results.map((r) => r.name),
      datasets: [
        { label: 'top-1 %', data: results.map((r) => r.top1), backgroundColor: '#2471a3' },
        { label: 'agreement with FP32 %', data: results.map((r) => r.agreement), backgroundColor: '#aab7c4' },
        { type: 'line', label: `FP32 top-1 ${fp32.toFixed(2)}%`, data: results.map(() => fp32), borderColor: '#c0392b', borderDash: [6, 4], pointRadius: 0 },
      ],
    },
    options: { plugins: { title: { display: true, text: `The paper's methods at ${bits} (FP32 ${fp32.toFixed(2)}%)` } },
      scales: { y: { min, max: 100, title: { display: true, text: '%' } } } },
  });
}

// runEngine packs the quantized network and runs it with integer kernels (WebAssembly SIMD128
// where the browser has it) on the evaluation images, split over the pool's workers.
async function runEngine() {
  setStatus('building the integer engine…');
  const info = await state.fb.buildEngine();
  const rep = await state.fb.evaluateEngine(state.test, state.labels, progress('integer engine'));
  const e = rep.engine;
  $('engine-status').textContent = `Integer engine (${info.relaxed_simd && info.layers.some((l) => l.kernel === 'qconv') ? 'WebAssembly relaxed-SIMD and SIMD128 kernels' : info.simd ? 'WebAssembly SIMD128 kernels' : 'portable Go kernels'}): ` +
    `top-1 ${e.top1.toFixed(2)}% ± ${e.top1_stderr.toFixed(2)}, the simulated network's class on ${rep.agreement_simulated.toFixed(1)}% of ${e.images} images (${rep.agreed_simulated}), ` +
    `${e.images_per_sec.toFixed(1)} images/s on ${state.fb.size > 1 ? `${state.fb.size} workers` : 'one thread'}; weights ${info.packed_bytes.toLocaleString()} bytes packed ` +
    `vs ${info.float_bytes.toLocaleString()} fp32. ` + kernelSummary(info.kernels) + fallbackNote(info.layers);
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

// fallbackNote names the layers the engine has no integer kernel for (a transposed conv, a
// linear layer on rows): they run in float between codes.
function fallbackNote(layers) {
  const f = (layers || []).filter((l) => l.kernel === 'float-fallback').map((l) => `${l.name} (${l.kind})`);
  return f.length ? ` No integer kernel for ${f.join(', ')}: run in float between codes.` : '';
}

// answerQuestions answers the five questions the paper raises on the loaded model, around the
// last run's options: each a picture and one paragraph with the numbers of this run.
async function answerQuestions() {
  if (!state.plan) throw new Error('Run a quantization first: the questions vary its options.');
  await calibrateOnce();
  const base = { ...state.plan.options, keep: {} };
  const answers = await state.fb.questions(base, state.test, state.labels, progress('answering the questions'));
  const box = $('answers');
  box.replaceChildren();
  const pct = (r) => `${r.top1.toFixed(2)}% ± ${r.top1_stderr.toFixed(2)}`;
  const n = state.test.length;
  const bits = `W${base.wbits}A${base.abits}`;
  for (const a of answers) {
    const v = a.variants;
    const div = document.createElement('div');
    div.className = 'answer';
    div.dataset.id = a.id;
    const h = document.createElement('h3');
    h.textContent = `(${a.id}) ${a.question}`;
    const holder = document.createElement('div');
    holder.className = 'chart';
    const canvas = document.createElement('canvas');
    canvas.id = `answer-chart-${a.id}`;
    holder.append(canvas);
    const p = document.createElement('p');
    let text = '';
    const bars = (extra = []) => ({
      type: 'bar',
      data: { labels: v.map((x) => x.name), datasets: [
        { label: 'top-1 %', data: v.map((x) => x.result.top1), backgroundColor: '#2471a3' },
        { label: 'agreement with FP32 %', data: v.map((x) => x.agreement), backgroundColor: '#aab7c4' }, ...extra] },
      options: { scales: { y: { min: axisMin(v.flatMap((x) => [x.result.top1, x.agreement, ...extra.flatMap((d) => d.data)])), max: 100 } },
        plugins: { title: { display: true, text: a.question } } },
    });
    let config = bars();
    switch (a.id) {
      case 1:
        text = `At ${bits} on this model: no clipping ${pct(v[0].result)}, 2σ ${pct(v[1].result)}, 3σ ${pct(v[2].result)}, ACIQ ${pct(v[3].result)} ` +
          `(agreement with FP32 ${v.map((x) => x.agreement.toFixed(1) + '%').join(', ')}). ACIQ chooses each channel's clip from the prior fitted to it ` +
          `and the bit width it gets (α* grows with the width), where k·σ clips every channel at the same multiple of σ whatever the width: 2σ cuts tails that still carry information, ` +
          `and no clipping spends the few levels on rare outliers.`;
        break;
      case 2:
        text = `One range per tensor gives ${pct(v[0].result)}; weights per output channel ${pct(v[1].result)}; weights and activations per channel ${pct(v[2].result)}. ` +
          `The channels of one layer differ in scale, often by orders of magnitude: one range spends its ${2 ** base.wbits} weight levels on the widest channel and rounds the narrow ones to a few.`;
        break;
      case 3:
        config = bars([{ label: 'codes for negative values %', data: v.map((x) => 100 * x.negative_codes), backgroundColor: '#e67e22' }]);
        text = `Quantizing a layer's output two-sided and applying the ReLU afterwards leaves ${(100 * v[0].negative_codes).toFixed(1)}% of the codes ` +
          `standing for negative values the ReLU never outputs — nearly one bit of ${base.abits} wasted: top-1 ${pct(v[0].result)}. Quantizing the ReLU's output over [0, α] ` +
          `with unsigned codes (the paper's half range) gives ${pct(v[1].result)}.`;
        break;
      case 4: {
        const m = a.shift;
        config = {
          type: 'line',
          data: { labels: m.float.map((_, i) => i), datasets: [
            { label: 'float weight mean', data: m.float, borderColor: '#555', pointRadius: 2 },
            { label: 'quantized, no bias correction', data: m.quantized, borderColor: '#c0392b', pointRadius: 2 },
            { label: 'quantized, mean corrected', data: m.corrected, borderColor: '#27ae60', borderDash: [4, 3], pointRadius: 2 }] },
          options: { scales: { x: { title: { display: true, text: `output channel of ${m.layer}` } } }, plugins: { title: { display: true, text: `Per-channel weight mean of ${m.layer}` } } },
        };
        text = `Rounding does not cancel out within a channel: in ${m.layer} quantization moves each output channel's weight mean by ${m.shift_before.toPrecision(3)} on average ` +
          `(red against grey), a bias added to every output of that channel, which the next layers carry on. Bias correction restores each mean ` +
          `(${m.shift_after.toPrecision(2)} after, green). Top-1: without ${pct(v[0].result)}, mean ${pct(v[1].result)}, mean + norm ${pct(v[2].result)}.`;
        break;
      }
      case 5: {
        config = {
          type: 'bar',
          data: { labels: v.map((x) => x.name), datasets: [
            { label: 'integer engine images/s (one thread)', data: v.map((x) => x.engine.images_per_sec), backgroundColor: '#2471a3', yAxisID: 'y' },
            { label: 'engine top-1 %', data: v.map((x) => x.engine.result.top1), backgroundColor: '#27ae60', yAxisID: 'y1' }] },
          options: { scales: { y: { title: { display: true, text: 'images/s' } }, y1: { position: 'right', min: 0, max: 100, title: { display: true, text: 'top-1 %' } } },
            plugins: { title: { display: true, text: a.question } } },
        };
        const kern = (e) => Object.entries(e.kernels).map(([k, c]) => `${c} ${k}`).join(', ');
        const [pc, pt] = v;
        text = `The paper's configuration, per-channel activations with PCBA, scores ${pct(pc.engine.result)} in fourbit's integer engine and runs at ` +
          `${pc.engine.images_per_sec.toFixed(1)} images/s here (one thread; layers: ${kern(pc.engine)}); per-tensor activations without PCBA score ${pct(pt.engine.result)} ` +
          `at ${pt.engine.images_per_sec.toFixed(1)} images/s (${kern(pt.engine)}). The stored weights take ${pc.engine.packed_bytes.toLocaleString()} and ` +
          `${pt.engine.packed_bytes.toLocaleString()} bytes (PCBA keeps the mean width): the cost is arithmetic — per-channel input scales cannot share one ` +
          `integer dot product, so the engine folds them into 31-bit weights instead of multiplying the 4-bit codes themselves.`;
        break;
      }
    }
    p.textContent = text + ` (${n} images; ± one standard error.)`;
    div.append(h, holder, p);
    box.append(div);
    chart(canvas.id, config);
  }
  window.fourbitPage.lastQuestions = answers;
  setStatus('questions answered');
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
    if (!/\.(png|jpe?g|npy)$/i.test(f.name)) continue;
    const parts = (f.webkitRelativePath || f.name).split('/');
    const cls = parts.length >= 2 ? parts[parts.length - 2] : 'unknown';
    if (!byClass.has(cls)) byClass.set(cls, []);
    byClass.get(cls).push(f);
  }
  if (byClass.size === 0) throw new Error('no PNG or JPEG images (or .npy tensors) in the chosen folder');
  const names = state.classes.length ? state.classes : [...byClass.keys()].sort();
  const images = [];
  const labels = [];
  for (const [cls, list] of byClass) {
    const label = names.indexOf(cls);
    if (label < 0) throw new Error(`folder "${cls}" is not one of the model's classes (${names.join(', ')})`);
    for (const f of list) {
      const bytes = new Uint8Array(await f.arrayBuffer());
      images.push(/\.npy$/i.test(f.name) ? { npy: bytes } : { bytes }); // a .npy file: one sample of the model's input
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
    $('kernels').textContent = f.relaxed_simd
      ? 'Integer kernels: WebAssembly SIMD128 (kernels/simd.wat), with relaxed SIMD\'s int8 dot products for weights of up to 7 bits (kernels/relaxed.wat).'
      : f.simd
        ? `Integer kernels: WebAssembly SIMD128 (kernels/simd.wat)${f.simd_reason === 'bound' ? '' : ` — ${f.simd_reason.replace(/^bound \((.*)\)$/, '$1')}`}.`
        : `Integer kernels: the portable Go kernels — no WebAssembly SIMD128 here (${f.simd_reason}).`;
    window.fourbitPage.features = f;
    window.fourbitPage.ready = true;
  } catch (e) {
    showError(e);
  }
  $('run').disabled = $('compare').disabled = !state.fb || state.test.length === 0;
  $('run').addEventListener('click', () => busy(run));
  $('cancel').addEventListener('click', () => cancel());
  $('compare').addEventListener('click', () => busy(compare));
  $('debug').addEventListener('click', () => busy(findWhatBreaks));
  $('engine').addEventListener('click', () => busy(runEngine));
  $('ask').addEventListener('click', () => busy(answerQuestions));
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
  $('layer-select').addEventListener('change', () => busy(() => showChannel(-1)));
  $('channel-select').addEventListener('change', () => busy(() => showChannel()));
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
  setupSound((fn) => busy(fn));
}

main();
