package ptq

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"fourbit/nn"
	"fourbit/quant"
)

// WeightPlan is how one layer's weights were quantized. Each output channel is a
// quant.WeightRow (Rows): its codes, its quantizer, and bias correction's gain ξ and offset β,
// the one form the simulation, the integer engine, the exports and the charts read.
type WeightPlan struct {
	Layer      string    `json:"layer"`
	Kind       string    `json:"kind"`
	PerChannel bool      `json:"per_channel"`
	Bits       []int     `json:"bits"`      // per output channel (one value per tensor)
	MeanBits   float64   `json:"mean_bits"` // storage width: the mean of Bits over channels
	Lo         []float64 `json:"lo"`        // quantization range per channel
	Hi         []float64 `json:"hi"`
	MSE        float64   `json:"mse"` // mean squared error of the weights after correction
	// Gain and Offset are bias correction's ξ and β per output channel (quant.WeightRow).
	Gain          []float64 `json:"gain"`
	Offset        []float64 `json:"offset"`
	MeanBefore    []float64 `json:"mean_float"`     // per-channel weight mean, float
	MeanQuant     []float64 `json:"mean_quant"`     // quantized, before bias correction
	MeanCorrected []float64 `json:"mean_corrected"` // quantized and corrected

	rows []quant.WeightRow
}

// Rows returns the quantized weights, one row per output channel.
func (w *WeightPlan) Rows() []quant.WeightRow { return w.rows }

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
	// Rounding reports, layer by layer, what learned rounding did (Options.Rounding).
	Rounding []RoundingReport `json:"rounding,omitempty"`
}

// Quantized is a network quantized in simulation: its graph holds the fake-quantized (and
// corrected) weights, and Hook fake-quantizes the activations during a forward pass. It is
// also the integer engine's complete contract: per node, the weight rows, the quantizers of
// the activation planned at its output, and the codes its output is carried as (Tensor).
type Quantized struct {
	Plan  *Plan
	Graph *nn.Graph
	acts  map[string]*ActPlan
	nodes []nodePlan // by node index
}

// nodePlan is what the plan says of one node.
type nodePlan struct {
	weights *WeightPlan
	act     *ActPlan
	tensor  []quant.Quantizer
}

// Quantize makes the quantization plan of g from its calibration and the options, and builds
// the simulated quantized network. With data-free statistics (Gaussian by construction),
// ACIQ's Laplace prior is replaced by its Gauss prior; the plan's options say so.
func Quantize(g *nn.Graph, cal *Calibration, opts Options) (*Quantized, error) {
	return QuantizeProgress(g, cal, opts, nil)
}

