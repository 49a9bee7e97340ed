package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// qconvRef is the plain definition of QConv: a direct convolution of the codes with exact
// integer sums, then Requantize.
func qconvRef(p ConvParams, w []uint8, wZero []int32, src []uint8, zero uint8, rq []QRequant) []uint8 {
	oh, ow := p.OutH(), p.OutW()
	n := oh * ow
	k := p.InC * p.KH * p.KW
	out := make([]uint8, p.OutC*n)
	v, d := make([]int32, n), make([]int32, n)
	for o := 0; o < p.OutC; o++ {
		for j := 0; j < n; j++ {
			oy, ox := j/ow, j%ow
			var sv, sd int32
			for kk := 0; kk < k; kk++ {
				ci, ky, kx := kk/(p.KH*p.KW), kk/p.KW%p.KH, kk%p.KW
				iy, ix := oy*p.StrideH-p.PadT+ky*p.DilH, ox*p.StrideW-p.PadL+kx*p.DilW
				a := int32(zero) // padding is the real value 0
				if iy >= 0 && iy < p.InH && ix >= 0 && ix < p.InW {
					a = int32(src[(ci*p.InH+iy)*p.InW+ix])
				}
				sv += (int32(w[o*k+kk]) - wZero[o]) * (a - int32(zero))
				sd += a - int32(zero)
			}
			v[j], d[j] = sv, sd
		}
		Requantize(out[o*n:(o+1)*n], v, d, rq[o])
	}
	return out
}

func TestQConvMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 11))
	conv := func(inC, h, w, outC, kh, kw, s, dil, pad int) ConvParams {
		return ConvParams{InC: inC, InH: h, InW: w, OutC: outC, KH: kh, KW: kw, StrideH: s, StrideW: s,
			DilH: dil, DilW: dil, PadT: pad, PadL: pad, PadB: pad, PadR: pad, Groups: 1}
	}
	asym := conv(5, 9, 11, 6, 3, 2, 1, 1, 0)
	asym.PadT, asym.PadL, asym.PadB, asym.PadR = 0, 1, 2, 1
	cases := []struct {
		name   string
		p      ConvParams
		wBits  int // weight code width
		inBits int // input code width
	}{
		{"R20 first stage, 4-bit", ResNet20Convs[0], 4, 4},
		{"R20 last stage, 8-bit inputs", ResNet20Convs[2], 4, 8},
		{"stride 2, 8-bit", conv(16, 32, 32, 32, 3, 3, 2, 1, 1), 4, 8},
		{"odd K, width 13", conv(1, 7, 13, 3, 3, 3, 1, 1, 1), 4, 4},
		{"odd K stride 2, width 5", conv(3, 11, 9, 5, 3, 3, 2, 1, 1), 8, 8},
		{"1x1, 8-bit weights", conv(7, 6, 10, 9, 1, 1, 1, 1, 0), 8, 4},
		{"dilated", conv(4, 12, 12, 4, 3, 3, 1, 2, 2), 3, 5},
		{"asymmetric padding", asym, 2, 4},
		{"stride 3 (Go kernels)", conv(3, 10, 10, 5, 3, 3, 3, 1, 1), 4, 4},
		{"large K, 8 bits", conv(64, 4, 8, 5, 3, 3, 1, 1, 1), 8, 8},
		// The relaxed-SIMD kernels' edges: K mod 4 = 1, 2, 3; stride 2; 7-bit codes (the
		// instruction's operand range at both ends).
		{"1x1 of one channel (K = 1)", conv(1, 5, 9, 3, 1, 1, 1, 1, 0), 4, 4},
		{"stride 2, 4-bit, K mod 4 = 2", conv(2, 9, 9, 5, 3, 3, 2, 1, 1), 4, 4},
		{"7-bit weights and inputs, K mod 4 = 3", conv(3, 8, 8, 6, 3, 3, 1, 1, 1), 7, 7},
		{"7-bit weights, 8-bit inputs, K mod 4 = 1", conv(5, 6, 7, 4, 1, 1, 1, 1, 0), 7, 8},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			k := p.InC * p.KH * p.KW
			w := randCodes(r, p.OutC*k, 1<<tc.wBits)
			wZero := make([]int32, p.OutC)
			rq := make([]QRequant, p.OutC)
			for o := range rq {
				wZero[o] = r.Int32N(1 << tc.wBits)
				// Scales that land the outputs across the code range (and past both ends).
				top := float32(int(1)<<tc.wBits) * float32(int(1)<<tc.inBits) * float32(k) / 4
				rq[o] = QRequant{Mul: (0.5 + r.Float32()) * 16 / top, Off: r.Float32()*0.02 - 0.01, Add: float32(r.IntN(8)) + r.Float32(), Lo: 0, Hi: 15}
				if o%3 == 1 {
					rq[o].Hi = 255
					rq[o].Mul *= 16
				}
			}
			zero := uint8(r.IntN(1 << tc.inBits))
			maxCode := uint8(1<<tc.inBits - 1)
			c, err := NewQConv(p, w, wZero, zero, maxCode, rq)
			if err != nil {
				t.Fatal(err)
			}
			var s QScratch
			for img := 0; img < 3; img++ {
				src := randCodes(r, p.InC*p.InH*p.InW, int(maxCode)+1)
				want := qconvRef(p, w, wZero, src, zero, rq)
				n := p.OutH() * p.OutW()
				got := make([]uint8, p.OutC*n+5)
				for i := range got {
					got[i] = 0xEE
				}
				c.Forward(got, src, &s)
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("image %d: code %d (row %d, pixel %d) = %d, want %d", img, i, i/n, i%n, got[i], want[i])
					}
				}
				for i := len(want); i < len(got); i++ {
					if got[i] != 0xEE {
						t.Fatalf("wrote past the output at %d", i)
					}
				}
				spread := map[uint8]bool{}
				for _, v := range want {
					spread[v] = true
				}
				if len(spread) < 4 {
					t.Fatalf("outputs take only %d codes: the test does not exercise the requantization", len(spread))
				}
			}
		})
	}
}

