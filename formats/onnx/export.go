package onnx

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"

	"fourbit/nn"
	"fourbit/quant"
)

// ExportOpset is the opset of the models fourbit writes: the first with per-axis
// QuantizeLinear/DequantizeLinear. 4-bit codes are stored in uint8 containers (INT4/UINT4
// need opset 21, which ONNX Runtime's CPU kernels do not run for every operator fourbit emits).
const ExportOpset = 13

// writer accumulates a graph's nodes and initializers.
type writer struct {
	nodes, inits [][]byte
	n            int
	fuse         bool // ExportQDQFused: the form ONNX Runtime fuses into its integer kernels
}

func tag(b []byte, num protowire.Number, typ protowire.Type) []byte {
	return protowire.AppendTag(b, num, typ)
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	return protowire.AppendString(tag(b, num, protowire.BytesType), s)
}

func appendBytes(b []byte, num protowire.Number, p []byte) []byte {
	return protowire.AppendBytes(tag(b, num, protowire.BytesType), p)
}

func appendVarint(b []byte, num protowire.Number, v int64) []byte {
	return protowire.AppendVarint(tag(b, num, protowire.VarintType), uint64(v))
}

// attr is one attribute of a node.
type attr struct {
	name   string
	i      *int64
	s      *string
	f      *float32
	ints   []int64
	isInts bool
	t      []byte // an encoded TensorProto
}

func aTensor(name string, t []byte) attr { return attr{name: name, t: t} }

func aString(name, v string) attr { return attr{name: name, s: &v} }

// binaryOps are the ONNX operators of nn.Binary's and nn.ConstBinary's functions.
var binaryOps = map[string]string{"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "max": "Max", "min": "Min", "pow": "Pow"}

func aInt(name string, v int64) attr     { return attr{name: name, i: &v} }
func aFloat(name string, v float32) attr { return attr{name: name, f: &v} }
func aInts(name string, v ...int64) attr { return attr{name: name, ints: v, isInts: true} }

func i64s(v ...int) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

func (w *writer) node(op, name string, inputs, outputs []string, attrs ...attr) {
	var b []byte
	for _, in := range inputs {
		b = appendString(b, 1, in)
	}
	for _, out := range outputs {
		b = appendString(b, 2, out)
	}
	b = appendString(b, 3, name)
	b = appendString(b, 4, op)
	for _, a := range attrs {
		var ab []byte
		ab = appendString(ab, 1, a.name)
		switch {
		case a.i != nil:
			ab = appendVarint(ab, 20, attrTypeInt)
			ab = appendVarint(ab, 3, *a.i)
		case a.s != nil:
			ab = appendVarint(ab, 20, attrTypeString)
			ab = appendBytes(ab, 4, []byte(*a.s))
		case a.f != nil:
			ab = appendVarint(ab, 20, attrTypeFloat)
			ab = protowire.AppendFixed32(tag(ab, 2, protowire.Fixed32Type), math.Float32bits(*a.f))
		case a.t != nil:
			ab = appendVarint(ab, 20, attrTypeTensor)
			ab = appendBytes(ab, 5, a.t)
		case a.isInts:
			ab = appendVarint(ab, 20, attrTypeInts)
			for _, v := range a.ints {
				ab = appendVarint(ab, 8, v)
			}
		}
		b = appendBytes(b, 5, ab)
	}
	w.nodes = append(w.nodes, b)
}

// tensorBytes encodes a TensorProto with raw data.
func tensorBytes(name string, dims []int64, dataType int64, raw []byte) []byte {
	var b []byte
	for _, d := range dims {
		b = appendVarint(b, 1, d)
	}
	b = appendVarint(b, 2, dataType)
	b = appendString(b, 8, name)
	return appendBytes(b, 9, raw)
}

func (w *writer) initF32(name string, dims []int64, v []float32) string {
	raw := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(x))
	}
	w.inits = append(w.inits, tensorBytes(name, dims, typeFloat, raw))
	return name
}

