// Package onnx reads ONNX CNN models into fourbit's network graph and writes graphs — float,
// or quantized as QuantizeLinear/DequantizeLinear (QDQ) models — back to ONNX, so that ONNX
// Runtime can check fourbit's import, export and arithmetic. The protobuf is parsed with
// google.golang.org/protobuf's protowire reader; only the fields fourbit needs are decoded.
package onnx

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"fourbit/nn"
)

// MinOpset is the oldest default-domain opset the reader accepts.
const MinOpset = 7

// Metadata keys fourbit writes into the models it exports (and reads back).
const (
	metaPreprocess = "fourbit.preprocess"
	metaClasses    = "fourbit.classes"
	metaNames      = "fourbit.names"
)

// value is a tensor of the ONNX graph during import: either computed by the network
// (node, with its per-image shape) or known at import time (konst: initializers, Constant
// nodes and the shape arithmetic exporters emit).
type value struct {
	node  *nn.Node
	konst *tensor
}

// Options adjust reading.
type Options struct {
	// InputShape fixes the input's sizes after the batch axis — (C, H, W) for an image, (T, F)
	// for a sequence — where the model leaves them open (a symbolic height and width, say); it
	// must agree with the dimensions the model does fix.
	InputShape []int
}

// Read parses an ONNX model and returns its network, batch norms folded. Bad or hostile
// input gives an error, never a panic.
func Read(data []byte) (*nn.Graph, error) { return ReadWith(data, Options{}) }

// ReadWith is Read with options.
func ReadWith(data []byte, opts Options) (g *nn.Graph, err error) {
	defer func() {
		if r := recover(); r != nil {
			g, err = nil, fmt.Errorf("onnx: malformed model (%v)", r)
		}
	}()
	if len(data) == 0 {
		return nil, fmt.Errorf("onnx: empty file")
	}
	m, err := decodeModel(data)
	if err != nil {
		return nil, err
	}
	opset, ok := m.opsets[""]
	if v, ok2 := m.opsets["ai.onnx"]; ok2 {
		opset, ok = v, true
	}
	if !ok {
		opset = MinOpset // old files without opset_import
	}
	if opset < MinOpset {
		return nil, fmt.Errorf("onnx: opset %d is older than %d, the oldest fourbit reads", opset, MinOpset)
	}
	imp := &importer{values: map[string]*value{}, opset: opset, names: map[string]bool{}, opts: opts}
	g, err = imp.build(m)
	if err != nil {
		return nil, err
	}
	if err := g.CheckFinite(); err != nil {
		return nil, err
	}
	return nn.FoldBatchNorm(g)
}

type importer struct {
	opts      Options
	g         *nn.Graph
	values    map[string]*value
	opset     int64
	names     map[string]bool
	consumers map[string][]*node // the nodes that read each value
}

func (imp *importer) build(m *model) (*nn.Graph, error) {
	gr := m.graph
	total := 0
	for _, t := range gr.initializers {
		total += len(t.floats) + len(t.ints)
		if total > MaxElements {
			return nil, fmt.Errorf("onnx: initializers hold more than %d values", MaxElements)
		}
		imp.values[t.name] = &value{konst: t}
	}
	var input *valueInfo
	for i, in := range gr.inputs {
		if _, isInit := imp.values[in.name]; isInit {
			continue
		}
		if input != nil {
			return nil, fmt.Errorf("onnx: the graph has several inputs (%s, %s); fourbit reads single-input CNNs", input.name, in.name)
		}
		input = &gr.inputs[i]
	}
	if input == nil {
		return nil, fmt.Errorf("onnx: the graph has no input")
	}
	if s := imp.opts.InputShape; s != nil {
		if len(s) != len(input.dims)-1 {
			return nil, fmt.Errorf("onnx: input shape %v for an input of rank %d (give the sizes after the batch axis)", s, len(input.dims))
		}
		dims := slices.Clone(input.dims)
		for i, v := range s {
			if dims[i+1] > 0 && dims[i+1] != int64(v) {
				return nil, fmt.Errorf("onnx: input shape %v disagrees with the model's %v", s, input.dims)
			}
			dims[i+1] = int64(v)
		}
		input.dims = dims
	}
	if len(input.dims) < 2 || len(input.dims) > 5 {
		return nil, fmt.Errorf("onnx: input %s has shape %v; fourbit reads inputs of rank 2 to 5 with a batch axis first (N×F, N×T×F, N×C×H×W)", input.name, input.dims)
	}
	shape := make([]int, len(input.dims)-1)
	for i, d := range input.dims[1:] {
		if d <= 0 || d > 1<<16 {
			return nil, fmt.Errorf("onnx: input %s has shape %v; give the sizes the model leaves open (e.g. --input-shape 3x224x224)", input.name, input.dims)
		}
		shape[i] = int(d)
	}
	if nn.Size(shape) > 1<<26 {
		return nil, fmt.Errorf("onnx: input %s of shape %v is too large", input.name, input.dims)
	}
	imp.g = nn.NewGraph(shape...)
	imp.g.Preprocess = nn.Preprocess{Std: [3]float32{1, 1, 1}}
	if s, ok := m.metadata[metaPreprocess]; ok {
		var p nn.Preprocess
		if err := json.Unmarshal([]byte(s), &p); err == nil && p.Check() == nil {
			imp.g.Preprocess = p
		}
	}
	if s, ok := m.metadata[metaClasses]; ok {
		_ = json.Unmarshal([]byte(s), &imp.g.Classes)
	}
	if s, ok := m.metadata[metaNames]; ok {
		_ = json.Unmarshal([]byte(s), &imp.g.Names)
	}
	imp.values[input.name] = &value{node: imp.g.Input()}
	imp.names["input"] = true

	order, err := topoSort(gr, imp.values)
	if err != nil {
		return nil, err
	}
	imp.consumers = map[string][]*node{}
	for _, n := range order {
		for _, in := range n.inputs {
			imp.consumers[in] = append(imp.consumers[in], n)
		}
	}
	var unsupported []string
	for _, n := range order {
		if err := imp.node(n); err != nil {
			if u, ok := err.(unsupportedError); ok {
				unsupported = append(unsupported, string(u))
				// Its outputs stay undefined; later nodes that need them are skipped quietly.
				continue
			}
			if err == errSkipped {
				continue
			}
			return nil, fmt.Errorf("onnx: node %s (%s): %w", nodeName(n), n.opType, err)
		}
	}
	if len(unsupported) > 0 {
		return nil, fmt.Errorf("onnx: %d unsupported node(s): %s", len(unsupported), strings.Join(unsupported, ", "))
	}
	if len(gr.outputs) != 1 {
		return nil, fmt.Errorf("onnx: the graph has %d outputs; fourbit reads single-output classifiers", len(gr.outputs))
	}
	out := imp.values[gr.outputs[0].name]
	if out == nil || out.node == nil {
		return nil, fmt.Errorf("onnx: the graph output %s is not computed from the input", gr.outputs[0].name)
	}
	if out.node != imp.g.Output() {
		// The output must be the last node: re-emit it as an identity flatten if needed.
		if _, err := imp.add(gr.outputs[0].name+".out", nn.Flatten{}, out.node); err != nil {
			return nil, err
		}
	}
	return imp.g, nil
}