func TestNewQConvRejects(t *testing.T) {
	p := ResNet20Convs[2]
	k := p.InC * 9
	w := make([]uint8, p.OutC*k)
	zw := make([]int32, p.OutC)
	rq := make([]QRequant, p.OutC)
	for i := range rq {
		rq[i] = QRequant{Mul: 1, Hi: 15}
	}
	bad := func(f func(rq []QRequant)) []QRequant {
		c := append([]QRequant(nil), rq...)
		f(c)
		return c
	}
	nan := float32(0)
	nan = nan / nan
	grouped := p
	grouped.Groups = 2
	for i, err := range []error{
		func() error { _, err := NewQConv(p, w[:10], zw, 0, 15, rq); return err }(),
		func() error { _, err := NewQConv(grouped, w, zw, 0, 15, rq); return err }(),
		func() error {
			_, err := NewQConv(p, w, zw, 0, 15, bad(func(r []QRequant) { r[3].Mul = nan }))
			return err
		}(),
		func() error {
			_, err := NewQConv(p, w, zw, 0, 15, bad(func(r []QRequant) { r[0].Lo, r[0].Hi = 9, 3 }))
			return err
		}(),
		func() error {
			_, err := NewQConv(p, w, zw, 0, 15, bad(func(r []QRequant) { r[0].Hi = 300 }))
			return err
		}(),
	} {
		if err == nil {
			t.Errorf("case %d: no error", i)
		}
	}
}

func TestAddCodesMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 12))
	for _, s := range []struct{ batch, channels, inner int }{{1, 1, 16}, {2, 3, 37}, {1, 5, 13}, {3, 16, 1024}, {2, 64, 64}, {1, 2, 1}} {
		n := s.batch * s.channels * s.inner
		a, b := make([]uint8, n), make([]uint8, n)
		for i := range a {
			a[i], b[i] = uint8(r.IntN(256)), uint8(r.IntN(16))
		}
		rq := make([]AddRequant, s.channels)
		for c := range rq {
			rq[c] = AddRequant{Za: float64(r.IntN(20)), Sa: r.Float64() * 0.05, Zb: float64(r.IntN(8)), Sb: r.Float64() * 0.5,
				Zo: float64(r.IntN(30)), So: 0.01 + r.Float64()*0.1, Lo: float64(r.IntN(3)), Hi: float64(200 + r.IntN(56))}
			switch c % 4 {
			case 1: // exact ties: y/So + Zo = a − ½ + Zo, rounded away from zero
				rq[c].Za, rq[c].Sa, rq[c].Sb, rq[c].So = 0.5, 1, 0, 1
			case 2: // a constant output quantizer
				rq[c].So = 0
			}
		}
		got := make([]uint8, n+3)
		AddCodes(got, a, b, s.inner, rq)
		codes := map[uint8]bool{}
		for i := 0; i < n; i++ {
			q := rq[(i/s.inner)%s.channels]
			// quant.Quantizer's Dequantize and Quantize, spelled out.
			ya := float32((float64(a[i]) - q.Za) * q.Sa)
			yb := float32((float64(b[i]) - q.Zb) * q.Sb)
			v := math.Round(q.Zo)
			if q.So != 0 {
				v = math.Round(float64(ya+yb)/q.So + q.Zo)
			}
			want := uint8(math.Min(math.Max(v, q.Lo), q.Hi))
			if got[i] != want {
				t.Fatalf("%+v: code %d = %d, want %d (channel %+v, a %d b %d)", s, i, got[i], want, q, a[i], b[i])
			}
			codes[want] = true
		}
		if got[n] != 0 || got[n+1] != 0 || got[n+2] != 0 {
			t.Fatalf("%+v: wrote past the output", s)
		}
		if n >= 64 && len(codes) < 20 {
			t.Fatalf("%+v: outputs take only %d codes", s, len(codes))
		}
	}
}

