package ptq

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"fourbit/nn"
	"fourbit/quant"
)

// WeightPlan is how one layer's weights were quantized.
type WeightPlan struct {
	Layer      string    `json:"layer"`
	Kind       string    `json:"kind"`
	PerChannel bool      `json:"per_channel"`
	Bits       []int     `json:"bits"`      // per output channel (one value per tensor)
	MeanBits   float64   `json:"mean_bits"` // storage width: the mean of Bits over channels
	Lo         []float64 `json:"lo"`        // quantization range per channel
	Hi         []float64 `json:"hi"`
	MSE        float64   `json:"mse"`        // mean squared error of the weights after correction
	Shift      []float64 `json:"shift"`      // bias correction's per-channel mean shift μ_c
	Scale      []float64 `json:"scale"`      // bias correction's per-channel ξ_c
	MeanBefore []float64 `json:"mean_float"` // per-channel weight mean, float
	MeanQuant  []float64 `json:"mean_quant"` // per-channel weight mean, quantized before correction

	quantizers []quant.Quantizer
	codes      []uint8 // the integer weight codes, laid out as the weights
}

// Quantizers returns the weight quantizers: one per output channel, or one for the tensor.
func (w *WeightPlan) Quantizers() []quant.Quantizer { return w.quantizers }

// Codes returns the integer code of every weight (laid out as the float weights), before
// bias correction; the corrected weight of output channel c is
// Scale[c]·(x̂ − MeanQuant[c]) + MeanQuant[c] + Shift[c], x̂ the code's dequantized value.
func (w *WeightPlan) Codes() []uint8 { return w.codes }

// ActPlan is how one activation was quantized.
type ActPlan struct {
	Point
	Quantized  string    `json:"quantized"` // the node whose output is quantized
	OneSided   bool      `json:"one_sided"`
	PerChannel bool      `json:"per_channel"`
	Bits       []int     `json:"bits"`
	MeanBits   float64   `json:"mean_bits"`
	Lo, Hi     []float64 `json:"-"`
	RangeLo    float64   `json:"range_lo"` // lowest lo over channels
	RangeHi    float64   `json:"range_hi"` // highest hi over channels
	MSE        float64   `json:"mse"`      // expected MSE on the calibration statistics

	quantizers []quant.Quantizer
	channels   int
}

// Quantizers returns the activation quantizers: one per channel, or one for the tensor.
func (a *ActPlan) Quantizers() []quant.Quantizer { return a.quantizers }

// Plan is a quantized network's recipe: the options and, per layer, what was done.
type Plan struct {
	Options Options      `json:"options"`
	Weights []WeightPlan `json:"weights"`
	Acts    []ActPlan    `json:"activations"`
}

// Quantized is a network quantized in simulation: its graph holds the fake-quantized (and
// corrected) weights, and Hook fake-quantizes the activations during a forward pass.
type Quantized struct {
	Plan  *Plan
	Graph *nn.Graph
	acts  map[string]*ActPlan
}

