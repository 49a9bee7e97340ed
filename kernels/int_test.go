package kernels

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestPackBitsRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for bits := 0; bits <= 8; bits++ {
		for _, n := range []int{0, 1, 2, 3, 7, 8, 9, 31, 1001} {
			codes := make([]uint8, n)
			for i := range codes {
				if bits > 0 {
					codes[i] = uint8(r.IntN(1 << bits))
				}
			}
			packed, err := PackBits([]byte{0xAA}, codes, bits)
			if err != nil {
				t.Fatal(err)
			}
			if len(packed) != 1+PackedBitsLen(n, bits) || packed[0] != 0xAA {
				t.Fatalf("%d bits, n=%d: packed %d bytes, want %d after the prefix", bits, n, len(packed)-1, PackedBitsLen(n, bits))
			}
			got := make([]uint8, n)
			if err := UnpackBits(got, packed[1:], bits); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, codes) {
				t.Fatalf("%d bits, n=%d: round trip differs", bits, n)
			}
		}
	}
	if b, _ := PackBits(nil, []uint8{1, 2, 3}, 4); !slices.Equal(b, []byte{0x21, 0x03}) {
		t.Errorf("4-bit layout %x, want 21 03 (first code in the low nibble)", b)
	}
	if _, err := PackBits(nil, []uint8{16}, 4); err == nil {
		t.Error("a code too wide for its bits packed without error")
	}
	if err := UnpackBits(make([]uint8, 5), []byte{1, 2}, 4); err == nil {
		t.Error("unpacking past the end of the stream gave no error")
	}
}

func TestGemmI16MatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	for _, s := range [][3]int{{1, 1, 1}, {2, 3, 4}, {3, 5, 7}, {5, 17, 9}, {16, 144, 33}, {7, 576, 65}} {
		m, k, n := s[0], s[1], s[2]
		// |a|·|b|·K stays below 2^31, the contract of GemmI16.
		amax := int32(min(32767, (1<<31-1)/(255*k)))
		a, b := make([]int16, m*k), make([]int16, k*n)
		a32, b32 := make([]int32, m*k), make([]int32, k*n)
		for i := range a {
			a[i] = int16(r.Int32N(2*amax+1) - amax)
			a32[i] = int32(a[i])
		}
		for i := range b {
			b[i] = int16(r.IntN(511) - 255)
			b32[i] = int32(b[i])
		}
		want := make([]int32, m*n)
		GemmI32Ref(want, a32, b32, m, k, n)
		bp := make([]int16, PackedBLen(k, n))
		PackBI16(bp, b, k, n, n)
		got := make([]int32, m*n)
		GemmI16(got, n, PackI16(a, m, k, k), bp, n)
		if !slices.Equal(got, want) {
			t.Errorf("%dx%dx%d: GemmI16 differs from the reference", m, k, n)
		}
		// GemmI32: 31-bit weights, int64 sums.
		w32 := make([]int32, m*k)
		for i := range w32 {
			w32[i] = r.Int32() - 1<<30
		}
		got64 := make([]int64, m*n)
		GemmI32(got64, n, PackI32(w32, m, k, k), bp, n)
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				var s int64
				for kk := 0; kk < k; kk++ {
					s += int64(w32[i*k+kk]) * int64(b[kk*n+j])
				}
				if got64[i*n+j] != s {
					t.Fatalf("%dx%dx%d: GemmI32 [%d,%d] = %d, want %d", m, k, n, i, j, got64[i*n+j], s)
				}
			}
		}
	}
}

func TestGemmU4MatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	type tc struct {
		m, k, n int
		full    bool // every code 15: the largest lane sums
	}
	cases := []tc{{1, 1, 1, false}, {3, 5, 7, false}, {4, 8, 8, false}, {5, 17, 9, false}, {16, 144, 33, false}, {13, 577, 19, false}}
	for _, k := range []int{255, 256, 257, 511, 512, 513, 2000} {
		cases = append(cases, tc{5, k, 11, true})
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%dx%dx%d-full=%v", c.m, c.k, c.n, c.full), func(t *testing.T) {
			a, b := make([]uint8, c.m*c.k), make([]uint8, c.k*c.n)
			for i := range a {
				a[i] = 15
				if !c.full {
					a[i] = uint8(r.IntN(16))
				}
			}
			for i := range b {
				b[i] = 15
				if !c.full {
					b[i] = uint8(r.IntN(16))
				}
			}
			want := make([]int32, c.m*c.n)
			GemmU8Ref(want, a, b, c.m, c.k, c.n)
			bp := make([]uint64, PackedU4BLen(c.k, c.n))
			colSum := make([]int32, c.n)
			PackBU4(bp, colSum, b, c.k, c.n, c.n)
			pa := PackU4(a, c.m, c.k, c.k)
			got := make([]int32, c.m*c.n)
			GemmU4(got, c.n, pa, bp, c.n)
			if !slices.Equal(got, want) {
				t.Fatalf("GemmU4 differs from the reference")
			}
			for j := 0; j < c.n; j++ {
				var s int32
				for kk := 0; kk < c.k; kk++ {
					s += int32(b[kk*c.n+j])
				}
				if colSum[j] != s {
					t.Fatalf("column %d sum %d, want %d", j, colSum[j], s)
				}
			}
			for i := 0; i < c.m; i++ {
				var s int32
				for kk := 0; kk < c.k; kk++ {
					s += int32(a[i*c.k+kk])
				}
				if pa.RowSum[i] != s {
					t.Fatalf("row %d sum %d, want %d", i, pa.RowSum[i], s)
				}
			}
		})
	}
}

