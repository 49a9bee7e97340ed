package quant

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestCorrectBiasRestoresMeanAndNorm(t *testing.T) {
	const oc, per = 16, 3 * 3 * 8
	r := rand.New(rand.NewPCG(7, 8))
	w := make([]float32, oc*per)
	for i := range w {
		w[i] = float32(r.NormFloat64()*0.1 + 0.02*float64(i%oc-oc/2)/oc)
	}
	l := Layout{Outer: 1, Channels: oc, Inner: per}
	for _, mode := range []BiasMode{BiasMean, BiasMeanNorm} {
		q := append([]float32(nil), w...)
		sums, err := SummarizeChannels(w, l, 0)
		if err != nil {
			t.Fatal(err)
		}
		for c := 0; c < oc; c++ {
			qq, _ := NewAffine(sums[c].Min, sums[c].Max, 16)
			l.Each(q, c, func(run []float32) { qq.FakeQuantSlice(run, run) })
		}
		corr, err := CorrectBias(w, q, l, mode)
		if err != nil {
			t.Fatal(err)
		}
		for c := 0; c < oc; c++ {
			mw, nw := meanNorm(w[c*per : (c+1)*per])
			mq, nq := meanNorm(q[c*per : (c+1)*per])
			if math.Abs(mq-mw) > 1e-6*math.Max(math.Abs(mw), 1e-3) {
				t.Errorf("%v channel %d: mean %v, float %v (shift %v)", mode, c, mq, mw, corr.Shift[c])
			}
			if mode == BiasMeanNorm && math.Abs(nq-nw) > 1e-5*nw {
				t.Errorf("%v channel %d: centred norm %v, float %v", mode, c, nq, nw)
			}
		}
	}
}

func meanNorm(x []float32) (mean, norm float64) {
	for _, v := range x {
		mean += float64(v)
	}
	mean /= float64(len(x))
	for _, v := range x {
		norm += (float64(v) - mean) * (float64(v) - mean)
	}
	return mean, math.Sqrt(norm)
}

func TestCorrectBiasEdgeCases(t *testing.T) {
	w := []float32{1, 2, 3, 4}
	q := []float32{0, 0, 0, 0} // a channel quantized to a constant (0 bits)
	corr, err := CorrectBias(w, q, Layout{1, 1, 4}, BiasMeanNorm)
	if err != nil {
		t.Fatal(err)
	}
	if corr.Scale[0] != 1 || q[0] != 2.5 || q[3] != 2.5 {
		t.Errorf("constant channel: q %v, correction %+v", q, corr)
	}
	if _, err := CorrectBias(w, q[:3], Layout{1, 1, 4}, BiasMean); err == nil {
		t.Error("length mismatch accepted")
	}
	if _, err := CorrectBias([]float32{float32(math.NaN()), 1}, []float32{0, 1}, Layout{1, 1, 2}, BiasMean); err == nil {
		t.Error("NaN weights accepted")
	}
	for _, s := range []string{"off", "mean", "mean+norm"} {
		m, err := ParseBiasMode(s)
		if err != nil || m.String() != s {
			t.Errorf("ParseBiasMode(%q) = %v, %v", s, m, err)
		}
	}
	if _, err := ParseBiasMode("median"); err == nil {
		t.Error("unknown mode accepted")
	}
}
