package session

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"fourbit/ptq"
	"fourbit/quant"
)

func softmax(x []float32) []float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, float64(v))
	}
	out := make([]float64, len(x))
	var sum float64
	for i, v := range x {
		out[i] = math.Exp(float64(v) - m)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

// ChannelView is what the page draws for one channel of one quantized activation: its
// histogram, the Laplace and Gauss densities fitted to it, the clipping values, the expected
// MSE(α) curve of the paper's Fig. 1 beside the error measured on the histogram, the bits
// PCBA gave every channel, and the weight means before and after bias correction.
type ChannelView struct {
	Layer        string    `json:"layer"`
	Node         string    `json:"node"`
	Channel      int       `json:"channel"`
	Channels     int       `json:"channels"`
	OneSided     bool      `json:"one_sided"`
	Edges        []float64 `json:"edges"`  // histogram bin edges (len(Counts)+1)
	Counts       []float64 `json:"counts"` // values per bin, as a density (integrates to 1)
	Laplace      []float64 `json:"laplace"`
	Gauss        []float64 `json:"gauss"` // fitted densities at the bin centres
	Mean         float64   `json:"mean"`
	B            float64   `json:"b"`
	Sigma        float64   `json:"sigma"`
	Min          float64   `json:"min"`
	Max          float64   `json:"max"`
	Bits         int       `json:"bits"`
	Lo           float64   `json:"lo"` // the range quantization used
	Hi           float64   `json:"hi"`
	AlphaLaplace float64   `json:"alpha_laplace"` // ACIQ α* for this channel's width
	AlphaGauss   float64   `json:"alpha_gauss"`
	// The ranges ACIQ clips to with those α* (quant.ClipAt): [lo, hi].
	RangeLaplace [2]float64 `json:"range_laplace"`
	RangeGauss   [2]float64 `json:"range_gauss"`
	// MSE(α): for each α, the analytic expectation (Laplace prior) and the error measured on
	// the histogram with that clipping range and this channel's width.
	Alphas      []float64 `json:"alphas"`
	MSEAnalytic []float64 `json:"mse_analytic"`
	MSEMeasured []float64 `json:"mse_measured"`
	ChannelBits []int     `json:"channel_bits"` // every channel's activation bits
	WeightBits  []int     `json:"weight_bits"`  // every output channel's weight bits
	WeightMean  []float64 `json:"weight_mean_float"`
	WeightQuant []float64 `json:"weight_mean_quant"`     // before bias correction
	WeightFixed []float64 `json:"weight_mean_corrected"` // after
	// Dead says PCBA gave this channel 0 bits (or it never varied): every value becomes 0.
	Dead bool `json:"dead"`
	// Clip is the plan's clipping method; PerTensor says the range used is the whole tensor's
	// (one quantizer for every channel), not this channel's.
	Clip      string `json:"clip"`
	PerTensor bool   `json:"per_tensor"`
	// FitBeforeReLU says the priors were fitted to the layer's output before its fused ReLU
	// (ACIQ's one-sided rule clips [0, max(μ, 0) + α]).
	FitBeforeReLU bool `json:"fit_before_relu"`
}

// Channel returns the chart data of one channel of the activation produced by layer (a node
// name from the plan); channel −1 picks a representative one (Representative). It needs a
// calibration and a quantization.
func (s *Session) Channel(layer string, channel int) (v ChannelView, err error) {
	defer guard(&err)
	if s.q == nil {
		return v, fmt.Errorf("%w: quantize first", ErrState)
	}
	for _, a := range s.q.Plan.Acts {
		if a.Layer != layer {
			continue
		}
		st := s.cal.Stats[a.Quantized]
		if channel == -1 {
			channel = representative(&a, st.PerChannel)
		}
		if channel < 0 || channel >= len(st.PerChannel) {
			return v, fmt.Errorf("channel %d outside 0..%d", channel, len(st.PerChannel)-1)
		}
		sum := st.PerChannel[channel]
		fit := sum
		if a.OneSided {
			fit = s.cal.Stats[a.Layer].PerChannel[channel]
		}
		bc := channel
		if !a.PerChannel {
			bc = 0
		}
		v = ChannelView{Layer: layer, Node: a.Quantized, Channel: channel, Channels: len(st.PerChannel), OneSided: a.OneSided,
			Mean: fit.Mean, B: fit.B, Sigma: fit.Sigma, Min: sum.Min, Max: sum.Max,
			Bits: a.Bits[bc], Lo: a.Lo[bc], Hi: a.Hi[bc], ChannelBits: a.Bits,
			Clip: s.q.Plan.Options.Clip, PerTensor: !a.PerChannel, FitBeforeReLU: a.OneSided}
		v.Dead = v.Bits == 0 || !(sum.Max > sum.Min)
		v.Edges, v.Counts = coarse(sum.Hist, 64)
		for i := range v.Counts {
			x := (v.Edges[i] + v.Edges[i+1]) / 2
			v.Laplace = append(v.Laplace, math.Exp(-math.Abs(x-fit.Mean)/fit.B)/(2*fit.B))
			v.Gauss = append(v.Gauss, math.Exp(-(x-fit.Mean)*(x-fit.Mean)/(2*fit.Sigma*fit.Sigma))/(fit.Sigma*math.Sqrt(2*math.Pi)))
		}
		kl, _ := quant.OptimalAlpha(quant.Laplace, float64(v.Bits), a.OneSided)
		kg, _ := quant.OptimalAlpha(quant.Gauss, float64(v.Bits), a.OneSided)
		v.AlphaLaplace, v.AlphaGauss = kl*fit.B, kg*fit.Sigma
		// The clipping rule on this channel: the prior's fit, cut at the observed range.
		clip := fit
		clip.Min, clip.Max = sum.Min, sum.Max
		v.RangeLaplace[0], v.RangeLaplace[1] = quant.ClipAt(clip, v.AlphaLaplace, a.OneSided)
		v.RangeGauss[0], v.RangeGauss[1] = quant.ClipAt(clip, v.AlphaGauss, a.OneSided)
		top := math.Max(math.Abs(sum.Max-fit.Mean), math.Abs(fit.Mean-sum.Min))
		for i := 1; i <= 40; i++ {
			alpha := top * float64(i) / 40
			v.Alphas = append(v.Alphas, alpha)
			v.MSEAnalytic = append(v.MSEAnalytic, quant.ExpectedMSE(quant.Laplace, a.OneSided, alpha, fit.B, float64(v.Bits)))
			lo, hi := quant.ClipAt(clip, alpha, a.OneSided)
			q, err := quant.NewAffine(lo, hi, quant.Levels(v.Bits))
			if err != nil {
				return ChannelView{}, err
			}
			v.MSEMeasured = append(v.MSEMeasured, sum.Hist.QuantMSE(q))
		}
		if w, ok := s.q.Weights(layer); ok {
			v.WeightBits, v.WeightMean, v.WeightQuant, v.WeightFixed = w.Bits, w.MeanBefore, w.MeanQuant, w.MeanCorrected
		}
		return v, nil
	}
	return v, fmt.Errorf("no quantized activation after layer %q", layer)
}

// representative returns a live channel of activation a (more than 0 bits, values that vary)
// whose spread is the median of the live channels': the one the page opens on.
func representative(a *ptq.ActPlan, sums []quant.Summary) int {
	var live []int
	for c, sum := range sums {
		if b := a.Bits[min(c, len(a.Bits)-1)]; b > 0 && sum.Max > sum.Min {
			live = append(live, c)
		}
	}
	if len(live) == 0 {
		return 0
	}
	slices.SortStableFunc(live, func(i, j int) int { return cmp.Compare(sums[i].Sigma, sums[j].Sigma) })
	return live[len(live)/2]
}

// coarse merges a histogram into at most n bins over its occupied range, as a density.
func coarse(h *quant.Histogram, n int) (edges, density []float64) {
	first, last := -1, -1
	var total float64
	for i, c := range h.Counts {
		if c > 0 {
			if first < 0 {
				first = i
			}
			last = i
			total += c
		}
	}
	if first < 0 {
		return []float64{h.Lo, h.Hi()}, []float64{0}
	}
	span := last - first + 1
	per := (span + n - 1) / n
	for i := first; i <= last; i += per {
		var c float64
		for j := i; j < min(i+per, last+1); j++ {
			c += h.Counts[j]
		}
		lo := h.Lo + float64(i)*h.Width
		w := float64(min(per, last+1-i)) * h.Width
		edges = append(edges, lo)
		density = append(density, c/total/w)
	}
	edges = append(edges, h.Lo+float64(last+1)*h.Width)
	return edges, density
}
