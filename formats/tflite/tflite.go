// Package tflite reads TensorFlow Lite models (.tflite flatbuffers) into fourbit's float
// graph: the format most small CNNs for the edge ship in.
//
// Float32 and float16 models are read as they are. Weights stored as int8 or uint8 codes with
// their scales (dynamic-range "hybrid" models, whose activations stay float — MLPerf Tiny's
// keyword-spotting DS-CNN is one) are dequantized to float32: fourbit quantizes float
// networks, and such a model is one once its weights are decoded. A fully quantized model —
// int8 or uint8 activations, QUANTIZE/DEQUANTIZE of computed tensors — is refused in words:
// give fourbit the float model it was made from.
//
// TFLite networks are NHWC; fourbit's graph is NCHW. The reader maps every operator onto the
// graph's layout as the TF.js reader does: OHWI filters become OIHW, depthwise [1, KH, KW,
// C·M] filters become grouped OIHW, the channel axis becomes axis 0 of the per-image shape,
// and a FULLY_CONNECTED that reads a flattened H×W×C map has its columns reordered from
// TFLite's H·W·C order to fourbit's C·H·W. "SAME" padding is TensorFlow's (the extra one at
// the end). The flatbuffer is read by hand-written, bounded accessors (flatbuf.go): the
// format's own Go module would add a dependency for the six tables the reader needs, and
// could not promise to return an error rather than panic on a hostile file.
package tflite

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"fourbit/nn"
)

// ErrFormat reports a file that is not a TFLite model fourbit can read.
var ErrFormat = errors.New("tflite")

// The builtin operators the reader converts (schema.fbs's BuiltinOperator).
const (
	opAdd             = 0
	opAveragePool     = 1
	opConcatenation   = 2
	opConv2D          = 3
	opDepthwiseConv2D = 4
	opDequantize      = 6
	opFullyConnected  = 9
	opLogistic        = 14
	opMaxPool         = 17
	opMul             = 18
	opRelu            = 19
	opReluN1To1       = 20
	opRelu6           = 21
	opReshape         = 22
	opSoftmax         = 25
	opTanh            = 28
	opPad             = 34
	opMean            = 40
	opSub             = 41
	opSqueeze         = 43
	opMaximum         = 55
	opMinimum         = 57
	opQuantize        = 114
	opHardSwish       = 117
	opLeakyRelu       = 98
)

var opNames = map[int]string{
	opAdd: "ADD", opAveragePool: "AVERAGE_POOL_2D", opConcatenation: "CONCATENATION", opConv2D: "CONV_2D",
	opDepthwiseConv2D: "DEPTHWISE_CONV_2D", opDequantize: "DEQUANTIZE", opFullyConnected: "FULLY_CONNECTED",
	opLogistic: "LOGISTIC", opMaxPool: "MAX_POOL_2D", opMul: "MUL", opRelu: "RELU", opReluN1To1: "RELU_N1_TO_1",
	opRelu6: "RELU6", opReshape: "RESHAPE", opSoftmax: "SOFTMAX", opTanh: "TANH", opPad: "PAD", opMean: "MEAN",
	opSub: "SUB", opSqueeze: "SQUEEZE", opMaximum: "MAXIMUM", opMinimum: "MINIMUM", opQuantize: "QUANTIZE", opHardSwish: "HARD_SWISH", opLeakyRelu: "LEAKY_RELU",
	5: "DEPTH_TO_SPACE", 23: "RESIZE_BILINEAR", 31: "CALL", 32: "CUSTOM", 39: "TRANSPOSE", 45: "STRIDED_SLICE",
	67: "TRANSPOSE_CONV", 97: "RESIZE_NEAREST_NEIGHBOR", 118: "IF", 119: "WHILE",
	126: "BATCH_MATMUL",
}

// converted are the operators b.operator converts (some only in the forms it reads).
var converted = map[int]bool{
	opConv2D: true, opDepthwiseConv2D: true, opFullyConnected: true, opAveragePool: true, opMaxPool: true,
	opAdd: true, opSub: true, opMul: true, opMaximum: true, opMinimum: true, opMean: true, opReshape: true,
	opSqueeze: true, opSoftmax: true, opRelu: true, opRelu6: true, opReluN1To1: true, opLogistic: true,
	opTanh: true, opHardSwish: true, opLeakyRelu: true, opPad: true, opConcatenation: true, opDequantize: true,
}

