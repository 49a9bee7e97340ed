package onnx

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"fourbit/nn"
)

// float16 returns the binary16 bits of v (round to nearest even; normal range only).
func float16(v float32) uint16 {
	b := math.Float32bits(v)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23&0xff) - 127 + 15
	frac := b & 0x7fffff
	if exp <= 0 {
		return sign
	}
	h := uint32(exp)<<10 | frac>>13
	if rem := frac & 0x1fff; rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++
	}
	return sign | uint16(h)
}

// opsModel is a small CNN using every operator the reader converts, the way exporters write
// them: fp16 and typed-field initializers, Constant nodes, a shape sub-graph feeding Reshape.
func opsModel(r *rand.Rand) []byte {
	w := &writer{}
	rnd := func(n int, scale float32) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = scale * float32(r.NormFloat64())
		}
		return v
	}
	// Conv 3→8, 3×3, stride 2, pads 1, weights as float16.
	cw := rnd(8*3*9, 0.3)
	raw := make([]byte, 2*len(cw))
	for i, v := range cw {
		binary.LittleEndian.PutUint16(raw[2*i:], float16(v))
	}
	w.inits = append(w.inits, tensorBytes("c1.w16", []int64{8, 3, 3, 3}, typeFloat16, raw))
	w.node("Cast", "c1.cast", []string{"c1.w16"}, []string{"c1.w"}, aInt("to", typeFloat))
	w.node("Conv", "c1", []string{"x", "c1.w", w.initF32("c1.b", []int64{8}, rnd(8, 0.1))}, []string{"c1"},
		aInts("kernel_shape", 3, 3), aInts("strides", 2, 2), aInts("pads", 1, 1, 1, 1))
	w.node("BatchNormalization", "bn", []string{"c1", w.initF32("bn.g", []int64{8}, rnd(8, 1)), w.initF32("bn.b", []int64{8}, rnd(8, 0.1)),
		w.initF32("bn.m", []int64{8}, rnd(8, 0.1)), w.initF32("bn.v", []int64{8}, []float32{1, 2, 0.5, 1, 1, 3, 1, 0.7})}, []string{"bn"}, aFloat("epsilon", 1e-3))
	w.node("Mul", "mul", []string{"bn", w.initF32("mul.c", []int64{1, 8, 1, 1}, rnd(8, 1))}, []string{"mul"})
	w.node("Add", "addc", []string{w.initF32("add.c", []int64{8, 1, 1}, rnd(8, 0.2)), "mul"}, []string{"addc"})
	w.node("LeakyRelu", "lrelu", []string{"addc"}, []string{"lrelu"}, aFloat("alpha", 0.1))
	w.node("Clip", "clip", []string{"lrelu", w.initF32("clip.lo", nil, []float32{-0.5}), w.initF32("clip.hi", nil, []float32{1.5})}, []string{"clip"})
	w.node("AveragePool", "avg", []string{"clip"}, []string{"avg"}, aInts("kernel_shape", 3, 3), aInts("pads", 1, 1, 1, 1), aInts("strides", 1, 1), aInt("count_include_pad", 1))
	w.node("MaxPool", "max", []string{"avg"}, []string{"max"}, aInts("kernel_shape", 2, 2), aInts("strides", 2, 2))
	w.node("Pad", "pad", []string{"max", w.initI64("pad.p", 0, 0, 1, 0, 0, 0, 1, 2)}, []string{"pad"})
	w.node("Conv", "dw", []string{"pad", w.initF32("dw.w", []int64{8, 1, 3, 3}, rnd(72, 0.5))}, []string{"dw"},
		aInts("kernel_shape", 3, 3), aInt("group", 8), aInts("dilations", 1, 1), aInts("pads", 1, 1, 1, 1))
	w.node("HardSigmoid", "hs", []string{"dw"}, []string{"hs"}, aFloat("alpha", 0.2), aFloat("beta", 0.5))
	w.node("GlobalAveragePool", "gap", []string{"hs"}, []string{"gap"})
	w.node("Mul", "gate", []string{"gap", "dw"}, []string{"gate"}) // SE-style broadcast
	w.node("Relu", "relu", []string{"dw"}, []string{"relu"})
	w.node("Concat", "cat", []string{"gate", "relu"}, []string{"cat"}, aInt("axis", 1))
	w.node("Sub", "sub", []string{"cat", w.initF32("sub.c", nil, []float32{0.25})}, []string{"sub"})
	w.node("Div", "div", []string{"sub", w.initF32("div.c", nil, []float32{2})}, []string{"div"})
	w.node("Dropout", "drop", []string{"div"}, []string{"drop"})
	w.node("Identity", "id", []string{"drop"}, []string{"id"})
	// Reshape to [N, -1] through a shape sub-graph.
	w.node("Shape", "shape", []string{"id"}, []string{"shape"})
	w.node("Constant", "zero", nil, []string{"zero"}, aTensor("value", tensorBytes("", nil, typeInt64, make([]byte, 8))))
	w.node("Gather", "n", []string{"shape", "zero"}, []string{"n"}, aInt("axis", 0))
	w.node("Unsqueeze", "n1", []string{"n", w.initI64("axes", 0)}, []string{"n1"})
	w.node("Concat", "target", []string{"n1", w.initI64("minus1", -1)}, []string{"target"}, aInt("axis", 0))
	w.node("Reshape", "flat", []string{"id", "target"}, []string{"flat"})
	// 16 channels × 10×10 = 1,600 features → Gemm (B as K×N, alpha, beta) → MatMul → Softmax.
	w.node("Gemm", "fc", []string{"flat", w.initF32("fc.w", []int64{1600, 12}, rnd(1600*12, 0.05)), w.initF32("fc.b", []int64{12}, rnd(12, 0.1))},
		[]string{"fc"}, aFloat("alpha", 0.5), aFloat("beta", 2))
	w.node("MatMul", "mm", []string{"fc", typedF32(w, "mm.w", []int64{12, 10}, rnd(120, 0.3))}, []string{"mm"})
	w.node("Softmax", "y", []string{"mm"}, []string{"y"}, aInt("axis", 1))

	var gb []byte
	for _, nb := range w.nodes {
		gb = appendBytes(gb, 1, nb)
	}
	for _, ib := range w.inits {
		gb = appendBytes(gb, 5, ib)
	}
	gb = appendBytes(gb, 11, valueInfoBytes("x", []int64{3, 32, 32}, "N"))
	gb = appendBytes(gb, 12, valueInfoBytes("y", []int64{10}, "N"))
	var mb []byte
	mb = appendVarint(mb, 1, 7)
	mb = appendBytes(mb, 8, appendVarint(appendString(nil, 1, ""), 2, 13))
	return appendBytes(mb, 7, gb)
}

