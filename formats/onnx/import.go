// Package onnx reads ONNX CNN models into fourbit's network graph and writes graphs — float,
// or quantized as QuantizeLinear/DequantizeLinear (QDQ) models — back to ONNX, so that ONNX
// Runtime can check fourbit's import, export and arithmetic. The protobuf is parsed with
// google.golang.org/protobuf's protowire reader; only the fields fourbit needs are decoded.
package onnx

import (
	"encoding/json"
	"errors"
	"fmt"
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
	// InputShape (C, H, W) fixes the input's size where the model leaves it open (a symbolic
	// height and width, say); it must agree with the dimensions the model does fix.
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
	opts   Options
	g      *nn.Graph
	values map[string]*value
	opset  int64
	names  map[string]bool
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
		if len(s) != 3 || len(input.dims) != 4 {
			return nil, fmt.Errorf("onnx: input shape %v for an input of rank %d (want C, H, W of an N×C×H×W input)", s, len(input.dims))
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
	if len(input.dims) != 4 || input.dims[1] <= 0 || input.dims[2] <= 0 || input.dims[3] <= 0 || input.dims[1] > 1<<16 || input.dims[2] > 1<<16 || input.dims[3] > 1<<16 {
		return nil, fmt.Errorf("onnx: input %s has shape %v; fourbit reads CNNs with an N×C×H×W input of known C, H and W (give the size, e.g. --input-shape 3x224x224)", input.name, input.dims)
	}
	imp.g = nn.NewGraph(int(input.dims[1]), int(input.dims[2]), int(input.dims[3]))
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
	"Softmax": true, "Sigmoid": true, "Tanh": true,
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
		shape := s.konst.ints
		size := int64(nn.Size(in.Shape))
		if len(shape) == 2 && (shape[1] == -1 || shape[1] == size) && (shape[0] == 1 || shape[0] == 0 || shape[0] == -1) {
			return imp.flatten(n, name, in)
		}
		return unsupportedError(fmt.Sprintf("%s (Reshape to %v: fourbit reshapes only to N×features)", name, shape))
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
		return imp.unary(n, name, x, nn.Softmax{})
	}
	return unsupportedError(fmt.Sprintf("%s (%s)", name, n.opType))
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
	if b == nil || b.konst == nil || b.konst.floats == nil || len(b.konst.dims) != 2 {
		return unsupportedError(fmt.Sprintf("%s (%s with a non-constant or non-2-D right-hand side)", name, n.opType))
	}
	if n.opType == "Gemm" && attrInt(n, "transA", 0) != 0 {
		return unsupportedError(fmt.Sprintf("%s (Gemm with transA)", name))
	}
	in := x.node
	if len(in.Shape) != 1 {
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
	if k != in.Shape[0] {
		return fmt.Errorf("%d inputs for a %v right-hand side", in.Shape[0], b.konst.dims)
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

// elementwise converts Add/Sub/Mul/Div: two computed tensors of one shape (Add only), or a
// computed tensor and a constant broadcast per channel or as a scalar.
func (imp *importer) elementwise(n *node, name string) error {
	a, b := imp.in(n, 0), imp.in(n, 1)
	if a == nil || b == nil {
		return fmt.Errorf("needs two inputs")
	}
	if a.node != nil && b.node != nil {
		var op nn.Op
		switch n.opType {
		case "Add":
			op = nn.Add{}
		case "Mul":
			op = nn.Mul{}
			if nn.Size(a.node.Shape) < nn.Size(b.node.Shape) {
				a, b = b, a // the broadcast gate second
			}
		default:
			return unsupportedError(fmt.Sprintf("%s (%s of two computed tensors)", name, n.opType))
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
	vals, err := perChannel(c.konst, x.node.Shape)
	if err != nil {
		return unsupportedError(fmt.Sprintf("%s (%s by a constant of shape %v: %v)", name, n.opType, c.konst.dims, err))
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
	case n.opType == "Div" && dynFirst:
		inv := make([]float32, len(vals))
		for i, v := range vals {
			inv[i] = 1 / v
		}
		op = nn.Affine{Scale: inv, Shift: one(0)}
	default:
		return unsupportedError(fmt.Sprintf("%s (a constant divided by a computed tensor)", name))
	}
	nd, err := imp.add(name, op, x.node)
	if err != nil {
		return err
	}
	imp.setNode(n, nd)
	return nil
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
