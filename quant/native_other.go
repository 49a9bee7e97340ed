//go:build !(goexperiment.simd && amd64)

package quant

// fakeQuantNative is the AVX-512 FakeQuantSlice of native_simd.go; without
// GOEXPERIMENT=simd on amd64 there is none and it reports false.
func fakeQuantNative(Quantizer, []float32, []float32) bool { return false }