// supportedOps are the operators the reader converts (some only in the forms CNN exporters
// emit; the error says which form was not).
var supportedOps = map[string]bool{
	"Constant": true, "Identity": true, "Dropout": true, "Shape": true, "Cast": true, "Gather": true,
	"Unsqueeze": true, "Squeeze": true, "Slice": true, "Conv": true, "BatchNormalization": true,
	"Relu": true, "LeakyRelu": true, "Clip": true, "HardSigmoid": true, "Add": true, "Sub": true,
	"Mul": true, "Div": true, "MaxPool": true, "AveragePool": true, "GlobalAveragePool": true,
	"Flatten": true, "Reshape": true, "Gemm": true, "MatMul": true, "Concat": true, "Pad": true,
	"Softmax": true, "Sigmoid": true, "Tanh": true, "Transpose": true, "Max": true, "Min": true,
	"Pow": true, "Sqrt": true, "ReduceMean": true, "Resize": true, "Upsample": true, "ConvTranspose": true,
}

// errSkipped marks a node that reads the output of an unsupported one.
var errSkipped = errors.New("skipped")

type unsupportedError string

func (e unsupportedError) Error() string { return string(e) }

func nodeName(n *node) string {
	if n.name != "" {
		return n.name
	}
	if len(n.outputs) > 0 {
		return n.outputs[0]
	}
	return "?"
}

