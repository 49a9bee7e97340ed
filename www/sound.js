// sound.js — the page's "Try a sound" section: the MLPerf Tiny keyword network (DS-CNN) and its
// 4-bit twin in a module of their own (a second Worker, so the image demo is untouched),
// quantized on the four demo clips; a dropped or chosen WAV/MP3 file is heard by both. The
// waveform, the MFCC picture and the keyword scores are Chart.js charts (the MFCCs with
// chartjs-chart-matrix). Nothing leaves the machine: the file is read here and handed to the
// module.
import { FourBit } from './fourbit.js';

const $ = (id) => document.getElementById(id);
const CLIPS = ['yes', 'no', 'silence', 'noise'];
const BASE = 'demo/speech/';

const sound = {
  fb: null, // the keyword module, started on first use
  bits: null, // "w,a" of the quantized network it holds
  charts: {},
  last: null,
};

async function fetchBytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status} ${r.statusText}`);
  return new Uint8Array(await r.arrayBuffer());
}

function status(text) { $('sound-status').textContent = text; }

// ready starts the keyword module, loads the network and quantizes it at the chosen bits
// (again only when they changed), calibrated on the four demo clips.
async function ready() {
  const bits = $('sound-bits').value;
  if (sound.fb && sound.bits === bits) return;
  if (!sound.fb) {
    status('Starting the keyword module…');
    sound.fb = await FourBit.create();
    const [model, labels] = await Promise.all([fetchBytes(BASE + 'kws_ref_model_float32.tflite'), fetchBytes(BASE + 'labels.txt')]);
    await sound.fb.loadFiles({ 'kws_ref_model_float32.tflite': model, 'labels.txt': labels });
    const clips = await Promise.all(CLIPS.map((c) => fetchBytes(`${BASE}${c}_1000ms.wav`)));
    status('Calibrating on the four demo clips…');
    await sound.fb.calibrate(clips.map((audio) => ({ audio })));
  }
  const [wbits, abits] = bits.split(',').map(Number);
  status(`Quantizing the keyword network to W${wbits}A${abits}…`);
  await sound.fb.quantize(Object.assign(await sound.fb.defaults(), { wbits, abits }));
  sound.bits = bits;
}

function chart(id, config) {
  if (sound.charts[id]) sound.charts[id].destroy();
  config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options || {});
  sound.charts[id] = new globalThis.Chart($(id), config);
}

// viridis-like ramp for the MFCC picture: value in [0, 1] → colour.
function ramp(t) {
  const stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  const x = Math.min(Math.max(t, 0), 1) * (stops.length - 1);
  const i = Math.min(Math.floor(x), stops.length - 2);
  const f = x - i;
  const c = stops[i].map((v, k) => Math.round(v + f * (stops[i + 1][k] - v)));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

// integerTicks puts an axis's ticks on the cells' centres 0, step, 2·step, … below n.
function integerTicks(n, step) {
  const ticks = [];
  for (let v = 0; v < n; v += step) ticks.push({ value: v });
  return ticks;
}

function draw(snd, name) {
  $('sound-charts').hidden = false;
  // The waveform's envelope over the whole file, the second the network heard filled.
  const n = snd.peaks.length;
  const t = (i) => (i * snd.seconds) / n;
  const heard = snd.peaks.map((p, i) => (t(i) >= snd.start && t(i) <= snd.start + snd.length ? p : null));
  chart('wave-chart', {
    type: 'line',
    data: {
      labels: snd.peaks.map((_, i) => t(i).toFixed(2)),
      datasets: [
        { label: 'envelope (|sample|)', data: snd.peaks, borderColor: '#8a96a3', borderWidth: 1, pointRadius: 0 },
        { label: 'the second heard', data: heard, borderColor: '#2b6cb0', backgroundColor: 'rgba(43,108,176,0.25)', fill: 'origin', borderWidth: 1, pointRadius: 0 },
      ],
    },
    options: {
      plugins: { title: { display: true, text: `${name}: ${snd.format}, ${snd.seconds.toFixed(2)} s` } },
      scales: { x: { title: { display: true, text: 'seconds' }, ticks: { maxTicksLimit: 10 } }, y: { min: 0, title: { display: true, text: '|sample|' } } },
    },
  });
  // The MFCCs: frames across, coefficients up.
  let lo = Infinity, hi = -Infinity;
  for (const v of snd.mfcc) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  const cells = [];
  for (let f = 0; f < snd.frames; f++) {
    for (let c = 0; c < snd.coefficients; c++) cells.push({ x: f, y: c, v: snd.mfcc[f * snd.coefficients + c] });
  }
  chart('mfcc-chart', {
    type: 'matrix',
    data: {
      datasets: [{
        label: 'MFCC',
        data: cells,
        backgroundColor: (ctx) => ramp((ctx.raw.v - lo) / (hi - lo || 1)),
        width: ({ chart: c }) => (c.chartArea || {}).width / snd.frames,
        height: ({ chart: c }) => (c.chartArea || {}).height / snd.coefficients,
      }],
    },
    options: {
      plugins: {
        legend: { display: false },
        title: { display: true, text: `the network's input: ${snd.frames} frames × ${snd.coefficients} MFCCs (${lo.toFixed(0)} … ${hi.toFixed(0)})` },
        tooltip: { callbacks: { label: (ctx) => `frame ${ctx.raw.x}, coefficient ${ctx.raw.y}: ${ctx.raw.v.toFixed(2)}` } },
      },
      scales: {
        x: { type: 'linear', min: -0.5, max: snd.frames - 0.5, offset: false, grid: { display: false }, title: { display: true, text: 'frame (20 ms)' }, afterBuildTicks: (axis) => { axis.ticks = integerTicks(snd.frames, 8); } },
        y: { type: 'linear', reverse: false, min: -0.5, max: snd.coefficients - 0.5, offset: false, grid: { display: false }, title: { display: true, text: 'coefficient' }, afterBuildTicks: (axis) => { axis.ticks = integerTicks(snd.coefficients, 1); } },
      },
    },
  });
  // Keyword scores of both networks, every class.
  const names = snd.fp32.map((c) => c.name).sort();
  const score = (list) => names.map((nm) => 100 * ((list || []).find((c) => c.name === nm) || { probability: 0 }).probability);
  const [w, a] = sound.bits.split(',');
  chart('keyword-chart', {
    type: 'bar',
    data: {
      labels: names,
      datasets: [
        { label: 'FP32', data: score(snd.fp32), backgroundColor: '#8a96a3' },
        { label: `W${w}A${a}`, data: score(snd.quantized), backgroundColor: '#2b6cb0' },
      ],
    },
    options: {
      plugins: { title: { display: true, text: `keyword scores: FP32 hears “${snd.fp32[0].name}”, W${w}A${a} hears “${snd.quantized[0].name}”` } },
      scales: { y: { min: 0, max: 100, title: { display: true, text: '%' } } },
    },
  });
}

