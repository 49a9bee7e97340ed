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
	sums, err := SummarizeChannels(w, l, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []BiasMode{BiasMean, BiasMeanNorm} {
		rows := make([]WeightRow, oc)
		for c := range rows {
			qq, _ := NewAffine(sums[c].Min, sums[c].Max, 16)
			rows[c] = QuantizeRow(w[c*per:(c+1)*per], qq)
		}
		if err := CorrectBias(w, rows, mode); err != nil {
			t.Fatal(err)
		}
		q := make([]float32, per)
		for c, r := range rows {
			r.Weights(q)
			mw, nw := meanNorm(w[c*per : (c+1)*per])
			mq, nq := meanNorm(q)
			if math.Abs(mq-mw) > 1e-6*math.Max(math.Abs(mw), 1e-3) {
				t.Errorf("%v channel %d: mean %v, float %v (offset %v)", mode, c, mq, mw, r.Offset)
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
	rows := []WeightRow{QuantizeRow(w, Quantizer{})} // a channel quantized to a constant (0 bits)
	if err := CorrectBias(w, rows, BiasMeanNorm); err != nil {
		t.Fatal(err)
	}
	if r := rows[0]; r.Gain != 1 || r.Weight(r.Codes[0]) != 2.5 || r.Weight(r.Codes[3]) != 2.5 {
		t.Errorf("constant channel: row %+v", r)
	}
	if err := CorrectBias(w[:3], rows, BiasMean); err == nil {
		t.Error("length mismatch accepted")
	}
	nan := []float32{float32(math.NaN()), 1}
	if err := CorrectBias(nan, []WeightRow{QuantizeRow(nan, Quantizer{})}, BiasMean); err == nil {
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
