// fourbit.js — fourbit's JavaScript API. The Go module runs in a dedicated Worker, so the
// page never blocks; every call returns a promise that rejects with an Error carrying the
// module's message when the input is bad, and the module stays usable afterwards.
//
//   import { FourBit } from './fourbit.js';
//   const fb = await FourBit.create();
//   const info = await fb.load(modelBytes);                    // Uint8Array of a .th or .onnx file
//   const info2 = await fb.loadFiles({'model.json': …, 'group1-shard1of1': …, 'labels.txt': …});
//   await fb.calibrate(images, (done, total) => …);           // training images
//   await fb.calibrateDataFree();                              // or: from the batch norms, no images
//   const plan = await fb.quantize({ wbits: 4, abits: 4 });    // fields of ptq.Options
//   const rep = await fb.evaluate(images, labels, onProgress); // {fp32, quantized, agreement}
//   const pred = await fb.infer(image, 3);                     // {fp32: [...], quantized: [...]}
//   const snd = await fb.listen(wavOrMp3Bytes, 3);             // keyword network: {mfcc, peaks, fp32, quantized, …}
//   const view = await fb.channel('layer1.0.conv1', 0);        // chart data of one channel
//   const bytes = await fb.exportModel();                      // Uint8Array, the quantized model
//   const onnx = await fb.exportONNX();                        // Uint8Array, QDQ ONNX model
//   await fb.buildEngine();                                    // the integer engine (plan with carry_bits)
//   const eng = await fb.evaluateEngine(images, labels);       // {engine, agreement_simulated, predicted}
//   const { simd } = await fb.features();                      // WebAssembly SIMD128 kernels in use?
//
// An image is {width, height, data: Uint8ClampedArray RGBA} (a canvas's ImageData) or
// {bytes: Uint8Array} (a PNG or JPEG file, decoded by the module exactly as the CLI does), or,
// for a keyword-spotting network (49×10 MFCC input), {audio: Uint8Array} (a WAV or MP3 file).

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
      if (p.onProgress) p.onProgress(msg.progress[0], msg.progress[1], msg.progress[2]);
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

  // loadFiles loads a model given as several files, {name: Uint8Array}: a TF.js layers model
  // (model.json, its weight shards, optional labels.txt and names.txt).
  loadFiles(files) {
    if (!files || typeof files !== 'object') return reject('loadFiles: files must be an object of name → Uint8Array');
    for (const [name, b] of Object.entries(files)) {
      if (!(b instanceof Uint8Array)) return reject(`loadFiles: ${name} must be a Uint8Array`);
    }
    return this.#call('loadFiles', [files]);
  }

  calibrate(images, onProgress) {
    if (!Array.isArray(images)) return reject('calibrate: images must be an array');
    return this.#call('calibrate', [images, progressMarker], onProgress);
  }

  // calibrateDataFree calibrates without images, from the model's batch-norm statistics.
  calibrateDataFree() { return this.#call('calibrateDataFree', []); }

  // features tells how the module computes: {simd: true} when its integer kernels run on
  // WebAssembly SIMD128 (else the portable Go kernels), {relaxed_simd: true} when the
  // convolutions with weights of up to 7 bits also use relaxed SIMD's int8 dot products
  // (per-tensor activations); simd_reason says why.
  features() { return this.#call('features', []); }

  // buildEngine builds the integer engine (packed weights, integer kernels) of the quantized
  // network from its plan, which must carry every tensor as codes (options.carry_bits, e.g. 8):
  // {layers, kernels, packed_bytes, float_bytes, simd, relaxed_simd}.
  buildEngine() { return this.#call('buildEngine', []); }

  // evaluateEngine runs the integer engine on labelled images, on this module's one thread:
  // {engine: {top1, …, images_per_sec}, agreement_simulated, predicted}.
  evaluateEngine(images, labels, onProgress) {
    if (!Array.isArray(images)) return reject('evaluateEngine: images must be an array');
    return this.#call('evaluateEngine', [images, Array.from(labels || []), progressMarker], onProgress);
  }

  // quantize makes the plan; with {rounding: 'learned'} onProgress(done, total, report) hears
  // of each layer learned rounding fitted ({layer, NearestLoss, Loss, Flipped, seconds, …}).
  quantize(options = {}, onProgress) {
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      return reject('quantize: options must be an object');
    }
    return this.#call('quantize', [JSON.stringify(options), progressMarker], onProgress);
  }

  // evaluate scores the float and the quantized network; {skipFP32: true} reuses the float
  // result of the previous call on as many images (compare mode).
  evaluate(images, labels, onProgress, { skipFP32 = false } = {}) {
    if (!Array.isArray(images)) return reject('evaluate: images must be an array');
    return this.#call('evaluate', [images, Array.from(labels || []), progressMarker, skipFP32], onProgress);
  }

  // debug compares every quantized activation with the float network on the images:
  // [{layer, node, sqnr_db, sqnr_weights_db, sqnr_acts_db, cosine, rel_mse}], worst first
  // (sqnr_db is null where the activation is exact).
  debug(images) {
    if (!Array.isArray(images)) return reject('debug: images must be an array');
    return this.#call('debug', [images]);
  }

  // questions answers the five questions the paper raises on the loaded model, around the
  // options (usually the plan's): [{id, question, variants: [{name, options, result,
  // agreement, negative_codes, engine}], shift}], scored on the labelled images.
  questions(options, images, labels, onProgress) {
    if (!Array.isArray(images)) return reject('questions: images must be an array');
    return this.#call('questions', [JSON.stringify(options || {}), images, Array.from(labels || []), progressMarker], onProgress);
  }

  // judge completes a report of counts (merged by FourBitPool) with the figures that follow
  // from them: percentages, standard errors, agreement, collapse.
  judge(report) { return this.#call('judge', [JSON.stringify(report)]); }

  // rows returns the paper's table rows at a bit setting ("W4A4") as {name, options}.
  rows(bits = 'W4A4') { return this.#call('rows', [bits]); }

  infer(image, k = 3) { return this.#call('infer', [image, k]); }

  // listen hears a WAV or MP3 file (Uint8Array) with a keyword-spotting network: {format,
  // rate, seconds, start, length (the loudest second, heard), peaks (the envelope), mfcc
  // (frames × coefficients), frames, coefficients, fp32: [...], quantized: [...]}.
  listen(bytes, k = 3) {
    if (!(bytes instanceof Uint8Array)) return reject('listen: the sound must be a Uint8Array');
    return this.#call('listen', [bytes, k]);
  }

  channel(layer, channel = 0) { return this.#call('channel', [layer, channel]); }

  // exportModel returns the quantized model as bytes (fourbit-quantized/1 JSON).
  exportModel() { return this.#call('export', []); }

  // exportONNX returns the network as ONNX bytes: the quantized network as a QDQ model
  // (QuantizeLinear/DequantizeLinear, 4-bit codes in uint8 containers), with {fused: true} in
  // the form ONNX Runtime fuses into its integer kernels (int8 weights, int32 biases), or with
  // {quantized: false} the float network.
  exportONNX({ quantized = true, fused = false } = {}) { return this.#call('exportONNX', [quantized, fused]); }

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

// FourBitPool runs n modules (one Worker each) to use all cores. load, calibrate, quantize
// and buildEngine go to every module — fourbit is deterministic, so they all hold the same
// state — and evaluate and evaluateEngine split the images between them and merge the counts,
// giving exactly the numbers of a single module (images/s: all the images over the slowest
// part's time). The other calls go to the first module.
export class FourBitPool {
  static async create({ size, workers } = {}) {
    const n = workers ? workers.length : Math.max(1, size || (globalThis.navigator && navigator.hardwareConcurrency) || 2);
    const members = await Promise.all(Array.from({ length: n }, (_, i) => FourBit.create(workers ? { worker: workers[i] } : {})));
    return new FourBitPool(members);
  }

  constructor(members) {
    this.members = members;
  }

  get size() { return this.members.length; }

  async #all(fn) {
    const out = await Promise.all(this.members.map(fn));
    return out[0];
  }

  load(bytes) { return this.#all((m) => m.load(bytes)); }
  loadFiles(files) { return this.#all((m) => m.loadFiles(files)); }
  calibrate(images, onProgress) { return this.#all((m, i) => m.calibrate(images, i === 0 ? onProgress : undefined)); }
  calibrateDataFree() { return this.#all((m) => m.calibrateDataFree()); }
  features() { return this.members[0].features(); }
  buildEngine() { return this.#all((m) => m.buildEngine()); }
  quantize(options, onProgress) { return this.#all((m, i) => m.quantize(options, i === 0 ? onProgress : undefined)); }
  defaults() { return this.members[0].defaults(); }
  info() { return this.members[0].info(); }
  infer(image, k) { return this.members[0].infer(image, k); }
  listen(bytes, k) { return this.members[0].listen(bytes, k); }
  channel(layer, c) { return this.members[0].channel(layer, c); }
  rows(bits) { return this.members[0].rows(bits); }
  judge(report) { return this.members[0].judge(report); }
  questions(options, images, labels, onProgress) { return this.members[0].questions(options, images, labels, onProgress); }
  debug(images) { return this.members[0].debug(images); }
  exportModel() { return this.members[0].exportModel(); }
  exportONNX(opts) { return this.members[0].exportONNX(opts); }

  async evaluate(images, labels, onProgress, opts = {}) {
    if (!Array.isArray(images)) throw new Error('evaluate: images must be an array');
    labels = Array.from(labels || []);
    const parts = await this.#split(images, labels, onProgress, (m, ims, lbs, progress) => m.evaluate(ims, lbs, progress, opts));
    // The counts add up exactly; the module derives every figure from them (session.Judge).
    const merge = (key) => {
      if (!parts[0][key]) return undefined;
      const sum = (field) => parts.reduce((s, p) => s + p[key][field], 0);
      const seconds = Math.max(...parts.map((p) => p[key].seconds));
      const images = sum('images');
      return { images, top1_count: sum('top1_count'), top5_count: sum('top5_count'), seconds,
        images_per_sec: seconds > 0 ? images / seconds : 0 };
    };
    return this.members[0].judge({ fp32: merge('fp32'), quantized: merge('quantized'),
      agreed: parts.reduce((s, p) => s + p.agreed, 0), calib_images: parts[0].calib_images });
  }

  async evaluateEngine(images, labels, onProgress) {
    if (!Array.isArray(images)) throw new Error('evaluateEngine: images must be an array');
    labels = Array.from(labels || []);
    const parts = await this.#split(images, labels, onProgress, (m, ims, lbs, progress) => m.evaluateEngine(ims, lbs, progress));
    const sum = (f) => parts.reduce((s, p) => s + p.engine[f], 0);
    const seconds = Math.max(...parts.map((p) => p.engine.seconds));
    const n = sum('images');
    // The module scores the merged counts (session.Judge), as for evaluate.
    const judged = await this.members[0].judge({ quantized: { images: n, top1_count: sum('top1_count'), top5_count: sum('top5_count'),
      seconds, images_per_sec: seconds > 0 ? n / seconds : 0 } });
    const agreed = parts.reduce((s, p) => s + p.agreed_simulated, 0);
    return { engine: judged.quantized, agreed_simulated: agreed, agreement_simulated: n > 0 ? (100 * agreed) / n : 0,
      predicted: parts.flatMap((p) => p.predicted) };
  }

  // #split runs fn on one contiguous part of the images per module and reports the progress
  // summed over them.
  #split(images, labels, onProgress, fn) {
    const n = Math.min(this.members.length, Math.max(1, images.length));
    const done = new Array(n).fill(0);
    const totals = new Array(n).fill(0);
    return Promise.all(Array.from({ length: n }, (_, i) => {
      const lo = Math.floor((i * images.length) / n);
      const hi = Math.floor(((i + 1) * images.length) / n);
      return fn(this.members[i], images.slice(lo, hi), labels.slice(lo, hi), (d, t) => {
        done[i] = d;
        totals[i] = t;
        if (onProgress) onProgress(done.reduce((a, b) => a + b, 0), totals.reduce((a, b) => a + b, 0));
      });
    }));
  }

  terminate() { for (const m of this.members) m.terminate(); }
}