// Quantize makes the quantization plan of g from its calibration and the options, and builds
// the simulated quantized network. With data-free statistics (Gaussian by construction),
// ACIQ's Laplace prior is replaced by its Gauss prior; the plan's options say so.
func Quantize(g *nn.Graph, cal *Calibration, opts Options) (*Quantized, error) {
	if cal.DataFree && opts.Clip == "aciq-laplace" {
		opts.Clip = "aciq-gauss"
	}
	r, err := opts.resolve()
	if err != nil {
		return nil, fmt.Errorf("quantize: %w", err)
	}
	plan := &Plan{Options: opts}
	replace := map[string]nn.Op{}
	if err := checkKeep(g, opts.Keep); err != nil {
		return nil, fmt.Errorf("quantize: %w", err)
	}
	for _, n := range g.Nodes {
		var w []float32
		var out int
		switch op := n.Op.(type) {
		case *nn.Conv:
			w, out = op.W, op.OutC
		case *nn.Linear:
			w, out = op.W, op.Out
		default:
			continue
		}
		keep := opts.Keep[n.Name]
		if keep.Float {
			continue
		}
		bits := r.WeightBits
		first := len(n.Inputs) == 1 && n.Inputs[0] == g.Input()
		if first && r.Keep8Bit {
			bits = 8
		}
		if keep.WeightBits > 0 {
			bits = keep.WeightBits
		}
		wp, q, err := quantizeWeights(w, out, bits, r, (first && r.Keep8Bit) || keep.WeightBits > 0)
		if err != nil {
			return nil, fmt.Errorf("quantize %s weights: %w", n.Name, err)
		}
		wp.Layer, wp.Kind = n.Name, n.Op.Kind()
		plan.Weights = append(plan.Weights, wp)
		switch op := n.Op.(type) {
		case *nn.Conv:
			replace[n.Name] = op.WithWeights(q, op.B)
		case *nn.Linear:
			replace[n.Name] = &nn.Linear{W: q, B: op.B, In: op.In, Out: op.Out}
		}
	}
	for _, p := range cal.Points {
		if opts.Keep[p.Layer].Float {
			continue
		}
		ap, err := quantizeActs(p, cal, r)
		if err != nil {
			return nil, fmt.Errorf("quantize %s activations: %w", p.Node, err)
		}
		plan.Acts = append(plan.Acts, ap)
	}
	if r.ResidualBits > 0 {
		// Residual Adds: min-max over the calibration range, uniform width, per channel or
		// per tensor like the other activations (an integer engine with per-tensor
		// activations then keeps one quantizer for every conv input).
		rr := r
		rr.ActBits, rr.clip, rr.PCBAActs = r.ResidualBits, quant.MinMax{}, false
		for _, p := range cal.Residuals {
			ap, err := quantizeActs(p, cal, rr)
			if err != nil {
				return nil, fmt.Errorf("quantize %s residual: %w", p.Node, err)
			}
			plan.Acts = append(plan.Acts, ap)
		}
	}
	qg, err := g.WithOps(replace)
	if err != nil {
		return nil, err
	}
	qn := &Quantized{Plan: plan, Graph: qg, acts: map[string]*ActPlan{}}
	for i := range plan.Acts {
		qn.acts[plan.Acts[i].Quantized] = &plan.Acts[i]
	}
	return qn, nil
}

// Act returns the plan of the activation quantized at the output of node, if any.
func (q *Quantized) Act(node string) (*ActPlan, bool) {
	a, ok := q.acts[node]
	return a, ok
}

// Weights returns the weight plan of layer, if its weights were quantized.
func (q *Quantized) Weights(layer string) (*WeightPlan, bool) {
	for i := range q.Plan.Weights {
		if q.Plan.Weights[i].Layer == layer {
			return &q.Plan.Weights[i], true
		}
	}
	return nil, false
}