func (w *writer) initU8(name string, dims []int64, v []uint8) string {
	w.inits = append(w.inits, tensorBytes(name, dims, typeUint8, append([]byte(nil), v...)))
	return name
}

func (w *writer) initI64(name string, v ...int64) string {
	raw := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(x))
	}
	w.inits = append(w.inits, tensorBytes(name, []int64{int64(len(v))}, typeInt64, raw))
	return name
}

func valueInfoBytes(name string, dims []int64, batchParam string) []byte {
	var shape []byte
	if batchParam != "" {
		shape = appendBytes(shape, 1, appendString(nil, 2, batchParam))
	}
	for _, d := range dims {
		shape = appendBytes(shape, 1, appendVarint(nil, 1, d))
	}
	var tt []byte
	tt = appendVarint(tt, 1, typeFloat)
	tt = appendBytes(tt, 2, shape)
	var typ []byte
	typ = appendBytes(typ, 1, tt)
	var b []byte
	b = appendString(b, 1, name)
	return appendBytes(b, 2, typ)
}

// Quantization is what ExportQDQ writes of a quantized network (*ptq.Quantized implements
// it): the simulated network, per layer its weights as quant.WeightRow (codes, quantizer,
// bias correction), and per node the quantizers of the activation at its output. nil means
// float.
type Quantization interface {
	Network() *nn.Graph
	WeightRows(n *nn.Node) []quant.WeightRow
	Activation(n *nn.Node) []quant.Quantizer
}

// Export writes g as a float ONNX model (opset 13). Its preprocessing and class names go into
// the model's metadata, which Read restores.
func Export(g *nn.Graph) ([]byte, error) { return export(g, nil, false) }

// ExportQDQ writes the quantized network q as a QDQ ONNX model: every quantized weight
// tensor is stored as uint8 codes with per-output-channel scale and zero point and
// dequantized by DequantizeLinear (followed by bias correction's per-channel gain and
// offset, when it changed anything), and every quantized activation passes through its
// clipping range (Max/Min, per channel), QuantizeLinear and DequantizeLinear. ONNX Runtime
// then computes in float what fourbit's simulation computes.
func ExportQDQ(q Quantization) ([]byte, error) { return export(q.Network(), q, false) }

// ExportQDQFused writes q as ExportQDQ does, but in the form ONNX Runtime fuses into its
// integer kernels (QLinearConv, QLinearAdd, QGemm) wherever the plan allows it: a layer whose
// weight rows have integer zero points, codes within 127 of them and no bias-correction offset
// stores its weights as int8 (code − zero) with zero point 0 and the row's scale (times
// bias correction's gain), and, when its input has one 8-bit quantizer, its bias as int32 at
// input scale × weight scale (rounded to the nearest step: the one change to the numbers);
// an 8-bit activation over the whole uint8 range is quantized without the Max/Min clamp in
// front (QuantizeLinear saturates to the same range). Other layers are written as ExportQDQ
// writes them. ONNX Runtime's QuantizeLinear rounds halves to even where fourbit rounds them
// away from zero, as in ExportQDQ.
func ExportQDQFused(q Quantization) ([]byte, error) { return export(q.Network(), q, true) }

