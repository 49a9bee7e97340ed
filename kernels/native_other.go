//go:build !(goexperiment.simd && amd64)

package kernels

// NativeSIMD reports whether the float convolution runs on native vector kernels: only in a
// build with GOEXPERIMENT=simd on amd64 (see native_simd.go).
func NativeSIMD() bool { return false }

func nativeScratch(ConvParams) int { return 0 }

func (c *Conv) forwardNative(dst, src, scratch []float32) bool { return false }

func (c *QConv) prepareNative([]int16) {}

func (c *QConv) forwardNative([]uint8, []uint8, *QScratch) bool { return false }

// ConvI32 is the native int32-folded convolution (see native_simd.go); without the native
// kernels it does nothing and returns false.
func ConvI32(c []int64, ldc int, a *PackedI32, scratch *[]int16, pad *[]int16, src []uint8, zero []int32, icg int, p ConvParams) bool {
	return false
}

func reluNative(dst, src []float32) bool { return false }

func (c *Conv) prepareDirect() {}

func addNative(dst, a, b []float32) bool { return false }

func addCodesNative(dst, a, b []uint8, inner int, rq []AddRequant) bool { return false }

func requantI64Native(dst []uint8, v []int64, mul, add, scale, zero float64, lo, hi int32) bool {
	return false
}

func quantizeCodesNative(dst []uint8, x []float32, inner int, qs []Affine) bool { return false }
