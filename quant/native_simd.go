//go:build goexperiment.simd && amd64

package quant

import "simd/archsimd"

// nativeOn reports whether FakeQuantSlice runs on AVX-512 vectors (a build with
// GOEXPERIMENT=simd on a CPU that has them).
var nativeOn = archsimd.X86.AVX512()

// forceScalar turns the vector path off (tests compare the two).
var forceScalar bool

// fakeQuantNative is FakeQuantSlice on eight float64 lanes, with Quantize's and Dequantize's
// arithmetic step for step, so the same bits: the value widened to float64 (NaN as 0), divided
// by the scale, the zero point added, rounded half away from zero (truncate, then ±1 where the
// exact remainder is at least ½), clamped to [QMin, QMax], the zero point subtracted,
// multiplied by the scale and rounded to float32. It reports false when it did nothing.
func fakeQuantNative(q Quantizer, dst, src []float32) bool {
	if !nativeOn || forceScalar || q.Scale == 0 {
		return false
	}
	dst = dst[:len(src)]
	scale := archsimd.BroadcastFloat64x8(q.Scale)
	zero := archsimd.BroadcastFloat64x8(q.Zero)
	lo := archsimd.BroadcastFloat64x8(float64(q.QMin))
	hi := archsimd.BroadcastFloat64x8(float64(q.QMax))
	half := archsimd.BroadcastFloat64x8(0.5)
	mhalf := archsimd.BroadcastFloat64x8(-0.5)
	one := archsimd.BroadcastFloat64x8(1)
	step := func(x archsimd.Float32x8) archsimd.Float32x8 {
		v := x.ConvertToFloat64()
		v = v.Masked(v.Equal(v)) // NaN as 0
		t := v.Div(scale).Add(zero)
		r := t.TruncScaled(0)
		f := t.Sub(r)
		r = r.Add(one.Masked(f.GreaterEqual(half))).Sub(one.Masked(f.LessEqual(mhalf)))
		r = r.Max(lo).Min(hi)
		return r.Sub(zero).Mul(scale).ConvertToFloat32()
	}
	i := 0
	for ; i+8 <= len(src); i += 8 {
		step(archsimd.LoadFloat32x8Slice(src[i:])).StoreSlice(dst[i:])
	}
	if i < len(src) {
		step(archsimd.LoadFloat32x8SlicePart(src[i:])).StoreSlicePart(dst[i:])
	}
	return true
}