// convCodesRef is the direct convolution of code images with zero points: out[o][p] =
// Σ w[o][ci,ky,kx]·(x − zero[ci]) with padding contributing 0 (one group).
func convCodesRef(w []int32, x []uint8, zero []int32, p ConvParams) []int32 {
	oh, ow := p.OutH(), p.OutW()
	k := p.InC * p.KH * p.KW
	out := make([]int32, p.OutC*oh*ow)
	for o := 0; o < p.OutC; o++ {
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				var s int32
				for ci := 0; ci < p.InC; ci++ {
					for ky := 0; ky < p.KH; ky++ {
						for kx := 0; kx < p.KW; kx++ {
							iy, ix := oy*p.StrideH-p.PadT+ky*p.DilH, ox*p.StrideW-p.PadL+kx*p.DilW
							if iy < 0 || iy >= p.InH || ix < 0 || ix >= p.InW {
								continue
							}
							s += w[o*k+(ci*p.KH+ky)*p.KW+kx] * (int32(x[(ci*p.InH+iy)*p.InW+ix]) - zero[ci])
						}
					}
				}
				out[(o*oh+oy)*ow+ox] = s
			}
		}
	}
	return out
}

func TestIntegerConvMatchesDirect(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 10))
	shapes := []ConvParams{
		{InC: 3, InH: 7, InW: 5, OutC: 5, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 1},
		{InC: 4, InH: 9, InW: 9, OutC: 3, KH: 3, KW: 3, StrideH: 2, StrideW: 2, DilH: 1, DilW: 1, PadT: 1, PadL: 0, PadB: 1, PadR: 1, Groups: 1},
		{InC: 2, InH: 6, InW: 8, OutC: 7, KH: 1, KW: 1, StrideH: 2, StrideW: 2, DilH: 1, DilW: 1, Groups: 1},
		{InC: 5, InH: 11, InW: 10, OutC: 6, KH: 3, KW: 2, StrideH: 1, StrideW: 3, DilH: 2, DilW: 1, PadT: 2, PadL: 1, PadB: 0, PadR: 2, Groups: 1},
		// Output widths that are multiples of 8 take Im2colU4's row path.
		{InC: 3, InH: 6, InW: 16, OutC: 5, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 1},
		{InC: 4, InH: 9, InW: 16, OutC: 3, KH: 3, KW: 3, StrideH: 2, StrideW: 2, DilH: 1, DilW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 1},
		{InC: 2, InH: 5, InW: 12, OutC: 9, KH: 3, KW: 5, StrideH: 1, StrideW: 1, DilH: 1, DilW: 2, PadT: 0, PadL: 2, PadB: 2, PadR: 6, Groups: 1},
	}
	for _, p := range shapes {
		for _, zeroCase := range []string{"zero0", "zero15", "mixed"} {
			t.Run(fmt.Sprintf("%+v/%s", p, zeroCase), func(t *testing.T) {
				k := p.InC * p.KH * p.KW
				n := p.OutH() * p.OutW()
				x := make([]uint8, p.InC*p.InH*p.InW)
				for i := range x {
					x[i] = uint8(r.IntN(16))
				}
				wc := make([]uint8, p.OutC*k)
				for i := range wc {
					wc[i] = uint8(r.IntN(16))
				}
				var z int32
				switch zeroCase {
				case "zero15":
					z = 15
				case "mixed":
					z = int32(r.IntN(16))
				}
				zeros := make([]int32, p.InC)
				for i := range zeros {
					zeros[i] = z
				}
				zw := int32(r.IntN(16)) // the weights' zero point
				wd := make([]int32, len(wc))
				w16 := make([]int16, len(wc))
				for i, v := range wc {
					wd[i] = int32(v) - zw
					w16[i] = int16(wd[i])
				}
				want := convCodesRef(wd, x, zeros, p)

				// int16 path.
				bp := make([]int16, PackedBLen(k, n))
				Im2colI16(bp, x, zeros, p.InC, p)
				got := make([]int32, p.OutC*n)
				GemmI16(got, n, PackI16(w16, p.OutC, k, k), bp, n)
				if !slices.Equal(got, want) {
					t.Fatalf("int16 conv differs from the direct convolution")
				}

				// SWAR path: raw code sums, then the zero-point terms.
				bu := make([]uint64, PackedU4BLen(k, n))
				colSum := make([]int32, n)
				Im2colU4(bu, colSum, x, uint8(z), p.InC, p)
				pa := PackU4(wc, p.OutC, k, k)
				raw := make([]int32, p.OutC*n)
				GemmU4(raw, n, pa, bu, n)
				for o := 0; o < p.OutC; o++ {
					for j := 0; j < n; j++ {
						v := raw[o*n+j] - zw*colSum[j] - z*pa.RowSum[o] + int32(k)*zw*z
						if v != want[o*n+j] {
							t.Fatalf("SWAR conv [%d,%d] = %d, want %d", o, j, v, want[o*n+j])
						}
					}
				}
			})
		}
	}
}

