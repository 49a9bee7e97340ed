//go:build goexperiment.simd && amd64

package quant

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestFakeQuantNativeBits checks the vector FakeQuantSlice against the scalar one bit for bit:
// random values and quantizers, exact ties, NaN, ±Inf, −0, values past both clamps, tails.
func TestFakeQuantNativeBits(t *testing.T) {
	if !nativeOn {
		t.Skip("no AVX-512 on this CPU: the vector path does not run")
	}
	rng := rand.New(rand.NewPCG(3, 5))
	quantizers := []Quantizer{
		{Scale: 0.1, Zero: 0, QMin: 0, QMax: 15},
		{Scale: 0.25, Zero: 8, QMin: 0, QMax: 15},
		{Scale: 1, Zero: 0, QMin: -8, QMax: 7},
		{Scale: 0.5, Zero: 0.5, QMin: -128, QMax: 127},
		{Scale: 3e-9, Zero: 128, QMin: 0, QMax: 255},
		{Scale: 7.3, Zero: -2.25, QMin: -1, QMax: 1},
		{Scale: 0, Zero: 3, QMin: 0, QMax: 15},
	}
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)),
		0.05, 0.15, -0.05, 0.125, 0.375, -0.125, 1.5, 2.5, -1.5, -2.5, 1e30, -1e30, 1e-40, math.MaxFloat32, -math.MaxFloat32}
	for qi, q := range quantizers {
		for _, n := range []int{0, 1, 3, 7, 8, 9, 16, 37, 1000} {
			src := make([]float32, n)
			for i := range src {
				if rng.IntN(4) == 0 {
					src[i] = special[rng.IntN(len(special))]
				} else {
					src[i] = float32(rng.NormFloat64() * q.Scale * 6)
				}
			}
			// Exact ties: values whose quotient by the scale is k + ½.
			for i := 0; i < n; i += 5 {
				src[i] = float32((float64(rng.IntN(40)-20) + 0.5 - q.Zero) * q.Scale)
			}
			want := make([]float32, n)
			forceScalar = true
			q.FakeQuantSlice(want, src)
			forceScalar = false
			got := make([]float32, n+1)
			got[n] = 42
			q.FakeQuantSlice(got[:n], src)
			if got[n] != 42 {
				t.Fatalf("quantizer %d, n=%d: wrote past the end", qi, n)
			}
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("quantizer %d (%+v), n=%d, value %d = %v: vector %v, scalar %v", qi, q, n, i, src[i], got[i], want[i])
				}
			}
			inPlace := append([]float32(nil), src...)
			q.FakeQuantSlice(inPlace, inPlace)
			for i := range want {
				if math.Float32bits(inPlace[i]) != math.Float32bits(want[i]) {
					t.Fatalf("quantizer %d, n=%d, in place, value %d: %v, want %v", qi, n, i, inPlace[i], want[i])
				}
			}
		}
	}
}

func BenchmarkFakeQuantSlice(b *testing.B) {
	q := Quantizer{Scale: 0.1, Zero: 0, QMin: 0, QMax: 15}
	src := make([]float32, 16384)
	for i := range src {
		src[i] = float32(i%97) * 0.017
	}
	dst := make([]float32, len(src))
	for _, mode := range []struct {
		name   string
		scalar bool
	}{{"vector", false}, {"scalar", true}} {
		b.Run(mode.name, func(b *testing.B) {
			forceScalar = mode.scalar
			defer func() { forceScalar = false }()
			b.SetBytes(int64(4 * len(src)))
			for b.Loop() {
				q.FakeQuantSlice(dst, src)
			}
		})
	}
}
