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
// quantized two-sided); a clip from 0 (ReLU6) is fused the same way, its range capped at the
// clip's top. A LeakyReLU that is the layer's only consumer is fused the same way:
// its output is quantized, two-sided, so that the grid is not spent on the negative values
// it shrinks. Pooling outputs are quantized at 8 bits. The paper leaves the network input,
// the residual Add outputs and every other tensor in float; the points that an integer
// engine must carry as codes besides (CarriedPoints) are quantized when Options.CarryBits is
// set.
type Point struct {
	Node  string `json:"node"`  // the node whose output is quantized
	Layer string `json:"layer"` // the conv/linear/pool that produced it
	Relu  string `json:"relu"`  // the fused ReLU (or LeakyReLU) after Layer, if any
	// LeakyAlpha is the slope of a fused LeakyReLU (0 for a ReLU): its output is quantized,
	// two-sided, over the layer's clipping range mapped through it.
	LeakyAlpha float32 `json:"leaky_alpha,omitempty"`
	// ClipHi is the top of a fused ReLU6-like clip (Clip from 0 to ClipHi, 0 for a plain
	// ReLU): the one-sided range is capped there.
	ClipHi float32 `json:"clip_hi,omitempty"`
	Pool   bool    `json:"pool"` // a pooling output (8 bits)
	// Carried marks a tensor the paper leaves in float and an integer engine carries as codes
	// (CarriedPoints), quantized only when Options.CarryBits is set.
	Carried bool `json:"carried,omitempty"`
	Last    bool `json:"last"` // the classifier's output
}

// QuantPoints lists the activation quantization points of g, in graph order. The classifier
// (Last) is the last convolution or linear layer: the graph's output, or what a global pool
// or softmax turns into it (Darknet's 1×1 convolution before its average pool).
func QuantPoints(g *nn.Graph) []Point {
	cons := g.Consumers()
	var pts []Point
	last := -1
	for _, n := range g.Nodes {
		if _, ok := n.Op.(nn.Weighted); ok {
			last = n.Index()
		}
	}
	for _, n := range g.Nodes {
		switch n.Op.(type) {
		case nn.Weighted:
			p := Point{Node: n.Name, Layer: n.Name, Last: n.Index() == last}
			if c := cons[n.Index()]; len(c) == 1 {
				switch op := c[0].Op.(type) {
				case nn.ReLU:
					p.Relu = c[0].Name
				case nn.Clip:
					if op.Lo == 0 && op.Hi > 0 { // ReLU6 and its kind: fused like a ReLU, capped
						p.Relu, p.ClipHi = c[0].Name, op.Hi
					}
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

// CarriedPoints lists, in graph order, the tensors that QuantPoints leaves in float and an
// integer engine must nevertheless carry as codes on a grid of their own: the residual Add
// outputs, the outputs of every other op that moves values off its inputs' grids (Mul,
// Clip, an unfused LeakyReLU, affine maps, softmax, …; a selection op — nn.Selector — keeps
// its inputs' grids and needs none), a layer's output before a fused LeakyReLU, and the
// network input when anything but a conv or linear layer reads it (those read the float
// image). A sole ReLU consumer is fused into the point, as for the layers.
func CarriedPoints(g *nn.Graph) []Point {
	cons := g.Consumers()
	covered := map[string]bool{}
	for _, p := range QuantPoints(g) {
		covered[p.QuantizedNode(true)] = true
		if p.LeakyAlpha == 0 {
			covered[p.Layer] = true // its codes are its own or its fused ReLU's
		}
	}
	var pts []Point
	for _, n := range g.Nodes {
		if covered[n.Name] {
			continue
		}
		if selects(n) {
			continue
		}
		if _, ok := n.Op.(nn.Softmax); ok && n == g.Output() {
			continue // the probabilities rank as the logits do: the engine outputs them in float
		}
		if n == g.Input() {
			floatOnly := true
			for _, c := range cons[n.Index()] {
				if _, ok := c.Op.(nn.Weighted); !ok {
					floatOnly = false
				}
			}
			if floatOnly {
				continue
			}
		}
		p := Point{Node: n.Name, Layer: n.Name, Carried: true}
		if c := cons[n.Index()]; len(c) == 1 {
			if _, ok := c[0].Op.(nn.ReLU); ok {
				p.Relu = c[0].Name
				covered[c[0].Name] = true
			}
		}
		pts = append(pts, p)
	}
	return pts
}

// selects reports whether n's op is a selection (nn.Selector): its output keeps its inputs'
// grids.
func selects(n *nn.Node) bool {
	sel, ok := n.Op.(nn.Selector)
	if !ok {
		return false
	}
	_, _, ok = sel.SourceChannel(0, inputShapes(n))
	return ok
}

func inputShapes(n *nn.Node) [][]int {
	shapes := make([][]int, len(n.Inputs))
	for i, p := range n.Inputs {
		shapes[i] = p.Shape
	}
	return shapes
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
	// Carried are the tensors an integer engine carries besides (CarriedPoints), quantized
	// when Options.CarryBits is set.
	Carried []Point `json:"carried,omitempty"`
	Stats   map[string]*NodeStats
	// DataFree marks statistics made without images (CalibrateDataFree): Gaussian by
	// construction, so the results table fits ACIQ's Gauss prior to them.
	DataFree bool `json:"data_free,omitempty"`
	// src is the calibration images themselves, which learned rounding fits on (nil for a
	// data-free calibration).
	src Source
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
	carried := CarriedPoints(g)
	for _, p := range append(pts[:len(pts):len(pts)], carried...) {
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
	cal := &Calibration{Images: n, Points: pts, Carried: carried, Stats: map[string]*NodeStats{}, src: src}
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