// TestSgemmPackedBitExact checks SgemmPacked (the SIMD128 kernel in the simd wasm build)
// against the Go kernel bit for bit: odd shapes, with and without bias, signed zeros.
func TestSgemmPackedBitExact(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 13))
	for _, s := range [][3]int{{1, 1, 1}, {2, 3, 4}, {3, 5, 7}, {16, 27, 1024}, {5, 17, 9}, {7, 33, 13}, {64, 576, 64}, {2, 1, 12}} {
		m, k, n := s[0], s[1], s[2]
		a, b := make([]float32, m*k), make([]float32, k*n)
		for i := range a {
			a[i] = float32(r.NormFloat64())
			if i%7 == 3 {
				a[i] = float32(math.Copysign(0, -1))
			}
		}
		for i := range b {
			b[i] = float32(r.NormFloat64() * 1e3)
		}
		bias := make([]float32, m)
		for i := range bias {
			bias[i] = float32(r.NormFloat64())
		}
		pa := PackA(a, m, k, k)
		bp := make([]float32, PackedBLen(k, n))
		PackB(bp, b, k, n, n)
		for _, bs := range [][]float32{nil, bias} {
			ldc := n + 3
			got, want := make([]float32, m*ldc), make([]float32, m*ldc)
			for i := range got {
				got[i], want[i] = -7, -7
			}
			SgemmPacked(got, ldc, pa, bp, n, bs)
			sgemmGo(want, ldc, pa, bp, n, bs)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%v bias %v: c[%d] = %v, want %v", s, bs != nil, i, got[i], want[i])
				}
			}
		}
	}
}

// TestQuantizeCodesMatchesQuantize checks QuantizeCodes against quant.Quantizer.Quantize's
// arithmetic spelled out: NaN, ±Inf, exact ties, a zero scale, clamps, tails.
func TestQuantizeCodesMatchesQuantize(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 14))
	nan := float32(math.NaN())
	for _, s := range []struct{ batch, channels, inner int }{{1, 1, 4}, {2, 3, 37}, {1, 5, 3}, {3, 16, 1024}, {1, 2, 1}} {
		n := s.batch * s.channels * s.inner
		x := make([]float32, n)
		for i := range x {
			switch i % 11 {
			case 3:
				x[i] = nan
			case 5:
				x[i] = float32(math.Inf(1 - 2*(i%2)))
			case 7:
				x[i] = float32(r.IntN(40)) + 0.5 // a tie where the scale is 1
			default:
				x[i] = float32(r.NormFloat64() * 4)
			}
		}
		qs := make([]Affine, s.channels)
		for c := range qs {
			qs[c] = Affine{Scale: 0.01 + r.Float64()*0.1, Zero: float64(r.IntN(128)), Lo: 0, Hi: float64(15 + r.IntN(241))}
			switch c % 3 {
			case 1:
				qs[c].Scale, qs[c].Zero = 1, 3
			case 2:
				qs[c].Scale = 0
			}
		}
		got := make([]uint8, n+2)
		QuantizeCodes(got, x, s.inner, qs)
		for i, f := range x {
			q := qs[(i/s.inner)%s.channels]
			v := float64(f)
			if v != v {
				v = 0
			}
			c := math.Round(q.Zero)
			if q.Scale != 0 {
				c = math.Round(v/q.Scale + q.Zero)
			}
			want := uint8(math.Min(math.Max(c, q.Lo), q.Hi))
			if got[i] != want {
				t.Fatalf("%+v: code %d of %v = %d, want %d (%+v)", s, i, f, got[i], want, q)
			}
		}
		if got[n] != 0 || got[n+1] != 0 {
			t.Fatalf("%+v: wrote past the output", s)
		}
	}
}
