package kernels

import (
	"math/rand/v2"
	"testing"

	"fourbit/quant"
)

// TestRequantizeI64MatchesQuantize checks RequantizeI64 (native where it runs) against its
// definition, quant.Quantizer.Quantize of the float32 affine map, code for code: random
// sums, exact ties, sums past both clamps, huge sums, a zero scale, signed code ranges and
// tails of every length.
func TestRequantizeI64MatchesQuantize(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	cases := []struct {
		mul, add, scale, zero float64
		lo, hi                int32
	}{
		{0.001, 0.1, 0.05, 0, 0, 15},
		{1, 0, 1, 0.5, 0, 255}, // x/scale + zero = s + ½: ties everywhere
		{3e-5, -2, 0.02, 7, 0, 255},
		{0.5, 0.25, 0.5, 0, -8, 7},
		{1e-9, 1e3, 1e-3, 128, 0, 255},
		{0.01, 0, 0, 3.5, 0, 15}, // a zero scale: round(zero)
	}
	for ci, c := range cases {
		q := quant.Quantizer{Scale: c.scale, Zero: c.zero, QMin: c.lo, QMax: c.hi}
		for _, n := range []int{0, 1, 5, 8, 9, 31, 200} {
			v := make([]int64, n)
			for i := range v {
				switch rng.IntN(5) {
				case 0:
					v[i] = int64(rng.IntN(40) - 20)
				case 1:
					v[i] = rng.Int64() >> uint(rng.IntN(60)) * int64(1-2*rng.IntN(2))
				default:
					v[i] = int64(rng.NormFloat64() * 3000)
				}
			}
			got := make([]uint8, n+1)
			got[n] = 42
			RequantizeI64(got[:n], v, c.mul, c.add, c.scale, c.zero, c.lo, c.hi)
			if got[n] != 42 {
				t.Fatalf("case %d, n=%d: wrote past the end", ci, n)
			}
			for i, s := range v {
				want := uint8(q.Quantize(float32(c.mul*float64(s) + c.add)))
				if got[i] != want {
					t.Fatalf("case %d (%+v), n=%d, sum %d: code %d, want %d", ci, c, n, s, got[i], want)
				}
			}
		}
	}
}
