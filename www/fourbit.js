// fourbit.js — fourbit's JavaScript API. The Go module runs in a dedicated Worker, so the
// page never blocks; every call returns a promise that rejects with an Error carrying the
// module's message when the input is bad, and the module stays usable afterwards.
//
//   import { FourBit } from './fourbit.js';
//   const fb = await FourBit.create();
//   const info = await fb.load(modelBytes);                    // Uint8Array of a .th file
//   await fb.calibrate(images, (done, total) => …);           // training images
//   const plan = await fb.quantize({ wbits: 4, abits: 4 });    // fields of ptq.Options
//   const rep = await fb.evaluate(images, labels, onProgress); // {fp32, quantized, agreement}
//   const pred = await fb.infer(image, 3);                     // {fp32: [...], quantized: [...]}
//   const view = await fb.channel('layer1.0.conv1', 0);        // chart data of one channel
//   const bytes = await fb.exportModel();                      // Uint8Array, the quantized model
//
// An image is {width, height, data: Uint8ClampedArray RGBA} (a canvas's ImageData) or
// {bytes: Uint8Array} (a PNG or JPEG file, decoded by the module exactly as the CLI does).

export class FourBit {
  // create starts a worker; pass {worker} to use one made elsewhere (any object with
  // postMessage and addEventListener('message') or onmessage, e.g. a Node shim).
  static async create({ worker } = {}) {
    const w = worker || new Worker(new URL('fourbit-worker.js', import.meta.url), { type: 'module' });
    const fb = new FourBit(w);
    await fb.defaults(); // waits until the module is running
    return fb;
  }

  constructor(worker) {
    this.worker = worker;
    this.nextId = 1;
    this.pending = new Map();
    const onMessage = (e) => this.#receive(e.data !== undefined ? e.data : e);
    if (typeof worker.addEventListener === 'function') worker.addEventListener('message', onMessage);
    else worker.onmessage = onMessage;
  }

  #receive(msg) {
    const p = this.pending.get(msg.id);
    if (!p) return;
    if (msg.progress) {
      if (p.onProgress) p.onProgress(msg.progress[0], msg.progress[1]);
      return;
    }
    this.pending.delete(msg.id);
    if (msg.error !== undefined) p.reject(new Error(msg.error));
    else p.resolve(msg.result);
  }

  #call(method, args, onProgress) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress });
      const wire = args.map((a) => (a === progressMarker ? { __progress: true } : a));
      try {
        this.worker.postMessage({ id, method, args: wire });
      } catch (e) {
        this.pending.delete(id);
        reject(new Error(method + ': arguments cannot be sent to the worker: ' + e.message));
      }
    });
  }

  defaults() { return this.#call('defaults', []); }
  info() { return this.#call('info', []); }

  load(bytes) {
    if (!(bytes instanceof Uint8Array)) return reject('load: the model must be a Uint8Array');
    return this.#call('load', [bytes]);
  }

  calibrate(images, onProgress) {
    if (!Array.isArray(images)) return reject('calibrate: images must be an array');
    return this.#call('calibrate', [images, progressMarker], onProgress);
  }

  quantize(options = {}) {
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      return reject('quantize: options must be an object');
    }
    return this.#call('quantize', [JSON.stringify(options)]);
  }

  // evaluate scores the float and the quantized network; {skipFP32: true} reuses the float
  // result of the previous call on as many images (compare mode).
  evaluate(images, labels, onProgress, { skipFP32 = false } = {}) {
    if (!Array.isArray(images)) return reject('evaluate: images must be an array');
    return this.#call('evaluate', [images, Array.from(labels || []), progressMarker, skipFP32], onProgress);
  }

  // rows returns the paper's table rows at a bit setting ("W4A4") as {name, options}.
  rows(bits = 'W4A4') { return this.#call('rows', [bits]); }

  infer(image, k = 3) { return this.#call('infer', [image, k]); }

  channel(layer, channel = 0) { return this.#call('channel', [layer, channel]); }

  // exportModel returns the quantized model as bytes (fourbit-quantized/1 JSON).
  exportModel() { return this.#call('export', []); }

  terminate() {
    this.worker.terminate();
    for (const p of this.pending.values()) p.reject(new Error('fourbit: worker terminated'));
    this.pending.clear();
  }
}

const progressMarker = Symbol('progress');

function reject(message) {
  return Promise.reject(new Error(message));
}
