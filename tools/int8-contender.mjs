// int8-contender writes the plain int8 QDQ model of ResNet-20 that the speed benchmarks run in
// ONNX Runtime as its int8 contender: fourbit's W8A8 per-tensor QDQ export (calibrated on the
// committed 256 PNGs) turned by tools/ort-int8.py into the form ORT fuses (QLinearConv,
// QLinearAdd, QGemm). It returns the model's path, or null — with one line on stderr saying
// why — when Debian's python3-onnx is missing.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export function int8Contender(root, cli, tmp) {
  const r20 = join(root, 'testdata', 'cifar10-resnet', 'resnet20-12fca82f.th');
  const qdq = join(tmp, 'resnet20-w8a8.onnx');
  const int8 = join(tmp, 'resnet20-int8.onnx');
  try {
    execFileSync(cli, ['export', '--model', r20, '--calib', join(root, 'testdata', 'cifar10-png', 'calib'), '--wbits', '8', '--abits', '8',
      '--a-per-tensor', '--pcba', 'none', '--bias-correct', 'off', '--clip', 'none', '--carry-bits', '8', '--out', qdq], { stdio: 'ignore' });
    execFileSync('/usr/bin/python3', [join(root, 'tools', 'ort-int8.py'), qdq, int8], { stdio: ['ignore', 'ignore', 'pipe'] });
    return int8;
  } catch (e) {
    console.error(`no onnxruntime int8 contender (${String(e.stderr || e.message).trim().split('\n').pop()}); apt-get install python3-onnx gives it`);
    return null;
  }
}

// fusedExport writes fourbit's own fused QDQ export (`fourbit export --fuse`) of ResNet-20 at
// W4A8 with per-tensor activations (no PCBA or bias correction: what the fused form takes)
// and returns its path.
export function fusedExport(root, cli, tmp) {
  const out = join(tmp, 'resnet20-w4a8-fused.onnx');
  execFileSync(cli, ['export', '--model', join(root, 'testdata', 'cifar10-resnet', 'resnet20-12fca82f.th'), '--calib', join(root, 'testdata', 'cifar10-png', 'calib'),
    '--wbits', '4', '--abits', '8', '--a-per-tensor', '--pcba', 'none', '--bias-correct', 'off', '--carry-bits', '8', '--fuse', '--out', out], { stdio: 'ignore' });
  return out;
}
