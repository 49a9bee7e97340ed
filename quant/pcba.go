package quant

import (
	"fmt"
	"math"
)

// AllocateBins is PCBA's continuous optimum (paper eq. 11–12): given a quota of totalBins
// bins for all channels, minimising the total rounding noise Σ α_i²/(3·B_i²) under
// Σ B_i = totalBins gives
//
//	B_i = totalBins · α_i^(2/3) / Σ_j α_j^(2/3).
//
// alphas are the channels' ranges (or scales: σ for weights, b or σ for activations). If every
// α is 0 the bins are shared equally.
func AllocateBins(alphas []float64, totalBins float64) ([]float64, error) {
	if len(alphas) == 0 {
		return nil, fmt.Errorf("quant: PCBA needs at least one channel")
	}
	if !(totalBins > 0) || math.IsInf(totalBins, 0) {
		return nil, fmt.Errorf("quant: PCBA needs a positive bin quota, got %v", totalBins)
	}
	w := make([]float64, len(alphas))
	var sum float64
	for i, a := range alphas {
		if !finite(a) || a < 0 {
			return nil, fmt.Errorf("quant: PCBA channel %d has range %v", i, a)
		}
		w[i] = math.Cbrt(a * a)
		sum += w[i]
	}
	for i := range w {
		if sum == 0 {
			w[i] = totalBins / float64(len(w))
		} else {
			w[i] = totalBins * w[i] / sum
		}
	}
	return w, nil
}

// AllocateBits is PCBA with integer widths, as in the authors' code: M_i = round(log2 B_i)
// clamped to [minBits, maxBits], with the quota B = N·2^meanBits shifted for up to 10 rounds
// until the mean width is meanBits. Where rounding leaves the total off by a few bits, fourbit
// then moves single bits greedily — adding where α_i²·4^(−M_i) (the noise a bit removes) is
// largest, removing where it is smallest — so the mean equals round(N·meanBits)/N exactly.
func AllocateBits(alphas []float64, meanBits float64, minBits, maxBits int) ([]int, error) {
	if minBits < 0 || maxBits > MaxBits || minBits > maxBits {
		return nil, fmt.Errorf("%w: PCBA range [%d, %d]", ErrBits, minBits, maxBits)
	}
	if !(meanBits >= float64(minBits) && meanBits <= float64(maxBits)) {
		return nil, fmt.Errorf("%w: PCBA mean %v outside [%d, %d]", ErrBits, meanBits, minBits, maxBits)
	}
	n := len(alphas)
	quota := float64(n) * math.Exp2(meanBits)
	bits := make([]int, n)
	for round := 0; round < 10; round++ {
		bins, err := AllocateBins(alphas, quota)
		if err != nil {
			return nil, err
		}
		total := 0
		for i, b := range bins {
			m := minBits
			if b > 0 {
				m = int(math.Round(math.Log2(b)))
			}
			bits[i] = min(max(m, minBits), maxBits)
			total += bits[i]
		}
		mean := float64(total) / float64(n)
		if math.Abs(mean-meanBits) < 0.5/float64(n) {
			break
		}
		quota *= math.Exp2(meanBits - mean)
	}
	goal := int(math.Round(float64(n) * meanBits))
	total := 0
	for _, b := range bits {
		total += b
	}
	noise := func(i int) float64 { return alphas[i] * alphas[i] * math.Pow(4, -float64(bits[i])) }
	for total != goal {
		pick, best := -1, 0.0
		for i := range bits {
			if total < goal && bits[i] < maxBits && (pick < 0 || noise(i) > best) {
				pick, best = i, noise(i)
			}
			if total > goal && bits[i] > minBits && (pick < 0 || noise(i) < best) {
				pick, best = i, noise(i)
			}
		}
		if pick < 0 {
			break
		}
		if total < goal {
			bits[pick]++
			total++
		} else {
			bits[pick]--
			total--
		}
	}
	return bits, nil
}
