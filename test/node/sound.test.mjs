// The keyword network through www/fourbit.js under Node: fb.listen on the real clips gives the
// native CLI's classes and features (fourbit listen --json, same calibration and options), and
// bad sound rejects with a message while the module stays usable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { root, startModule } from './helpers.mjs';

const clips = ['yes', 'no', 'silence', 'noise'].map((n) => join(root, 'testdata', 'speech-commands', `${n}_1000ms.wav`));
const model = join(root, 'testdata', 'mlperf-tiny', 'kws_ref_model_float32.tflite');

test('fb.listen equals fourbit listen on the four clips', async () => {
  const fb = await startModule();
  try {
    await fb.loadFiles({ 'kws.tflite': new Uint8Array(readFileSync(model)), 'labels.txt': new Uint8Array(readFileSync(join(root, 'testdata', 'mlperf-tiny', 'kws_labels.txt'))) });
    const sounds = clips.map((p) => new Uint8Array(readFileSync(p)));
    await fb.calibrate(sounds.map((audio) => ({ audio })));
    await fb.quantize(Object.assign(await fb.defaults(), { wbits: 4, abits: 8 }));
    const cli = JSON.parse(execFileSync(join(root, 'bin', 'fourbit'), ['listen', '--json', '--top', '12', '--model', model, '--labels', join(root, 'testdata', 'mlperf-tiny', 'kws_labels.txt'), ...clips], { encoding: 'utf8' }));
    for (let i = 0; i < clips.length; i++) {
      const snd = await fb.listen(sounds[i], 12);
      const want = cli[i].sound;
      let worst = 0;
      want.fp32.forEach((c, k) => { worst = Math.max(worst, Math.abs(c.probability - snd.fp32[k].probability)); });
      want.quantized.forEach((c, k) => { worst = Math.max(worst, Math.abs(c.probability - snd.quantized[k].probability)); });
      console.log(`${clips[i].split('/').pop()}: FP32 ${snd.fp32[0].name}, W4A8 ${snd.quantized[0].name}; max |Δp| to the CLI ${worst.toExponential(1)}`);
      assert.equal(snd.fp32[0].name, want.fp32[0].name);
      assert.equal(snd.quantized[0].name, want.quantized[0].name);
      assert.ok(worst < 1e-4, 'the module and the CLI give the same probabilities');
      assert.deepEqual(snd.mfcc.length, want.mfcc.length);
    }
    for (const [bad, want] of [[new Uint8Array(0), /empty file/], [new TextEncoder().encode('RIFF\x10\x00\x00\x00WAVEdata\xff\xff\xff\x7f'), /WAV/]]) {
      await assert.rejects(fb.listen(bad), want);
    }
    await assert.rejects(fb.listen('yes.wav'), /Uint8Array/);
    const again = await fb.listen(new Uint8Array(readFileSync(clips[0])), 3);
    assert.equal(again.fp32[0].name, 'yes', 'the module still hears after bad input');
  } finally {
    fb.terminate?.();
  }
});
