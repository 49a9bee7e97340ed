package quant

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Clipper chooses the range a tensor (or one channel) is quantized over, from its statistics.
// bits is the (possibly fractional) bit width the range will be quantized with; oneSided says
// the values are non-negative (the output of a ReLU) and the range starts at 0, the paper's
// "half range". The returned range always lies within [Min, Max] (and starts at 0 when
// oneSided); a tensor with a single value gets lo == hi.
type Clipper interface {
	Name() string
	Range(s Summary, bits float64, oneSided bool) (lo, hi float64, err error)
}

// MinMax does not clip: the range is the tensor's [Min, Max] (the paper's "naive" baseline).
type MinMax struct{}

// Name implements Clipper.
func (MinMax) Name() string { return "none" }

// Range implements Clipper.
func (MinMax) Range(s Summary, bits float64, oneSided bool) (float64, float64, error) {
	if err := checkInput(s, bits); err != nil {
		return 0, 0, err
	}
	if oneSided {
		return 0, math.Max(s.Max, 0), nil
	}
	return s.Min, s.Max, nil
}

// ACIQ clips at the analytically optimal α* = k_M·b (Laplace) or k_M·σ (Gauss) of paper
// eq. 5–6. Two-sided: [max(Min, μ−α), that + 2α], cut at Max. One-sided: α* is that of one bit
// more and the range is [0, max(μ, 0) + α], cut at Max — as in the authors' code.
type ACIQ struct{ Prior Prior }

// Name implements Clipper.
func (a ACIQ) Name() string { return "aciq-" + a.Prior.String() }

// Range implements Clipper.
func (a ACIQ) Range(s Summary, bits float64, oneSided bool) (float64, float64, error) {
	if err := checkInput(s, bits); err != nil {
		return 0, 0, err
	}
	k, err := OptimalAlpha(a.Prior, bits, oneSided)
	if err != nil {
		return 0, 0, err
	}
	scale := s.B
	if a.Prior == Gauss {
		scale = s.Sigma
	}
	lo, hi := ClipAt(s, k*scale, oneSided)
	return lo, hi, nil
}

// ClipAt is ACIQ's range for a clipping value α: two-sided [max(Min, μ−α), that + 2α], cut at
// Max; one-sided [0, max(μ, 0) + α], cut at max(Max, 0) — as in the authors' code. ACIQ uses
// it with α*; the page's MSE(α) chart with every α it draws.
func ClipAt(s Summary, alpha float64, oneSided bool) (lo, hi float64) {
	if oneSided {
		return 0, math.Min(math.Max(s.Mean, 0)+alpha, math.Max(s.Max, 0))
	}
	lo = math.Max(s.Min, s.Mean-alpha)
	return lo, math.Min(lo+2*alpha, s.Max)
}

// KSigma clips at μ ± K·σ (the "2σ" and "3σ" baselines reviewers asked about).
type KSigma struct{ K float64 }

// Name implements Clipper.
func (k KSigma) Name() string { return strconv.FormatFloat(k.K, 'g', -1, 64) + "sigma" }

// Range implements Clipper.
func (k KSigma) Range(s Summary, bits float64, oneSided bool) (float64, float64, error) {
	if err := checkInput(s, bits); err != nil {
		return 0, 0, err
	}
	if !(k.K > 0) {
		return 0, 0, fmt.Errorf("quant: k·σ clipping needs k > 0, got %v", k.K)
	}
	hi := math.Min(s.Max, s.Mean+k.K*s.Sigma)
	if oneSided {
		return 0, math.Max(hi, 0), nil
	}
	return math.Max(s.Min, s.Mean-k.K*s.Sigma), hi, nil
}

// Percentile clips at the P-th percentile (and, two-sided, the (100−P)-th), read from the
// histogram with linear interpolation inside a bin.
type Percentile struct{ P float64 }

// Name implements Clipper.
func (p Percentile) Name() string { return "percentile:" + strconv.FormatFloat(p.P, 'g', -1, 64) }

// Range implements Clipper.
func (p Percentile) Range(s Summary, bits float64, oneSided bool) (float64, float64, error) {
	if err := checkInput(s, bits); err != nil {
		return 0, 0, err
	}
	if !(p.P > 50 && p.P <= 100) {
		return 0, 0, fmt.Errorf("quant: percentile must be in (50, 100], got %v", p.P)
	}
	hi := math.Min(s.Max, s.Hist.quantile(p.P/100))
	if oneSided {
		return 0, math.Max(hi, 0), nil
	}
	return math.Min(math.Max(s.Min, s.Hist.quantile(1-p.P/100)), hi), hi, nil
}

