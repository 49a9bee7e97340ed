package quant

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

// The reference values of PAPER.md (α*/b for Laplace, α*/σ for Gauss), M = 1..8.
var paperK = []struct {
	bits           int
	laplace, gauss float64
}{
	{1, 1.8628, 1.2399}, {2, 2.8307, 1.7106}, {3, 3.8972, 2.1516}, {4, 5.0286, 2.5591},
	{5, 6.2048, 2.9362}, {6, 7.4131, 3.2869}, {7, 8.6456, 3.6151}, {8, 9.8968, 3.9240},
}

func TestOptimalAlphaMatchesPaperTable(t *testing.T) {
	for _, tc := range paperK {
		for _, p := range []struct {
			prior Prior
			want  float64
		}{{Laplace, tc.laplace}, {Gauss, tc.gauss}} {
			got, err := OptimalAlpha(p.prior, float64(tc.bits), false)
			if err != nil {
				t.Fatalf("%v M=%d: %v", p.prior, tc.bits, err)
			}
			if math.Abs(got-p.want) > 0.001 {
				t.Errorf("%v M=%d: k = %.5f, paper %.4f", p.prior, tc.bits, got, p.want)
			}
		}
	}
}

func TestOptimalAlphaOneSidedIsOneBitMore(t *testing.T) {
	for m := 1; m < 8; m++ {
		one, _ := OptimalAlpha(Laplace, float64(m), true)
		two, _ := OptimalAlpha(Laplace, float64(m+1), false)
		if math.Abs(one-two) > 1e-9 {
			t.Errorf("M=%d: one-sided %v, two-sided M+1 %v", m, one, two)
		}
		// And it is the minimum of HalfLaplaceMSE itself.
		e := HalfLaplaceMSE(one, 1, float64(m))
		for _, d := range []float64{-0.01, 0.01} {
			if HalfLaplaceMSE(one+d, 1, float64(m)) < e {
				t.Errorf("M=%d: HalfLaplaceMSE smaller at α*%+v", m, d)
			}
		}
	}
}

func TestOptimalAlphaFractionalIsMonotone(t *testing.T) {
	prev := 0.0
	for bits := 0.5; bits <= 8; bits += 0.25 {
		k, err := OptimalAlpha(Laplace, bits, false)
		if err != nil {
			t.Fatal(err)
		}
		if !(k > prev) {
			t.Errorf("k(%v) = %v not above k at the previous width %v", bits, k, prev)
		}
		prev = k
	}
}

// clipQuantMSE measures the error of clipping xs to [−α, α] and rounding to the centres of
// 2^bits equal bins, the quantizer of the paper's analysis.
func clipQuantMSE(t testing.TB, xs []float32, alpha float64, bits int) float64 {
	q, err := Bins(-alpha, alpha, Levels(bits))
	if err != nil {
		t.Fatal(err)
	}
	var s float64
	for _, x := range xs {
		d := float64(x) - float64(q.FakeQuant(x))
		s += d * d
	}
	return s / float64(len(xs))
}

// goldenMin returns the α in [lo, hi] that minimises f, to 0.1% of hi.
func goldenMin(f func(float64) float64, lo, hi float64) float64 {
	a, b := lo, hi
	g := (math.Sqrt(5) - 1) / 2
	c, d := b-g*(b-a), a+g*(b-a)
	fc, fd := f(c), f(d)
	for b-a > 0.001*hi {
		if fc < fd {
			b, d, fd = d, c, fc
			c = b - g*(b-a)
			fc = f(c)
		} else {
			a, c, fc = c, d, fd
			d = a + g*(b-a)
			fd = f(d)
		}
	}
	return (a + b) / 2
}

// TestACIQMonteCarlo draws samples from each prior (fixed seed) and clips and quantizes them
// into 2^M bins at α*, M = 2..8. It checks:
//   - the measured error is within 3% of BinnedMSE (the exact error of that quantizer) at
//     every M, and within 3% of the paper's approximation (eq. 5–6) from M = 6 on, where its
//     flat-density assumption holds; below that the test logs the ratio (up to 1.46 at M = 2);
//   - the empirically best α (golden-section search on the measured error) is within 5% of the
//     minimiser of BinnedMSE at every M, and of the paper's α* from M = 4 on.
func TestACIQMonteCarlo(t *testing.T) {
	const n = 4_000_000 // the tail beyond α* at 8 bits holds ~1e-4 of the mass
	for _, prior := range []Prior{Laplace, Gauss} {
		src := rand.NewPCG(1, uint64(prior)+2)
		var dist interface{ Rand() float64 }
		if prior == Laplace {
			dist = distuv.Laplace{Mu: 0, Scale: 1, Src: src}
		} else {
			dist = distuv.Normal{Mu: 0, Sigma: 1, Src: src}
		}
		xs := make([]float32, n)
		for i := range xs {
			xs[i] = float32(dist.Rand())
		}
		search := xs[:n/4]
		for m := 2; m <= 8; m++ {
			k, err := OptimalAlpha(prior, float64(m), false)
			if err != nil {
				t.Fatal(err)
			}
			bins := int(Levels(m))
			paper := ExpectedMSE(prior, false, k, 1, float64(m))
			exact := BinnedMSE(prior, k, 1, bins)
			measured := clipQuantMSE(t, xs, k, m)
			kExact := goldenMin(func(a float64) float64 { return BinnedMSE(prior, a, 1, bins) }, k/2, 2*k)
			best := goldenMin(func(a float64) float64 { return clipQuantMSE(t, search, a, m) }, k/2, 2*k)
			t.Logf("%v M=%d: α*=%.4f  MSE paper %.4g exact %.4g measured %.4g (measured/paper %.3f, /exact %.3f); best α measured %.4f exact %.4f (%.1f%% from α*)",
				prior, m, k, paper, exact, measured, measured/paper, measured/exact, best, kExact, 100*(best-k)/k)
			if r := measured / exact; math.Abs(r-1) > 0.03 {
				t.Errorf("%v M=%d: measured MSE %.4g is %.1f%% from BinnedMSE %.4g", prior, m, measured, 100*(r-1), exact)
			}
			if r := measured / paper; m >= 6 && math.Abs(r-1) > 0.03 {
				t.Errorf("%v M=%d: measured MSE %.4g is %.1f%% from the paper's %.4g", prior, m, measured, 100*(r-1), paper)
			}
			if math.Abs(best-kExact)/kExact > 0.05 {
				t.Errorf("%v M=%d: empirical optimum %.4f is more than 5%% from BinnedMSE's %.4f", prior, m, best, kExact)
			}
			if m >= 4 && math.Abs(best-k)/k > 0.05 {
				t.Errorf("%v M=%d: empirical optimum %.4f is more than 5%% from α* %.4f", prior, m, best, k)
			}
		}
	}
}
