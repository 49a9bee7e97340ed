package quant

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestAllocateBinsContinuous(t *testing.T) {
	bins, err := AllocateBins([]float64{1, 8, 27}, 6*16)
	if err != nil {
		t.Fatal(err)
	}
	// α^(2/3) = 1, 4, 9: shares 1/14, 4/14, 9/14 of 96 bins.
	for i, w := range []float64{1, 4, 9} {
		if math.Abs(bins[i]-96*w/14) > 1e-9 {
			t.Errorf("bins = %v", bins)
		}
	}
	if _, err := AllocateBins(nil, 16); err == nil {
		t.Error("no channels accepted")
	}
	if _, err := AllocateBins([]float64{1, math.NaN()}, 16); err == nil {
		t.Error("NaN α accepted")
	}
}

// TestPCBAOnLaplaceChannels allocates 4 bits on average to 64 Laplace channels whose scales
// span 1.5 decades, quantizes each at its own width with ACIQ, and compares the total MSE with
// a uniform 4-bit allocation.
func TestPCBAOnLaplaceChannels(t *testing.T) {
	const channels, per = 64, 4000
	r := rand.New(rand.NewPCG(21, 22))
	data := make([][]float32, channels)
	alphas := make([]float64, channels)
	sums := make([]Summary, channels)
	for c := range data {
		b := math.Pow(10, 1.5*float64(c)/float64(channels-1)) // 1 .. 31.6
		data[c] = make([]float32, per)
		for i := range data[c] {
			u := r.Float64() - 0.5
			data[c][i] = float32(-b * math.Copysign(math.Log(1-2*math.Abs(u)), u))
		}
		s, err := Summarize(data[c], 256)
		if err != nil {
			t.Fatal(err)
		}
		sums[c], alphas[c] = s, s.B
	}
	bits, err := AllocateBits(alphas, 4, 0, 8)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, b := range bits {
		total += b
	}
	mean := float64(total) / channels
	if math.Abs(mean-4) > 0.05 {
		t.Fatalf("mean bits %v, want 4.00 ± 0.05 (%v)", mean, bits)
	}
	mse := func(bitsOf func(c int) int) float64 {
		var e float64
		for c := range data {
			lo, hi, err := ACIQ{Laplace}.Range(sums[c], float64(bitsOf(c)), false)
			if err != nil {
				t.Fatal(err)
			}
			q, err := NewAffine(lo, hi, Levels(bitsOf(c)))
			if err != nil {
				t.Fatal(err)
			}
			out := make([]float32, per)
			q.FakeQuantSlice(out, data[c])
			e += MSE(data[c], out)
		}
		return e
	}
	pcba, uniform := mse(func(c int) int { return bits[c] }), mse(func(int) int { return 4 })
	t.Logf("PCBA bits %v (mean %.3f); total MSE PCBA %.4g, uniform 4-bit %.4g, ratio %.3f", bits, mean, pcba, uniform, pcba/uniform)
	if pcba >= uniform {
		t.Errorf("PCBA MSE %v not below uniform %v", pcba, uniform)
	}
	for c := 1; c < channels; c++ {
		if bits[c] < bits[c-1] {
			t.Errorf("wider channel %d got fewer bits (%d) than channel %d (%d)", c, bits[c], c-1, bits[c-1])
		}
	}
}

func TestAllocateBitsExactMean(t *testing.T) {
	for _, tc := range []struct {
		alphas []float64
		mean   float64
	}{
		{[]float64{1, 1, 1, 1}, 4},
		{[]float64{0, 0, 0}, 2},
		{[]float64{1e-6, 1, 1e6}, 4},
		{[]float64{5}, 3},
		{[]float64{1, 2, 3, 4, 5, 6, 7}, 2.5},
	} {
		bits, err := AllocateBits(tc.alphas, tc.mean, 0, 8)
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, b := range bits {
			if b < 0 || b > 8 {
				t.Errorf("%v: bit width %d out of [0, 8]", tc.alphas, b)
			}
			total += b
		}
		if want := int(math.Round(tc.mean * float64(len(bits)))); total != want {
			t.Errorf("%v mean %v: bits %v total %d, want %d", tc.alphas, tc.mean, bits, total, want)
		}
	}
	for _, bad := range []struct {
		mean     float64
		min, max int
	}{{9, 0, 8}, {-1, 0, 8}, {math.NaN(), 0, 8}, {4, 5, 3}, {4, 0, 9}} {
		if _, err := AllocateBits([]float64{1, 2}, bad.mean, bad.min, bad.max); err == nil {
			t.Errorf("AllocateBits(mean %v, [%d,%d]) accepted", bad.mean, bad.min, bad.max)
		}
	}
}
