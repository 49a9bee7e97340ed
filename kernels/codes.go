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
// zero Scale gives round(Zero), clamped. The WebAssembly SIMD128 kernel (simd build) and the
// native AVX-512 one (GOEXPERIMENT=simd) give the same codes.
func QuantizeCodes(dst []uint8, x []float32, inner int, qs []Affine) {
	c := len(qs)
	if inner <= 0 || c == 0 || len(x)%(c*inner) != 0 || len(dst) < len(x) {
		panic(fmt.Sprintf("kernels: QuantizeCodes of %d values into %d for %d channels of %d", len(x), len(dst), c, inner))
	}
	if quantizeCodesSIMD(dst, x, inner, qs) || quantizeCodesNative(dst, x, inner, qs) {
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

// RequantizeI64 turns exact integer sums into codes: dst[j] is quant.Quantizer{Scale: scale,
// Zero: zero, QMin: lo, QMax: hi}.Quantize(float32(mul·float64(v[j]) + add)) — the product
// and the sum in float64 (never fused), rounded to float32, then Quantize's float64
// arithmetic (NaN as 0). It is the int32-folded path's requantization; natively it runs on
// AVX-512 vectors with the same steps. dst must be as long as v; codes must fit a byte.
func RequantizeI64(dst []uint8, v []int64, mul, add, scale, zero float64, lo, hi int32) {
	dst = dst[:len(v)]
	if requantI64Native(dst, v, mul, add, scale, zero, lo, hi) {
		return
	}
	for j, s := range v {
		x := float64(float32(mul*float64(s) + add))
		if x != x {
			x = 0
		}
		q := math.Round(zero)
		if scale != 0 {
			q = math.Round(x/scale + zero)
		}
		c := hi
		switch {
		case q < float64(lo):
			c = lo
		case q <= float64(hi):
			c = int32(q)
		}
		dst[j] = uint8(c)
	}
}