// TestGemmWritesOnlyC checks, for odd shapes with a leading dimension wider than C, that the
// integer GEMMs (the SIMD kernels in the browser build) write exactly the M×N entries of C
// and leave every other value as it was, and that extreme operands give exact sums.
func TestGemmWritesOnlyC(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 10))
	const sentinel = -7
	for _, s := range [][3]int{{1, 1, 1}, {1, 3, 5}, {3, 2, 7}, {5, 9, 13}, {6, 300, 17}, {9, 40, 8}} {
		m, k, n := s[0], s[1], s[2]
		ldc := n + 3
		w32 := make([]int32, m*k)
		b := make([]int16, k*n)
		for i := range w32 {
			w32[i] = []int32{1<<31 - 1, -1 << 31, r.Int32() - 1<<30}[r.IntN(3)]
		}
		for i := range b {
			b[i] = []int16{32767, -32768, int16(r.IntN(511) - 255)}[r.IntN(3)]
		}
		bp := make([]int16, PackedBLen(k, n))
		PackBI16(bp, b, k, n, n)
		c := make([]int64, m*ldc+3)
		for i := range c {
			c[i] = sentinel
		}
		GemmI32(c, ldc, PackI32(w32, m, k, k), bp, n)
		for i := 0; i < m; i++ {
			for j := 0; j < ldc; j++ {
				got := c[i*ldc+j]
				if j >= n {
					if got != sentinel {
						t.Fatalf("%dx%dx%d: GemmI32 wrote C[%d][%d] outside the matrix", m, k, n, i, j)
					}
					continue
				}
				var want int64
				for kk := 0; kk < k; kk++ {
					want += int64(w32[i*k+kk]) * int64(b[kk*n+j])
				}
				if got != want {
					t.Fatalf("%dx%dx%d: GemmI32 [%d,%d] = %d, want %d", m, k, n, i, j, got, want)
				}
			}
		}
		for _, v := range c[m*ldc:] {
			if v != sentinel {
				t.Fatalf("%dx%dx%d: GemmI32 wrote past C", m, k, n)
			}
		}
		// The same for the packed 4-bit kernel.
		a4, b4 := make([]uint8, m*k), make([]uint8, k*n)
		for i := range a4 {
			a4[i] = uint8(r.IntN(16))
		}
		for i := range b4 {
			b4[i] = uint8(r.IntN(16))
		}
		words := make([]uint64, PackedU4BLen(k, n))
		colSum := make([]int32, n)
		PackBU4(words, colSum, b4, k, n, n)
		c32 := make([]int32, m*ldc+3)
		for i := range c32 {
			c32[i] = sentinel
		}
		GemmU4(c32, ldc, PackU4(a4, m, k, k), words, n)
		want := make([]int32, m*n)
		GemmU8Ref(want, a4, b4, m, k, n)
		for i := 0; i < m; i++ {
			for j := 0; j < ldc; j++ {
				got := c32[i*ldc+j]
				if (j >= n && got != sentinel) || (j < n && got != want[i*n+j]) {
					t.Fatalf("%dx%dx%d: GemmU4 C[%d][%d] = %d", m, k, n, i, j, got)
				}
			}
		}
		for _, v := range c32[m*ldc:] {
			if v != sentinel {
				t.Fatalf("%dx%dx%d: GemmU4 wrote past C", m, k, n)
			}
		}
	}
}
