package quant

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/stat"
)

func TestAccumulatorStreamsExactMoments(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	all := make([]float64, 0, 30000)
	acc := NewAccumulator(0)
	// Batches with growing spread force the histogram to grow both ways.
	for b := 1; b <= 30; b++ {
		batch := make([]float32, 1000)
		for i := range batch {
			batch[i] = float32(r.NormFloat64()*float64(b) + 3)
			all = append(all, float64(batch[i]))
		}
		acc.Add(batch)
	}
	s, err := acc.Summary()
	if err != nil {
		t.Fatal(err)
	}
	mean, std := stat.MeanStdDev(all, nil)
	var b float64
	for _, v := range all {
		b += math.Abs(v - mean)
	}
	b /= float64(len(all))
	if s.Count != int64(len(all)) || math.Abs(s.Mean-mean) > 1e-9*math.Abs(mean) || math.Abs(s.Sigma-std) > 1e-9*std {
		t.Errorf("count %d mean %v σ %v, want %d %v %v", s.Count, s.Mean, s.Sigma, len(all), mean, std)
	}
	if math.Abs(s.B-b)/b > 1e-3 {
		t.Errorf("streamed b = %v, exact %v", s.B, b)
	}
	lo, hi := s.Hist.Lo, s.Hist.Hi()
	if lo > s.Min || hi < s.Max {
		t.Errorf("histogram [%v, %v) does not cover [%v, %v]", lo, hi, s.Min, s.Max)
	}
	var n float64
	for _, c := range s.Hist.Counts {
		n += c
	}
	if n != float64(len(all)) {
		t.Errorf("histogram holds %v values, want %d", n, len(all))
	}
}

func TestAccumulatorBadInput(t *testing.T) {
	acc := NewAccumulator(64)
	if _, err := acc.Summary(); err == nil {
		t.Error("empty accumulator gave a summary")
	}
	acc.Add([]float32{float32(math.NaN()), float32(math.Inf(1))})
	if _, err := acc.Summary(); err == nil {
		t.Error("all-NaN accumulator gave a summary")
	}
	acc.Add([]float32{2, 2, 2})
	s, err := acc.Summary()
	if err != nil {
		t.Fatal(err)
	}
	if s.NonFinite != 2 || s.Count != 3 || s.Mean != 2 || s.Sigma != 0 || s.B != 0 {
		t.Errorf("constant channel: %+v", s)
	}
	// Every clipper gives a finite range on a constant channel.
	for _, name := range []string{"none", "aciq-laplace", "aciq-gauss", "2sigma", "percentile:99.9", "kl", "mse"} {
		c, err := ParseClipper(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, one := range []bool{false, true} {
			lo, hi, err := c.Range(s, 4, one)
			if err != nil || !finite(lo) || !finite(hi) || lo > hi {
				t.Errorf("%s one-sided=%v on a constant: [%v, %v] %v", name, one, lo, hi, err)
			}
		}
	}
}

func TestSummarizeChannels(t *testing.T) {
	data := []float32{1, 2, 10, 20, 3, 4, 30, 40}
	ss, err := SummarizeChannels(data, Layout{2, 2, 2}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ss[0].Mean != 2.5 || ss[1].Mean != 25 || ss[0].Min != 1 || ss[1].Max != 40 || ss[0].B != 1 {
		t.Errorf("channel summaries: %+v %+v", ss[0], ss[1])
	}
}

// TestAccumulatorMinMaxSignedZeros: the range is math.Min/Max's over the finite values, the
// signs of zeros included (−0 < +0), however the zeros, negatives and positives mix, and the
// moments and zero count do not depend on the zeros' signs.
func TestAccumulatorMinMaxSignedZeros(t *testing.T) {
	nz := float32(math.Copysign(0, -1))
	nan := float32(math.NaN())
	for _, xs := range [][]float32{
		{nz}, {0}, {nz, 0}, {0, nz}, {nz, 3}, {0, -2}, {5, nz, 0, nan}, {-1, nz}, {2, 0, nz, -3}, {nan, 0},
	} {
		acc := NewAccumulator(64)
		acc.Add(xs)
		s, err := acc.Summary()
		if err != nil {
			t.Fatal(err)
		}
		lo, hi := math.Inf(1), math.Inf(-1)
		var n, zeros int64
		var sum float64
		for _, x := range xs {
			v := float64(x)
			if math.IsNaN(v) {
				continue
			}
			lo, hi = math.Min(lo, v), math.Max(hi, v)
			n++
			sum += v
			if v == 0 {
				zeros++
			}
		}
		if math.Float64bits(s.Min) != math.Float64bits(lo) || math.Float64bits(s.Max) != math.Float64bits(hi) {
			t.Errorf("%v: range [%v (signbit %v), %v (signbit %v)], want [%v (%v), %v (%v)]", xs,
				s.Min, math.Signbit(s.Min), s.Max, math.Signbit(s.Max), lo, math.Signbit(lo), hi, math.Signbit(hi))
		}
		if s.Count != n || s.Zeros != zeros || s.Mean != sum/float64(n) {
			t.Errorf("%v: count %d zeros %d mean %v, want %d %d %v", xs, s.Count, s.Zeros, s.Mean, n, zeros, sum/float64(n))
		}
	}
}