func export(g *nn.Graph, qz Quantization, fuse bool) ([]byte, error) {
	w := &writer{fuse: fuse}
	in := g.Input()
	for _, n := range g.Nodes[1:] {
		if err := w.emit(n, qz); err != nil {
			return nil, fmt.Errorf("onnx export: node %s (%s): %w", n.Name, n.Op.Kind(), err)
		}
	}
	var gb []byte
	for _, nb := range w.nodes {
		gb = appendBytes(gb, 1, nb)
	}
	gb = appendString(gb, 2, "fourbit")
	for _, ib := range w.inits {
		gb = appendBytes(gb, 5, ib)
	}
	gb = appendBytes(gb, 11, valueInfoBytes(in.Name, i64s(in.Shape...), "N"))
	out := g.Output()
	gb = appendBytes(gb, 12, valueInfoBytes(out.Name, i64s(out.Shape...), "N"))

	var mb []byte
	mb = appendVarint(mb, 1, 8) // IR version 8
	mb = appendString(mb, 2, "fourbit")
	mb = appendBytes(mb, 8, appendVarint(appendString(nil, 1, ""), 2, ExportOpset))
	mb = appendBytes(mb, 7, gb)
	pre, _ := json.Marshal(g.Preprocess)
	mb = appendBytes(mb, 14, appendString(appendString(nil, 1, metaPreprocess), 2, string(pre)))
	if len(g.Classes) > 0 {
		cl, _ := json.Marshal(g.Classes)
		mb = appendBytes(mb, 14, appendString(appendString(nil, 1, metaClasses), 2, string(cl)))
	}
	if len(g.Names) > 0 {
		nm, _ := json.Marshal(g.Names)
		mb = appendBytes(mb, 14, appendString(appendString(nil, 1, metaNames), 2, string(nm)))
	}
	return mb, nil
}

