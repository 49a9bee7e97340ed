package ptq

import (
	"fmt"

	"fourbit/nn"
	"fourbit/quant"
)

// Histogram resolutions of the calibration accumulators.
const (
	channelBins = 512
	tensorBins  = quant.DefaultBins
)

// Point is an activation the quantized network quantizes. As in the reference code,
// activations are quantized at the outputs of convolutions and linear layers (after BN
// folding); where a ReLU is the layer's only consumer, the ReLU's output is quantized instead
// ("fused ReLU", one-sided when Options.HalfRange is set, else the layer's own output is
// quantized two-sided). A LeakyReLU that is the layer's only consumer is fused the same way:
// its output is quantized, two-sided, so that the grid is not spent on the negative values
// it shrinks. Pooling outputs are quantized at 8 bits; the network input and the
// residual Add outputs are not quantized.
type Point struct {
	Node  string `json:"node"`  // the node whose output is quantized
	Layer string `json:"layer"` // the conv/linear/pool that produced it
	Relu  string `json:"relu"`  // the fused ReLU (or LeakyReLU) after Layer, if any
	// LeakyAlpha is the slope of a fused LeakyReLU (0 for a ReLU): its output is quantized,
	// two-sided, over the layer's clipping range mapped through it.
	LeakyAlpha float32 `json:"leaky_alpha,omitempty"`
	Pool       bool    `json:"pool"` // a pooling output (8 bits)
	// Residual marks a residual Add's output, quantized only when Options.ResidualBits is set.
	Residual bool `json:"residual,omitempty"`
	Last     bool `json:"last"` // the classifier's output
}

// QuantPoints lists the activation quantization points of g, in graph order. The classifier
// (Last) is the last convolution or linear layer: the graph's output, or what a global pool
// or softmax turns into it (Darknet's 1×1 convolution before its average pool).
func QuantPoints(g *nn.Graph) []Point {
	cons := g.Consumers()
	var pts []Point
	last := -1
	for _, n := range g.Nodes {
		switch n.Op.(type) {
		case *nn.Conv, *nn.Linear:
			last = n.Index()
		}
	}
	for _, n := range g.Nodes {
		switch n.Op.(type) {
		case *nn.Conv, *nn.Linear:
			p := Point{Node: n.Name, Layer: n.Name, Last: n.Index() == last}
			if c := cons[n.Index()]; len(c) == 1 {
				switch op := c[0].Op.(type) {
				case nn.ReLU:
					p.Relu = c[0].Name
				case nn.LeakyReLU:
					if op.Alpha > 0 && op.Alpha < 1 {
						p.Relu, p.LeakyAlpha = c[0].Name, op.Alpha
					}
				}
			}
			pts = append(pts, p)
		case nn.Pool, nn.GlobalAvgPool:
			pts = append(pts, Point{Node: n.Name, Layer: n.Name, Pool: true})
		}
	}
	return pts
}

// QuantizedNode is the node whose output the point quantizes: the fused activation's, or
// the layer's own (a ReLU is fused only with halfRange, Options.HalfRange).
func (p Point) QuantizedNode(halfRange bool) string {
	if p.Relu != "" && (halfRange || p.LeakyAlpha != 0) {
		return p.Relu
	}
	return p.Layer
}

// ResidualPoints lists g's residual Add outputs (and their sole ReLU consumers), in graph
// order: the tensors the paper leaves in float and an integer engine carries as codes.
func ResidualPoints(g *nn.Graph) []Point {
	cons := g.Consumers()
	var pts []Point
	for _, n := range g.Nodes {
		if _, ok := n.Op.(nn.Add); !ok {
			continue
		}
		p := Point{Node: n.Name, Layer: n.Name, Residual: true}
		if c := cons[n.Index()]; len(c) == 1 {
			if _, ok := c[0].Op.(nn.ReLU); ok {
				p.Relu = c[0].Name
			}
		}
		pts = append(pts, p)
	}
	return pts
}

// NodeStats holds the calibration statistics of one node's output.
type NodeStats struct {
	PerChannel []quant.Summary
	PerTensor  quant.Summary
}

// Calibration is what the float network's activations looked like on the calibration images:
// per-channel and per-tensor statistics of every node a quantization point may use.
type Calibration struct {
	Images int
	Points []Point
	// Residuals are the residual Add outputs, quantized when Options.ResidualBits is set.
	Residuals []Point `json:"residuals,omitempty"`
	Stats     map[string]*NodeStats
	// DataFree marks statistics made without images (CalibrateDataFree): Gaussian by
	// construction, so the results table fits ACIQ's Gauss prior to them.
	DataFree bool `json:"data_free,omitempty"`
}

// Calibrate runs the float network g on the first n images of src (all if n ≤ 0) and gathers
// streaming statistics of every quantization point's candidate outputs (the layer's output and
// its fused ReLU's), in bounded memory. It fails if src has fewer than n images.
func Calibrate(g *nn.Graph, src Source, n, batch int, progress Progress) (*Calibration, error) {
	if n <= 0 {
		n = src.Len()
	}
	if src.Len() < n {
		return nil, fmt.Errorf("calibrate: %d calibration images asked, the folder has %d", n, src.Len())
	}
	if batch <= 0 {
		batch = DefaultBatch
	}
	pts := QuantPoints(g)
	type acc struct {
		ch     *quant.ChannelAccumulator
		tensor *quant.Accumulator
		shape  []int
	}
	accs := map[string]*acc{}
	watch := func(name string) {
		node := g.Node(name)
		c := node.Shape[0]
		accs[name] = &acc{ch: quant.NewChannelAccumulator(c, channelBins), tensor: quant.NewAccumulator(tensorBins), shape: node.Shape}
	}
	res := ResidualPoints(g)
	for _, p := range append(pts[:len(pts):len(pts)], res...) {
		watch(p.Layer)
		if p.Relu != "" {
			watch(p.Relu)
		}
	}
	hook := func(node *nn.Node, out []float32, b int) error {
		a, ok := accs[node.Name]
		if !ok {
			return nil
		}
		c := a.shape[0]
		l := quant.Layout{Outer: b, Channels: c, Inner: nn.Size(a.shape) / c}
		if err := a.ch.Add(out, l); err != nil {
			return err
		}
		a.tensor.Add(out)
		return nil
	}
	per := nn.Size(g.Input().Shape)
	err := batches(src, n, batch, per, func(x []float32, _ []int, lo, hi int) error {
		if _, err := g.Forward(x, hi-lo, hook); err != nil {
			return err
		}
		if progress != nil {
			progress(hi, n)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("calibrate: %w", err)
	}
	cal := &Calibration{Images: n, Points: pts, Residuals: res, Stats: map[string]*NodeStats{}}
	for name, a := range accs {
		chs, err := a.ch.Summaries()
		if err != nil {
			return nil, fmt.Errorf("calibrate: node %s: %w", name, err)
		}
		ts, err := a.tensor.Summary()
		if err != nil {
			return nil, fmt.Errorf("calibrate: node %s: %w", name, err)
		}
		if ts.NonFinite > 0 {
			return nil, fmt.Errorf("calibrate: node %s produced %d NaN or infinite values: the model or its input is broken", name, ts.NonFinite)
		}
		cal.Stats[name] = &NodeStats{PerChannel: chs, PerTensor: ts}
	}
	return cal, nil
}
