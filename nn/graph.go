// Package nn is fourbit's network layer: a graph of named nodes over float32 NCHW tensors,
// its batched float forward pass, shape inference, batch-norm folding, and hooks through
// which calibration observes and simulated quantization rewrites every activation.
//
// It is the one place that knows what a layer is; the arithmetic lives in package kernels.
package nn

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Node is one operation of a graph. Its output has the per-image Shape ([C, H, W] for feature
// maps, [F] for vectors); a batch of B images holds B × Size(Shape) values.
type Node struct {
	Name   string
	Op     Op
	Inputs []*Node
	Shape  []int
	index  int
}

// Index is the node's position in its graph's topological order.
func (n *Node) Index() int { return n.index }

// Graph is a network: nodes in topological order, the first being the single Input.
type Graph struct {
	Nodes  []*Node
	byName map[string]*Node
	// Preprocess describes how images become the input tensor.
	Preprocess Preprocess
	// Classes names the outputs, when the model carries them: the labels a dataset's class
	// folders are matched against (CIFAR-10's class names, ImageNet's WordNet synsets).
	Classes []string
	// Names are human-readable names of the outputs ("kit fox" for n02119789), when the model
	// carries them; predictions are shown with them. Empty: Classes serve as names.
	Names []string
}

// ClassName returns the name to show for output i: Names[i], else Classes[i], else "class i".
func (g *Graph) ClassName(i int) string {
	switch {
	case i >= 0 && i < len(g.Names):
		return g.Names[i]
	case i >= 0 && i < len(g.Classes):
		return g.Classes[i]
	}
	return fmt.Sprintf("class %d", i)
}

// CopyMeta copies src's preprocessing and class lists into g (graphs derived from src).
func (g *Graph) CopyMeta(src *Graph) {
	g.Preprocess, g.Classes, g.Names = src.Preprocess, src.Classes, src.Names
}

// Preprocess is how a model's input is made from an image: the image is fitted to the input's
// height and width as Resize says, then each value = (pixel/255 − Mean[c]) / Std[c].
type Preprocess struct {
	Mean, Std [3]float32
	Resize    Resize `json:",omitempty"`
	// Crop is the fraction of the image's height and width that ResizeCentral keeps.
	Crop float32 `json:",omitempty"`
}

// Resize is how an image of another size than the model's input is fitted to it.
type Resize string

// The resize modes.
const (
	// ResizeCrop scales the image (bilinear) so that its short side is the input's, then
	// crops the centre: torchvision's Resize + CenterCrop, and fourbit's default.
	ResizeCrop Resize = ""
	// ResizeStretch resizes the whole image to the input's size (aspect ratio not kept),
	// bilinear with aligned corners: tf.image.resizeBilinear(…, alignCorners=true), as TF.js
	// image models (ml5's Darknet among them) are fed.
	ResizeStretch Resize = "stretch"
	// ResizeCentral keeps the central Crop fraction of the image (tf.image.central_crop) and
	// resizes it to the input's size, bilinear with half-pixel centres (tf.image.resize):
	// TensorFlow's ImageNet evaluation protocol, with Crop 0.875.
	ResizeCentral Resize = "central"
)

// Check reports a preprocessing fourbit cannot apply.
func (p Preprocess) Check() error {
	switch p.Resize {
	case ResizeCrop, ResizeStretch:
	case ResizeCentral:
		if !(p.Crop > 0 && p.Crop <= 1) {
			return fmt.Errorf("%w: central crop of %v of the image (want a fraction in (0, 1])", ErrGraph, p.Crop)
		}
	default:
		return fmt.Errorf("%w: unknown resize mode %q (want \"\" for crop, %q or %q)", ErrGraph, p.Resize, ResizeStretch, ResizeCentral)
	}
	for c := range 3 {
		if !(p.Std[c] != 0) || math.IsNaN(float64(p.Mean[c])) || math.IsInf(float64(p.Mean[c]), 0) || math.IsInf(float64(p.Std[c]), 0) {
			return fmt.Errorf("%w: preprocessing mean %v, std %v", ErrGraph, p.Mean, p.Std)
		}
	}
	return nil
}

// ErrGraph reports a malformed graph.
var ErrGraph = errors.New("nn: bad graph")

// NewGraph returns a graph whose input has the given per-image shape.
func NewGraph(inputShape ...int) *Graph {
	g := &Graph{byName: map[string]*Node{}}
	in := &Node{Name: "input", Op: Input{}, Shape: append([]int(nil), inputShape...)}
	g.Nodes = append(g.Nodes, in)
	g.byName["input"] = in
	return g
}

// Input returns the graph's input node.
func (g *Graph) Input() *Node { return g.Nodes[0] }

// Output returns the graph's output node (the last one).
func (g *Graph) Output() *Node { return g.Nodes[len(g.Nodes)-1] }

// Node returns the node with the given name, or nil.
func (g *Graph) Node(name string) *Node { return g.byName[name] }

// Add appends a node computing op on inputs, infers its shape and returns it. Names must be
// unique; inputs must already be in the graph.
func (g *Graph) Add(name string, op Op, inputs ...*Node) (*Node, error) {
	if name == "" || g.byName[name] != nil {
		return nil, fmt.Errorf("%w: duplicate or empty node name %q", ErrGraph, name)
	}
	shapes := make([][]int, len(inputs))
	for i, in := range inputs {
		if in == nil || in.index >= len(g.Nodes) || g.Nodes[in.index] != in {
			return nil, fmt.Errorf("%w: node %s: input %d is not in the graph", ErrGraph, name, i)
		}
		shapes[i] = in.Shape
	}
	shape, err := op.OutShape(shapes)
	if err != nil {
		return nil, fmt.Errorf("node %s (%s): %w", name, op.Kind(), err)
	}
	n := &Node{Name: name, Op: op, Inputs: inputs, Shape: shape, index: len(g.Nodes)}
	g.Nodes = append(g.Nodes, n)
	g.byName[name] = n
	return n, nil
}

// Consumers returns, for every node, the nodes that read its output.
func (g *Graph) Consumers() [][]*Node {
	out := make([][]*Node, len(g.Nodes))
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			out[in.index] = append(out[in.index], n)
		}
	}
	return out
}

