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
