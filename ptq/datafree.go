package ptq

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"

	"fourbit/nn"
	"fourbit/quant"
)

// DataFreeSamples is how many quantiles of each channel's distribution data-free calibration
// carries: the distribution is represented by its values at the probabilities (i+½)/n.
const DataFreeSamples = 1024

// CalibrateDataFree builds g's calibration statistics without images, from what batch
// normalisation knows about the training data: a convolution that had a batch norm folded
// into it (nn.Conv.Prior) outputs, per channel, a Gaussian of mean β and standard deviation
// |γ|. Each channel's distribution is carried as DataFreeSamples evenly spaced quantiles and
// pushed through the graph analytically:
//
//   - element-wise activations (ReLU, LeakyReLU, Clip, HardSigmoid, affine maps) map the
//     quantiles (a monotone function of a quantile is the quantile of the function);
//   - a K-value max-pool window takes the maximum of K independent draws, whose quantile at
//     probability p is the input's quantile at p^(1/K) (neighbours are correlated in real
//     maps, so this overstates the maximum a little);
//   - average pools keep the distribution (fully correlated neighbours: an upper bound on
//     the spread);
//   - a convolution or linear layer without a prior, and Add, give a Gaussian with the mean
//     and variance of a sum of independent terms: μ_o = b_o + Σ w·μ_i, σ²_o = Σ w²·σ²_i.
//
// The summaries are Gaussian by construction: ACIQ's Gauss prior (aciq-gauss) is the one to
// clip them with. A graph with an operation that has no such rule is an error naming it.
func CalibrateDataFree(g *nn.Graph) (*Calibration, error) {
	pts := QuantPoints(g)
	carried := CarriedPoints(g)
	need := map[string]bool{}
	for _, p := range append(pts[:len(pts):len(pts)], carried...) {
		need[p.Layer] = true
		if p.Relu != "" {
			need[p.Relu] = true
		}
	}
	cons := g.Consumers()
	left := make([]int, len(g.Nodes)) // consumers still to be computed
	for i := range g.Nodes {
		left[i] = len(cons[i])
	}
	dists := make([][][]float32, len(g.Nodes))
	cal := &Calibration{Points: pts, Carried: carried, Stats: map[string]*NodeStats{}, DataFree: true}
	for _, n := range g.Nodes[1:] {
		d, err := propagate(n, dists)
		if err != nil {
			return nil, fmt.Errorf("data-free calibration: node %s (%s): %w", n.Name, n.Op.Kind(), err)
		}
		dists[n.Index()] = d
		if need[n.Name] {
			st, err := summarizeDists(d)
			if err != nil {
				return nil, fmt.Errorf("data-free calibration: node %s: %w", n.Name, err)
			}
			cal.Stats[n.Name] = st
		}
		for _, in := range n.Inputs {
			if left[in.Index()]--; left[in.Index()] == 0 {
				dists[in.Index()] = nil
			}
		}
	}
	return cal, nil
}

// gaussian returns the quantiles of N(μ, σ²).
func gaussian(mu, sigma float64) []float32 {
	q := make([]float32, DataFreeSamples)
	if !(sigma > 0) {
		for i := range q {
			q[i] = float32(mu)
		}
		return q
	}
	n := distuv.Normal{Mu: mu, Sigma: sigma}
	for i := range q {
		q[i] = float32(n.Quantile((float64(i) + 0.5) / DataFreeSamples))
	}
	return q
}

// moments returns the mean and variance of a channel's quantiles.
func moments(q []float32) (mean, variance float64) {
	for _, v := range q {
		mean += float64(v)
	}
	mean /= float64(len(q))
	for _, v := range q {
		d := float64(v) - mean
		variance += d * d
	}
	return mean, variance / float64(len(q))
}

// mapped applies f to every quantile of every channel (f monotone: the result is sorted).
func mapped(in [][]float32, f func(float32) float32) [][]float32 {
	out := make([][]float32, len(in))
	for c, q := range in {
		r := make([]float32, len(q))
		for i, v := range q {
			r[i] = f(v)
		}
		slices.Sort(r)
		out[c] = r
	}
	return out
}

// maxOf returns the quantiles of the maximum of k independent draws from each channel.
func maxOf(in [][]float32, k int) [][]float32 {
	out := make([][]float32, len(in))
	for c, q := range in {
		r := make([]float32, len(q))
		for i := range r {
			p := math.Pow((float64(i)+0.5)/float64(len(q)), 1/float64(k))
			x := p*float64(len(q)) - 0.5 // fractional index into q
			lo := min(max(int(math.Floor(x)), 0), len(q)-1)
			hi := min(lo+1, len(q)-1)
			f := float32(min(max(x-float64(lo), 0), 1))
			r[i] = q[lo]*(1-f) + q[hi]*f
		}
		out[c] = r
	}
	return out
}

// linear is the Gaussian output of out channels, each a weighted sum of inputs (in[i] the
// distribution of input i) plus a bias: weights(o) lists (input, weight) pairs.
func linear(out int, bias []float32, in [][]float32, weights func(o int, add func(i int, w float64))) [][]float32 {
	mu := make([]float64, len(in))
	v := make([]float64, len(in))
	for i, q := range in {
		mu[i], v[i] = moments(q)
	}
	d := make([][]float32, out)
	for o := range d {
		m, s2 := 0.0, 0.0
		if bias != nil {
			m = float64(bias[o])
		}
		weights(o, func(i int, w float64) { m += w * mu[i]; s2 += w * w * v[i] })
		d[o] = gaussian(m, math.Sqrt(s2))
	}
	return d
}

