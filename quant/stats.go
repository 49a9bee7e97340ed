package quant

import (
	"errors"
	"fmt"
	"math"
)

// Summary holds the statistics of one tensor or channel that the clipping methods use: the
// range, the moments of ACIQ's priors (b = mean|x−μ| for Laplace, σ for Gauss) and a
// histogram for the methods that need the shape of the distribution.
type Summary struct {
	Count     int64   // finite values seen
	NonFinite int64   // NaN or ±Inf values seen (and left out of everything else)
	Zeros     int64   // values exactly 0 (a ReLU's output has many; they quantize exactly)
	Min, Max  float64 // range of the finite values
	Mean      float64 // μ
	B         float64 // mean absolute deviation from μ, the Laplace scale estimate
	Sigma     float64 // unbiased standard deviation, the Gauss scale estimate
	Hist      *Histogram
}

// ErrNoData reports statistics asked of a tensor with no finite value.
var ErrNoData = errors.New("quant: no finite values")

// Histogram counts values in equal-width bins over [Lo, Lo+Width·len(Counts)). Each bin
// also keeps the sum of its values, so that the mean absolute deviation is exact for every
// bin that lies wholly on one side of the mean.
type Histogram struct {
	Lo, Width float64
	Counts    []float64
	Sums      []float64
}

// Hi returns the upper edge of the histogram.
func (h *Histogram) Hi() float64 { return h.Lo + h.Width*float64(len(h.Counts)) }

// DefaultBins is the histogram resolution of accumulators made with NewAccumulator(0).
const DefaultBins = 2048

// Accumulator gathers a Summary from a stream of values, batch after batch, in bounded
// memory. Mean and variance are combined exactly (Chan et al.); the histogram starts on the
// first batch's range and doubles its width, merging bin pairs, whenever a value falls outside.
// The zero Accumulator is not usable: call NewAccumulator.
type Accumulator struct {
	n, bad   int64
	zeros    int64
	min, max float64
	mean, m2 float64
	hist     Histogram
}

// NewAccumulator returns an accumulator with the given (even, ≥ 16) number of histogram bins;
// bins = 0 selects DefaultBins.
func NewAccumulator(bins int) *Accumulator {
	if bins <= 0 {
		bins = DefaultBins
	}
	if bins < 16 {
		bins = 16
	}
	bins += bins % 2
	return &Accumulator{
		min: math.Inf(1), max: math.Inf(-1),
		hist: Histogram{Counts: make([]float64, bins), Sums: make([]float64, bins)},
	}
}

