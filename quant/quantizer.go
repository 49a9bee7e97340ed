package quant

import (
	"errors"
	"fmt"
	"math"
)

// Quantizer maps real values to integer codes on a uniform grid and back:
//
//	code = clamp(round(x/Scale + Zero), QMin, QMax),   x̂ = (code − Zero)·Scale.
//
// For the gemmlowp scheme used by the paper (unsigned codes 0..2^M−1) Zero is an integer,
// so real 0 is represented exactly and integer kernels can use it as the zero point. A
// Quantizer with Scale 0 has a single code and represents every value as 0 (a channel that
// PCBA gave zero bits, or an all-zero channel).
type Quantizer struct {
	Scale      float64 // real value of one code step
	Zero       float64 // code that represents real 0 (an integer for the integer schemes)
	QMin, QMax int32   // the code range
}

// ErrBits reports a bit width or level count the quantizers do not support.
var ErrBits = errors.New("quant: unsupported bit width")

// MaxBits is the widest integer code fourbit produces.
const MaxBits = 8

// Levels returns 2^bits, the number of codes of an M-bit quantizer.
func Levels(bits int) float64 { return math.Ldexp(1, bits) }

// checkLevels accepts level counts from 1 (a constant) to 2^MaxBits.
func checkLevels(levels float64) error {
	if math.IsNaN(levels) || levels < 1 || levels > Levels(MaxBits) {
		return fmt.Errorf("%w: %v levels (want 1..%d)", ErrBits, levels, 1<<MaxBits)
	}
	return nil
}

// NewAffine returns the gemmlowp asymmetric quantizer for the range [lo, hi] with the given
// number of levels (2^M for M bits; a fractional count is allowed, its grid step is
// (hi−lo)/(levels−1) and its top code is the nearest integer). The range is first widened to
// contain 0, and the zero point is rounded to an integer so that 0 is exact; the range then
// shifts by less than half a step. Non-finite bounds or lo > hi are an error.
func NewAffine(lo, hi, levels float64) (Quantizer, error) {
	if err := checkLevels(levels); err != nil {
		return Quantizer{}, err
	}
	if !finite(lo) || !finite(hi) || lo > hi {
		return Quantizer{}, fmt.Errorf("quant: bad range [%v, %v]", lo, hi)
	}
	lo, hi = math.Min(lo, 0), math.Max(hi, 0)
	steps := levels - 1
	if steps < 0.5 || hi-lo == 0 {
		return Quantizer{}, nil // a single level: everything is 0
	}
	q := Quantizer{Scale: (hi - lo) / steps, QMin: 0, QMax: int32(math.Round(steps))}
	q.Zero = math.Round(-lo / q.Scale)
	if q.Zero > float64(q.QMax) {
		q.Zero = float64(q.QMax)
	}
	return q, nil
}

// NewUnsigned returns the one-sided quantizer for non-negative values in [0, alpha]: codes
// 0..levels−1, zero point 0 (the "half range" used after a ReLU).
func NewUnsigned(alpha, levels float64) (Quantizer, error) {
	if alpha < 0 {
		return Quantizer{}, fmt.Errorf("quant: bad one-sided range [0, %v]", alpha)
	}
	return NewAffine(0, alpha, levels)
}

// NewGrid returns a quantizer whose levels are placed freely on [lo, hi] (the endpoints are
// levels), with no constraint that 0 be representable. It is the quantizer of the paper's
// analysis: NewGrid(lo+Δ/2, hi−Δ/2, 2^M) with Δ = (hi−lo)/2^M splits [lo, hi] into 2^M bins
// and rounds each value to its bin's centre.
func NewGrid(lo, hi, levels float64) (Quantizer, error) {
	if err := checkLevels(levels); err != nil {
		return Quantizer{}, err
	}
	if !finite(lo) || !finite(hi) || lo > hi {
		return Quantizer{}, fmt.Errorf("quant: bad range [%v, %v]", lo, hi)
	}
	steps := levels - 1
	if steps < 0.5 || hi == lo {
		return Quantizer{}, nil
	}
	q := Quantizer{Scale: (hi - lo) / steps, QMax: int32(math.Round(steps))}
	q.Zero = -lo / q.Scale
	return q, nil
}