// hear runs one file (bytes) through both networks and draws it.
async function hear(bytes, name) {
  await ready();
  status(`Listening to ${name}…`);
  const snd = await sound.fb.listen(bytes, 12);
  const player = $('sound-player');
  if (player.src) URL.revokeObjectURL(player.src);
  player.src = URL.createObjectURL(new Blob([bytes]));
  player.hidden = false;
  draw(snd, name);
  const [w, a] = sound.bits.split(',');
  const top = (l) => `${l[0].name} (${(100 * l[0].probability).toFixed(1)}%)`;
  status(`${name}: heard ${snd.start.toFixed(2)}–${(snd.start + snd.length).toFixed(2)} s of ${snd.seconds.toFixed(2)} s. ` +
    `FP32: ${top(snd.fp32)}; W${w}A${a}: ${top(snd.quantized)}.`);
  sound.last = { name, ...snd };
  sound.lastBytes = bytes;
  window.fourbitPage.lastSound = sound.last;
}

// MAX_BYTES is the module's bound on a sound file (audio.MaxBytes): a larger file is refused
// before it is read into memory.
const MAX_BYTES = 256 << 20;

async function readFile(f) {
  if (f.size > MAX_BYTES) throw new Error(`${f.name}: ${f.size.toLocaleString()} bytes is more than the ${MAX_BYTES.toLocaleString()} fourbit reads (cut the part you want)`);
  return new Uint8Array(await f.arrayBuffer());
}

// setupSound wires the section; run(fn) is the page's job runner (errors shown on the page).
export function setupSound(run) {
  for (const b of document.querySelectorAll('.sound-demo')) {
    b.addEventListener('click', () => run(async () => hear(await fetchBytes(`${BASE}${b.dataset.clip}_1000ms.wav`), `${b.dataset.clip}_1000ms.wav`)));
  }
  $('sound-file').addEventListener('change', (e) => {
    const f = e.target.files[0];
    if (f) run(async () => hear(await readFile(f), f.name));
  });
  const drop = $('sound-drop');
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    e.stopPropagation();
    drop.classList.remove('over');
    const f = e.dataTransfer.files[0];
    if (f) run(async () => hear(await readFile(f), f.name));
  });
  $('sound-bits').addEventListener('change', () => run(async () => {
    if (sound.last && sound.lastBytes) await hear(sound.lastBytes, sound.last.name);
  }));
}
