//go:build js && wasm && simd

package kernels

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

// TestSIMDBound makes sure the SIMD build's tests really ran the SIMD kernels: under
// tools/wasm-exec-simd.mjs the host binds them (FOURBIT_NO_SIMD=1 runs the Go kernels).
func TestSIMDBound(t *testing.T) {
	want := os.Getenv("FOURBIT_NO_SIMD") == ""
	if SIMD() != want {
		t.Fatalf("SIMD kernels bound: %v, want %v", SIMD(), want)
	}
}

// TestRelaxedBound makes sure the relaxed-SIMD kernels ran where the test command meant them
// to: FOURBIT_WANT_RELAXED=1 under node --experimental-wasm-relaxed-simd (build.sh), which
// binds simd-relaxed.wasm; without the flag Node has no relaxed SIMD and SIMD128 runs.
func TestRelaxedBound(t *testing.T) {
	want := os.Getenv("FOURBIT_WANT_RELAXED") == "1"
	if RelaxedSIMD() != want {
		t.Fatalf("relaxed-SIMD kernels bound: %v, want %v", RelaxedSIMD(), want)
	}
}

// TestIm2colSIMDBits: the float im2col kernel (im2col_f32) writes Im2colPacked's matrix bit
// for bit — every entry, padding zeros and the last panel's zero columns included — on
// strides, dilations, asymmetric padding, groups, widths not a multiple of 4, and NaN
// payloads and −0 in the input (the kernel copies bits, it never computes).
func TestIm2colSIMDBits(t *testing.T) {
	if !SIMD() {
		t.Skip("SIMD kernels not bound")
	}
	r := rand.New(rand.NewPCG(3, 4))
	shapes := []ConvParams{
		{InC: 3, InH: 32, InW: 32, OutC: 16, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 1},
		{InC: 16, InH: 9, InW: 7, OutC: 6, KH: 3, KW: 3, StrideH: 2, StrideW: 2, DilH: 1, DilW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 1},
		{InC: 8, InH: 11, InW: 5, OutC: 8, KH: 3, KW: 3, StrideH: 1, StrideW: 2, DilH: 1, DilW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 8},
		{InC: 6, InH: 10, InW: 10, OutC: 9, KH: 3, KW: 2, StrideH: 1, StrideW: 1, DilH: 2, DilW: 3, PadT: 2, PadL: 0, PadB: 1, PadR: 3, Groups: 3},
		{InC: 5, InH: 1, InW: 1, OutC: 7, KH: 1, KW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, Groups: 1},
		{InC: 1, InH: 49, InW: 10, OutC: 64, KH: 10, KW: 4, StrideH: 2, StrideW: 2, DilH: 1, DilW: 1, PadT: 4, PadL: 1, PadB: 5, PadR: 1, Groups: 1},
		{InC: 7, InH: 6, InW: 37, OutC: 12, KH: 1, KW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, Groups: 1},
	}
	for i := 0; i < 30; i++ {
		g := 1 + r.IntN(3)
		p := ConvParams{InC: g * (1 + r.IntN(5)), InH: 1 + r.IntN(14), InW: 1 + r.IntN(14), OutC: g,
			KH: 1 + r.IntN(3), KW: 1 + r.IntN(3), StrideH: 1 + r.IntN(2), StrideW: 1 + r.IntN(3), DilH: 1 + r.IntN(2), DilW: 1 + r.IntN(2),
			PadT: r.IntN(3), PadL: r.IntN(3), PadB: r.IntN(3), PadR: r.IntN(3), Groups: g}
		if p.Check() == nil {
			shapes = append(shapes, p)
		}
	}
	for _, p := range shapes {
		c, err := NewConv(p, make([]float32, p.OutC*p.InC/p.Groups*p.KH*p.KW), nil)
		if err != nil {
			t.Fatalf("%+v: %v", p, err)
		}
		src := randSlice(r, p.InC*p.InH*p.InW)
		src[0] = math.Float32frombits(0x7fc01234) // a NaN with a payload
		src[len(src)/2] = float32(math.Copysign(0, -1))
		icg := p.InC / p.Groups
		k, n := icg*p.KH*p.KW, p.OutH()*p.OutW()
		blen := PackedBLen(k, n)
		for g := 0; g < p.Groups; g++ {
			want := make([]float32, blen)
			Im2colPacked(want, src[g*icg*p.InH*p.InW:], icg, p)
			got := make([]float32, c.ScratchLen())
			for i := range got {
				got[i] = math.Float32frombits(0xdeadbeef)
			}
			if !im2colSIMD(got, src[g*icg*p.InH*p.InW:], icg, c) {
				t.Fatalf("%+v: the SIMD im2col did not run", p)
			}
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%+v group %d: entry %d = %#x, want %#x", p, g, i, math.Float32bits(got[i]), math.Float32bits(want[i]))
				}
			}
		}
	}
}