// typedF32 adds an initializer stored in float_data (not raw_data).
func typedF32(w *writer, name string, dims []int64, v []float32) string {
	var b []byte
	for _, d := range dims {
		b = appendVarint(b, 1, d)
	}
	b = appendVarint(b, 2, typeFloat)
	packed := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(packed[4*i:], math.Float32bits(x))
	}
	b = appendBytes(b, 4, packed)
	b = appendString(b, 8, name)
	w.inits = append(w.inits, b)
	return name
}

// TestOpsModel reads the every-operator model and runs it; with FOURBIT_ONNX_OPS_OUT set it
// also writes the model there, for the Node test to check it against ONNX Runtime.
func TestOpsModel(t *testing.T) {
	data := opsModel(rand.New(rand.NewPCG(11, 11)))
	g, err := Read(data)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, n := range g.Nodes {
		kinds[n.Op.Kind()] = true
	}
	for _, k := range []string{"Conv", "Affine", "LeakyReLU", "Clip", "AvgPool", "MaxPool", "Pad", "HardSigmoid", "GlobalAvgPool", "Mul", "ReLU", "Concat", "Flatten", "Linear", "Softmax"} {
		if !kinds[k] {
			t.Errorf("no %s node in the imported graph: %v", k, kinds)
		}
	}
	x := make([]float32, 2*3*32*32)
	for i := range x {
		x[i] = float32(i%97)/50 - 1
	}
	y, err := g.Forward(x, 2, nil)
	if err != nil || len(y) != 20 {
		t.Fatalf("forward: %v, %d outputs", err, len(y))
	}
	var s float32
	for _, v := range y[:10] {
		s += v
	}
	if math.Abs(float64(s-1)) > 1e-5 {
		t.Errorf("softmax sums to %v", s)
	}
	if dir := os.Getenv("FOURBIT_ONNX_OPS_OUT"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, "ops.onnx"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_ = nn.Size
}