// Add feeds a batch of values. Non-finite values are counted and otherwise ignored.
//
// Two passes: the count, sum and range; then, in one loop, the squared deviations from the
// batch mean and the histogram (each sum in the values' order, so the results do not depend
// on how the passes are arranged). Exact zeros — half of a ReLU's output — go to their bin in
// one step: adding 0 to a bin's sum changes nothing, and counts are exact integers.
func (a *Accumulator) Add(xs []float32) {
	var n, zeros int64
	var sum float64
	var negZero, posZero bool
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range xs {
		v := float64(x)
		if !finite(v) {
			a.bad++
			continue
		}
		n++
		if v == 0 { // adds nothing to the sum; its sign is folded into lo, hi below
			zeros++
			if math.Signbit(v) {
				negZero = true
			} else {
				posZero = true
			}
			continue
		}
		sum += v
		// Plain comparisons, not the min/max builtins: the same results for non-zero finite
		// values, inline on every port (in WebAssembly the builtins are runtime calls).
		if v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	if negZero { // min/max's order of zeros: −0 < +0
		lo, hi = min(lo, math.Copysign(0, -1)), max(hi, math.Copysign(0, -1))
	}
	if posZero {
		lo, hi = min(lo, 0), max(hi, 0)
	}
	a.zeros += zeros
	if n == 0 {
		return
	}
	mean := sum / float64(n)

	h := &a.hist
	if h.Width == 0 {
		h.Lo = lo
		h.Width = (hi - lo) / float64(len(h.Counts))
		if h.Width == 0 {
			h.Width = math.Max(math.Abs(lo), 1) * 1e-6
		}
		// Leave room so the top value falls inside the last bin.
		h.Width *= 1 + 1e-9
	}
	for lo < h.Lo || hi >= h.Hi() {
		a.grow(lo < h.Lo)
	}
	nb := len(h.Counts)
	bin := func(v float64) int {
		i := int((v - h.Lo) / h.Width)
		if i >= nb {
			i = nb - 1
		} else if i < 0 {
			i = 0
		}
		return i
	}
	var m2 float64
	for _, x := range xs {
		v := float64(x)
		if !finite(v) {
			continue
		}
		m2 += (v - mean) * (v - mean)
		if v == 0 {
			continue
		}
		i := bin(v)
		h.Counts[i]++
		h.Sums[i] += v
	}
	if zeros > 0 {
		h.Counts[bin(0)] += float64(zeros)
	}

	// Chan et al.'s pairwise combination of (n, mean, M2).
	tot := a.n + n
	d := mean - a.mean
	a.mean += d * float64(n) / float64(tot)
	a.m2 += m2 + d*d*float64(a.n)*float64(n)/float64(tot)
	a.n = tot
	a.min, a.max = math.Min(a.min, lo), math.Max(a.max, hi)
}

// grow doubles the histogram's width, extending it downwards (down) or upwards.
func (a *Accumulator) grow(down bool) {
	h := &a.hist
	nb := len(h.Counts)
	half := nb / 2
	merged := make([]float64, half)
	sums := make([]float64, half)
	for i := 0; i < half; i++ {
		merged[i] = h.Counts[2*i] + h.Counts[2*i+1]
		sums[i] = h.Sums[2*i] + h.Sums[2*i+1]
	}
	clear(h.Counts)
	clear(h.Sums)
	off := 0
	if down {
		off = half
		h.Lo -= float64(nb) * h.Width
	}
	copy(h.Counts[off:], merged)
	copy(h.Sums[off:], sums)
	h.Width *= 2
}

// Count returns the number of finite values seen so far.
func (a *Accumulator) Count() int64 { return a.n }

// Summary returns the statistics of everything fed so far. It fails with ErrNoData if no
// finite value was seen. The histogram is a copy.
func (a *Accumulator) Summary() (Summary, error) {
	if a.n == 0 {
		return Summary{NonFinite: a.bad}, fmt.Errorf("%w (%d non-finite)", ErrNoData, a.bad)
	}
	s := Summary{Count: a.n, NonFinite: a.bad, Zeros: a.zeros, Min: a.min, Max: a.max, Mean: a.mean}
	if a.n > 1 {
		s.Sigma = math.Sqrt(a.m2 / float64(a.n-1))
	}
	h := Histogram{Lo: a.hist.Lo, Width: a.hist.Width,
		Counts: append([]float64(nil), a.hist.Counts...), Sums: append([]float64(nil), a.hist.Sums...)}
	s.Hist = &h
	s.B = h.meanAbsDev(a.mean, float64(a.n))
	return s, nil
}

// meanAbsDev returns mean|x−μ| from the bin sums: exact except in the bin holding μ, where
// the values are taken to be spread evenly.
func (h *Histogram) meanAbsDev(mu, n float64) float64 {
	var s float64
	for i, c := range h.Counts {
		if c == 0 {
			continue
		}
		lo := h.Lo + float64(i)*h.Width
		hi := lo + h.Width
		switch {
		case lo >= mu:
			s += h.Sums[i] - c*mu
		case hi <= mu:
			s += c*mu - h.Sums[i]
		default:
			// Uniform within the bin: E|x−μ| = ((hi−μ)² + (μ−lo)²) / (2·width).
			s += c * ((hi-mu)*(hi-mu) + (mu-lo)*(mu-lo)) / (2 * h.Width)
		}
	}
	return max(s/n, 0) // a constant channel's bins cancel to a rounding error, never below 0
}

// Summarize returns the exact statistics of data (two passes) with a histogram of the given
// number of bins (0 for DefaultBins). It is what weights use; activations stream through an
// Accumulator instead.
func Summarize(data []float32, bins int) (Summary, error) {
	a := NewAccumulator(bins)
	a.Add(data)
	s, err := a.Summary()
	if err != nil {
		return s, err
	}
	var dev float64
	for _, x := range data {
		if v := float64(x); finite(v) {
			dev += math.Abs(v - s.Mean)
		}
	}
	s.B = dev / float64(s.Count)
	return s, nil
}

// ChannelAccumulator streams per-channel statistics of tensors with a fixed channel count.
type ChannelAccumulator struct {
	Channels []*Accumulator
}

// NewChannelAccumulator returns accumulators for c channels with the given histogram bins.
func NewChannelAccumulator(c, bins int) *ChannelAccumulator {
	ca := &ChannelAccumulator{Channels: make([]*Accumulator, c)}
	for i := range ca.Channels {
		ca.Channels[i] = NewAccumulator(bins)
	}
	return ca
}

// Add feeds one tensor laid out as l, whose channel count must match.
func (ca *ChannelAccumulator) Add(data []float32, l Layout) error {
	if err := l.Check(len(data)); err != nil {
		return err
	}
	if l.Channels != len(ca.Channels) {
		return fmt.Errorf("quant: tensor has %d channels, accumulator %d", l.Channels, len(ca.Channels))
	}
	for c, acc := range ca.Channels {
		l.Each(data, c, acc.Add)
	}
	return nil
}

// Summaries returns each channel's Summary.
func (ca *ChannelAccumulator) Summaries() ([]Summary, error) {
	out := make([]Summary, len(ca.Channels))
	for c, acc := range ca.Channels {
		s, err := acc.Summary()
		if err != nil {
			return nil, fmt.Errorf("channel %d: %w", c, err)
		}
		out[c] = s
	}
	return out, nil
}

// SummarizeChannels returns the exact statistics of every channel of data.
func SummarizeChannels(data []float32, l Layout, bins int) ([]Summary, error) {
	if err := l.Check(len(data)); err != nil {
		return nil, err
	}
	out := make([]Summary, l.Channels)
	buf := make([]float32, 0, l.Outer*l.Inner)
	for c := range out {
		buf = buf[:0]
		l.Each(data, c, func(run []float32) { buf = append(buf, run...) })
		s, err := Summarize(buf, bins)
		if err != nil {
			return nil, fmt.Errorf("channel %d: %w", c, err)
		}
		out[c] = s
	}
	return out, nil
}

// QuantMSE estimates the mean squared error of quantizing the histogram's values with q,
// taking each bin's values at their mean (exact when a bin holds a single value).
func (h *Histogram) QuantMSE(q Quantizer) float64 {
	var e, n float64
	for j, c := range h.Counts {
		if c == 0 {
			continue
		}
		v := h.Sums[j] / c
		d := v - float64(q.FakeQuant(float32(v)))
		e += c * d * d
		n += c
	}
	if n == 0 {
		return 0
	}
	return e / n
}
