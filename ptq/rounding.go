package ptq

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"fourbit/nn"
	"fourbit/quant"
)

// Learned rounding (AdaRound, Nagel et al. 2020) over a whole network: layer by layer in
// topological order, each quantized convolution's or linear layer's rounding is fitted so that
// its output on the calibration images — fed by the already-quantized network, its planned
// activations quantized — matches the float network's output there (quant.LearnRounding).
// Each layer is a least-squares problem on sampled output positions; the layers after it then
// see its new weights.

// RoundingReport says what learned rounding did to one layer.
type RoundingReport struct {
	Layer string `json:"layer"`
	quant.RoundingResult
	Samples int     `json:"samples"` // sampled output positions (rows of the problem)
	Seconds float64 `json:"seconds"`
}

// RoundingProgress is told, after each layer, which layer was fitted and how many of total.
type RoundingProgress func(layer string, done, total int, r RoundingReport)

// errStop ends a forward pass early once the tensor it was run for is captured.
var errStop = errors.New("ptq: captured")

// capture runs g (with hook) on batch images x up to node and returns a copy of its output
// (after the hook rewrote it).
func capture(g *nn.Graph, hook nn.Hook, node *nn.Node, x []float32, batch int) ([]float32, error) {
	var got []float32
	h := func(n *nn.Node, out []float32, b int) error {
		if hook != nil {
			if err := hook(n, out, b); err != nil {
				return err
			}
		}
		if n.Index() == node.Index() {
			got = append([]float32(nil), out...)
			return errStop
		}
		return nil
	}
	_, err := g.Forward(x, batch, h)
	if got != nil {
		return got, nil
	}
	if err == nil {
		err = fmt.Errorf("ptq: node %s not reached", node.Name)
	}
	return nil, err
}

// layerIO runs both networks on batch images x: it returns layer n's input in the quantized
// network q (its planned activations quantized) and n's output in the float network g — the
// two sides of the layer's reconstruction (learned rounding) or shift (empirical bias).
func layerIO(g *nn.Graph, q *Quantized, n *nn.Node, x []float32, batch int) (in, y []float32, err error) {
	if in, err = capture(q.Graph, q.Hook(), q.Graph.Node(n.Inputs[0].Name), x, batch); err != nil {
		return nil, nil, err
	}
	if y, err = capture(g, nil, n, x, batch); err != nil {
		return nil, nil, err
	}
	return in, y, nil
}

// fitImages is how many calibration images learned rounding and empirical bias correction
// fit on.
func fitImages(cal *Calibration, opts Options) int {
	if opts.RoundingImages > 0 {
		return min(cal.Images, opts.RoundingImages)
	}
	return min(cal.Images, roundingImages)
}

// roundingLayer is one layer's reconstruction problem as sampled from the networks.
type roundingLayer struct {
	node  *nn.Node
	conv  *nn.Conv // nil: linear
	lin   *nn.Linear
	k     int // weights per output row
	out   int
	group int // groups of a convolution (1 for linear)
	pos   int // output positions per image
	relu  bool
	hi    float32
}

func newRoundingLayer(g *nn.Graph, n *nn.Node, cons [][]*nn.Node) (*roundingLayer, bool) {
	if len(n.Inputs) != 1 {
		return nil, false
	}
	l := &roundingLayer{node: n, group: 1}
	switch op := n.Op.(type) {
	case *nn.Conv:
		if len(n.Inputs[0].Shape) != 3 || len(n.Shape) != 3 {
			return nil, false
		}
		l.conv, l.group = op, max(op.Groups, 1)
		l.out = op.OutC
		l.k = n.Inputs[0].Shape[0] / l.group * op.KH * op.KW
		l.pos = n.Shape[1] * n.Shape[2]
	case *nn.Linear:
		l.lin, l.out, l.k = op, op.Out, op.In
		l.pos = nn.Size(n.Inputs[0].Shape) / op.In
	default:
		return nil, false
	}
	if c := cons[n.Index()]; len(c) == 1 {
		switch op := c[0].Op.(type) {
		case nn.ReLU:
			l.relu = true
		case nn.Clip:
			if op.Lo == 0 && op.Hi > 0 {
				l.relu, l.hi = true, op.Hi
			}
		}
	}
	return l, true
}

// rows appends to x the input patches and to t the float outputs of the sampled output
// positions of one image: in is the image's (quantized) input, y its float output.
func (l *roundingLayer) rows(x, t []float32, in, y []float32, positions []int, grp int) ([]float32, []float32) {
	og := l.out / l.group
	if l.conv == nil {
		for _, p := range positions {
			x = append(x, in[p*l.k:(p+1)*l.k]...)
			t = append(t, y[p*l.out:(p+1)*l.out]...)
		}
		return x, t
	}
	c := l.conv
	ins := l.node.Inputs[0].Shape
	ih, iw := ins[1], ins[2]
	cg := ins[0] / l.group
	ow := l.node.Shape[2]
	for _, p := range positions {
		oy, ox := p/ow, p%ow
		for ci := grp * cg; ci < (grp+1)*cg; ci++ {
			for ky := 0; ky < c.KH; ky++ {
				iy := oy*c.StrideH - c.PadT + ky*c.DilH
				for kx := 0; kx < c.KW; kx++ {
					ix := ox*c.StrideW - c.PadL + kx*c.DilW
					v := float32(0)
					if iy >= 0 && iy < ih && ix >= 0 && ix < iw {
						v = in[(ci*ih+iy)*iw+ix]
					}
					x = append(x, v)
				}
			}
		}
		for o := grp * og; o < (grp+1)*og; o++ {
			t = append(t, y[o*l.pos+p])
		}
	}
	return x, t
}

