package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// naiveConv is the reference: a direct convolution with float64 accumulation.
func naiveConv(src, w, bias []float32, p ConvParams) []float32 {
	oh, ow := p.OutH(), p.OutW()
	icg, ocg := p.InC/p.Groups, p.OutC/p.Groups
	out := make([]float32, p.OutC*oh*ow)
	for oc := 0; oc < p.OutC; oc++ {
		g := oc / ocg
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				var s float64
				if bias != nil {
					s = float64(bias[oc])
				}
				for ci := 0; ci < icg; ci++ {
					for ky := 0; ky < p.KH; ky++ {
						for kx := 0; kx < p.KW; kx++ {
							iy := oy*p.StrideH - p.PadT + ky*p.DilH
							ix := ox*p.StrideW - p.PadL + kx*p.DilW
							if iy < 0 || iy >= p.InH || ix < 0 || ix >= p.InW {
								continue
							}
							s += float64(src[((g*icg+ci)*p.InH+iy)*p.InW+ix]) * float64(w[((oc*icg+ci)*p.KH+ky)*p.KW+kx])
						}
					}
				}
				out[(oc*oh+oy)*ow+ox] = float32(s)
			}
		}
	}
	return out
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// randCodes returns n random codes in 0..levels−1.
func randCodes(r *rand.Rand, n, levels int) []uint8 {
	s := make([]uint8, n)
	for i := range s {
		s[i] = uint8(r.IntN(levels))
	}
	return s
}

func TestConvMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cases := []ConvParams{
		{InC: 3, InH: 32, InW: 32, OutC: 16, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 1},
		{InC: 16, InH: 9, InW: 7, OutC: 6, KH: 3, KW: 3, StrideH: 2, StrideW: 2, DilH: 1, DilW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 1},
		{InC: 8, InH: 11, InW: 5, OutC: 8, KH: 3, KW: 3, StrideH: 1, StrideW: 2, DilH: 1, DilW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 8},
		{InC: 6, InH: 10, InW: 10, OutC: 9, KH: 3, KW: 2, StrideH: 1, StrideW: 1, DilH: 2, DilW: 3, PadT: 2, PadL: 0, PadB: 1, PadR: 3, Groups: 3},
		{InC: 5, InH: 1, InW: 1, OutC: 7, KH: 1, KW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, Groups: 1},
		{InC: 4, InH: 6, InW: 6, OutC: 3, KH: 2, KW: 2, StrideH: 2, StrideW: 2, DilH: 1, DilW: 1, PadB: 1, PadR: 1, Groups: 1},
	}
	for i := 0; i < 20; i++ { // random shapes
		g := 1 + r.IntN(3)
		p := ConvParams{InC: g * (1 + r.IntN(5)), InH: 1 + r.IntN(12), InW: 1 + r.IntN(12), OutC: g * (1 + r.IntN(6)),
			KH: 1 + r.IntN(3), KW: 1 + r.IntN(3), StrideH: 1 + r.IntN(2), StrideW: 1 + r.IntN(2), DilH: 1 + r.IntN(2), DilW: 1,
			PadT: r.IntN(2), PadL: r.IntN(2), PadB: r.IntN(2), PadR: r.IntN(2), Groups: g}
		if p.Check() == nil {
			cases = append(cases, p)
		}
	}
	for _, p := range cases {
		w := randSlice(r, p.OutC*p.InC/p.Groups*p.KH*p.KW)
		bias := randSlice(r, p.OutC)
		src := randSlice(r, 2*p.InC*p.InH*p.InW)
		c, err := NewConv(p, w, bias)
		if err != nil {
			t.Fatalf("%+v: %v", p, err)
		}
		outLen := p.OutC * p.OutH() * p.OutW()
		got := make([]float32, 2*outLen)
		c.ForwardBatch(got, src, 2)
		for img := 0; img < 2; img++ {
			want := naiveConv(src[img*p.InC*p.InH*p.InW:], w, bias, p)
			for j := range want {
				if d := math.Abs(float64(got[img*outLen+j] - want[j])); d > 1e-4*(1+math.Abs(float64(want[j]))) {
					t.Fatalf("%+v image %d: out[%d] = %v, want %v", p, img, j, got[img*outLen+j], want[j])
				}
			}
		}
	}
}

func TestSgemm(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, s := range [][3]int{{1, 1, 1}, {4, 4, 4}, {5, 7, 3}, {16, 144, 1024}, {13, 1, 9}} {
		m, k, n := s[0], s[1], s[2]
		a, b := randSlice(r, m*k), randSlice(r, k*n)
		c := make([]float32, m*n)
		Sgemm(c, a, b, m, k, n)
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				var want float64
				for kk := 0; kk < k; kk++ {
					want += float64(a[i*k+kk]) * float64(b[kk*n+j])
				}
				if math.Abs(float64(c[i*n+j])-want) > 1e-4*(1+math.Abs(want)) {
					t.Fatalf("%v: C[%d,%d] = %v, want %v", s, i, j, c[i*n+j], want)
				}
			}
		}
	}
}

func TestConvParamsCheck(t *testing.T) {
	bad := []ConvParams{
		{},
		{InC: 3, InH: 4, InW: 4, OutC: 4, KH: 5, KW: 5, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, Groups: 1},
		{InC: 3, InH: 4, InW: 4, OutC: 4, KH: 1, KW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, Groups: 2},
		{InC: 3, InH: 4, InW: 4, OutC: 4, KH: 1, KW: 1, StrideH: 0, StrideW: 1, DilH: 1, DilW: 1, Groups: 1},
		{InC: 3, InH: 4, InW: 4, OutC: 4, KH: 1, KW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, Groups: 1, PadT: -1},
	}
	for _, p := range bad {
		if p.Check() == nil {
			t.Errorf("%+v accepted", p)
		}
	}
	if _, err := NewConv(ConvParams{InC: 1, InH: 2, InW: 2, OutC: 1, KH: 1, KW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, Groups: 1}, []float32{1, 2}, nil); err == nil {
		t.Error("wrong weight count accepted")
	}
}