// quantizeWeights quantizes a layer's weights (out rows), applies bias correction and
// returns its plan and the corrected fake-quantized weights.
func quantizeWeights(w []float32, out, bits int, r resolved, fixed bool) (WeightPlan, []float32, error) {
	l := quant.Layout{Outer: 1, Channels: out, Inner: len(w) / out}
	if !r.WeightPerChannel {
		l = quant.PerTensor(len(w))
	}
	sums, err := quant.SummarizeChannels(w, l, channelBins)
	if err != nil {
		return WeightPlan{}, nil, err
	}
	wp := WeightPlan{PerChannel: r.WeightPerChannel, Bits: make([]int, l.Channels)}
	for c := range wp.Bits {
		wp.Bits[c] = bits
	}
	if r.PCBAWeights && !fixed && l.Channels > 1 {
		if wp.Bits, err = quant.AllocateBits(pcbaAlphas(sums, r.PCBAPrior), float64(bits), 0, quant.MaxBits); err != nil {
			return WeightPlan{}, nil, err
		}
	}
	q := append([]float32(nil), w...)
	wp.codes = make([]uint8, len(w))
	for c, s := range sums {
		lo, hi, err := r.wclip.Range(s, float64(wp.Bits[c]), false)
		if err != nil {
			return WeightPlan{}, nil, fmt.Errorf("channel %d: %w", c, err)
		}
		qz, err := quant.NewAffine(lo, hi, quant.Levels(wp.Bits[c]))
		if err != nil {
			return WeightPlan{}, nil, fmt.Errorf("channel %d: %w", c, err)
		}
		for i := c * l.Inner; i < (c+1)*l.Inner; i++ { // Outer is 1
			wp.codes[i] = uint8(qz.Quantize(w[i]))
		}
		l.Each(q, c, func(run []float32) { qz.FakeQuantSlice(run, run) })
		wp.quantizers = append(wp.quantizers, qz)
		wp.Lo, wp.Hi = append(wp.Lo, lo), append(wp.Hi, hi)
	}
	// Per-output-channel means before correction, for the report.
	rows := quant.Layout{Outer: 1, Channels: out, Inner: len(w) / out}
	wp.MeanBefore, wp.MeanQuant = channelMeans(w, rows), channelMeans(q, rows)
	corr, err := quant.CorrectBias(w, q, rows, r.bias)
	if err != nil {
		return WeightPlan{}, nil, err
	}
	wp.Shift, wp.Scale = corr.Shift, corr.Scale
	wp.MSE = quant.MSE(w, q)
	wp.MeanBits = meanInt(wp.Bits)
	return wp, q, nil
}

func pcbaAlphas(sums []quant.Summary, prior string) []float64 {
	a := make([]float64, len(sums))
	for i, s := range sums {
		if prior == "b" {
			a[i] = s.B
		} else {
			a[i] = s.Sigma
		}
	}
	return a
}

func channelMeans(x []float32, l quant.Layout) []float64 {
	m := make([]float64, l.Channels)
	for c := range m {
		var s float64
		l.Each(x, c, func(run []float32) {
			for _, v := range run {
				s += float64(v)
			}
		})
		m[c] = s / float64(l.Outer*l.Inner)
	}
	return m
}

func meanInt(b []int) float64 {
	s := 0
	for _, v := range b {
		s += v
	}
	return float64(s) / float64(max(len(b), 1))
}