// Size is the number of values of a per-image shape.
func Size(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Params counts the graph's parameters (weights and biases).
func (g *Graph) Params() int {
	total := 0
	for _, n := range g.Nodes {
		if p, ok := n.Op.(interface{ Params() int }); ok {
			total += p.Params()
		}
	}
	return total
}

// MACs counts the multiply-accumulates of one image's forward pass.
func (g *Graph) MACs() int64 {
	var total int64
	for _, n := range g.Nodes {
		if m, ok := n.Op.(interface{ MACs(out []int) int64 }); ok {
			total += m.MACs(n.Shape)
		}
	}
	return total
}

// String prints the graph, one node a line: name, kind, inputs, output shape.
func (g *Graph) String() string {
	var b strings.Builder
	for _, n := range g.Nodes {
		ins := make([]string, len(n.Inputs))
		for i, in := range n.Inputs {
			ins[i] = in.Name
		}
		fmt.Fprintf(&b, "%-24s %-14s %-40s %v\n", n.Name, n.Op.Kind(), strings.Join(ins, ","), n.Shape)
	}
	return b.String()
}

// NodeInfo describes one node for people and tools: name, kind, input names, per-image output
// shape, parameters and multiply-accumulates per image.
type NodeInfo struct {
	Name   string   `json:"name"`
	Kind   string   `json:"kind"`
	Inputs []string `json:"inputs"`
	Shape  []int    `json:"shape"`
	Params int      `json:"params"`
	MACs   int64    `json:"macs"`
}

// Describe returns a NodeInfo for every node, in order.
func (g *Graph) Describe() []NodeInfo {
	out := make([]NodeInfo, 0, len(g.Nodes))
	for _, n := range g.Nodes {
		ni := NodeInfo{Name: n.Name, Kind: n.Op.Kind(), Shape: n.Shape, Inputs: []string{}}
		for _, in := range n.Inputs {
			ni.Inputs = append(ni.Inputs, in.Name)
		}
		if p, ok := n.Op.(interface{ Params() int }); ok {
			ni.Params = p.Params()
		}
		if m, ok := n.Op.(interface{ MACs([]int) int64 }); ok {
			ni.MACs = m.MACs(n.Shape)
		}
		out = append(out, ni)
	}
	return out
}

// CheckFinite reports the first node whose parameters hold NaN or ±Inf: such a model cannot
// be quantized (or run) meaningfully, and loaders reject it with this error.
func (g *Graph) CheckFinite() error {
	for _, n := range g.Nodes {
		var params map[string][]float32
		switch op := n.Op.(type) {
		case *Conv:
			params = map[string][]float32{"weights": op.W, "bias": op.B}
		case *Linear:
			params = map[string][]float32{"weights": op.W, "bias": op.B}
		case *BatchNorm:
			params = map[string][]float32{"gamma": op.Gamma, "beta": op.Beta, "mean": op.Mean, "variance": op.Var}
		}
		for what, xs := range params {
			for i, x := range xs {
				if x != x || x > math.MaxFloat32 || x < -math.MaxFloat32 {
					return fmt.Errorf("%w: node %s: %s[%d] is %v", ErrGraph, n.Name, what, i, x)
				}
			}
		}
	}
	return nil
}

// ParsePreprocess reads a preprocessing written as comma-separated key=value pairs:
// mean and std (in units of 1 = pixel value 255; one value, or three separated by '/'),
// resize (crop, stretch or central) and crop (the fraction central keeps). Keys left out keep
// their values in base. Example: "mean=0.5,std=0.5,resize=central,crop=0.875" is
// TensorFlow's ImageNet protocol, x/127.5 − 1 on the central 87.5%.
func ParsePreprocess(spec string, base Preprocess) (Preprocess, error) {
	p := base
	for _, kv := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return p, fmt.Errorf("preprocessing %q: want key=value pairs (mean, std, resize, crop)", spec)
		}
		switch k {
		case "mean", "std":
			parts := strings.Split(v, "/")
			if len(parts) != 1 && len(parts) != 3 {
				return p, fmt.Errorf("preprocessing %s=%s: one value or three", k, v)
			}
			var vals [3]float32
			for c := range vals {
				x, err := strconv.ParseFloat(parts[min(c, len(parts)-1)], 32)
				if err != nil {
					return p, fmt.Errorf("preprocessing %s=%s: %v", k, v, err)
				}
				vals[c] = float32(x)
			}
			if k == "mean" {
				p.Mean = vals
			} else {
				p.Std = vals
			}
		case "resize":
			p.Resize = Resize(v)
			if v == "crop" {
				p.Resize = ResizeCrop
			}
		case "crop":
			x, err := strconv.ParseFloat(v, 32)
			if err != nil {
				return p, fmt.Errorf("preprocessing crop=%s: %v", v, err)
			}
			p.Crop = float32(x)
		default:
			return p, fmt.Errorf("preprocessing %q: unknown key %q (mean, std, resize, crop)", spec, k)
		}
	}
	return p, p.Check()
}