// quantile returns the value below which a fraction q of the histogram's mass lies.
func (h *Histogram) quantile(q float64) float64 {
	var total float64
	for _, c := range h.Counts {
		total += c
	}
	target := q * total
	var cum float64
	for i, c := range h.Counts {
		if cum+c >= target && c > 0 {
			return h.Lo + h.Width*(float64(i)+(target-cum)/c)
		}
		cum += c
	}
	return h.Hi()
}

// KL chooses the threshold that minimises the Kullback-Leibler divergence between the
// histogram and its quantized version (TensorRT's entropy calibration). Two-sided tensors use
// the histogram of |x| with 2^(M−1) levels and a symmetric range; one-sided ones use x ≥ 0
// with 2^M levels and leave out the exact zeros: a ReLU output is half zeros, which code 0
// represents exactly, and that spike merged into the first level would drive the threshold
// towards 0 (at 4 bits, to a few percent of the range).
type KL struct{}

// Name implements Clipper.
func (KL) Name() string { return "kl" }

// Range implements Clipper.
func (KL) Range(s Summary, bits float64, oneSided bool) (float64, float64, error) {
	if err := checkInput(s, bits); err != nil {
		return 0, 0, err
	}
	levels := math.Pow(2, bits)
	if !oneSided {
		levels /= 2
	}
	nq := int(math.Max(1, math.Floor(levels)))
	top := math.Max(math.Abs(s.Min), math.Abs(s.Max))
	if oneSided {
		top = math.Max(s.Max, 0)
	}
	if top == 0 {
		return MinMax{}.Range(s, bits, oneSided)
	}
	nb := min(len(s.Hist.Counts), DefaultBins)
	abs := make([]float64, nb)
	w := top / float64(nb)
	zeros := float64(s.Zeros)
	for i, c := range s.Hist.Counts {
		if oneSided && zeros > 0 && s.Hist.Lo+float64(i)*s.Hist.Width <= 0 && s.Hist.Lo+float64(i+1)*s.Hist.Width > 0 {
			c -= math.Min(c, zeros) // the bin holding 0 loses its exact zeros (their sum is 0)
		}
		if c <= 0 {
			continue
		}
		v := s.Hist.Sums[i] / c
		if oneSided && v < 0 {
			v = 0
		}
		j := min(int(math.Abs(v)/w), nb-1)
		abs[j] += c
	}
	t := klThreshold(abs, nq) * w
	if oneSided {
		return 0, math.Min(t, math.Max(s.Max, 0)), nil
	}
	return math.Max(s.Min, -t), math.Min(s.Max, t), nil
}

// klThreshold returns, in bins, the cut of hist that minimises KL(P‖Q) where P is the
// histogram cut there (outliers folded into the last bin) and Q is P merged into nq levels
// and expanded back over P's non-empty bins. At most 256 cuts are tried.
func klThreshold(hist []float64, nq int) float64 {
	nb := len(hist)
	if nq >= nb {
		return float64(nb)
	}
	step := max(1, (nb-nq)/256)
	best, bestKL := nb, math.Inf(1)
	p := make([]float64, nb)
	q := make([]float64, nb)
	for cut := nq; cut <= nb; cut += step {
		copy(p, hist[:cut])
		var outliers float64
		for _, c := range hist[cut:] {
			outliers += c
		}
		p[cut-1] += outliers
		// Q: merge hist[:cut] into nq chunks, spread each chunk over its non-empty bins.
		clear(q[:cut])
		for k := 0; k < nq; k++ {
			a, b := k*cut/nq, (k+1)*cut/nq
			var sum, nz float64
			for j := a; j < b; j++ {
				sum += hist[j]
				if hist[j] > 0 {
					nz++
				}
			}
			for j := a; j < b; j++ {
				if hist[j] > 0 {
					q[j] = sum / nz
				}
			}
		}
		d := klDivergence(p[:cut], q[:cut])
		if d < bestKL {
			bestKL, best = d, cut
		}
	}
	return float64(best)
}

// klDivergence of normalised p and q; bins where p > 0 but q = 0 get q a small floor.
func klDivergence(p, q []float64) float64 {
	var sp, sq float64
	for i := range p {
		sp += p[i]
		sq += q[i]
	}
	if sp == 0 || sq == 0 {
		return math.Inf(1)
	}
	var d float64
	for i := range p {
		if p[i] == 0 {
			continue
		}
		pi, qi := p[i]/sp, q[i]/sq
		if qi == 0 {
			qi = 1e-10
		}
		d += pi * math.Log(pi/qi)
	}
	return d
}