func opName(code int) string {
	if n, ok := opNames[code]; ok {
		return n
	}
	return fmt.Sprintf("builtin operator %d", code)
}

// Read builds the graph of a TFLite model from the bytes of its file. Its preprocessing is
// the TFLite metadata's input normalisation when the model carries one (else pixels / 255),
// with images fitted as fourbit fits them by default (short side, centre crop); a caller that
// knows the model's evaluation protocol sets g.Preprocess after.
func Read(data []byte) (g *nn.Graph, err error) {
	defer func() {
		if r := recover(); r != nil {
			g, err = nil, fmt.Errorf("%w: malformed model (%v)", ErrFormat, r)
		}
	}()
	m, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	b := &builder{m: m, values: make([]*value, len(m.tensors))}
	if g, err = b.build(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	return g, nil
}

// value is a computed tensor in the graph: its node, and, for a vector flattened from an
// H×W×C map (TFLite order), the map's C, H, W (fourbit's Flatten gives C·H·W order).
type value struct {
	node *nn.Node
	flat []int
}

type builder struct {
	m      *model
	g      *nn.Graph
	values []*value
}

// perImage maps a TFLite shape [1, …] onto fourbit's per-image shape: [1, H, W, C] → [C, H,
// W], [1, F] → [F].
func perImage(shape []int) ([]int, error) {
	switch {
	case len(shape) == 4 && shape[0] == 1:
		return []int{shape[3], shape[1], shape[2]}, nil
	case len(shape) == 2 && shape[0] == 1:
		return []int{shape[1]}, nil
	}
	return nil, fmt.Errorf("tensor of shape %v (fourbit reads batch-1 NHWC maps and vectors)", shape)
}

func (b *builder) build() (*nn.Graph, error) {
	m := b.m
	if len(m.inputs) != 1 || len(m.outputs) != 1 {
		return nil, fmt.Errorf("%d inputs and %d outputs (fourbit reads models with one of each)", len(m.inputs), len(m.outputs))
	}
	in := m.tensors[m.inputs[0]]
	if in.typ != typeFloat32 || in.quantized {
		return nil, fmt.Errorf("the input %s is %s: a fully quantized model; give fourbit the float model it was made from", in.name, typeName(in.typ))
	}
	shape, err := perImage(in.shape)
	if err != nil {
		return nil, fmt.Errorf("input %s: %w", in.name, err)
	}
	b.g = nn.NewGraph(shape...)
	b.g.Preprocess = nn.Preprocess{Std: [3]float32{1, 1, 1}}
	if norm, ok := normalization(m.metadata["TFLITE_METADATA"]); ok {
		b.g.Preprocess = norm
	}
	b.values[in.index] = &value{node: b.g.Input()}
	var unsupported []string
	skipped := map[int]bool{} // tensors an unconverted operator would have computed
	for i, op := range m.operators {
		if slices.ContainsFunc(op.inputs, func(t int) bool { return skipped[t] }) {
			if !converted[op.code] || op.custom != "" {
				name := opName(op.code)
				if op.custom != "" {
					name = "custom operator " + op.custom
				}
				if !slices.Contains(unsupported, name) {
					unsupported = append(unsupported, name)
				}
			}
			for _, t := range op.outputs {
				skipped[t] = true // downstream of an unconverted operator: listed, not an error
			}
			continue
		}
		if err := b.operator(i, op); err != nil {
			var u unsupportedError
			if errors.As(err, &u) {
				if !slices.Contains(unsupported, string(u)) {
					unsupported = append(unsupported, string(u))
				}
				for _, t := range op.outputs {
					skipped[t] = true
				}
				continue
			}
			return nil, fmt.Errorf("operator %d (%s): %w", i, opName(op.code), err)
		}
	}
	if len(unsupported) > 0 {
		return nil, fmt.Errorf("operators fourbit does not convert: %s", strings.Join(unsupported, ", "))
	}
	out := b.values[m.outputs[0]]
	if out == nil {
		return nil, fmt.Errorf("the output %s is not computed by the graph", m.tensors[m.outputs[0]].name)
	}
	if out.node != b.g.Output() {
		return nil, fmt.Errorf("the output %s is not the last operator's", m.tensors[m.outputs[0]].name)
	}
	if out.flat != nil {
		return nil, fmt.Errorf("the output %s is a flattened map (fourbit's graph keeps C·H·W order, TFLite's is H·W·C): fourbit reads models that output a vector of scores", m.tensors[m.outputs[0]].name)
	}
	if err := b.g.CheckFinite(); err != nil {
		return nil, err
	}
	return nn.FoldBatchNorm(b.g)
}

// unsupportedError names an operator the reader does not convert (collected, then listed).
type unsupportedError string

func (e unsupportedError) Error() string { return string(e) }

func typeName(t int8) string {
	switch t {
	case typeFloat32:
		return "float32"
	case typeFloat16:
		return "float16"
	case typeInt8:
		return "int8"
	case typeUint8:
		return "uint8"
	case typeInt32:
		return "int32"
	}
	return fmt.Sprintf("type %d", t)
}

// input returns operator input i as a computed value.
func (b *builder) input(op operator, i int) (*value, *tensor, error) {
	if i >= len(op.inputs) || op.inputs[i] < 0 {
		return nil, nil, fmt.Errorf("input %d is missing", i)
	}
	t := b.m.tensors[op.inputs[i]]
	v := b.values[t.index]
	if v == nil && t.data == nil {
		if t.quantized {
			return nil, nil, fmt.Errorf("input %s is %s codes: a fully quantized model; give fourbit the float model it was made from", t.name, typeName(t.typ))
		}
		return nil, nil, fmt.Errorf("input %s is used before an operator computes it", t.name)
	}
	return v, t, nil
}

// constant returns operator input i as a constant tensor of the given shape (nil: any).
func (b *builder) constant(op operator, i int, shape ...int) (*tensor, error) {
	if i >= len(op.inputs) || op.inputs[i] < 0 {
		return nil, fmt.Errorf("input %d is missing", i)
	}
	t := b.m.tensors[op.inputs[i]]
	if t.data == nil {
		return nil, fmt.Errorf("input %d (%s) must be a constant: fourbit reads weights and parameters that are in the file", i, t.name)
	}
	if shape != nil && !slices.Equal(t.shape, shape) {
		return nil, fmt.Errorf("constant %s has shape %v, want %v", t.name, t.shape, shape)
	}
	return t, nil
}

// optional returns the constant operator input i, or nil when it is absent (−1).
func (b *builder) optional(op operator, i int, shape ...int) (*tensor, error) {
	if i >= len(op.inputs) || op.inputs[i] < 0 {
		return nil, nil
	}
	return b.constant(op, i, shape...)
}

// set records the operator's output value.
func (b *builder) set(op operator, n *nn.Node, flat []int) error {
	if len(op.outputs) != 1 || op.outputs[0] < 0 {
		return fmt.Errorf("%d outputs (the reader converts operators with one)", len(op.outputs))
	}
	t := b.m.tensors[op.outputs[0]]
	if b.values[t.index] != nil || t.data != nil {
		return fmt.Errorf("output %s is written twice", t.name)
	}
	if want, err := perImage(t.shape); err != nil || !slices.Equal(want, n.Shape) {
		return fmt.Errorf("output %s has shape %v, the converted node %v", t.name, t.shape, n.Shape)
	}
	b.values[t.index] = &value{node: n, flat: flat}
	return nil
}

// name is the node name of the operator's output: its tensor's name, made unique.
func (b *builder) name(op operator, suffix string) string {
	base := b.m.tensors[op.outputs[0]].name
	if i := strings.LastIndex(base, ";"); i >= 0 && i < len(base)-1 {
		base = base[i+1:] // MLIR joins the names of the fused ops; the last is the op's own
	}
	if base == "" {
		base = fmt.Sprintf("t%d", op.outputs[0])
	}
	name := base + suffix
	for k := 2; b.g.Node(name) != nil; k++ {
		name = fmt.Sprintf("%s_%d%s", base, k, suffix)
	}
	return name
}

func (b *builder) add(op operator, suffix string, o nn.Op, ins ...*nn.Node) (*nn.Node, error) {
	return b.g.Add(b.name(op, suffix), o, ins...)
}

// activation appends a fused activation (ActivationFunctionType) after n.
func (b *builder) activation(op operator, n *nn.Node, act uint8) (*nn.Node, error) {
	switch act {
	case 0:
		return n, nil
	case 1:
		return b.add(op, "/relu", nn.ReLU{}, n)
	case 2:
		return b.add(op, "/relu_n1_to_1", nn.Clip{Lo: -1, Hi: 1}, n)
	case 3:
		return b.add(op, "/relu6", nn.Clip{Lo: 0, Hi: 6}, n)
	case 4:
		return b.add(op, "/tanh", nn.Tanh{}, n)
	}
	return nil, fmt.Errorf("fused activation %d", act)
}

// finish appends the fused activation and records the output.
func (b *builder) finish(op operator, n *nn.Node, act uint8, flat []int) error {
	n, err := b.activation(op, n, act)
	if err != nil {
		return err
	}
	return b.set(op, n, flat)
}

// samePad is TensorFlow's "SAME" padding of one axis: out = ⌈in/s⌉, the total padding split
// with the extra one at the end.
func samePad(in, k, s, d int) (before, after int) {
	eff := (k-1)*d + 1
	out := (in + s - 1) / s
	total := max((out-1)*s+eff-in, 0)
	return total / 2, total - total/2
}

// window reads padding, strides and dilations of a window op on a C×H×W input.
type window struct {
	kh, kw, sh, sw, dh, dw int
	t, l, bo, r            int
}

func newWindow(in []int, padding uint8, kh, kw, sh, sw, dh, dw int) (window, error) {
	w := window{kh: kh, kw: kw, sh: sh, sw: sw, dh: dh, dw: dw}
	for _, v := range []int{kh, kw, sh, sw, dh, dw} {
		if v < 1 || v > 1<<12 {
			return w, fmt.Errorf("window %dx%d, strides %d,%d, dilations %d,%d", kh, kw, sh, sw, dh, dw)
		}
	}
	switch padding {
	case 0: // SAME
		w.t, w.bo = samePad(in[1], kh, sh, dh)
		w.l, w.r = samePad(in[2], kw, sw, dw)
	case 1: // VALID
	default:
		return w, fmt.Errorf("padding %d", padding)
	}
	return w, nil
}

// optionInts reads int32 option fields with defaults.
func optionInts(op operator, fields ...[2]int) ([]int, error) {
	out := make([]int, len(fields))
	for i, f := range fields {
		v, err := op.options.int32(f[0], int32(f[1]))
		if !op.hasOpts {
			v, err = int32(f[1]), nil
		}
		if err != nil {
			return nil, err
		}
		out[i] = int(v)
	}
	return out, nil
}

func optionByte(op operator, field int) (uint8, error) {
	if !op.hasOpts {
		return 0, nil
	}
	return op.options.uint8(field, 0)
}

// mapOf returns operator input 0 as a computed C×H×W map.
func (b *builder) mapOf(op operator) (*value, error) {
	x, t, err := b.input(op, 0)
	if err != nil {
		return nil, err
	}
	if x == nil || len(x.node.Shape) != 3 {
		return nil, fmt.Errorf("input %s of shape %v is not a computed NHWC map", t.name, t.shape)
	}
	return x, nil
}

func (b *builder) operator(i int, op operator) error {
	switch op.code {
	case opConv2D, opDepthwiseConv2D:
		return b.conv(op)
	case opFullyConnected:
		return b.fullyConnected(op)
	case opAveragePool, opMaxPool:
		return b.pool(op)
	case opAdd, opSub, opMul, opMaximum, opMinimum:
		return b.arithmetic(op)
	case opMean:
		return b.mean(op)
	case opReshape, opSqueeze:
		return b.reshape(op)
	case opSoftmax:
		x, _, err := b.input(op, 0)
		if err != nil || x == nil {
			return fmt.Errorf("softmax of a constant: %v", err)
		}
		if beta, _ := op.options.float32(0, 1); op.hasOpts && beta != 1 {
			return fmt.Errorf("softmax with beta %v (fourbit reads beta 1)", beta)
		}
		n, err := b.add(op, "", nn.Softmax{}, x.node)
		if err != nil {
			return err
		}
		return b.set(op, n, nil)
	case opRelu, opRelu6, opReluN1To1, opLogistic, opTanh, opHardSwish, opLeakyRelu:
		return b.unary(op)
	case opPad:
		return b.pad(op)
	case opConcatenation:
		return b.concat(op)
	case opDequantize:
		return b.dequantize(op)
	case opQuantize:
		return fmt.Errorf("QUANTIZE of a computed tensor: a fully quantized model; give fourbit the float model it was made from")
	}
	name := opName(op.code)
	if op.custom != "" {
		name = "custom operator " + op.custom
	}
	return unsupportedError(name)
}

// conv converts CONV_2D (filter O×KH×KW×I, OHWI) and DEPTHWISE_CONV_2D (filter 1×KH×KW×C·M).
func (b *builder) conv(op operator) error {
	x, err := b.mapOf(op)
	if err != nil {
		return err
	}
	in := x.node.Shape
	f, err := b.constant(op, 1)
	if err != nil {
		return err
	}
	if len(f.shape) != 4 {
		return fmt.Errorf("filter %s of shape %v", f.name, f.shape)
	}
	depthwise := op.code == opDepthwiseConv2D
	// Conv2DOptions: padding 0, stride_w 1, stride_h 2, activation 3, dilation_w 4, dilation_h 5.
	// DepthwiseConv2DOptions: padding 0, stride_w 1, stride_h 2, depth_multiplier 3,
	// activation 4, dilation_w 5, dilation_h 6.
	actField, dilW, dilH := 3, 4, 5
	if depthwise {
		actField, dilW, dilH = 4, 5, 6
	}
	p, err := optionInts(op, [2]int{1, 1}, [2]int{2, 1}, [2]int{dilW, 1}, [2]int{dilH, 1})
	if err != nil {
		return err
	}
	padding, _ := optionByte(op, 0)
	act, _ := optionByte(op, actField)
	kh, kw := f.shape[1], f.shape[2]
	w, err := newWindow(in, padding, kh, kw, p[1], p[0], p[3], p[2])
	if err != nil {
		return err
	}
	c := &nn.Conv{KH: kh, KW: kw, StrideH: w.sh, StrideW: w.sw, DilH: w.dh, DilW: w.dw,
		PadT: w.t, PadL: w.l, PadB: w.bo, PadR: w.r, Groups: 1}
	if depthwise {
		outC := f.shape[3]
		if f.shape[0] != 1 || outC%in[0] != 0 {
			return fmt.Errorf("depthwise filter %v on %d channels", f.shape, in[0])
		}
		c.OutC, c.Groups = outC, in[0]
		c.W = make([]float32, outC*kh*kw)
		for o := 0; o < outC; o++ {
			for y := 0; y < kh; y++ {
				for xx := 0; xx < kw; xx++ {
					c.W[(o*kh+y)*kw+xx] = f.data[(y*kw+xx)*outC+o]
				}
			}
		}
	} else {
		outC, inC := f.shape[0], f.shape[3]
		if inC != in[0] {
			return fmt.Errorf("filter %v on %d channels", f.shape, in[0])
		}
		c.OutC = outC
		c.W = make([]float32, outC*inC*kh*kw)
		for o := 0; o < outC; o++ {
			for y := 0; y < kh; y++ {
				for xx := 0; xx < kw; xx++ {
					for ci := 0; ci < inC; ci++ {
						c.W[((o*inC+ci)*kh+y)*kw+xx] = f.data[((o*kh+y)*kw+xx)*inC+ci]
					}
				}
			}
		}
	}
	bias, err := b.optional(op, 2, c.OutC)
	if err != nil {
		return err
	}
	if bias != nil {
		c.B = bias.data
	}
	n, err := b.add(op, "", c, x.node)
	if err != nil {
		return err
	}
	return b.finish(op, n, act, nil)
}

// fullyConnected converts FULLY_CONNECTED (weights O×I) on a vector.
func (b *builder) fullyConnected(op operator) error {
	x, t, err := b.input(op, 0)
	if err != nil {
		return err
	}
	if x == nil {
		return fmt.Errorf("fully connected layer on the constant %s", t.name)
	}
	w, err := b.constant(op, 1)
	if err != nil {
		return err
	}
	if len(w.shape) != 2 {
		return fmt.Errorf("weights %s of shape %v", w.name, w.shape)
	}
	outF, inF := w.shape[0], w.shape[1]
	src := x.node
	flat := x.flat
	if len(src.Shape) != 1 {
		// TFLite flattens the input to [−1, I]: an H×W×C map is read in H·W·C order.
		if nn.Size(src.Shape) != inF {
			return fmt.Errorf("input of shape %v for %d weights per row", src.Shape, inF)
		}
		if src, err = b.add(op, "/flatten", nn.Flatten{}, src); err != nil {
			return err
		}
		flat = x.node.Shape
	}
	if src.Shape[0] != inF {
		return fmt.Errorf("input of %d values for %d weights per row", src.Shape[0], inF)
	}
	lin := &nn.Linear{In: inF, Out: outF, W: make([]float32, inF*outF)}
	for o := 0; o < outF; o++ {
		for r := 0; r < inF; r++ {
			dst := r
			if flat != nil {
				// TFLite column r of a flattened C×H×W map is pixel r/C, channel r%C.
				pix, ch := r/flat[0], r%flat[0]
				dst = ch*flat[1]*flat[2] + pix
			}
			lin.W[o*inF+dst] = w.data[o*inF+r]
		}
	}
	bias, err := b.optional(op, 2, outF)
	if err != nil {
		return err
	}
	if bias != nil {
		lin.B = bias.data
	}
	act, _ := optionByte(op, 0)
	n, err := b.add(op, "", lin, src)
	if err != nil {
		return err
	}
	return b.finish(op, n, act, nil)
}

// pool converts AVERAGE_POOL_2D and MAX_POOL_2D (Pool2DOptions: padding 0, stride_w 1,
// stride_h 2, filter_width 3, filter_height 4, activation 5). TensorFlow's average pool leaves
// the padding out of the mean.
func (b *builder) pool(op operator) error {
	x, err := b.mapOf(op)
	if err != nil {
		return err
	}
	p, err := optionInts(op, [2]int{1, 1}, [2]int{2, 1}, [2]int{3, 1}, [2]int{4, 1})
	if err != nil {
		return err
	}
	padding, _ := optionByte(op, 0)
	act, _ := optionByte(op, 5)
	w, err := newWindow(x.node.Shape, padding, p[3], p[2], p[1], p[0], 1, 1)
	if err != nil {
		return err
	}
	var o nn.Op = nn.Pool{Max: op.code == opMaxPool, KH: w.kh, KW: w.kw, StrideH: w.sh, StrideW: w.sw,
		PadT: w.t, PadL: w.l, PadB: w.bo, PadR: w.r, ExcludePad: true}
	in := x.node.Shape
	if op.code == opAveragePool && w.kh == in[1] && w.kw == in[2] && w.t+w.l+w.bo+w.r == 0 {
		o = nn.GlobalAvgPool{KeepDims: true} // one window over the whole map
	}
	n, err := b.add(op, "", o, x.node)
	if err != nil {
		return err
	}
	return b.finish(op, n, act, nil)
}

// mean converts MEAN over the height and width of a map (a global average pool).
func (b *builder) mean(op operator) error {
	x, err := b.mapOf(op)
	if err != nil {
		return err
	}
	axes, err := b.constant(op, 1)
	if err != nil {
		return err
	}
	ax := slices.Clone(axes.ints)
	slices.Sort(ax)
	if !slices.Equal(ax, []int64{1, 2}) && !slices.Equal(ax, []int64{-3, -2}) {
		return fmt.Errorf("mean over axes %v (fourbit reads the mean over height and width)", axes.ints)
	}
	keep := false
	if op.hasOpts {
		keep, _ = op.options.bool(0) // ReducerOptions: keep_dims 0
	}
	n, err := b.add(op, "", nn.GlobalAvgPool{KeepDims: keep}, x.node)
	if err != nil {
		return err
	}
	return b.set(op, n, nil)
}

// reshape converts RESHAPE and SQUEEZE: to a vector ([1, N]), or to the shape the tensor
// already has.
func (b *builder) reshape(op operator) error {
	x, t, err := b.input(op, 0)
	if err != nil {
		return err
	}
	if x == nil {
		return fmt.Errorf("reshape of the constant %s", t.name)
	}
	out := b.m.tensors[op.outputs[0]]
	want, err := perImage(out.shape)
	if err != nil {
		return err
	}
	if nn.Size(want) != nn.Size(x.node.Shape) {
		return fmt.Errorf("reshape of %v to %v", t.shape, out.shape)
	}
	switch {
	case slices.Equal(want, x.node.Shape):
		return b.set(op, x.node, x.flat)
	case len(want) == 1 && len(x.node.Shape) == 3:
		n, err := b.add(op, "", nn.Flatten{}, x.node)
		if err != nil {
			return err
		}
		var flat []int
		if x.node.Shape[1]*x.node.Shape[2] > 1 {
			flat = x.node.Shape // TFLite's H·W·C order
		}
		return b.set(op, n, flat)
	}
	return fmt.Errorf("reshape of %v to %v (fourbit reads reshapes to a vector)", t.shape, out.shape)
}

// arithmetic converts ADD, SUB and MUL: of two computed tensors (Add, Mul), or of a computed
// tensor and a constant — a scalar or one value per channel — as a per-channel affine map.
func (b *builder) arithmetic(op operator) error {
	act, _ := optionByte(op, 0) // AddOptions, SubOptions, MulOptions: activation 0
	x, tx, err := b.input(op, 0)
	if err != nil {
		return err
	}
	y, ty, err := b.input(op, 1)
	if err != nil {
		return err
	}
	switch {
	case x != nil && y != nil:
		if x.flat != nil || y.flat != nil {
			return fmt.Errorf("element-wise op on flattened maps")
		}
		var o nn.Op
		switch op.code {
		case opAdd:
			o = nn.Add{}
		case opMul:
			o = nn.Mul{}
		default:
			if !slices.Equal(x.node.Shape, y.node.Shape) {
				return fmt.Errorf("%s of tensors of shapes %v and %v (fourbit reads two computed tensors of one shape)", opName(op.code), tx.shape, ty.shape)
			}
			o = nn.Binary{Fn: map[int]string{opSub: "sub", opMaximum: "max", opMinimum: "min"}[op.code]}
		}
		n, err := b.add(op, "", o, x.node, y.node)
		if err != nil {
			return err
		}
		return b.finish(op, n, act, nil)
	case x == nil && y == nil:
		return fmt.Errorf("arithmetic on two constants %s and %s", tx.name, ty.name)
	}
	v, c := x, ty
	constFirst := x == nil
	if constFirst {
		v, c = y, tx
	}
	if op.code == opMaximum || op.code == opMinimum {
		if len(c.data) != 1 {
			return fmt.Errorf("%s by the constant %s of shape %v (fourbit reads a scalar)", opName(op.code), c.name, c.shape)
		}
		clip := nn.Clip{Lo: c.data[0], Hi: math.MaxFloat32}
		if op.code == opMinimum {
			clip = nn.Clip{Lo: -math.MaxFloat32, Hi: c.data[0]}
		}
		n, err := b.add(op, "", clip, v.node)
		if err != nil {
			return err
		}
		return b.set(op, n, v.flat)
	}
	ch := v.node.Shape[0]
	vals := c.data
	if len(vals) != 1 && (v.flat != nil || !(len(vals) == ch && c.shape[len(c.shape)-1] == ch)) {
		return fmt.Errorf("constant %s of shape %v on a %v tensor (fourbit reads a scalar or one value per channel)", c.name, c.shape, v.node.Shape)
	}
	a := nn.Affine{}
	switch op.code {
	case opAdd:
		a.Scale, a.Shift = []float32{1}, vals
	case opMul:
		a.Scale, a.Shift = vals, []float32{0}
	case opSub:
		if constFirst { // c − x
			a.Scale, a.Shift = []float32{-1}, vals
		} else {
			neg := make([]float32, len(vals))
			for i, s := range vals {
				neg[i] = -s
			}
			a.Scale, a.Shift = []float32{1}, neg
		}
	}
	n, err := b.add(op, "", a, v.node)
	if err != nil {
		return err
	}
	return b.finish(op, n, act, v.flat)
}

// unary converts the element-wise activations.
func (b *builder) unary(op operator) error {
	x, t, err := b.input(op, 0)
	if err != nil {
		return err
	}
	if x == nil {
		return fmt.Errorf("activation of the constant %s", t.name)
	}
	var o nn.Op
	switch op.code {
	case opRelu:
		o = nn.ReLU{}
	case opRelu6:
		o = nn.Clip{Lo: 0, Hi: 6}
	case opReluN1To1:
		o = nn.Clip{Lo: -1, Hi: 1}
	case opLogistic:
		o = nn.Sigmoid{}
	case opTanh:
		o = nn.Tanh{}
	case opLeakyRelu:
		alpha, err := op.options.float32(0, 0.2) // LeakyReluOptions: alpha 0
		if err != nil || !op.hasOpts {
			alpha = 0.2
		}
		if math.IsNaN(float64(alpha)) || math.IsInf(float64(alpha), 0) {
			return fmt.Errorf("leaky ReLU alpha %v", alpha)
		}
		o = nn.LeakyReLU{Alpha: alpha}
	case opHardSwish:
		// x · relu6(x + 3)/6: the hard sigmoid gate times the input.
		gate, err := b.add(op, "/gate", nn.HardSigmoid{Alpha: 1.0 / 6, Beta: 0.5}, x.node)
		if err != nil {
			return err
		}
		n, err := b.add(op, "", nn.Mul{}, x.node, gate)
		if err != nil {
			return err
		}
		return b.set(op, n, x.flat)
	}
	n, err := b.add(op, "", o, x.node)
	if err != nil {
		return err
	}
	return b.set(op, n, x.flat)
}

// pad converts PAD of the height and width of a map with zeros (paddings [[0,0],[t,b],[l,r],[0,0]]).
func (b *builder) pad(op operator) error {
	x, err := b.mapOf(op)
	if err != nil {
		return err
	}
	p, err := b.constant(op, 1, 4, 2)
	if err != nil {
		return err
	}
	v := p.ints
	if v == nil || v[0] != 0 || v[1] != 0 || v[6] != 0 || v[7] != 0 {
		return fmt.Errorf("padding %v (fourbit pads height and width)", p.ints)
	}
	for _, e := range v[2:6] {
		if e < 0 || e > 1<<12 {
			return fmt.Errorf("padding %v", p.ints)
		}
	}
	n, err := b.add(op, "", nn.Pad{T: int(v[2]), B: int(v[3]), L: int(v[4]), R: int(v[5])}, x.node)
	if err != nil {
		return err
	}
	return b.set(op, n, nil)
}

// concat converts CONCATENATION along the channel axis (ConcatenationOptions: axis 0,
// activation 1).
func (b *builder) concat(op operator) error {
	axis, err := op.options.int32(0, 0)
	if err != nil {
		return err
	}
	act, _ := optionByte(op, 1)
	var ins []*nn.Node
	for i := range op.inputs {
		x, t, err := b.input(op, i)
		if err != nil {
			return err
		}
		if x == nil {
			return fmt.Errorf("concatenation of the constant %s", t.name)
		}
		rank := len(t.shape)
		if a := int(axis); a != rank-1 && a != -1 {
			return fmt.Errorf("concatenation along axis %d of rank-%d tensors (fourbit concatenates channels)", axis, rank)
		}
		ins = append(ins, x.node)
	}
	n, err := b.add(op, "", nn.Concat{}, ins...)
	if err != nil {
		return err
	}
	return b.finish(op, n, act, nil)
}

// dequantize folds DEQUANTIZE of a constant (float16 or 8-bit weights) into a float constant.
func (b *builder) dequantize(op operator) error {
	t, err := b.constant(op, 0)
	if err != nil {
		return fmt.Errorf("DEQUANTIZE of a computed tensor: a fully quantized model; give fourbit the float model it was made from")
	}
	out := b.m.tensors[op.outputs[0]]
	if out.data != nil || b.values[out.index] != nil {
		return fmt.Errorf("output %s is written twice", out.name)
	}
	out.data, out.ints = t.data, t.ints
	return nil
}