// Rounding defaults: the calibration images learned rounding fits on and the sampled output
// positions (rows) of each layer's problem.
const (
	roundingImages  = 256
	roundingSamples = 8192
)

// learnRounding refits the rounding of every quantized conv/linear layer of q (learned from
// g, the float network, on the calibration images cal was made from) and rebuilds q's
// simulated network. It returns a report per layer.
func learnRounding(g *nn.Graph, q *Quantized, cal *Calibration, opts Options, progress RoundingProgress) ([]RoundingReport, error) {
	if cal.src == nil {
		return nil, errors.New("learned rounding needs the calibration images (not a data-free or loaded calibration)")
	}
	images := fitImages(cal, opts)
	iters := opts.RoundingIters
	cons := g.Consumers()
	var layers []*roundingLayer
	for _, n := range g.Nodes {
		if _, ok := q.Weights(n.Name); !ok {
			continue
		}
		if l, ok := newRoundingLayer(g, n, cons); ok {
			layers = append(layers, l)
		}
	}
	per := nn.Size(g.Input().Shape)
	var reports []RoundingReport
	for li, l := range layers {
		start := time.Now()
		wp, _ := q.Weights(l.node.Name)
		w, bias, _ := l.node.Op.(nn.Weighted).Weights()
		rng := rand.New(rand.NewPCG(opts.Seed, uint64(li)))
		pp := min(l.pos, max(1, (roundingSamples+images-1)/images))
		og := l.out / l.group
		xs := make([][]float32, l.group)
		ts := make([][]float32, l.group)
		err := batches(cal.src, images, DefaultBatch, per, func(x []float32, _ []int, lo, hi int) error {
			b := hi - lo
			in, y, err := layerIO(g, q, l.node, x, b)
			if err != nil {
				return err
			}
			inSize, outSize := len(in)/b, len(y)/b
			for i := 0; i < b; i++ {
				positions := rng.Perm(l.pos)[:pp]
				for grp := 0; grp < l.group; grp++ {
					xs[grp], ts[grp] = l.rows(xs[grp], ts[grp], in[i*inSize:(i+1)*inSize], y[i*outSize:(i+1)*outSize], positions, grp)
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("learned rounding %s: %w", l.node.Name, err)
		}
		rep := RoundingReport{Layer: l.node.Name, Samples: images * pp}
		rows := wp.rows
		newRows := make([]quant.WeightRow, 0, len(rows))
		for grp := 0; grp < l.group; grp++ {
			var b []float32
			if bias != nil {
				b = bias[grp*og : (grp+1)*og]
			}
			rec := quant.Reconstruction{X: xs[grp], Target: ts[grp], N: images * pp, K: l.k, Bias: b, ReLU: l.relu, ClipHi: l.hi}
			ro := quant.RoundingOptions{Iterations: iters, Seed: opts.Seed + uint64(li)<<20 + uint64(grp)}
			got, res, err := quant.LearnRounding(w[grp*og*l.k:(grp+1)*og*l.k], rows[grp*og:(grp+1)*og], rec, ro)
			if err != nil {
				return nil, fmt.Errorf("learned rounding %s: %w", l.node.Name, err)
			}
			newRows = append(newRows, got...)
			rep.NearestLoss += res.NearestLoss
			rep.Loss += res.Loss
			rep.Flipped += res.Flipped
			rep.Kept = rep.Kept || res.Kept
		}
		wp.rows = newRows
		qw := make([]float32, len(w))
		for o, row := range newRows {
			row.Weights(qw[o*l.k : (o+1)*l.k])
		}
		wp.MeanCorrected = channelMeans(qw, quant.Layout{Outer: 1, Channels: l.out, Inner: l.k})
		wp.MSE = quant.MSE(w, qw)
		qg, err := q.Graph.WithOps(map[string]nn.Op{l.node.Name: q.Graph.Node(l.node.Name).Op.(nn.Weighted).WithWeights(qw, bias)})
		if err != nil {
			return nil, fmt.Errorf("learned rounding %s: %w", l.node.Name, err)
		}
		q.Graph = qg
		q.index()
		rep.Seconds = time.Since(start).Seconds()
		reports = append(reports, rep)
		if progress != nil {
			progress(l.node.Name, li+1, len(layers), rep)
		}
	}
	return reports, nil
}