// MSESearch tries 100 clipping ranges, shrinking symmetrically towards the mean (or, one-sided,
// the top towards 0), and keeps the one whose quantization error, measured on the histogram
// with the quantizer actually used (gemmlowp affine or one-sided unsigned), is least.
type MSESearch struct{}

// Name implements Clipper.
func (MSESearch) Name() string { return "mse" }

// Range implements Clipper.
func (MSESearch) Range(s Summary, bits float64, oneSided bool) (float64, float64, error) {
	lo0, hi0, err := MinMax{}.Range(s, bits, oneSided)
	if err != nil {
		return 0, 0, err
	}
	levels := math.Pow(2, bits)
	h := s.Hist
	if lo0 == hi0 {
		return lo0, hi0, nil
	}
	bestLo, bestHi, best := lo0, hi0, math.Inf(1)
	const steps = 100
	for i := 1; i <= steps; i++ {
		f := float64(i) / steps
		lo, hi := lo0, hi0
		if oneSided {
			hi = hi0 * f
		} else {
			lo = math.Max(lo0, s.Mean-(s.Mean-lo0)*f)
			hi = math.Min(hi0, s.Mean+(hi0-s.Mean)*f)
		}
		q, err := NewAffine(lo, hi, levels)
		if err != nil {
			return 0, 0, err
		}
		if e := h.QuantMSE(q); e < best {
			best, bestLo, bestHi = e, lo, hi
		}
	}
	return bestLo, bestHi, nil
}

// checkInput rejects empty or non-finite statistics and bit widths outside [0, MaxBits].
func checkInput(s Summary, bits float64) error {
	if !(bits >= 0 && bits <= MaxBits) {
		return fmt.Errorf("%w: clipping for %v bits (want 0..%d)", ErrBits, bits, MaxBits)
	}
	if s.Count == 0 || s.Hist == nil {
		return ErrNoData
	}
	if !finite(s.Min) || !finite(s.Max) || !finite(s.Mean) || !finite(s.B) || !finite(s.Sigma) {
		return fmt.Errorf("quant: non-finite statistics (min %v, max %v, mean %v)", s.Min, s.Max, s.Mean)
	}
	return nil
}

// ClipperNames lists the names ParseClipper accepts, for help texts and errors.
var ClipperNames = []string{"none", "aciq-laplace", "aciq-gauss", "ksigma:K (also 2sigma, 3sigma)", "percentile:P", "kl", "mse"}

// ParseClipper returns the Clipper a name stands for: none (alias minmax), aciq-laplace
// (alias aciq), aciq-gauss, ksigma:K or Ksigma (e.g. 2sigma), percentile:P (default 99.99),
// kl, mse.
func ParseClipper(name string) (Clipper, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	base, arg, hasArg := strings.Cut(n, ":")
	num := func(def float64) (float64, error) {
		if !hasArg {
			return def, nil
		}
		v, err := strconv.ParseFloat(arg, 64)
		if err != nil || !finite(v) {
			return 0, fmt.Errorf("quant: clipping %q: bad number %q", name, arg)
		}
		return v, nil
	}
	switch {
	case base == "none" || base == "minmax" || base == "naive":
		return MinMax{}, nil
	case base == "aciq" || base == "aciq-laplace":
		return ACIQ{Laplace}, nil
	case base == "aciq-gauss":
		return ACIQ{Gauss}, nil
	case base == "ksigma":
		k, err := num(2)
		if err != nil {
			return nil, err
		}
		if !(k > 0) {
			return nil, fmt.Errorf("quant: clipping %q: k must be > 0", name)
		}
		return KSigma{k}, nil
	case strings.HasSuffix(base, "sigma") && !hasArg:
		k, err := strconv.ParseFloat(strings.TrimSuffix(base, "sigma"), 64)
		if err != nil || !(k > 0) || !finite(k) {
			break
		}
		return KSigma{k}, nil
	case base == "percentile":
		p, err := num(99.99)
		if err != nil {
			return nil, err
		}
		if !(p > 50 && p <= 100) {
			return nil, fmt.Errorf("quant: clipping %q: percentile must be in (50, 100]", name)
		}
		return Percentile{p}, nil
	case base == "kl" || base == "entropy":
		return KL{}, nil
	case base == "mse":
		return MSESearch{}, nil
	}
	names := append([]string(nil), ClipperNames...)
	sort.Strings(names)
	return nil, fmt.Errorf("quant: unknown clipping method %q (want one of %s)", name, strings.Join(names, ", "))
}