func propagate(n *nn.Node, dists [][][]float32) ([][]float32, error) {
	var in [][]float32
	if len(n.Inputs) > 0 {
		in = dists[n.Inputs[0].Index()]
		if in == nil && n.Inputs[0].Index() == 0 {
			if c, ok := n.Op.(*nn.Conv); !ok || c.Prior == nil {
				return nil, fmt.Errorf("reads the network input directly and has no batch-norm statistics; data-free calibration starts from batch norms")
			}
		}
	}
	switch op := n.Op.(type) {
	case *nn.Conv:
		if p := op.Prior; p != nil {
			d := make([][]float32, op.OutC)
			for o := range d {
				d[o] = gaussian(p.Mean[o], p.Std[o])
			}
			return d, nil
		}
		inC := n.Inputs[0].Shape[0]
		per := inC / op.Groups
		taps := op.KH * op.KW
		return linear(op.OutC, op.B, in, func(o int, add func(int, float64)) {
			g := o / (op.OutC / op.Groups)
			for i := 0; i < per; i++ {
				for t := 0; t < taps; t++ {
					add(g*per+i, float64(op.W[(o*per+i)*taps+t]))
				}
			}
		}), nil
	case *nn.Linear:
		return linear(op.Out, op.B, in, func(o int, add func(int, float64)) {
			for i := 0; i < op.In; i++ {
				add(i, float64(op.W[o*op.In+i]))
			}
		}), nil
	case nn.ReLU:
		return mapped(in, func(x float32) float32 { return max(x, 0) }), nil
	case nn.LeakyReLU:
		return mapped(in, func(x float32) float32 { return max(x, op.Alpha*x) }), nil
	case nn.Clip:
		return mapped(in, func(x float32) float32 { return min(max(x, op.Lo), op.Hi) }), nil
	case nn.HardSigmoid:
		return mapped(in, func(x float32) float32 { return min(max(op.Alpha*x+op.Beta, 0), 1) }), nil
	case nn.Sigmoid, nn.Tanh:
		y := make([]float32, 1)
		return mapped(in, func(x float32) float32 { op.Forward(y, [][]float32{{x}}, nil, nil, 1); return y[0] }), nil
	case *nn.BatchNorm:
		scale, shift := op.ScaleShift()
		out := make([][]float32, len(in))
		for c := range in {
			out[c] = mapped(in[c:c+1], func(x float32) float32 { return float32(scale[c])*x + float32(shift[c]) })[0]
		}
		return out, nil
	case nn.Affine:
		out := make([][]float32, len(in))
		at := func(v []float32, c int) float32 {
			if len(v) == 1 {
				return v[0]
			}
			return v[c]
		}
		for c := range in {
			s, t := at(op.Scale, c), at(op.Shift, c)
			out[c] = mapped(in[c:c+1], func(x float32) float32 { return s*x + t })[0]
		}
		return out, nil
	case nn.Pool:
		if op.Max {
			return maxOf(in, op.KH*op.KW), nil
		}
		return in, nil
	case nn.GlobalAvgPool, nn.Pad:
		return in, nil
	case nn.Flatten:
		// Feature f of a flattened C×H×W map is channel f/(H·W).
		inner := nn.Size(n.Inputs[0].Shape) / len(in)
		out := make([][]float32, 0, len(in)*inner)
		for _, q := range in {
			for range inner {
				out = append(out, q)
			}
		}
		return out, nil
	case nn.ShortcutA:
		// Every Stride-th pixel (same distribution), PadC channels of zeros on each side.
		zero := gaussian(0, 0)
		out := make([][]float32, 0, len(in)+2*op.PadC)
		for range op.PadC {
			out = append(out, zero)
		}
		out = append(out, in...)
		for range op.PadC {
			out = append(out, zero)
		}
		return out, nil
	case nn.Concat:
		var out [][]float32
		for _, p := range n.Inputs {
			out = append(out, dists[p.Index()]...)
		}
		return out, nil
	case nn.Add:
		b := dists[n.Inputs[1].Index()]
		out := make([][]float32, len(in))
		for c := range in {
			m1, v1 := moments(in[c])
			m2, v2 := moments(b[c])
			out[c] = gaussian(m1+m2, math.Sqrt(v1+v2))
		}
		return out, nil
	}
	return nil, fmt.Errorf("no data-free rule for %s: calibrate on images", n.Op.Kind())
}

// summarizeDists makes a node's calibration statistics from its channels' quantiles.
func summarizeDists(d [][]float32) (*NodeStats, error) {
	st := &NodeStats{PerChannel: make([]quant.Summary, len(d))}
	all := make([]float32, 0, len(d)*DataFreeSamples)
	for c, q := range d {
		s, err := quant.Summarize(q, channelBins)
		if err != nil {
			return nil, err
		}
		st.PerChannel[c] = s
		all = append(all, q...)
	}
	s, err := quant.Summarize(all, tensorBins)
	if err != nil {
		return nil, err
	}
	st.PerTensor = s
	return st, nil
}
