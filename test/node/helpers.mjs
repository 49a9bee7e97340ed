// Helpers shared by the Node tests: a Worker shim and the image folder order of the Go
// dataset package (sorted class folders, sorted files, classes interleaved).
import { Worker } from 'node:worker_threads';
import { readdirSync, readFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FourBit, FourBitPool } from '../../www/fourbit.js';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const dataDir = process.env.FOURBIT_DATA || join(root, '..', 'shared', 'data');
export const hasData = existsSync(join(dataDir, 'cifar10-png', 'test'));

// nodeWorker starts fourbit.wasm in a worker thread behind a Web-Worker-like shim.
export function nodeWorker({ noSIMD = false } = {}) {
  const w = new Worker(new URL('./worker.mjs', import.meta.url), {
    workerData: { wasm: join(root, 'www', 'fourbit.wasm'), noSIMD },
  });
  return {
    postMessage: (m) => w.postMessage(m),
    addEventListener: (_type, f) => w.on('message', (data) => f({ data })),
    terminate: () => w.terminate(),
  };
}

export async function startModule(opts) {
  return FourBit.create({ worker: nodeWorker(opts) });
}

export async function startPool(n) {
  return FourBitPool.create({ workers: Array.from({ length: n }, nodeWorker) });
}

// folderImages returns the first `limit` images of an image folder as {bytes} objects and
// their labels, in the Go dataset package's order.
export function folderImages(dir, limit) {
  const classes = readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
  const perClass = classes.map((c) =>
    readdirSync(join(dir, c)).filter((f) => !f.startsWith('.')).sort().map((f) => join(dir, c, f)));
  const images = [];
  const labels = [];
  for (let i = 0; ; i++) {
    let added = false;
    perClass.forEach((files, label) => {
      if (i < files.length) {
        images.push({ bytes: new Uint8Array(readFileSync(files[i])) });
        labels.push(label);
        added = true;
      }
    });
    if (!added) break;
  }
  const n = limit > 0 ? Math.min(limit, images.length) : images.length;
  return { images: images.slice(0, n), labels: labels.slice(0, n) };
}

// nativeEngine returns the native integer engine's top-1 class of every image of testDir
// (the CLI's `logits --engine`, calibrated on the first calibImages of calibDir).
export function nativeEngine(model, calibDir, testDir, calibImages, flags) {
  const tmp = mkdtempSync(join(tmpdir(), 'fourbit-engine-'));
  try {
    const out = JSON.parse(execFileSync(join(root, 'bin', 'fourbit'), ['logits', '--model', model, '--data', testDir, '--calib', calibDir,
      '--engine', '--calib-images', String(calibImages), ...flags, '--out', join(tmp, 'y.f32')], { encoding: 'utf8' }));
    const b = readFileSync(join(tmp, 'y.f32'));
    const y = new Float32Array(b.buffer, b.byteOffset, b.length / 4);
    const classes = out.classes;
    return Array.from({ length: out.images }, (_, i) => {
      let best = 0;
      for (let c = 1; c < classes; c++) if (y[i * classes + c] > y[i * classes + best]) best = c;
      return best;
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