// emit writes the nodes of one graph node; its output value is named after the node (after
// the activation's QDQ chain when it is quantized).
func (w *writer) emit(n *nn.Node, qz Quantization) error {
	out := n.Name
	var act []quant.Quantizer
	if qz != nil {
		if act = qz.Activation(n); act != nil {
			out = n.Name + ".f"
		}
	}
	ins := make([]string, len(n.Inputs))
	for i, p := range n.Inputs {
		ins[i] = p.Name
	}
	name := n.Name
	switch op := n.Op.(type) {
	case *nn.Conv:
		wName, err := w.weights(n, op.W, []int64{int64(op.OutC), int64(len(op.W) / (op.OutC * op.KH * op.KW)), int64(op.KH), int64(op.KW)}, qz)
		if err != nil {
			return err
		}
		inputs := []string{ins[0], wName}
		if op.B != nil {
			inputs = append(inputs, w.bias(n, op.B, qz))
		}
		w.node("Conv", name, inputs, []string{out}, aInts("kernel_shape", i64s(op.KH, op.KW)...),
			aInts("strides", i64s(op.StrideH, op.StrideW)...), aInts("dilations", i64s(op.DilH, op.DilW)...),
			aInts("pads", i64s(op.PadT, op.PadL, op.PadB, op.PadR)...), aInt("group", int64(op.Groups)))
	case *nn.Linear:
		wName, err := w.weights(n, op.W, i64s(op.Out, op.In), qz)
		if err != nil {
			return err
		}
		b := op.B
		if b == nil {
			b = make([]float32, op.Out)
		}
		if len(n.Shape) > 1 { // on rows: x·Wᵀ + b over the last axis
			w.node("Transpose", name+".wt", []string{wName}, []string{name + ".wt"}, aInts("perm", 1, 0))
			w.node("MatMul", name+".mm", []string{ins[0], name + ".wt"}, []string{name + ".mm"})
			w.node("Add", name, []string{name + ".mm", w.initF32(name+".bias", i64s(op.Out), b)}, []string{out})
			break
		}
		in := ins[0]
		if len(n.Inputs[0].Shape) != 1 {
			w.node("Flatten", name+".flat", ins, []string{name + ".flat"}, aInt("axis", 1))
			in = name + ".flat"
		}
		w.node("Gemm", name, []string{in, wName, w.bias(n, b, qz)}, []string{out}, aInt("transB", 1))
	case *nn.BatchNorm:
		c := int64(len(op.Gamma))
		w.node("BatchNormalization", name, []string{ins[0], w.initF32(name+".gamma", []int64{c}, op.Gamma), w.initF32(name+".beta", []int64{c}, op.Beta),
			w.initF32(name+".mean", []int64{c}, op.Mean), w.initF32(name+".var", []int64{c}, op.Var)}, []string{out}, aFloat("epsilon", float32(op.Eps)))
	case nn.ReLU:
		w.node("Relu", name, ins, []string{out})
	case nn.Sigmoid:
		w.node("Sigmoid", name, ins, []string{out})
	case nn.Tanh:
		w.node("Tanh", name, ins, []string{out})
	case nn.LeakyReLU:
		w.node("LeakyRelu", name, ins, []string{out}, aFloat("alpha", op.Alpha))
	case nn.Clip:
		w.node("Clip", name, []string{ins[0], w.initF32(name+".min", nil, []float32{op.Lo}), w.initF32(name+".max", nil, []float32{op.Hi})}, []string{out})
	case nn.Add:
		w.node("Add", name, ins, []string{out})
	case nn.Pool:
		kind := "AveragePool"
		attrs := []attr{aInts("kernel_shape", i64s(op.KH, op.KW)...), aInts("strides", i64s(op.StrideH, op.StrideW)...), aInts("pads", i64s(op.PadT, op.PadL, op.PadB, op.PadR)...)}
		if op.Max {
			kind = "MaxPool"
		} else if !op.ExcludePad {
			attrs = append(attrs, aInt("count_include_pad", 1))
		}
		w.node(kind, name, ins, []string{out}, attrs...)
	case nn.GlobalAvgPool:
		if op.KeepDims {
			w.node("GlobalAveragePool", name, ins, []string{out})
			break
		}
		w.node("GlobalAveragePool", name+".gap", ins, []string{name + ".gap"})
		w.node("Flatten", name, []string{name + ".gap"}, []string{out}, aInt("axis", 1))
	case nn.HardSigmoid:
		w.node("HardSigmoid", name, ins, []string{out}, aFloat("alpha", op.Alpha), aFloat("beta", op.Beta))
	case nn.Mul:
		w.node("Mul", name, ins, []string{out})
	case nn.Flatten:
		w.node("Flatten", name, ins, []string{out}, aInt("axis", 1))
	case nn.Concat:
		w.node("Concat", name, ins, []string{out}, aInt("axis", 1))
	case nn.Softmax:
		w.node("Softmax", name, ins, []string{out}, aInt("axis", -1))
	case nn.Reshape:
		w.node("Reshape", name, []string{ins[0], w.initI64(name+".shape", append([]int64{-1}, i64s(op.Shape...)...)...)}, []string{out})
	case nn.Transpose:
		perm := []int64{0}
		for _, p := range op.Perm {
			perm = append(perm, int64(p)+1)
		}
		w.node("Transpose", name, ins, []string{out}, aInts("perm", perm...))
	case nn.Binary:
		w.node(binaryOps[op.Fn], name, ins, []string{out})
	case nn.ConstBinary:
		c := w.initF32(name+".const", i64s(op.Shape...), op.Value)
		if op.First {
			w.node(binaryOps[op.Fn], name, []string{c, ins[0]}, []string{out})
		} else {
			w.node(binaryOps[op.Fn], name, []string{ins[0], c}, []string{out})
		}
	case nn.Pow:
		if op.P == 0.5 {
			w.node("Sqrt", name, ins, []string{out})
		} else {
			w.node("Pow", name, []string{ins[0], w.initF32(name+".p", nil, []float32{op.P})}, []string{out})
		}
	case nn.ReduceMean:
		var axes []int64
		for _, a := range op.Axes {
			axes = append(axes, int64(a)+1)
		}
		keep := int64(0)
		if op.KeepDims {
			keep = 1
		}
		w.node("ReduceMean", name, ins, []string{out}, aInts("axes", axes...), aInt("keepdims", keep))
	case nn.Resize2D:
		mode := "nearest"
		if op.Linear {
			mode = "linear"
		}
		w.node("Resize", name, []string{ins[0], "", w.initF32(name+".scales", i64s(4), []float32{1, 1, op.ScaleH, op.ScaleW})}, []string{out},
			aString("mode", mode), aString("coordinate_transformation_mode", op.Coordinates), aString("nearest_mode", op.Nearest))
	case nn.MatMul:
		w.node("MatMul", name, ins, []string{out})
	case nn.Take:
		raw := binary.LittleEndian.AppendUint64(nil, uint64(op.Index))
		w.inits = append(w.inits, tensorBytes(name+".index", nil, typeInt64, raw)) // a scalar: the axis goes
		w.node("Gather", name, []string{ins[0], name + ".index"}, []string{out}, aInt("axis", int64(op.Axis)+1))
	case *nn.ConvTranspose:
		icg := len(op.W) / (op.OutC * op.KH * op.KW)
		ocg := op.OutC / op.Groups
		wName, err := w.weights(n, op.W, i64s(op.OutC, icg, op.KH, op.KW), qz)
		if err != nil {
			return err
		}
		// fourbit's one row per output channel to ONNX's InC × OutC/group × KH × KW.
		w.node("Reshape", name+".wg", []string{wName, w.initI64(name+".wgs", i64s(op.Groups, ocg, icg, op.KH, op.KW)...)}, []string{name + ".wg"})
		w.node("Transpose", name+".wt", []string{name + ".wg"}, []string{name + ".wt"}, aInts("perm", 0, 2, 1, 3, 4))
		w.node("Reshape", name+".w", []string{name + ".wt", w.initI64(name+".ws", i64s(op.Groups*icg, ocg, op.KH, op.KW)...)}, []string{name + ".w"})
		inputs := []string{ins[0], name + ".w"}
		if op.B != nil {
			inputs = append(inputs, w.initF32(name+".bias", i64s(op.OutC), op.B))
		}
		w.node("ConvTranspose", name, inputs, []string{out}, aInts("kernel_shape", i64s(op.KH, op.KW)...),
			aInts("strides", i64s(op.StrideH, op.StrideW)...), aInts("dilations", i64s(op.DilH, op.DilW)...),
			aInts("pads", i64s(op.PadT, op.PadL, op.PadB, op.PadR)...), aInts("output_padding", i64s(op.OutPadH, op.OutPadW)...),
			aInt("group", int64(op.Groups)))
	case nn.Pad:
		w.node("Pad", name, []string{ins[0], w.initI64(name+".pads", 0, 0, int64(op.T), int64(op.L), 0, 0, int64(op.B), int64(op.R))}, []string{out})
	case nn.ShortcutA:
		big := int64(math.MaxInt32)
		w.node("Slice", name+".slice", []string{ins[0], w.initI64(name+".starts", 0, 0), w.initI64(name+".ends", big, big),
			w.initI64(name+".axes", 2, 3), w.initI64(name+".steps", int64(op.Stride), int64(op.Stride))}, []string{name + ".slice"})
		p := int64(op.PadC)
		w.node("Pad", name, []string{name + ".slice", w.initI64(name+".pads", 0, p, 0, 0, 0, p, 0, 0)}, []string{out})
	case nn.Affine:
		dims := broadcastDims(len(op.Scale), n.Shape)
		w.node("Mul", name+".mul", []string{ins[0], w.initF32(name+".scale", dims, op.Scale)}, []string{name + ".mul"})
		w.node("Add", name, []string{name + ".mul", w.initF32(name+".shift", broadcastDims(len(op.Shift), n.Shape), op.Shift)}, []string{out})
	default:
		return fmt.Errorf("no ONNX form for %s", n.Op.Kind())
	}
	if act != nil {
		return w.quantizeAct(n, out, act)
	}
	return nil
}