// QuantizeProgress is Quantize telling progress of learned rounding, layer by layer.
func QuantizeProgress(g *nn.Graph, cal *Calibration, opts Options, progress RoundingProgress) (*Quantized, error) {
	if cal.DataFree && opts.Clip == "aciq-laplace" {
		opts.Clip = "aciq-gauss"
	}
	r, err := opts.resolve()
	if err != nil {
		return nil, fmt.Errorf("quantize: %w", err)
	}
	plan := &Plan{Options: opts}
	if opts.Protocol == "authors" {
		r.Keep = authorsKeep(g, opts)
	}
	replace := map[string]nn.Op{}
	if err := checkKeep(g, r.Keep); err != nil {
		return nil, fmt.Errorf("quantize: %w", err)
	}
	for _, n := range g.Nodes {
		op, ok := n.Op.(nn.Weighted)
		keep := r.Keep[n.Name]
		if !ok || keep.Float {
			continue
		}
		w, b, out := op.Weights()
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
		replace[n.Name] = op.WithWeights(q, b)
	}
	for _, p := range cal.Points {
		if r.Keep[p.Layer].Float {
			continue
		}
		ap, err := quantizeActs(p, cal, r)
		if err != nil {
			return nil, fmt.Errorf("quantize %s activations: %w", p.Node, err)
		}
		plan.Acts = append(plan.Acts, ap)
	}
	if r.CarryBits > 0 {
		// The tensors an integer engine carries besides: min-max over the calibration range,
		// uniform width, per channel or per tensor like the other activations (an integer
		// engine with per-tensor activations then keeps one quantizer for every conv input).
		rr := r
		rr.ActBits, rr.clip, rr.PCBAActs = r.CarryBits, quant.MinMax{}, false
		for _, p := range cal.Carried {
			if r.Keep[p.Layer].Float {
				continue
			}
			ap, err := quantizeActs(p, cal, rr)
			if err != nil {
				return nil, fmt.Errorf("quantize %s (carried as codes): %w", p.Node, err)
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
	qn.index()
	if opts.Rounding == "learned" {
		if plan.Rounding, err = learnRounding(g, qn, cal, opts, progress); err != nil {
			return nil, fmt.Errorf("quantize: %w", err)
		}
	}
	if opts.EmpiricalBias {
		if err := empiricalBias(g, qn, cal, opts); err != nil {
			return nil, fmt.Errorf("quantize: %w", err)
		}
	}
	return qn, nil
}

// authorsKeep returns opts.Keep with the authors' protocol added (Options.Protocol): the
// first layer's output activation and the classifier's weights at 8 bits, the first layer's
// weights at the target width.
func authorsKeep(g *nn.Graph, opts Options) map[string]Keep {
	keep := map[string]Keep{}
	last := ""
	for _, n := range g.Nodes {
		if _, ok := n.Op.(nn.Weighted); !ok {
			continue
		}
		last = n.Name
		if len(n.Inputs) == 1 && n.Inputs[0] == g.Input() {
			keep[n.Name] = Keep{WeightBits: opts.WeightBits, ActBits: 8}
		}
	}
	if last != "" {
		k := keep[last]
		k.WeightBits = 8
		keep[last] = k
	}
	for name, k := range opts.Keep {
		keep[name] = k
	}
	return keep
}

// index fills the per-node view of the plan: weights, activations, and the codes every
// node's output is carried as.
func (q *Quantized) index() {
	g := q.Graph
	cons := g.Consumers()
	q.nodes = make([]nodePlan, len(g.Nodes))
	for i := range q.Plan.Weights {
		q.nodes[g.Node(q.Plan.Weights[i].Layer).Index()].weights = &q.Plan.Weights[i]
	}
	for _, n := range g.Nodes {
		np := &q.nodes[n.Index()]
		np.act = q.acts[n.Name]
		var qs []quant.Quantizer
		switch {
		case np.act != nil:
			qs = np.act.quantizers
		case fusedReLU(q, n, cons) != nil:
			// A sole ReLU consumer quantized on its own grid: n's codes are the ReLU's.
			qs = fusedReLU(q, n, cons).quantizers
		case selects(n):
			qs = selected(q, n)
		}
		np.tensor = expand(qs, n.Shape[0])
	}
}

// fusedReLU returns the plan of n's sole consumer when that plan fused it into n: a ReLU (or a
// clip from 0) quantized one-sided for n, so that n's requantization clamps at 0 (and at the
// clip's top, the grid's).
func fusedReLU(q *Quantized, n *nn.Node, cons [][]*nn.Node) *ActPlan {
	c := cons[n.Index()]
	if len(c) != 1 {
		return nil
	}
	if ap := q.acts[c[0].Name]; ap != nil && ap.Layer == n.Name && ap.Relu == c[0].Name && ap.OneSided {
		return ap
	}
	return nil
}

// selected returns a selection op's output quantizers, channel by channel those of the input
// channels it takes its values from (nil when an input is not carried as codes).
func selected(q *Quantized, n *nn.Node) []quant.Quantizer {
	sel := n.Op.(nn.Selector)
	shapes := inputShapes(n)
	out := make([]quant.Quantizer, n.Shape[0])
	for c := range out {
		in, ch, _ := sel.SourceChannel(c, shapes)
		if in < 0 {
			continue // a zero channel: the zero quantizer
		}
		src := q.nodes[n.Inputs[in].Index()].tensor
		if src == nil {
			return nil
		}
		out[c] = src[ch]
	}
	return out
}

// expand returns one quantizer per channel (a per-tensor plan repeats its one quantizer).
func expand(qs []quant.Quantizer, channels int) []quant.Quantizer {
	if qs == nil || len(qs) == channels {
		return qs
	}
	out := make([]quant.Quantizer, channels)
	for i := range out {
		out[i] = qs[0]
	}
	return out
}

// Act returns the plan of the activation quantized at the output of node, if any.
func (q *Quantized) Act(node string) (*ActPlan, bool) {
	a, ok := q.acts[node]
	return a, ok
}

// Weights returns the weight plan of layer, if its weights were quantized.
func (q *Quantized) Weights(layer string) (*WeightPlan, bool) {
	if n := q.Graph.Node(layer); n != nil && q.nodes[n.Index()].weights != nil {
		return q.nodes[n.Index()].weights, true
	}
	return nil, false
}

// Network returns the simulated network: the graph with the corrected fake-quantized weights.
func (q *Quantized) Network() *nn.Graph { return q.Graph }

// WeightRows returns the quantized weights of node n of Graph, one row per output channel
// (nil: its weights are float).
func (q *Quantized) WeightRows(n *nn.Node) []quant.WeightRow {
	if w := q.nodes[n.Index()].weights; w != nil {
		return w.rows
	}
	return nil
}

// Activation returns the quantizers of the activation planned at node n's output: one per
// channel, or one for the tensor (nil: none is planned there).
func (q *Quantized) Activation(n *nn.Node) []quant.Quantizer {
	if a := q.nodes[n.Index()].act; a != nil {
		return a.quantizers
	}
	return nil
}

// Tensor returns, one per channel, the quantizers of the codes node n's output is carried as
// when the network runs on integers: the activation planned at its output, its sole ReLU's
// (fused: the node's requantization clamps at 0), or — for a selection op — its inputs'.
// nil means the plan leaves the tensor in float (the paper's protocol for residual Adds and
// other ops; Options.CarryBits plans them).
func (q *Quantized) Tensor(n *nn.Node) []quant.Quantizer { return q.nodes[n.Index()].tensor }

// quantizeWeights quantizes a layer's weights (out rows), applies bias correction and
// returns its plan and the corrected fake-quantized weights.
func quantizeWeights(w []float32, out, bits int, r resolved, fixed bool) (WeightPlan, []float32, error) {
	inner := len(w) / out
	l := quant.Layout{Outer: 1, Channels: out, Inner: inner}
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
	var qzs []quant.Quantizer
	for c, s := range sums {
		lo, hi, err := r.wclip.Range(s, float64(wp.Bits[c]), false)
		if err != nil {
			return WeightPlan{}, nil, fmt.Errorf("channel %d: %w", c, err)
		}
		qz, err := quant.NewAffine(lo, hi, quant.Levels(wp.Bits[c]))
		if err != nil {
			return WeightPlan{}, nil, fmt.Errorf("channel %d: %w", c, err)
		}
		qzs = append(qzs, qz)
		wp.Lo, wp.Hi = append(wp.Lo, lo), append(wp.Hi, hi)
	}
	q := make([]float32, len(w))
	weights := func() {
		for o, row := range wp.rows {
			row.Weights(q[o*inner : (o+1)*inner])
		}
	}
	for o := 0; o < out; o++ {
		wp.rows = append(wp.rows, quant.QuantizeRow(w[o*inner:(o+1)*inner], qzs[min(o, len(qzs)-1)]))
	}
	// Per-output-channel means before and after correction, for the report.
	rows := quant.Layout{Outer: 1, Channels: out, Inner: inner}
	weights()
	wp.MeanBefore, wp.MeanQuant = channelMeans(w, rows), channelMeans(q, rows)
	if err := quant.CorrectBias(w, wp.rows, r.bias); err != nil {
		return WeightPlan{}, nil, err
	}
	weights()
	wp.MeanCorrected = channelMeans(q, rows)
	for _, row := range wp.rows {
		wp.Gain, wp.Offset = append(wp.Gain, row.Gain), append(wp.Offset, row.Offset)
	}
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
		// The classifier's logits are compared with one another, so they share one grid: 8
		// bits over their min-max range, as the authors' code quantizes them (int8, no
		// clipping, not per channel). A range per class would be measured on calibration
		// images of other classes — with many classes and few images, most classes never win
		// there — and would clip the very logit that wins on a test image.
		bits, clip, perChannel = 8, quant.MinMax{}, false
	case perChannel && len(st.PerChannel) > 0 && st.PerChannel[0].Count <= int64(cal.Images):
		// One value per channel per image — a linear layer's output, a squeeze-and-excitation
		// gate's 1×1 map: a channel's range would rest on as many values as there are
		// calibration images. One range over the tensor, as the authors' code quantizes
		// linear layers' outputs.
		perChannel = false
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
		if ap.OneSided && p.ClipHi > 0 {
			hi = min(hi, float64(p.ClipHi)) // the clip's top: nothing above it is output
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
		case nn.Weighted, nn.Pool, nn.GlobalAvgPool:
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
