//go:build js && wasm && simd

package kernels

import (
	"os"
	"testing"
)

// TestSIMDBound makes sure the SIMD build's tests really ran the SIMD kernels: under
// tools/wasm-exec-simd.mjs the host binds them (FOURBIT_NO_SIMD=1 runs the Go kernels).
func TestSIMDBound(t *testing.T) {
	want := os.Getenv("FOURBIT_NO_SIMD") == ""
	if SIMD() != want {
		t.Fatalf("SIMD kernels bound: %v, want %v", SIMD(), want)
	}
}

// TestRelaxedBound makes sure the relaxed-SIMD kernels ran where the test command meant them
// to: FOURBIT_WANT_RELAXED=1 under node --experimental-wasm-relaxed-simd (build.sh), which
// binds simd-relaxed.wasm; without the flag Node has no relaxed SIMD and SIMD128 runs.
func TestRelaxedBound(t *testing.T) {
	want := os.Getenv("FOURBIT_WANT_RELAXED") == "1"
	if RelaxedSIMD() != want {
		t.Fatalf("relaxed-SIMD kernels bound: %v, want %v", RelaxedSIMD(), want)
	}
}