// topoSort orders the nodes so that every input is computed first; a cycle or an input that
// nothing produces is an error naming the nodes.
func topoSort(gr *graph, known map[string]*value) ([]*node, error) {
	producer := map[string]int{}
	for i, n := range gr.nodes {
		for _, o := range n.outputs {
			if o != "" {
				producer[o] = i
			}
		}
	}
	deps := make([][]int, len(gr.nodes))
	users := make([][]int, len(gr.nodes))
	var missing []string
	for i, n := range gr.nodes {
		for _, in := range n.inputs {
			if in == "" || known[in] != nil {
				continue
			}
			p, ok := producer[in]
			if !ok {
				missing = append(missing, fmt.Sprintf("%s of %s", in, nodeName(n)))
				continue
			}
			deps[i] = append(deps[i], p)
			users[p] = append(users[p], i)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("onnx: missing input(s): %s", strings.Join(missing, ", "))
	}
	pending := make([]int, len(gr.nodes))
	var ready []int
	for i := range gr.nodes {
		pending[i] = len(deps[i])
		if pending[i] == 0 {
			ready = append(ready, i)
		}
	}
	var order []*node
	for len(ready) > 0 {
		i := ready[0]
		ready = ready[1:]
		order = append(order, gr.nodes[i])
		for _, u := range users[i] {
			if pending[u]--; pending[u] == 0 {
				ready = append(ready, u)
			}
		}
	}
	if len(order) != len(gr.nodes) {
		var cyc []string
		for i, p := range pending {
			if p > 0 {
				cyc = append(cyc, nodeName(gr.nodes[i]))
			}
		}
		sort.Strings(cyc)
		return nil, fmt.Errorf("onnx: the graph has a cycle through %s", strings.Join(cyc, ", "))
	}
	return order, nil
}

// add appends an nn node with a unique name.
func (imp *importer) add(name string, op nn.Op, inputs ...*nn.Node) (*nn.Node, error) {
	base := name
	for i := 2; imp.names[name] || name == ""; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	imp.names[name] = true
	return imp.g.Add(name, op, inputs...)
}

// in returns input i of n (nil if absent).
func (imp *importer) in(n *node, i int) *value {
	if i >= len(n.inputs) || n.inputs[i] == "" {
		return nil
	}
	return imp.values[n.inputs[i]]
}

func (imp *importer) setNode(n *node, nd *nn.Node) {
	imp.values[n.outputs[0]] = &value{node: nd}
}

func (imp *importer) setConst(n *node, t *tensor) {
	imp.values[n.outputs[0]] = &value{konst: t}
}

func attrInts(n *node, name string, def []int64) []int64 {
	if a, ok := n.attrs[name]; ok {
		return a.ints
	}
	return def
}

func attrInt(n *node, name string, def int64) int64 {
	if a, ok := n.attrs[name]; ok {
		return a.i
	}
	return def
}

func attrFloat(n *node, name string, def float32) float32 {
	if a, ok := n.attrs[name]; ok {
		return a.f
	}
	return def
}

func attrString(n *node, name, def string) string {
	if a, ok := n.attrs[name]; ok {
		return string(a.s)
	}
	return def
}

// node converts one ONNX node.
func (imp *importer) node(n *node) error {
	if n.domain != "" && n.domain != "ai.onnx" {
		return unsupportedError(fmt.Sprintf("%s (%s, domain %s)", nodeName(n), n.opType, n.domain))
	}
	if len(n.outputs) == 0 {
		return fmt.Errorf("no outputs")
	}
	if imp.values[n.outputs[0]] != nil {
		return nil // converted with the node before it (a batch-moving transpose's slices)
	}
	for i := range n.inputs {
		if n.inputs[i] != "" && imp.values[n.inputs[i]] == nil {
			if !supportedOps[n.opType] {
				return unsupportedError(fmt.Sprintf("%s (%s)", nodeName(n), n.opType))
			}
			return errSkipped // downstream of an unsupported node: already reported
		}
	}
	// Constant folding first: every op whose inputs are all known.
	if allConst(imp, n) && n.opType != "Constant" {
		if t, err := foldConst(imp, n); err == nil {
			imp.setConst(n, t)
			return nil
		} else if _, ok := err.(unsupportedError); !ok {
			return err
		}
	}
	name := nodeName(n)
	x := imp.in(n, 0)
	dyn := func() (*nn.Node, error) {
		if x == nil || x.node == nil {
			return nil, fmt.Errorf("input 0 must be computed from the network input")
		}
		return x.node, nil
	}
	switch n.opType {
	case "Constant":
		a, ok := n.attrs["value"]
		if !ok || a.t == nil {
			if a, ok := n.attrs["value_float"]; ok {
				imp.setConst(n, &tensor{floats: []float32{a.f}})
				return nil
			}
			if a, ok := n.attrs["value_int"]; ok {
				imp.setConst(n, &tensor{ints: []int64{a.i}})
				return nil
			}
			if a, ok := n.attrs["value_ints"]; ok {
				imp.setConst(n, &tensor{ints: a.ints, dims: []int64{int64(len(a.ints))}})
				return nil
			}
			return fmt.Errorf("constant without a supported value attribute")
		}
		imp.setConst(n, a.t)
		return nil
	case "Identity", "Dropout":
		imp.values[n.outputs[0]] = x
		return nil
	case "Shape":
		in, err := dyn()
		if err != nil {
			return err
		}
		dims := []int64{1}
		for _, d := range in.Shape {
			dims = append(dims, int64(d))
		}
		imp.setConst(n, &tensor{ints: dims, dims: []int64{int64(len(dims))}})
		return nil
	case "Conv":
		return imp.conv(n, name, x)
	case "BatchNormalization":
		in, err := dyn()
		if err != nil {
			return err
		}
		ps := make([][]float32, 4)
		for i := range ps {
			v := imp.in(n, i+1)
			if v == nil || v.konst == nil || v.konst.floats == nil {
				return fmt.Errorf("batch norm parameter %d is not a constant float tensor", i+1)
			}
			ps[i] = v.konst.floats
		}
		nd, err := imp.add(name, &nn.BatchNorm{Gamma: ps[0], Beta: ps[1], Mean: ps[2], Var: ps[3], Eps: float64(attrFloat(n, "epsilon", 1e-5))}, in)
		if err != nil {
			return err
		}
		imp.setNode(n, nd)
		return nil
	case "Relu":
		return imp.unary(n, name, x, nn.ReLU{})
	case "Sigmoid":
		return imp.unary(n, name, x, nn.Sigmoid{})
	case "Tanh":
		return imp.unary(n, name, x, nn.Tanh{})
	case "LeakyRelu":
		return imp.unary(n, name, x, nn.LeakyReLU{Alpha: attrFloat(n, "alpha", 0.01)})
	case "Clip":
		lo, hi := attrFloat(n, "min", -3.4028235e38), attrFloat(n, "max", 3.4028235e38)
		for i, p := range []*float32{&lo, &hi} {
			if v := imp.in(n, i+1); v != nil {
				if v.konst == nil || len(v.konst.floats) != 1 {
					return fmt.Errorf("clip bound %d is not a constant scalar", i+1)
				}
				*p = v.konst.floats[0]
			}
		}
		return imp.unary(n, name, x, nn.Clip{Lo: lo, Hi: hi})
	case "Add", "Sub", "Mul", "Div":
		return imp.elementwise(n, name)
	case "MaxPool", "AveragePool":
		return imp.pool(n, name, x)
	case "GlobalAveragePool":
		return imp.unary(n, name, x, nn.GlobalAvgPool{KeepDims: true})
	case "HardSigmoid":
		return imp.unary(n, name, x, nn.HardSigmoid{Alpha: attrFloat(n, "alpha", 0.2), Beta: attrFloat(n, "beta", 0.5)})
	case "Flatten":
		in, err := dyn()
		if err != nil {
			return err
		}
		if axis := attrInt(n, "axis", 1); axis != 1 && axis != -int64(len(in.Shape)) {
			return unsupportedError(fmt.Sprintf("%s (Flatten, axis %d)", name, axis))
		}
		return imp.flatten(n, name, in)
	case "Reshape":
		in, err := dyn()
		if err != nil {
			return err
		}
		s := imp.in(n, 1)
		if s == nil || s.konst == nil || s.konst.ints == nil {
			return unsupportedError(fmt.Sprintf("%s (Reshape to a shape computed at run time)", name))
		}
		shape, err := reshaped(in.Shape, s.konst.ints, attrInt(n, "allowzero", 0) != 0)
		if err != nil {
			return unsupportedError(fmt.Sprintf("%s (Reshape to %v: %v)", name, s.konst.ints, err))
		}
		return imp.reshape(n, name, in, shape)
	case "Squeeze", "Unsqueeze":
		in, err := dyn()
		if err != nil {
			return err
		}
		axes := attrInts(n, "axes", nil)
		if v := imp.in(n, 1); v != nil {
			if v.konst == nil || v.konst.ints == nil {
				return unsupportedError(fmt.Sprintf("%s (%s by axes computed at run time)", name, n.opType))
			}
			axes = v.konst.ints
		}
		shape, err := squeezed(in.Shape, axes, n.opType == "Unsqueeze")
		if err != nil {
			return unsupportedError(fmt.Sprintf("%s (%s %v: %v)", name, n.opType, axes, err))
		}
		return imp.reshape(n, name, in, shape)
	case "Transpose":
		in, err := dyn()
		if err != nil {
			return err
		}
		perm := attrInts(n, "perm", nil)
		if perm == nil {
			for i := len(in.Shape); i >= 0; i-- {
				perm = append(perm, int64(i))
			}
		}
		if len(perm) == len(in.Shape)+1 && perm[0] != 0 {
			if err := imp.splitTranspose(n, name, in, perm); err == nil {
				return nil
			}
		}
		if len(perm) != len(in.Shape)+1 || perm[0] != 0 {
			return unsupportedError(fmt.Sprintf("%s (Transpose %v: the batch axis must stay first)", name, perm))
		}
		p := make([]int, len(in.Shape))
		identity := true
		for i, v := range perm[1:] {
			p[i] = int(v) - 1
			identity = identity && p[i] == i
		}
		if identity {
			imp.setNode(n, in)
			return nil
		}
		return imp.unary(n, name, x, nn.Transpose{Perm: p})
	case "Max", "Min", "Pow":
		if len(n.inputs) != 2 {
			return unsupportedError(fmt.Sprintf("%s (%s of %d inputs)", name, n.opType, len(n.inputs)))
		}
		return imp.elementwise(n, name)
	case "Sqrt":
		return imp.unary(n, name, x, nn.Pow{P: 0.5})
	case "ReduceMean":
		in, err := dyn()
		if err != nil {
			return err
		}
		axes := attrInts(n, "axes", nil)
		if v := imp.in(n, 1); v != nil {
			if v.konst == nil || v.konst.ints == nil {
				return unsupportedError(fmt.Sprintf("%s (ReduceMean over axes computed at run time)", name))
			}
			axes = v.konst.ints
		}
		var ax []int
		for _, a := range axes {
			if a < 0 {
				a += int64(len(in.Shape)) + 1
			}
			if a < 1 || a > int64(len(in.Shape)) {
				return unsupportedError(fmt.Sprintf("%s (ReduceMean over axis %d: not the batch)", name, a))
			}
			ax = append(ax, int(a)-1)
		}
		if len(ax) == 0 {
			return unsupportedError(fmt.Sprintf("%s (ReduceMean over every axis)", name))
		}
		keep := attrInt(n, "keepdims", 1) != 0
		if len(in.Shape) == 3 && keep && slices.Equal(slices.Sorted(slices.Values(ax)), []int{1, 2}) {
			return imp.unary(n, name, x, nn.GlobalAvgPool{KeepDims: true})
		}
		return imp.unary(n, name, x, nn.ReduceMean{Axes: ax, KeepDims: keep})
	case "Resize", "Upsample":
		return imp.resize(n, name, x)
	case "ConvTranspose":
		return imp.convTranspose(n, name, x)
	case "Gemm", "MatMul":
		return imp.linear(n, name, x)
	case "Concat":
		if axis := attrInt(n, "axis", 1); axis != 1 {
			return unsupportedError(fmt.Sprintf("%s (Concat on axis %d)", name, axis))
		}
		var ins []*nn.Node
		for i := range n.inputs {
			v := imp.in(n, i)
			if v == nil || v.node == nil {
				return unsupportedError(fmt.Sprintf("%s (Concat of a constant)", name))
			}
			ins = append(ins, v.node)
		}
		nd, err := imp.add(name, nn.Concat{}, ins...)
		if err != nil {
			return err
		}
		imp.setNode(n, nd)
		return nil
	case "Pad":
		return imp.pad(n, name, x)
	case "Slice":
		return imp.slice(n, name, x)
	case "Softmax":
		in, err := dyn()
		if err != nil {
			return err
		}
		def := int64(-1)
		if imp.opset < 13 {
			def = 1 // coerced to 2-D from axis 1: the last axis only for a vector
		}
		axis := attrInt(n, "axis", def)
		if axis < 0 {
			axis += int64(len(in.Shape)) + 1
		}
		if axis != int64(len(in.Shape)) {
			return unsupportedError(fmt.Sprintf("%s (Softmax over axis %d of a rank-%d tensor: fourbit takes it over the last axis)", name, axis, len(in.Shape)+1))
		}
		return imp.unary(n, name, x, nn.Softmax{})
	}
	return unsupportedError(fmt.Sprintf("%s (%s)", name, n.opType))
}

// unary2 adds an op of two computed inputs.
func (imp *importer) unary2(n *node, name string, op nn.Op, a, b *nn.Node) error {
	nd, err := imp.add(name, op, a, b)
	if err != nil {
		return err
	}
	imp.setNode(n, nd)
	return nil
}

func (imp *importer) unary(n *node, name string, x *value, op nn.Op) error {
	if x == nil || x.node == nil {
		return fmt.Errorf("input must be computed from the network input")
	}
	nd, err := imp.add(name, op, x.node)
	if err != nil {
		return err
	}
	imp.setNode(n, nd)
	return nil
}

func (imp *importer) flatten(n *node, name string, in *nn.Node) error {
	if len(in.Shape) == 1 {
		imp.setNode(n, in)
		return nil
	}
	nd, err := imp.add(name, nn.Flatten{}, in)
	if err != nil {
		return err
	}
	imp.setNode(n, nd)
	return nil
}

func (imp *importer) conv(n *node, name string, x *value) error {
	if x == nil || x.node == nil {
		return fmt.Errorf("input must be computed from the network input")
	}
	w, b := imp.in(n, 1), imp.in(n, 2)
	if w != nil && w.konst != nil && len(w.konst.dims) == 3 && len(x.node.Shape) == 2 {
		return imp.conv1D(n, name, x)
	}
	if w == nil || w.konst == nil || w.konst.floats == nil || len(w.konst.dims) != 4 {
		return unsupportedError(fmt.Sprintf("%s (Conv whose weights are not a constant 4-D tensor)", name))
	}
	in := x.node.Shape
	if len(in) != 3 {
		return fmt.Errorf("conv on a %v tensor", in)
	}
	d := w.konst.dims
	c := &nn.Conv{W: w.konst.floats, OutC: int(d[0]), KH: int(d[2]), KW: int(d[3]), Groups: int(attrInt(n, "group", 1))}
	if b != nil {
		if b.konst == nil || b.konst.floats == nil {
			return fmt.Errorf("conv bias is not a constant float tensor")
		}
		c.B = b.konst.floats
	}
	st := attrInts(n, "strides", []int64{1, 1})
	dl := attrInts(n, "dilations", []int64{1, 1})
	pads := attrInts(n, "pads", []int64{0, 0, 0, 0})
	if len(st) != 2 || len(dl) != 2 || len(pads) != 4 {
		return fmt.Errorf("strides %v, dilations %v, pads %v: want 2-D", st, dl, pads)
	}
	for _, v := range slices.Concat(st, dl, pads) {
		if v < 0 || v > 1<<16 {
			return fmt.Errorf("strides %v, dilations %v, pads %v out of range", st, dl, pads)
		}
	}
	if ks := attrInts(n, "kernel_shape", nil); ks != nil && (len(ks) != 2 || ks[0] != d[2] || ks[1] != d[3]) {
		return fmt.Errorf("kernel_shape %v disagrees with the weights %v", ks, d)
	}
	c.StrideH, c.StrideW, c.DilH, c.DilW = int(st[0]), int(st[1]), int(dl[0]), int(dl[1])
	c.PadT, c.PadL, c.PadB, c.PadR = int(pads[0]), int(pads[1]), int(pads[2]), int(pads[3])
	if err := autoPad(attrString(n, "auto_pad", "NOTSET"), in[1], in[2], c.KH, c.KW, c.StrideH, c.StrideW, c.DilH, c.DilW,
		&c.PadT, &c.PadL, &c.PadB, &c.PadR); err != nil {
		return err
	}
	nd, err := imp.add(name, c, x.node)
	if err != nil {
		return err
	}
	imp.setNode(n, nd)
	return nil
}

// conv1D converts a 1-D Conv (input C×L, weights O×I×K) as a 2-D one of height 1 between two
// reshapes.
func (imp *importer) conv1D(n *node, name string, x *value) error {
	in := x.node.Shape
	wk := imp.in(n, 1).konst
	w2 := *wk
	w2.dims = []int64{wk.dims[0], wk.dims[1], 1, wk.dims[2]}
	widen := func(attr string, def []int64, f func([]int64) []int64) {
		if a, ok := n.attrs[attr]; ok {
			a2 := *a
			a2.ints = f(a.ints)
			n.attrs[attr] = &a2
		}
	}
	if len(attrInts(n, "kernel_shape", []int64{0})) != 1 || len(attrInts(n, "strides", []int64{1})) != 1 ||
		len(attrInts(n, "dilations", []int64{1})) != 1 || len(attrInts(n, "pads", []int64{0, 0})) != 2 {
		return fmt.Errorf("1-D conv with attributes of another rank")
	}
	widen("kernel_shape", nil, func(v []int64) []int64 { return []int64{1, v[0]} })
	widen("strides", nil, func(v []int64) []int64 { return []int64{1, v[0]} })
	widen("dilations", nil, func(v []int64) []int64 { return []int64{1, v[0]} })
	widen("pads", nil, func(v []int64) []int64 { return []int64{0, v[0], 0, v[1]} })
	up, err := imp.add(name+".2d", nn.Reshape{Shape: []int{in[0], 1, in[1]}}, x.node)
	if err != nil {
		return err
	}
	inputs := slices.Clone(n.inputs)
	wname := n.inputs[1] + ".2d"
	imp.values[wname] = &value{konst: &w2}
	inputs[0], inputs[1] = up.Name, wname
	imp.values[up.Name] = &value{node: up}
	n2 := *n
	n2.inputs = inputs
	n2.outputs = []string{name + ".conv2d"}
	if err := imp.conv(&n2, name+".conv2d", imp.values[up.Name]); err != nil {
		return err
	}
	c := imp.values[n2.outputs[0]].node
	nd, err := imp.add(name, nn.Reshape{Shape: []int{c.Shape[0], c.Shape[2]}}, c)
	if err != nil {
		return err
	}
	imp.setNode(n, nd)
	return nil
}

// autoPad applies ONNX's auto_pad: SAME_UPPER / SAME_LOWER pad so that out = ceil(in/stride),
// the odd pixel at the end (upper) or the start (lower); VALID pads nothing.
func autoPad(mode string, h, w, kh, kw, sh, sw, dh, dw int, t, l, b, r *int) error {
	switch mode {
	case "NOTSET", "":
		return nil
	case "VALID":
		*t, *l, *b, *r = 0, 0, 0, 0
		return nil
	case "SAME_UPPER", "SAME_LOWER":
		one := func(in, k, s, d int) (lo, hi int) {
			out := (in + s - 1) / s
			total := max(0, (out-1)*s+(k-1)*d+1-in)
			if mode == "SAME_UPPER" {
				return total / 2, total - total/2
			}
			return total - total/2, total / 2
		}
		*t, *b = one(h, kh, sh, dh)
		*l, *r = one(w, kw, sw, dw)
		return nil
	}
	return fmt.Errorf("auto_pad %q", mode)
}

func (imp *importer) pool(n *node, name string, x *value) error {
	if x == nil || x.node == nil || len(x.node.Shape) != 3 {
		return fmt.Errorf("pooling input must be a computed C×H×W map")
	}
	ks := attrInts(n, "kernel_shape", nil)
	st := attrInts(n, "strides", []int64{1, 1})
	pads := attrInts(n, "pads", []int64{0, 0, 0, 0})
	if len(ks) != 2 || len(st) != 2 || len(pads) != 4 {
		return fmt.Errorf("kernel %v, strides %v, pads %v: want 2-D", ks, st, pads)
	}
	if d := attrInts(n, "dilations", []int64{1, 1}); len(d) != 2 || d[0] != 1 || d[1] != 1 {
		return unsupportedError(fmt.Sprintf("%s (%s with dilations %v)", name, n.opType, d))
	}
	for _, v := range slices.Concat(ks, st, pads) {
		if v < 0 || v > 1<<16 {
			return fmt.Errorf("kernel %v, strides %v, pads %v out of range", ks, st, pads)
		}
	}
	p := nn.Pool{Max: n.opType == "MaxPool", KH: int(ks[0]), KW: int(ks[1]), StrideH: int(st[0]), StrideW: int(st[1]),
		PadT: int(pads[0]), PadL: int(pads[1]), PadB: int(pads[2]), PadR: int(pads[3]),
		ExcludePad: attrInt(n, "count_include_pad", 0) == 0}
	in := x.node.Shape
	if err := autoPad(attrString(n, "auto_pad", "NOTSET"), in[1], in[2], p.KH, p.KW, p.StrideH, p.StrideW, 1, 1, &p.PadT, &p.PadL, &p.PadB, &p.PadR); err != nil {
		return err
	}
	if attrInt(n, "ceil_mode", 0) != 0 {
		// ceil_mode only matters when a window would start inside the padded input but
		// not fit: grow the end padding by what ceil adds (windows over padding only count
		// real values, as in ONNX).
		for _, dim := range []struct {
			in, k, s int
			end      *int
			begin    int
		}{{in[1], p.KH, p.StrideH, &p.PadB, p.PadT}, {in[2], p.KW, p.StrideW, &p.PadR, p.PadL}} {
			span := dim.in + dim.begin + *dim.end - dim.k
			if span%dim.s != 0 {
				*dim.end += dim.s - span%dim.s
			}
		}
		if !p.Max && !p.ExcludePad {
			return unsupportedError(fmt.Sprintf("%s (AveragePool with ceil_mode and count_include_pad)", name))
		}
	}
	return imp.unary(n, name, x, p)
}

func (imp *importer) pad(n *node, name string, x *value) error {
	if x == nil || x.node == nil || len(x.node.Shape) != 3 {
		return fmt.Errorf("pad input must be a computed C×H×W map")
	}
	if mode := attrString(n, "mode", "constant"); mode != "constant" {
		return unsupportedError(fmt.Sprintf("%s (Pad, mode %s)", name, mode))
	}
	pads := attrInts(n, "pads", nil)
	if v := imp.in(n, 1); v != nil {
		if v.konst == nil || v.konst.ints == nil {
			return unsupportedError(fmt.Sprintf("%s (Pad by amounts computed at run time)", name))
		}
		pads = v.konst.ints
	}
	if v := imp.in(n, 2); v != nil && (v.konst == nil || len(v.konst.floats) != 1 || v.konst.floats[0] != 0) {
		return unsupportedError(fmt.Sprintf("%s (Pad with a non-zero value)", name))
	}
	if len(pads) == 8 && pads[0] == 0 && pads[4] == 0 && pads[1] == pads[5] && pads[1] > 0 && pads[2] == 0 && pads[3] == 0 && pads[6] == 0 && pads[7] == 0 {
		// Zero channels on both sides: the CIFAR ResNet "option A" shortcut's padding.
		return imp.unary(n, name, x, nn.ShortcutA{Stride: 1, PadC: int(pads[1])})
	}
	if len(pads) != 8 || pads[0] != 0 || pads[1] != 0 || pads[4] != 0 || pads[5] != 0 {
		return unsupportedError(fmt.Sprintf("%s (Pad %v: fourbit pads height and width, or channels equally on both sides)", name, pads))
	}
	return imp.unary(n, name, x, nn.Pad{T: int(pads[2]), L: int(pads[3]), B: int(pads[6]), R: int(pads[7])})
}

// linear converts Gemm (A·B or A·Bᵀ, times alpha, plus beta·C) and MatMul with a constant
// right-hand side into a Linear layer.
func (imp *importer) linear(n *node, name string, x *value) error {
	if x == nil || x.node == nil {
		return fmt.Errorf("input must be computed from the network input")
	}
	b := imp.in(n, 1)
	if n.opType == "MatMul" && b != nil && b.node != nil {
		return imp.unary2(n, name, nn.MatMul{}, x.node, b.node) // two computed tensors
	}
	if b == nil || b.konst == nil || b.konst.floats == nil || len(b.konst.dims) != 2 {
		return unsupportedError(fmt.Sprintf("%s (%s with a non-constant or non-2-D right-hand side)", name, n.opType))
	}
	if n.opType == "Gemm" && attrInt(n, "transA", 0) != 0 {
		return unsupportedError(fmt.Sprintf("%s (Gemm with transA)", name))
	}
	in := x.node
	rows := n.opType == "MatMul" && len(in.Shape) > 1 && int64(in.Shape[len(in.Shape)-1]) == b.konst.dims[0]
	if len(in.Shape) != 1 && !rows { // Gemm flattens its input; MatMul on rows keeps the other axes
		var err error
		if in, err = imp.add(name+".flatten", nn.Flatten{}, in); err != nil {
			return err
		}
	}
	k, m := int(b.konst.dims[0]), int(b.konst.dims[1])
	trans := n.opType == "Gemm" && attrInt(n, "transB", 0) != 0
	if trans {
		k, m = m, k
	}
	if last := in.Shape[len(in.Shape)-1]; k != last {
		return fmt.Errorf("%d inputs for a %v right-hand side", last, b.konst.dims)
	}
	alpha, beta := float32(1), float32(1)
	if n.opType == "Gemm" {
		alpha, beta = attrFloat(n, "alpha", 1), attrFloat(n, "beta", 1)
	}
	w := make([]float32, m*k)
	for o := 0; o < m; o++ {
		for i := 0; i < k; i++ {
			if trans {
				w[o*k+i] = alpha * b.konst.floats[o*k+i]
			} else {
				w[o*k+i] = alpha * b.konst.floats[i*m+o]
			}
		}
	}
	var bias []float32
	if c := imp.in(n, 2); c != nil && n.opType == "Gemm" {
		if c.konst == nil || c.konst.floats == nil || (len(c.konst.floats) != m && len(c.konst.floats) != 1) {
			return fmt.Errorf("gemm bias is not a constant of %d or 1 values", m)
		}
		bias = make([]float32, m)
		for o := range bias {
			bias[o] = beta * c.konst.floats[min(o, len(c.konst.floats)-1)]
		}
	}
	nd, err := imp.add(name, &nn.Linear{W: w, B: bias, In: k, Out: m}, in)
	if err != nil {
		return err
	}
	imp.setNode(n, nd)
	return nil
}

// elementwise converts Add, Sub, Mul, Div, Max, Min and Pow: of two computed tensors (a
// residual Add, a squeeze-and-excitation gate, or any two shapes that broadcast), or of a
// computed tensor and a constant — per channel or a scalar as an affine map, a scalar bound
// of Max/Min as a clip, a scalar exponent as a power, any other broadcasting constant as it is.
func (imp *importer) elementwise(n *node, name string) error {
	a, b := imp.in(n, 0), imp.in(n, 1)
	if a == nil || b == nil {
		return fmt.Errorf("needs two inputs")
	}
	fn := strings.ToLower(n.opType)
	if a.node != nil && b.node != nil {
		var op nn.Op = nn.Binary{Fn: fn}
		switch {
		case n.opType == "Add" && slices.Equal(a.node.Shape, b.node.Shape):
			op = nn.Add{}
		case n.opType == "Mul":
			if nn.Size(a.node.Shape) < nn.Size(b.node.Shape) {
				a, b = b, a // the broadcast gate second
			}
			if _, err := (nn.Mul{}).OutShape([][]int{a.node.Shape, b.node.Shape}); err == nil {
				op = nn.Mul{}
			}
		}
		nd, err := imp.add(name, op, a.node, b.node)
		if err != nil {
			return err
		}
		imp.setNode(n, nd)
		return nil
	}
	dynFirst := a.node != nil
	x, c := a, b
	if !dynFirst {
		x, c = b, a
	}
	if c.konst.floats == nil {
		return unsupportedError(fmt.Sprintf("%s (%s by an integer constant)", name, n.opType))
	}
	shape := x.node.Shape
	scalar := len(c.konst.floats) == 1
	switch {
	case n.opType == "Max" && scalar:
		return imp.unary(n, name, x, nn.Clip{Lo: c.konst.floats[0], Hi: math.MaxFloat32})
	case n.opType == "Min" && scalar:
		return imp.unary(n, name, x, nn.Clip{Lo: -math.MaxFloat32, Hi: c.konst.floats[0]})
	case n.opType == "Pow" && scalar && dynFirst:
		return imp.unary(n, name, x, nn.Pow{P: c.konst.floats[0]})
	}
	vals, err := perChannel(c.konst, shape)
	if err != nil || n.opType == "Max" || n.opType == "Min" || n.opType == "Pow" || (n.opType == "Div" && !dynFirst) {
		// Any other constant that broadcasts against the tensor, kept as it is.
		cs, err := constShape(c.konst.dims, len(shape))
		if err != nil {
			return unsupportedError(fmt.Sprintf("%s (%s by a constant of shape %v: %v)", name, n.opType, c.konst.dims, err))
		}
		return imp.unary(n, name, x, nn.ConstBinary{Fn: fn, Value: c.konst.floats, Shape: cs, First: !dynFirst})
	}
	one := func(v float32) []float32 {
		out := make([]float32, len(vals))
		for i := range out {
			out[i] = v
		}
		return out
	}
	var op nn.Affine
	switch {
	case n.opType == "Add":
		op = nn.Affine{Scale: one(1), Shift: vals}
	case n.opType == "Mul":
		op = nn.Affine{Scale: vals, Shift: one(0)}
	case n.opType == "Sub" && dynFirst: // x − c
		neg := make([]float32, len(vals))
		for i, v := range vals {
			neg[i] = -v
		}
		op = nn.Affine{Scale: one(1), Shift: neg}
	case n.opType == "Sub": // c − x
		op = nn.Affine{Scale: one(-1), Shift: vals}
	default: // x / c
		inv := make([]float32, len(vals))
		for i, v := range vals {
			inv[i] = 1 / v
		}
		op = nn.Affine{Scale: inv, Shift: one(0)}
	}
	return imp.unary(n, name, x, op)
}

// constShape is a constant's per-image broadcast shape against a tensor of the given
// per-image rank: its dims right-aligned with the batched shape, any extra leading ones 1.
func constShape(dims []int64, rank int) ([]int, error) {
	if len(dims) == 0 {
		return []int{1}, nil
	}
	k := max(0, len(dims)-rank)
	for _, d := range dims[:k] {
		if d != 1 {
			return nil, fmt.Errorf("it broadcasts along the batch")
		}
	}
	out := make([]int, 0, len(dims)-k)
	for _, d := range dims[k:] {
		out = append(out, int(d))
	}
	return out, nil
}

// reshaped is the per-image shape of an ONNX Reshape of a tensor of per-image shape in to
// the batched target shape (0: copy the dim, −1: infer one). The batch axis must stay first.
func reshaped(in []int, target []int64, allowZero bool) ([]int, error) {
	if len(target) < 1 || len(target) > 8 {
		return nil, fmt.Errorf("target of rank %d", len(target))
	}
	full := append([]int{1}, in...) // batch 1: the first target dim must come out 1
	size := nn.Size(full)
	out := make([]int, len(target))
	infer := -1
	known := 1
	for i, d := range target {
		switch {
		case d == 0 && !allowZero:
			if i >= len(full) {
				return nil, fmt.Errorf("dim %d copied from a rank-%d tensor", i, len(full))
			}
			out[i] = full[i]
		case d == -1:
			if infer >= 0 {
				return nil, fmt.Errorf("two dims to infer")
			}
			infer = i
			continue
		case d < 1 || d > 1<<26:
			return nil, fmt.Errorf("dim %d", d)
		default:
			out[i] = int(d)
		}
		known *= out[i]
	}
	if infer >= 0 {
		if known == 0 || size%known != 0 {
			return nil, fmt.Errorf("%d values do not fill it", size)
		}
		out[infer] = size / known
	}
	if nn.Size(out) != size || out[0] != 1 {
		return nil, fmt.Errorf("it moves values across the batch")
	}
	if len(out) == 1 {
		return nil, fmt.Errorf("a tensor without a batch axis")
	}
	return out[1:], nil
}

// squeezed is the per-image shape after an ONNX Squeeze (dropping axes of 1) or Unsqueeze
// (inserting them), axes counted on the batched shape.
func squeezed(in []int, axes []int64, unsqueeze bool) ([]int, error) {
	full := append([]int{1}, in...)
	rank := len(full)
	if unsqueeze {
		rank += len(axes)
	}
	norm := map[int]bool{}
	for _, a := range axes {
		if a < 0 {
			a += int64(rank)
		}
		if a <= 0 || a >= int64(rank) {
			return nil, fmt.Errorf("axis %d (the batch axis stays)", a)
		}
		norm[int(a)] = true
	}
	if !unsqueeze && len(axes) == 0 {
		for i, d := range full[1:] {
			if d == 1 {
				norm[i+1] = true
			}
		}
	}
	var out []int
	if unsqueeze {
		src := 1
		for i := 1; i < rank; i++ {
			if norm[i] {
				out = append(out, 1)
			} else if src < len(full) {
				out = append(out, full[src])
				src++
			}
		}
	} else {
		for i, d := range full[1:] {
			if norm[i+1] {
				if d != 1 {
					return nil, fmt.Errorf("axis %d has %d values", i+1, d)
				}
				continue
			}
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		out = []int{1}
	}
	return out, nil
}

// splitTranspose converts the attention idiom that moves the batch axis: a Transpose whose
// every consumer is a Slice of one index of its axis 0, squeezed away (q, k and v of a
// stacked projection): each branch becomes a Take of that index on its per-image axis and a
// transpose of the axes left, the batch first again.
func (imp *importer) splitTranspose(n *node, name string, in *nn.Node, perm []int64) error {
	out := n.outputs[0]
	type branch struct {
		slice, squeeze *node
		index          int
	}
	var branches []branch
	for _, c := range imp.consumers[out] {
		if c.opType != "Slice" || len(c.inputs) == 0 || c.inputs[0] != out {
			return errors.New("not the slice idiom")
		}
		get := func(i int, attr string) []int64 {
			if i < len(c.inputs) && c.inputs[i] != "" {
				if v := imp.values[c.inputs[i]]; v != nil && v.konst != nil {
					return v.konst.ints
				}
				return nil
			}
			return attrInts(c, attr, nil)
		}
		starts, ends, axes := get(1, "starts"), get(2, "ends"), get(3, "axes")
		steps := get(4, "steps")
		if len(starts) != 1 || len(ends) != 1 || len(axes) != 1 || axes[0] != 0 || ends[0] != starts[0]+1 || (steps != nil && (len(steps) != 1 || steps[0] != 1)) {
			return errors.New("not the slice idiom")
		}
		sq := imp.consumers[c.outputs[0]]
		if len(sq) != 1 || sq[0].opType != "Squeeze" {
			return errors.New("not the slice idiom")
		}
		sqAxes := attrInts(sq[0], "axes", nil)
		if len(sq[0].inputs) > 1 {
			if v := imp.values[sq[0].inputs[1]]; v != nil && v.konst != nil {
				sqAxes = v.konst.ints
			}
		}
		if len(sqAxes) != 1 || sqAxes[0] != 0 {
			return errors.New("not the slice idiom")
		}
		branches = append(branches, branch{c, sq[0], int(starts[0])})
	}
	taken := int(perm[0]) - 1 // the per-image axis the slices index
	if len(branches) == 0 || taken < 0 || perm[1] != 0 {
		return errors.New("not the slice idiom")
	}
	// The per-image axes left after the take, and their order in the output.
	var rest []int
	for _, p := range perm[2:] {
		a := int(p) - 1
		if a > taken {
			a--
		}
		rest = append(rest, a)
	}
	for _, br := range branches {
		t, err := imp.add(fmt.Sprintf("%s.take%d", name, br.index), nn.Take{Axis: taken, Index: br.index}, in)
		if err != nil {
			return err
		}
		res := t
		if !slices.IsSorted(rest) {
			if res, err = imp.add(fmt.Sprintf("%s.%d", name, br.index), nn.Transpose{Perm: rest}, t); err != nil {
				return err
			}
		}
		imp.values[br.slice.outputs[0]] = &value{node: res} // handled: its Slice is skipped
		imp.values[br.squeeze.outputs[0]] = &value{node: res}
	}
	imp.values[out] = &value{node: in} // handled
	return nil
}

// reshape gives a computed tensor another per-image shape: nothing when it has it, a flatten
// to a vector, or a general reshape.
func (imp *importer) reshape(n *node, name string, in *nn.Node, shape []int) error {
	switch {
	case slices.Equal(shape, in.Shape):
		imp.setNode(n, in)
		return nil
	case len(shape) == 1:
		return imp.flatten(n, name, in)
	}
	nd, err := imp.add(name, nn.Reshape{Shape: shape}, in)
	if err != nil {
		return err
	}
	imp.setNode(n, nd)
	return nil
}

// resize converts Resize (opset 10: scales; 11+: roi, scales or sizes) and Upsample with
// constant scales of the height and width.
func (imp *importer) resize(n *node, name string, x *value) error {
	if x == nil || x.node == nil || len(x.node.Shape) != 3 {
		return unsupportedError(fmt.Sprintf("%s (%s of a tensor that is not a C×H×W map)", name, n.opType))
	}
	in := x.node.Shape
	var scales []float32
	var sizes []int64
	switch {
	case n.opType == "Upsample" && imp.in(n, 1) == nil:
		if a, ok := n.attrs["scales"]; ok {
			scales = a.floats
		}
	case n.opType == "Upsample" || imp.opset < 11:
		if v := imp.in(n, 1); v != nil && v.konst != nil {
			scales = v.konst.floats
		}
	default:
		if v := imp.in(n, 2); v != nil && v.konst != nil && len(v.konst.floats) > 0 {
			scales = v.konst.floats
		}
		if v := imp.in(n, 3); v != nil && v.konst != nil {
			sizes = v.konst.ints
		}
	}
	r := nn.Resize2D{Coordinates: "asymmetric", Nearest: "floor"}
	if n.opType == "Resize" && imp.opset >= 11 {
		r.Coordinates = attrString(n, "coordinate_transformation_mode", "half_pixel")
		r.Nearest = attrString(n, "nearest_mode", "round_prefer_floor")
	}
	switch mode := attrString(n, "mode", "nearest"); mode {
	case "nearest":
	case "linear", "bilinear":
		r.Linear = true
	default:
		return unsupportedError(fmt.Sprintf("%s (%s mode %s)", name, n.opType, mode))
	}
	switch {
	case len(scales) == 4 && scales[0] == 1 && scales[1] == 1:
		r.ScaleH, r.ScaleW = scales[2], scales[3]
	case len(sizes) == 4 && sizes[1] == int64(in[0]):
		r.ScaleH, r.ScaleW = float32(sizes[2])/float32(in[1]), float32(sizes[3])/float32(in[2])
	default:
		return unsupportedError(fmt.Sprintf("%s (%s by scales %v, sizes %v: fourbit resizes height and width by constants)", name, n.opType, scales, sizes))
	}
	if !slices.Contains([]string{"asymmetric", "half_pixel", "pytorch_half_pixel", "align_corners"}, r.Coordinates) {
		return unsupportedError(fmt.Sprintf("%s (%s with coordinate_transformation_mode %s)", name, n.opType, r.Coordinates))
	}
	if e := attrInt(n, "exclude_outside", 0); e != 0 {
		return unsupportedError(fmt.Sprintf("%s (%s with exclude_outside)", name, n.opType))
	}
	return imp.unary(n, name, x, r)
}

// convTranspose converts ConvTranspose (weights InC × OutC/group × KH × KW, transposed to
// fourbit's one row per output channel).
func (imp *importer) convTranspose(n *node, name string, x *value) error {
	if x == nil || x.node == nil || len(x.node.Shape) != 3 {
		return unsupportedError(fmt.Sprintf("%s (ConvTranspose of a tensor that is not a C×H×W map)", name))
	}
	w, b := imp.in(n, 1), imp.in(n, 2)
	if w == nil || w.konst == nil || w.konst.floats == nil || len(w.konst.dims) != 4 {
		return unsupportedError(fmt.Sprintf("%s (ConvTranspose whose weights are not a constant 4-D tensor)", name))
	}
	in := x.node.Shape
	d := w.konst.dims
	groups := int(attrInt(n, "group", 1))
	if groups < 1 || int(d[0]) != in[0] {
		return fmt.Errorf("weights %v on %d channels, %d groups", d, in[0], groups)
	}
	icg, ocg, kh, kw := in[0]/groups, int(d[1]), int(d[2]), int(d[3])
	c := &nn.ConvTranspose{OutC: ocg * groups, KH: kh, KW: kw, Groups: groups}
	c.W = make([]float32, c.OutC*icg*kh*kw)
	for o := 0; o < c.OutC; o++ {
		g, oo := o/ocg, o%ocg
		for i := 0; i < icg; i++ {
			copy(c.W[(o*icg+i)*kh*kw:(o*icg+i+1)*kh*kw], w.konst.floats[((g*icg+i)*ocg+oo)*kh*kw:])
		}
	}
	if b != nil {
		if b.konst == nil || len(b.konst.floats) != c.OutC {
			return fmt.Errorf("bias is not a constant of %d values", c.OutC)
		}
		c.B = b.konst.floats
	}
	st := attrInts(n, "strides", []int64{1, 1})
	dl := attrInts(n, "dilations", []int64{1, 1})
	pads := attrInts(n, "pads", []int64{0, 0, 0, 0})
	op := attrInts(n, "output_padding", []int64{0, 0})
	if len(st) != 2 || len(dl) != 2 || len(pads) != 4 || len(op) != 2 {
		return fmt.Errorf("strides %v, dilations %v, pads %v, output_padding %v: want 2-D", st, dl, pads, op)
	}
	for _, v := range slices.Concat(st, dl, pads, op) {
		if v < 0 || v > 1<<16 {
			return fmt.Errorf("strides %v, dilations %v, pads %v out of range", st, dl, pads)
		}
	}
	if attrInts(n, "output_shape", nil) != nil || attrString(n, "auto_pad", "NOTSET") != "NOTSET" {
		return unsupportedError(fmt.Sprintf("%s (ConvTranspose with output_shape or auto_pad)", name))
	}
	c.StrideH, c.StrideW, c.DilH, c.DilW = int(st[0]), int(st[1]), int(dl[0]), int(dl[1])
	c.PadT, c.PadL, c.PadB, c.PadR = int(pads[0]), int(pads[1]), int(pads[2]), int(pads[3])
	c.OutPadH, c.OutPadW = int(op[0]), int(op[1])
	return imp.unary(n, name, x, c)
}

// perChannel returns a constant's values as one scalar or one per channel of a tensor of
// per-image shape, for the broadcast shapes exporters use ([], [1], [C], [C,1,1], [1,C,1,1]).
func perChannel(t *tensor, shape []int) ([]float32, error) {
	if len(t.floats) == 1 {
		return t.floats, nil
	}
	c := shape[0]
	if len(t.floats) != c {
		return nil, fmt.Errorf("neither a scalar nor one value per channel")
	}
	// Right-align the constant's dims with the batched shape N×shape (numpy broadcasting):
	// only the channel axis (1) may differ from 1.
	rank := len(shape) + 1
	if len(t.dims) > rank {
		return nil, fmt.Errorf("rank %d on a rank-%d tensor", len(t.dims), rank)
	}
	full := make([]int64, rank)
	for i := range full {
		full[i] = 1
	}
	copy(full[rank-len(t.dims):], t.dims)
	for i, d := range full {
		if (i == 1 && d != int64(c)) || (i != 1 && d != 1) {
			return nil, fmt.Errorf("not broadcast along channels")
		}
	}
	return t.floats, nil
}

// slice converts a strided spatial Slice (x[:, :, ::s, ::s], as exported for the CIFAR
// ResNets' option-A shortcut) into a subsampling shortcut.
func (imp *importer) slice(n *node, name string, x *value) error {
	if x == nil || x.node == nil || len(x.node.Shape) != 3 {
		return fmt.Errorf("slice input must be a computed C×H×W map")
	}
	get := func(i int, attr string) []int64 {
		if v := imp.in(n, i); v != nil && v.konst != nil {
			return v.konst.ints
		}
		return attrInts(n, attr, nil)
	}
	starts, ends, axes, steps := get(1, "starts"), get(2, "ends"), get(3, "axes"), get(4, "steps")
	if axes == nil {
		for i := range starts {
			axes = append(axes, int64(i))
		}
	}
	if steps == nil {
		steps = make([]int64, len(starts))
		for i := range steps {
			steps[i] = 1
		}
	}
	if len(starts) != len(axes) || len(ends) != len(axes) || len(steps) != len(axes) {
		return fmt.Errorf("slice starts %v, ends %v, axes %v, steps %v disagree", starts, ends, axes, steps)
	}
	stride := map[int64]int64{2: 1, 3: 1}
	for i, a := range axes {
		if a < 0 {
			a += 4
		}
		dim := int64(1)
		if a >= 1 && a <= 3 {
			dim = int64(x.node.Shape[a-1])
		}
		full := starts[i] == 0 && ends[i] >= dim && steps[i] >= 1
		if !full || (a != 2 && a != 3 && steps[i] != 1) {
			return unsupportedError(fmt.Sprintf("%s (Slice other than x[:, :, ::s, ::s])", name))
		}
		if a == 2 || a == 3 {
			stride[a] = steps[i]
		}
	}
	if stride[2] != stride[3] || stride[2] > 1<<16 {
		return unsupportedError(fmt.Sprintf("%s (Slice with strides %d and %d)", name, stride[2], stride[3]))
	}
	return imp.unary(n, name, x, nn.ShortcutA{Stride: int(stride[2])})
}
