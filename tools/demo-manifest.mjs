// Writes www/demo/manifest.json: the demo model and the embedded images, in the order of the
// Go dataset package (sorted class folders, sorted files, classes interleaved), with labels.
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const demo = process.argv[2];
function folder(rel) {
  const dir = join(demo, rel);
  const classes = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  const per = classes.map((c) => readdirSync(join(dir, c)).filter((f) => !f.startsWith('.')).sort());
  const out = [];
  for (let i = 0; ; i++) {
    let added = false;
    per.forEach((files, label) => {
      if (i < files.length) { out.push({ file: `${rel}/${classes[label]}/${files[i]}`, label }); added = true; }
    });
    if (!added) break;
  }
  return { classes, images: out };
}
const calib = folder('cifar10/calib');
const test = folder('cifar10/test');
writeFileSync(join(demo, 'manifest.json'), JSON.stringify({
  model: 'resnet20-12fca82f.th',
  modelName: 'ResNet-20 (CIFAR-10, akamaster/pytorch_resnet_cifar10, BSD-2-Clause)',
  classes: test.classes,
  calib: calib.images,
  test: test.images,
}, null, 1));
