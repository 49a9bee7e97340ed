package quant

import (
	"fmt"
	"math"
	"strings"
)

// BiasMode selects the bias correction of quantized weights (paper §4.3, eq. 13).
type BiasMode int

const (
	// BiasOff leaves quantized weights alone.
	BiasOff BiasMode = iota
	// BiasMean shifts each channel by μ_c = E[W_c] − E[Q_c] (the paper's headline runs).
	BiasMean
	// BiasMeanNorm also rescales each channel's spread by ξ_c = ‖W_c − E[W_c]‖ / ‖Q_c − E[Q_c]‖.
	BiasMeanNorm
)

// String returns the mode's name as ParseBiasMode reads it.
func (m BiasMode) String() string {
	switch m {
	case BiasMean:
		return "mean"
	case BiasMeanNorm:
		return "mean+norm"
	}
	return "off"
}

// ParseBiasMode reads off, mean or mean+norm (alias norm).
func ParseBiasMode(s string) (BiasMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "off", "none", "false":
		return BiasOff, nil
	case "mean", "true", "on":
		return BiasMean, nil
	case "mean+norm", "norm", "meannorm", "mean-norm":
		return BiasMeanNorm, nil
	}
	return BiasOff, fmt.Errorf("quant: unknown bias correction %q (want off, mean or mean+norm)", s)
}

// WeightRow is one output channel of a quantized weight matrix in the one form everything
// downstream reads — the simulation, the integer engine, both exports and the charts: the
// integer codes of quantizer Q, and bias correction's gain ξ and offset β (paper §4.3,
// eq. 13), so that the weight of code c is
//
//	w(c) = ξ·Q.Dequantize(c) + β,   β = E[W] − ξ·E[Q],
//
// rounded to float32 (Weight). ξ rescales the row's spread around its mean (1 unless the mode
// is mean+norm); β restores the row's mean, (1 − ξ)·E[Q] + μ with μ = E[W] − E[Q].
type WeightRow struct {
	Q      Quantizer
	Codes  []uint8
	Gain   float64 // ξ
	Offset float64 // β
}

// QuantizeRow quantizes one row of weights with q (codes 0..255: the affine quantizers),
// uncorrected: gain 1, offset 0.
func QuantizeRow(w []float32, q Quantizer) WeightRow {
	r := WeightRow{Q: q, Codes: make([]uint8, len(w)), Gain: 1}
	for i, v := range w {
		r.Codes[i] = uint8(q.Quantize(v))
	}
	return r
}

// Weight returns the corrected weight of code c.
func (r WeightRow) Weight(c uint8) float32 {
	return float32(r.Gain*float64(r.Q.Dequantize(int32(c))) + r.Offset)
}

// Weights writes the row's corrected weights into dst (as long as Codes).
func (r WeightRow) Weights(dst []float32) {
	for i, c := range r.Codes {
		dst[i] = r.Weight(c)
	}
}

// CorrectBias sets every row's gain and offset from the float weights w (the rows one after
// the other, as long as their codes), per output channel (paper eq. 13). fourbit applies the
// spread correction around E[Q] and then the mean shift, as the authors' code does:
//
//	Q ← ξ·(Q − E[Q]) + E[W],  ξ = ‖W − E[W]‖ / ‖Q − E[Q]‖ (mean+norm; 1 for mean),
//
// which restores both the row's mean and its centred norm exactly (the paper's printed form
// ξ·(w + μ) would rescale the mean as well). A row quantized to a constant keeps ξ = 1. The
// correction needs no data.
func CorrectBias(w []float32, rows []WeightRow, mode BiasMode) error {
	at := 0
	for ch, r := range rows {
		n := len(r.Codes)
		if at+n > len(w) {
			return fmt.Errorf("quant: bias correction of %d weights with more codes", len(w))
		}
		wr := w[at : at+n]
		at += n
		rows[ch].Gain, rows[ch].Offset = 1, 0
		if mode == BiasOff || n == 0 {
			continue
		}
		q := make([]float64, n)
		var sw, sq float64
		for i, v := range wr {
			q[i] = float64(r.Q.Dequantize(int32(r.Codes[i])))
			sw += float64(v)
			sq += q[i]
		}
		mw, mq := sw/float64(n), sq/float64(n)
		if !finite(mw) || !finite(mq) {
			return fmt.Errorf("quant: bias correction: channel %d has non-finite weights", ch)
		}
		xi := 1.0
		if mode == BiasMeanNorm {
			var nw, nq float64
			for i, v := range wr {
				nw += (float64(v) - mw) * (float64(v) - mw)
				nq += (q[i] - mq) * (q[i] - mq)
			}
			if nq > 0 {
				xi = math.Sqrt(nw / nq)
			}
		}
		rows[ch].Gain, rows[ch].Offset = xi, mw-xi*mq
	}
	if at != len(w) {
		return fmt.Errorf("quant: bias correction of %d weights with %d codes", len(w), at)
	}
	return nil
}