// broadcastDims is the shape of a per-channel constant (or a scalar) for a tensor of
// per-image shape.
func broadcastDims(n int, shape []int) []int64 {
	if n == 1 {
		return nil
	}
	dims := []int64{int64(n)}
	for range shape[1:] {
		dims = append(dims, 1)
	}
	return dims
}

// weights writes a layer's weight tensor: float, or as codes with DequantizeLinear (and bias
// correction's per-row gain and offset) when qz holds its plan. It returns the value name.
func (w *writer) weights(n *nn.Node, fw []float32, dims []int64, qz Quantization) (string, error) {
	name := n.Name + ".weight"
	var rows []quant.WeightRow
	if qz != nil {
		rows = qz.WeightRows(n)
	}
	if rows == nil {
		return w.initF32(name, dims, fw), nil // float
	}
	if w.fuse && fusable(rows) {
		return w.int8Weights(name, dims, rows), nil
	}
	scale, zero := make([]float32, len(rows)), make([]uint8, len(rows))
	gain, offset := make([]float32, len(rows)), make([]float32, len(rows))
	codes := make([]uint8, 0, len(fw))
	corrected := false
	for o, r := range rows {
		codes = append(codes, r.Codes...)
		scale[o], zero[o] = float32(r.Q.Scale), uint8(r.Q.Zero)
		if r.Q.Scale == 0 {
			scale[o], zero[o] = 1, 0
		}
		gain[o], offset[o] = float32(r.Gain), float32(r.Offset)
		corrected = corrected || gain[o] != 1 || offset[o] != 0
	}
	rowsN := len(rows)
	w.initU8(name+".codes", dims, codes)
	w.node("DequantizeLinear", name+".dq", []string{name + ".codes", w.initF32(name+".scale", i64s(rowsN), scale), w.initU8(name+".zero", i64s(rowsN), zero)},
		[]string{name + ".dq"}, aInt("axis", 0))
	if !corrected {
		return name + ".dq", nil
	}
	bd := make([]int64, len(dims))
	bd[0] = dims[0]
	for i := 1; i < len(bd); i++ {
		bd[i] = 1
	}
	w.node("Mul", name+".gain", []string{name + ".dq", w.initF32(name+".gainv", bd, gain)}, []string{name + ".gain"})
	w.node("Add", name+".corrected", []string{name + ".gain", w.initF32(name+".offsetv", bd, offset)}, []string{name})
	return name, nil
}

