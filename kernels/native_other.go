//go:build !(goexperiment.simd && amd64)

package kernels

// NativeSIMD reports whether the float convolution runs on native vector kernels: only in a
// build with GOEXPERIMENT=simd on amd64 (see native_simd.go).
func NativeSIMD() bool { return false }

func packedB16Len(k, n int) int { return 0 }

func (c *Conv) forwardNative(dst, src, scratch []float32) bool { return false }

func (c *QConv) prepareNative([]int16) {}

func (c *QConv) forwardNative([]uint8, []uint8, *QScratch) bool { return false }
