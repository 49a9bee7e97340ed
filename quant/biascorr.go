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

// Correction records, per channel, what bias correction did: Q_c ← Scale_c·(Q_c − E[Q_c]) +
// E[Q_c] + Shift_c. Shift is μ_c = E[W_c] − E[Q_c]; Scale is ξ_c (1 when not rescaled).
type Correction struct {
	Shift []float64
	Scale []float64
}

// CorrectBias corrects the quantized weights q of the float weights w in place, per channel
// of l (paper eq. 13). fourbit applies the spread correction around E[Q_c] and then the mean
// shift, as the authors' code does:
//
//	Q_c ← ξ_c·(Q_c − E[Q_c]) + E[W_c],
//
// which restores both the channel's mean and its centred norm exactly (the paper's printed
// form ξ_c·(w + μ_c) would rescale the mean as well). A channel quantized to a constant keeps
// ξ_c = 1. The correction needs no data.
func CorrectBias(w, q []float32, l Layout, mode BiasMode) (Correction, error) {
	if len(w) != len(q) {
		return Correction{}, fmt.Errorf("quant: bias correction of %d weights with %d quantized", len(w), len(q))
	}
	if err := l.Check(len(w)); err != nil {
		return Correction{}, err
	}
	c := Correction{Shift: make([]float64, l.Channels), Scale: make([]float64, l.Channels)}
	n := float64(l.Outer * l.Inner)
	for ch := 0; ch < l.Channels; ch++ {
		c.Scale[ch] = 1
		if mode == BiasOff || n == 0 {
			continue
		}
		var sw, sq float64
		l.Each(w, ch, func(run []float32) {
			for _, v := range run {
				sw += float64(v)
			}
		})
		l.Each(q, ch, func(run []float32) {
			for _, v := range run {
				sq += float64(v)
			}
		})
		mw, mq := sw/n, sq/n
		if !finite(mw) || !finite(mq) {
			return Correction{}, fmt.Errorf("quant: bias correction: channel %d has non-finite weights", ch)
		}
		xi := 1.0
		if mode == BiasMeanNorm {
			var nw, nq float64
			l.Each(w, ch, func(run []float32) {
				for _, v := range run {
					nw += (float64(v) - mw) * (float64(v) - mw)
				}
			})
			l.Each(q, ch, func(run []float32) {
				for _, v := range run {
					nq += (float64(v) - mq) * (float64(v) - mq)
				}
			})
			if nq > 0 {
				xi = math.Sqrt(nw / nq)
			}
		}
		c.Shift[ch], c.Scale[ch] = mw-mq, xi
		l.Each(q, ch, func(run []float32) {
			for i, v := range run {
				run[i] = float32(xi*(float64(v)-mq) + mw)
			}
		})
	}
	return c, nil
}
