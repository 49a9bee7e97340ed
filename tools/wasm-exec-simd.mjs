// wasm-exec-simd runs a Go js/wasm program (a test binary, the CLI) under Node the way Go's
// wasm_exec_node.js does, with fourbit's SIMD kernels bound (www/simd-relaxed.wasm where Node
// runs relaxed SIMD — node --experimental-wasm-relaxed-simd — else www/simd.wasm): the exec
// program for `go test -tags simd`, so that every wasm test of the kernels and the engine runs
// through the SIMD path.
//
//   GOOS=js GOARCH=wasm go test -tags simd -exec="node --stack-size=8192 tools/wasm-exec-simd.mjs" ./kernels
//   FOURBIT_NO_SIMD=1 …   runs the same binary with the Go kernels (SIMD not bound)
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
globalThis.require = require;
globalThis.fs = require('node:fs');
globalThis.path = require('node:path');
const goroot = process.env.GOROOT || execFileSync('go', ['env', 'GOROOT'], { encoding: 'utf8' }).trim();
require(join(goroot, 'lib', 'wasm', 'wasm_exec.js'));
const { simdState, simdImports, bindSIMD } = await import(join(root, 'www', 'fourbit-simd.js'));

const go = new globalThis.Go();
go.argv = process.argv.slice(2);
go.env = Object.assign({ TMPDIR: tmpdir() }, process.env);
go.exit = process.exit;
const simd = simdState();
Object.assign(go.importObject, simdImports(simd));
try {
  const { instance } = await WebAssembly.instantiate(readFileSync(process.argv[2]), go.importObject);
  // FOURBIT_NO_SIMD=1: the Go kernels; FOURBIT_SIMD_WASM=file: that module alone.
  const load = (name) => {
    if (process.env.FOURBIT_NO_SIMD) return null;
    if (process.env.FOURBIT_SIMD_WASM) return name === 'simd.wasm' ? readFileSync(process.env.FOURBIT_SIMD_WASM) : null;
    return readFileSync(join(root, 'www', name));
  };
  await bindSIMD(simd, load, instance.exports.mem);
  process.on('exit', (code) => {
    if (code === 0 && !go.exited) {
      go._pendingEvent = { id: 0 };
      go._resume();
    }
  });
  await go.run(instance);
} catch (err) {
  console.error(err);
  process.exit(1);
}
