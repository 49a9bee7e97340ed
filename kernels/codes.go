package kernels

import (
	"fmt"
	"math"
)

// Affine is one channel's quantizer for QuantizeCodes: the fields of quant.Quantizer (the
// real value of a code step, the code of real 0, the code range), with Lo ≥ 0 and Hi ≤ 255.
type Affine struct {
	Scale, Zero float64
	Lo, Hi      float64
}

// QuantizeCodes writes the uint8 codes of float32 values x, channel c (of len(qs), inner
// values each, whole images one after another) quantized by qs[c] with the arithmetic of
// quant.Quantizer.Quantize: a NaN is taken as 0, the value is promoted to float64,
// round(x/Scale + Zero) rounds half away from zero, and the code is clamped to [Lo, Hi]; a
// zero Scale gives round(Zero), clamped. The WebAssembly SIMD128 kernel (simd build) gives
// the same codes.
func QuantizeCodes(dst []uint8, x []float32, inner int, qs []Affine) {
	c := len(qs)
	if inner <= 0 || c == 0 || len(x)%(c*inner) != 0 || len(dst) < len(x) {
		panic(fmt.Sprintf("kernels: QuantizeCodes of %d values into %d for %d channels of %d", len(x), len(dst), c, inner))
	}
	if quantizeCodesSIMD(dst, x, inner, qs) {
		return
	}
	for i := 0; i < len(x); i += inner {
		q := qs[(i/inner)%c]
		out := dst[i : i+inner]
		for j, f := range x[i : i+inner] {
			v := float64(f)
			if v != v {
				v = 0
			}
			out[j] = quantizeCode(v, q.Scale, q.Zero, q.Lo, q.Hi)
		}
	}
}

// quantizeCode is quant.Quantizer.Quantize's arithmetic on a float64 value: round(v/scale +
// zero) half away from zero (round(zero) for a zero scale), clamped to [lo, hi].
func quantizeCode(v, scale, zero, lo, hi float64) uint8 {
	r := math.Round(zero)
	if scale != 0 {
		r = math.Round(v/scale + zero)
	}
	return uint8(min(max(r, lo), hi))
}
