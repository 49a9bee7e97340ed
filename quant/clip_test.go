package quant

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// laplaceSummary returns the summary of n Laplace(mu, b) samples.
func laplaceSummary(t *testing.T, n int, mu, b float64, seed uint64) (Summary, []float32) {
	r := rand.New(rand.NewPCG(seed, 1))
	xs := make([]float32, n)
	for i := range xs {
		u := r.Float64() - 0.5
		xs[i] = float32(mu - b*math.Copysign(math.Log(1-2*math.Abs(u)), u))
	}
	s, err := Summarize(xs, 0)
	if err != nil {
		t.Fatal(err)
	}
	return s, xs
}

func TestClippersOnLaplace(t *testing.T) {
	s, xs := laplaceSummary(t, 200000, 0.5, 1, 9)
	k4, _ := OptimalAlpha(Laplace, 4, false)
	tests := []struct {
		name   string
		lo, hi float64 // expected range, with tolerance tol
		tol    float64
	}{
		{"none", s.Min, s.Max, 0},
		{"aciq-laplace", s.Mean - k4*s.B, s.Mean + k4*s.B, 1e-9},
		{"2sigma", s.Mean - 2*s.Sigma, s.Mean + 2*s.Sigma, 1e-9},
		{"percentile:99", 0.5 + math.Log(0.02), 0.5 - math.Log(0.02), 0.05},
	}
	for _, tc := range tests {
		c, err := ParseClipper(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		lo, hi, err := c.Range(s, 4, false)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(lo-tc.lo) > tc.tol || math.Abs(hi-tc.hi) > tc.tol {
			t.Errorf("%s: [%v, %v], want [%v, %v]", tc.name, lo, hi, tc.lo, tc.hi)
		}
	}
	// Every clipping method beats no clipping at 4 bits on Laplace data, in measured MSE.
	mse := func(c Clipper) float64 {
		lo, hi, err := c.Range(s, 4, false)
		if err != nil {
			t.Fatal(err)
		}
		q, err := NewAffine(lo, hi, 16)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]float32, len(xs))
		q.FakeQuantSlice(out, xs)
		return MSE(xs, out)
	}
	naive := mse(MinMax{})
	for _, c := range []Clipper{ACIQ{Laplace}, ACIQ{Gauss}, KSigma{3}, KL{}, MSESearch{}} {
		m := mse(c)
		t.Logf("%-14s 4-bit MSE %.4g (no clipping %.4g)", c.Name(), m, naive)
		if m >= naive {
			t.Errorf("%s: MSE %v not below no clipping %v", c.Name(), m, naive)
		}
	}
	// MSE search finds (nearly) the best of them.
	if ms, aciq := mse(MSESearch{}), mse(ACIQ{Laplace}); ms > aciq*1.02 {
		t.Errorf("MSE search %v worse than ACIQ %v", ms, aciq)
	}
}

func TestClippersOneSided(t *testing.T) {
	_, xs := laplaceSummary(t, 100000, 0, 1, 11)
	for i, x := range xs { // a ReLU output
		xs[i] = max(x, 0)
	}
	s, _ := Summarize(xs, 0)
	for _, name := range []string{"none", "aciq", "aciq-gauss", "3sigma", "percentile", "kl", "mse"} {
		c, _ := ParseClipper(name)
		lo, hi, err := c.Range(s, 4, true)
		if err != nil || lo != 0 || !(hi > 0) || hi > s.Max {
			t.Errorf("%s one-sided: [%v, %v] %v", name, lo, hi, err)
		}
	}
}

func TestParseClipper(t *testing.T) {
	for _, tc := range []struct{ in, name string }{
		{"none", "none"}, {"MinMax", "none"}, {"aciq", "aciq-laplace"}, {"aciq-gauss", "aciq-gauss"},
		{"2sigma", "2sigma"}, {"ksigma:2.5", "2.5sigma"}, {"percentile", "percentile:99.99"},
		{"percentile:99.9", "percentile:99.9"}, {"kl", "kl"}, {"mse", "mse"},
	} {
		c, err := ParseClipper(tc.in)
		if err != nil || c.Name() != tc.name {
			t.Errorf("ParseClipper(%q) = %v, %v; want %s", tc.in, c, err, tc.name)
		}
	}
	for _, bad := range []string{"", "aciq-cauchy", "percentile:40", "percentile:x", "ksigma:-1", "0sigma", "NaNsigma"} {
		_, err := ParseClipper(bad)
		if err == nil {
			t.Errorf("ParseClipper(%q) accepted", bad)
		} else if strings.Contains(bad, "cauchy") && !strings.Contains(err.Error(), "aciq-gauss") {
			t.Errorf("error does not list the methods: %v", err)
		}
	}
}

// TestKLIgnoresReluZeros: on a ReLU output (half exact zeros, half Exp(1)) at 4 bits, the KL
// threshold lands in the body of the distribution, not near 0.
func TestKLIgnoresReluZeros(t *testing.T) {
	_, xs := laplaceSummary(t, 100000, 0, 1, 13)
	for i, x := range xs {
		xs[i] = max(x, 0)
	}
	for _, bins := range []int{512, 2048} {
		s, _ := Summarize(xs, bins)
		_, hi, err := KL{}.Range(s, 4, true)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%d bins: KL threshold %.3f (max %.3f, %d zeros)", bins, hi, s.Max, s.Zeros)
		if hi < 4 || hi > s.Max {
			t.Errorf("%d bins: KL threshold %v for Exp(1) values up to %v", bins, hi, s.Max)
		}
	}
}