// quantizeActs plans one activation point from the calibration statistics.
func quantizeActs(p Point, cal *Calibration, r resolved) (ActPlan, error) {
	ap := ActPlan{Point: p, Quantized: p.QuantizedNode(r.HalfRange), PerChannel: r.ActPerChannel}
	ap.OneSided = ap.Quantized != p.Layer && p.LeakyAlpha == 0
	leaky := ap.Quantized != p.Layer && p.LeakyAlpha != 0
	st, ok := cal.Stats[ap.Quantized]
	if !ok {
		return ap, fmt.Errorf("no calibration statistics for %s", ap.Quantized)
	}
	bits := r.ActBits
	clip := r.clip
	perChannel := r.ActPerChannel
	switch {
	case p.Pool:
		bits, clip, perChannel = 8, quant.MinMax{}, false
	case p.Last && r.Keep8Bit:
		bits = 8
	}
	if k := r.Keep[p.Layer].ActBits; k > 0 && !p.Pool {
		bits = k
	}
	ap.PerChannel = perChannel
	sums := []quant.Summary{st.PerTensor}
	if perChannel {
		sums = st.PerChannel
	}
	// The parametric clippers (ACIQ, k·σ) fit a bell-shaped prior: for a fused ReLU they take
	// μ, b and σ from the layer's output before the ReLU, whose positive half the one-sided
	// window [0, max(μ, 0) + α] covers. Fitted to the rectified tensor — half of it zeros —
	// b would come out ~40% low and ACIQ would clip far too hard. The data-driven clippers
	// (min-max, percentile, KL, MSE) look at the values actually quantized.
	fit := sums
	if (ap.OneSided || leaky) && isParametric(clip) {
		pre := cal.Stats[p.Layer]
		fit = []quant.Summary{pre.PerTensor}
		if perChannel {
			fit = pre.PerChannel
		}
	}
	ap.channels = len(st.PerChannel)
	ap.Bits = make([]int, len(sums))
	for c := range ap.Bits {
		ap.Bits[c] = bits
	}
	if r.PCBAActs && perChannel && !p.Pool && !(p.Last && r.Keep8Bit) && len(sums) > 1 {
		var err error
		if ap.Bits, err = quant.AllocateBits(pcbaAlphas(fit, r.PCBAPrior), float64(bits), 0, quant.MaxBits); err != nil {
			return ap, err
		}
	}
	ap.RangeLo, ap.RangeHi = math.Inf(1), math.Inf(-1)
	var mse, n float64
	for c, s := range sums {
		lo, hi, err := clip.Range(fit[c], float64(ap.Bits[c]), ap.OneSided)
		if err != nil {
			return ap, fmt.Errorf("channel %d: %w", c, err)
		}
		if leaky && isParametric(clip) {
			// The range fitted to the layer's output, mapped through the LeakyReLU.
			a := float64(p.LeakyAlpha)
			lo, hi = max(lo, a*lo), max(hi, a*hi)
			if !(hi > lo) {
				hi = lo + 1e-6
			}
		}
		var qz quant.Quantizer
		if ap.OneSided {
			qz, err = quant.NewUnsigned(hi, quant.Levels(ap.Bits[c]))
		} else {
			qz, err = quant.NewAffine(lo, hi, quant.Levels(ap.Bits[c]))
		}
		if err != nil {
			return ap, fmt.Errorf("channel %d: %w", c, err)
		}
		ap.quantizers = append(ap.quantizers, qz)
		ap.Lo, ap.Hi = append(ap.Lo, lo), append(ap.Hi, hi)
		ap.RangeLo, ap.RangeHi = math.Min(ap.RangeLo, lo), math.Max(ap.RangeHi, hi)
		mse += s.Hist.QuantMSE(qz) * float64(s.Count)
		n += float64(s.Count)
	}
	ap.MSE = mse / n
	ap.MeanBits = meanInt(ap.Bits)
	return ap, nil
}

func isParametric(c quant.Clipper) bool {
	switch c.(type) {
	case quant.ACIQ, quant.KSigma:
		return true
	}
	return false
}

// Hook returns the forward hook that fake-quantizes every planned activation in place.
func (q *Quantized) Hook() nn.Hook {
	return func(n *nn.Node, out []float32, batch int) error {
		ap, ok := q.acts[n.Name]
		if !ok {
			return nil
		}
		if !ap.PerChannel {
			ap.quantizers[0].FakeQuantSlice(out, out)
			return nil
		}
		l := quant.Layout{Outer: batch, Channels: ap.channels, Inner: len(out) / (batch * ap.channels)}
		return quant.FakeQuantChannels(out, l, ap.quantizers)
	}
}

// Layers returns the names of g's quantizable layers: convolutions, linear layers and the
// pooling nodes whose outputs are quantized.
func Layers(g *nn.Graph) []string {
	var out []string
	for _, n := range g.Nodes {
		switch n.Op.(type) {
		case *nn.Conv, *nn.Linear, nn.Pool, nn.GlobalAvgPool:
			out = append(out, n.Name)
		}
	}
	return out
}

// checkKeep rejects overrides of names that are not quantizable layers, listing the valid ones.
func checkKeep(g *nn.Graph, keep map[string]Keep) error {
	valid := Layers(g)
	for name := range keep {
		if !slices.Contains(valid, name) {
			return fmt.Errorf("keep: no layer %q; the layers are: %s", name, strings.Join(valid, ", "))
		}
	}
	return nil
}