// quantizeAct writes the clip → QuantizeLinear → DequantizeLinear chain of an activation from
// value in to the node's name.
func (w *writer) quantizeAct(n *nn.Node, in string, qs []quant.Quantizer) error {
	c := len(qs)
	lo, hi := make([]float32, c), make([]float32, c)
	scale, zero := make([]float32, c), make([]uint8, c)
	for i, q := range qs {
		if q.QMin < 0 || q.QMax > 255 {
			return fmt.Errorf("codes %d..%d do not fit uint8", q.QMin, q.QMax)
		}
		l, h := q.Range()
		lo[i], hi[i] = float32(l), float32(h)
		scale[i], zero[i] = float32(q.Scale), uint8(q.Zero)
		if q.Scale == 0 {
			scale[i], zero[i], lo[i], hi[i] = 1, 0, 0, 0
		}
	}
	name := n.Name
	dims := broadcastDims(c, n.Shape)
	clamped := name + ".hi"
	if w.fuse && c == 1 && qs[0].QMin == 0 && qs[0].QMax == 255 && qs[0].Scale != 0 {
		clamped = in // QuantizeLinear saturates to the same range
	} else {
		w.node("Max", name+".lo", []string{in, w.initF32(name+".lov", dims, lo)}, []string{name + ".lo"})
		w.node("Min", name+".hi", []string{name + ".lo", w.initF32(name+".hiv", dims, hi)}, []string{name + ".hi"})
	}
	var sdims []int64
	var attrs []attr
	if c > 1 {
		sdims = []int64{int64(c)}
		attrs = []attr{aInt("axis", 1)}
	}
	w.node("QuantizeLinear", name+".q", []string{clamped, w.initF32(name+".scale", sdims, scale), w.initU8(name+".zero", sdims, zero)}, []string{name + ".q"}, attrs...)
	w.node("DequantizeLinear", name+".dq", []string{name + ".q", name + ".scale", name + ".zero"}, []string{name}, attrs...)
	return nil
}

