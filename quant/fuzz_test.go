package quant

import (
	"encoding/binary"
	"math"
	"testing"
)

func floatsFrom(b []byte) []float32 {
	xs := make([]float32, len(b)/4)
	for i := range xs {
		xs[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return xs
}

// FuzzQuantizer: any range, level count and input give codes inside the range and finite
// values, or an error; never a panic.
func FuzzQuantizer(f *testing.F) {
	f.Add(-1.0, 1.0, 16.0, []byte{0, 0, 128, 63, 0, 0, 192, 127})
	f.Add(0.0, 0.0, 1.0, []byte{})
	f.Add(-1e30, 1e30, 2.5, []byte{255, 255, 255, 255})
	f.Fuzz(func(t *testing.T, lo, hi, levels float64, raw []byte) {
		q, err := NewAffine(lo, hi, levels)
		if err != nil {
			return
		}
		for _, x := range floatsFrom(raw) {
			c := q.Quantize(x)
			v := q.Dequantize(c)
			if c < q.QMin || c > q.QMax || math.IsNaN(float64(v)) {
				t.Fatalf("NewAffine(%v, %v, %v): x=%v code %d value %v", lo, hi, levels, x, c, v)
			}
		}
	})
}

// FuzzClippers: any data gives every clipper a finite, ordered range inside the data's
// [min, max] (from 0 when one-sided), or an error; never a panic.
func FuzzClippers(f *testing.F) {
	f.Add([]byte{0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64}, 4.0, false)
	f.Add([]byte{0, 0, 192, 127, 0, 0, 128, 255}, 2.0, true)
	f.Add([]byte{1, 0, 0, 0}, 0.5, false)
	clippers := []Clipper{MinMax{}, ACIQ{Laplace}, ACIQ{Gauss}, KSigma{2}, Percentile{99.99}, KL{}, MSESearch{}}
	f.Fuzz(func(t *testing.T, raw []byte, bits float64, oneSided bool) {
		xs := floatsFrom(raw)
		if len(xs) > 4096 {
			xs = xs[:4096]
		}
		s, err := Summarize(xs, 64)
		if err != nil {
			return
		}
		for _, c := range clippers {
			lo, hi, err := c.Range(s, bits, oneSided)
			if err != nil {
				continue
			}
			floor := s.Min
			if oneSided {
				floor = math.Min(0, s.Min)
			}
			if !finite(lo) || !finite(hi) || lo > hi || lo < floor || hi > math.Max(s.Max, 0) {
				t.Fatalf("%s bits %v one-sided %v on %d values [%v, %v]: range [%v, %v]", c.Name(), bits, oneSided, s.Count, s.Min, s.Max, lo, hi)
			}
		}
	})
}