// Bins returns the grid quantizer that splits [lo, hi] into the given number of equal bins and
// reconstructs each value at its bin's centre, as in the paper's noise model (Δ²/12 per value).
func Bins(lo, hi, bins float64) (Quantizer, error) {
	if bins < 1 || math.IsNaN(bins) {
		return Quantizer{}, fmt.Errorf("%w: %v bins", ErrBits, bins)
	}
	d := (hi - lo) / bins
	return NewGrid(lo+d/2, hi-d/2, bins)
}

// Quantize returns the code of x. NaN maps to the code of 0, ±Inf to the extreme codes.
func (q Quantizer) Quantize(x float32) int32 {
	if q.Scale == 0 {
		return clampCode(math.Round(q.Zero), q.QMin, q.QMax)
	}
	v := float64(x)
	if v != v {
		v = 0
	}
	return clampCode(math.Round(v/q.Scale+q.Zero), q.QMin, q.QMax)
}

func clampCode(c float64, lo, hi int32) int32 {
	if c < float64(lo) {
		return lo
	}
	if c > float64(hi) {
		return hi
	}
	return int32(c)
}

// Dequantize returns the real value of code c.
func (q Quantizer) Dequantize(c int32) float32 {
	return float32((float64(c) - q.Zero) * q.Scale)
}

// FakeQuant quantizes and dequantizes x in one step (simulated quantization).
func (q Quantizer) FakeQuant(x float32) float32 { return q.Dequantize(q.Quantize(x)) }

// Range returns the real values of the lowest and highest codes.
func (q Quantizer) Range() (lo, hi float64) {
	return (float64(q.QMin) - q.Zero) * q.Scale, (float64(q.QMax) - q.Zero) * q.Scale
}

// Bits returns the number of bits needed to store the codes (0 for a single level).
func (q Quantizer) Bits() int {
	n := int64(q.QMax) - int64(q.QMin) + 1
	b := 0
	for int64(1)<<b < n {
		b++
	}
	return b
}

// QuantizeSlice writes the codes of src into dst (which must be as long).
func (q Quantizer) QuantizeSlice(dst []int32, src []float32) {
	for i, x := range src {
		dst[i] = q.Quantize(x)
	}
}

// FakeQuantSlice writes the quantize-dequantized values of src into dst (which may be src).
// In a build with GOEXPERIMENT=simd on an AVX-512 CPU it runs on vectors, with the same bits.
func (q Quantizer) FakeQuantSlice(dst, src []float32) {
	if fakeQuantNative(q, dst, src) {
		return
	}
	for i, x := range src {
		dst[i] = q.FakeQuant(x)
	}
}

// FakeQuantChannels quantize-dequantizes data in place, channel c with qs[c].
func FakeQuantChannels(data []float32, l Layout, qs []Quantizer) error {
	if err := l.Check(len(data)); err != nil {
		return err
	}
	if len(qs) != l.Channels {
		return fmt.Errorf("quant: %d quantizers for %d channels", len(qs), l.Channels)
	}
	for c := range qs {
		l.Each(data, c, func(run []float32) { qs[c].FakeQuantSlice(run, run) })
	}
	return nil
}

// MSE returns the mean squared error between a and b (0 for empty slices).
func MSE(a, b []float32) float64 {
	if len(a) == 0 {
		return 0
	}
	var s float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return s / float64(len(a))
}

// finite reports whether x is neither NaN nor ±Inf (x − x is NaN exactly for those): one
// subtraction, where math.IsNaN and math.IsInf cost two tests in the statistics' hot loops.
func finite(x float64) bool { return x-x == 0 }
