//go:build !(js && wasm && simd)

package kernels

// SIMD reports whether the engine's kernels run on the WebAssembly SIMD128 kernels of simd.wat:
// only in the browser module built with the simd tag, when the host provides them.
func SIMD() bool { return false }

func gemmI32SIMD([]int64, int, *PackedI32, []int16, int) bool { return false }

// RelaxedSIMD reports whether QConv runs on the relaxed-SIMD kernels of relaxed.wat: only
// in the browser module built with the simd tag, when the engine has relaxed SIMD.
func RelaxedSIMD() bool { return false }

func qconvSIMD(*QConv, []uint8, []uint8, *QScratch) bool { return false }

func (c *QConv) prepareRelaxed([]uint8) {}

func addCodesSIMD([]uint8, []uint8, []uint8, int, []AddRequant) bool { return false }

func quantizeCodesSIMD([]uint8, []float32, int, []Affine) bool { return false }

func simdScratch(ConvParams) int { return 0 }

func (c *Conv) prepareSIMD() {}

func im2colSIMD([]float32, []float32, int, *Conv) bool { return false }

func sgemmSIMD([]float32, int, *PackedA, []float32, int, []float32) bool { return false }
