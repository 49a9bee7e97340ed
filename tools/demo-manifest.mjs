// Writes www/demo/manifest.json: the demo model and the embedded images, in the order of the
// Go dataset package (sorted class folders, sorted files, classes interleaved), with labels.
import { readdirSync, writeFileSync, existsSync } from 'node:fs';
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

// The second demo: Darknet Tiny (TF.js layers files) and ImageNet images, calibration on the
// classes at even positions, evaluation on the odd ones.
if (existsSync(join(demo, 'darknet', 'model.json'))) {
  const all = folder('imagenet');
  const files = readdirSync(join(demo, 'darknet')).filter((f) => !f.startsWith('.') && !/^(LICENSE|COPYRIGHT)/.test(f)).sort();
  writeFileSync(join(demo, 'darknet-manifest.json'), JSON.stringify({
    files: files.map((f) => `darknet/${f}`),
    modelName: 'Darknet Tiny (ImageNet, J. Redmon; TF.js layers format from ml5)',
    calib: all.images.filter((it) => it.label % 2 === 0).map((it) => ({ file: it.file, synset: all.classes[it.label] })),
    test: all.images.filter((it) => it.label % 2 === 1).map((it) => ({ file: it.file, synset: all.classes[it.label] })),
  }, null, 1));
}