// fusable reports whether a layer's weight rows can be written as int8 codes with zero point
// 0 (ExportQDQFused): integer zero points, codes within 127 of them, no offset.
func fusable(rows []quant.WeightRow) bool {
	for _, r := range rows {
		if r.Offset != 0 || r.Q.Zero != math.Trunc(r.Q.Zero) || r.Q.Scale == 0 {
			return false
		}
		for _, c := range r.Codes {
			if d := float64(c) - r.Q.Zero; d < -127 || d > 127 {
				return false
			}
		}
	}
	return true
}

// int8Weights writes fusable weight rows as int8 (code − zero) dequantized per row by the
// row's scale times its gain, zero point 0. It returns the dequantized value's name.
func (w *writer) int8Weights(name string, dims []int64, rows []quant.WeightRow) string {
	raw := make([]byte, 0, len(rows)*len(rows[0].Codes))
	scale := make([]float32, len(rows))
	for o, r := range rows {
		for _, c := range r.Codes {
			raw = append(raw, byte(int8(float64(c)-r.Q.Zero)))
		}
		scale[o] = float32(r.Q.Scale * r.Gain)
	}
	w.inits = append(w.inits, tensorBytes(name+".i8", dims, typeInt8, raw))
	w.inits = append(w.inits, tensorBytes(name+".i8zero", i64s(len(rows)), typeInt8, make([]byte, len(rows))))
	w.node("DequantizeLinear", name+".dq", []string{name + ".i8", w.initF32(name+".i8scale", i64s(len(rows)), scale), name + ".i8zero"},
		[]string{name + ".dq"}, aInt("axis", 0))
	return name + ".dq"
}

// bias writes a conv or linear layer's bias: float, or — in a fused export, when the layer's
// weights went out as int8 and its input has one quantizer — int32 steps of input scale ×
// weight scale, dequantized by DequantizeLinear, as ONNX Runtime's integer kernels take it.
func (w *writer) bias(n *nn.Node, b []float32, qz Quantization) string {
	name := n.Name + ".bias"
	if !w.fuse || qz == nil || len(n.Inputs) == 0 {
		return w.initF32(name, i64s(len(b)), b)
	}
	rows := qz.WeightRows(n)
	in := qz.Activation(n.Inputs[0])
	if len(rows) != len(b) || !fusable(rows) || len(in) != 1 || in[0].Scale == 0 || in[0].QMin != 0 || in[0].QMax > 255 {
		return w.initF32(name, i64s(len(b)), b)
	}
	raw := make([]byte, 4*len(b))
	scale := make([]float32, len(b))
	for o, r := range rows {
		scale[o] = float32(in[0].Scale) * float32(r.Q.Scale*r.Gain)
		q := math.Round(float64(b[o]) / float64(scale[o]))
		q = math.Max(math.Min(q, math.MaxInt32), math.MinInt32)
		binary.LittleEndian.PutUint32(raw[4*o:], uint32(int32(q)))
	}
	w.inits = append(w.inits, tensorBytes(name+".i32", i64s(len(b)), typeInt32, raw))
	w.inits = append(w.inits, tensorBytes(name+".i32zero", i64s(len(b)), typeInt32, make([]byte, 4*len(b))))
	w.node("DequantizeLinear", name+".dq", []string{name + ".i32", w.initF32(name+".i32scale", i64s(len(b)), scale), name + ".i32zero"},
		[]string{name + ".dq"}, aInt("axis", 0))
	return name + ".dq"
}
