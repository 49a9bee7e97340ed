package onnx

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The operators real exporters write beyond the classic CNN's, each in a small model the
// Node test (test/node/onnx.test.mjs) runs in ONNX Runtime beside fourbit:
//
//   - tensorOpsModel (opset 13, 3×32×32 image): Sigmoid, Tanh, Max/Min of two computed
//     tensors, ConvTranspose, Resize (linear half_pixel, nearest asymmetric), a LayerNorm
//     written out (ReduceMean, Sub, Pow, Add, Sqrt, Div), Transpose, Reshape to three axes,
//     MatMul of two computed tensors, Softmax on the last axis, Unsqueeze and Squeeze;
//   - seqOpsModel (opset 13, a 64×48 sequence, N×T×F): Transpose, a 1-D Conv, Max with a
//     scalar, ReduceMean over time, MatMul on rows;
//   - upsampleModel (opset 9): Upsample nearest and linear (the pre-Resize operator).

// modelBytes wraps w's nodes and initializers into a ModelProto of the given opset.
func modelBytes(w *writer, opset int64, in, out string, inDims, outDims []int64) []byte {
	var gb []byte
	for _, nb := range w.nodes {
		gb = appendBytes(gb, 1, nb)
	}
	for _, ib := range w.inits {
		gb = appendBytes(gb, 5, ib)
	}
	gb = appendBytes(gb, 11, valueInfoBytes(in, inDims, "N"))
	gb = appendBytes(gb, 12, valueInfoBytes(out, outDims, "N"))
	var mb []byte
	mb = appendVarint(mb, 1, 7)
	mb = appendBytes(mb, 8, appendVarint(appendString(nil, 1, ""), 2, opset))
	return appendBytes(mb, 7, gb)
}

func randn(r *rand.Rand, n int, scale float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = scale * float32(r.NormFloat64())
	}
	return v
}

func tensorOpsModel(r *rand.Rand) []byte {
	w := &writer{}
	w.node("Conv", "c1", []string{"x", w.initF32("c1.w", []int64{8, 3, 3, 3}, randn(r, 8*27, 0.3)), w.initF32("c1.b", []int64{8}, randn(r, 8, 0.1))},
		[]string{"c1"}, aInts("kernel_shape", 3, 3), aInts("strides", 2, 2), aInts("pads", 1, 1, 1, 1)) // 8×16×16
	w.node("Sigmoid", "sig", []string{"c1"}, []string{"sig"})
	w.node("Tanh", "tanh", []string{"c1"}, []string{"tanh"})
	w.node("Max", "max", []string{"sig", "tanh"}, []string{"max"})
	w.node("Min", "min", []string{"tanh", "sig"}, []string{"min"})
	w.node("Sub", "spread", []string{"max", "min"}, []string{"spread"})
	// ConvTranspose 8→4, 3×3, stride 2, pads 1, output_padding 1: 4×32×32.
	w.node("ConvTranspose", "up", []string{"spread", w.initF32("up.w", []int64{8, 4, 3, 3}, randn(r, 8*4*9, 0.3)), w.initF32("up.b", []int64{4}, randn(r, 4, 0.1))},
		[]string{"up"}, aInts("kernel_shape", 3, 3), aInts("strides", 2, 2), aInts("pads", 1, 1, 1, 1), aInts("output_padding", 1, 1))
	w.node("Resize", "down", []string{"up", "", w.initF32("down.s", []int64{4}, []float32{1, 1, 0.5, 0.5})}, []string{"down"},
		aString("mode", "linear"), aString("coordinate_transformation_mode", "half_pixel")) // 4×16×16
	w.node("Resize", "near", []string{"down", "", w.initF32("near.s", []int64{4}, []float32{1, 1, 1.5, 1.5})}, []string{"near"},
		aString("mode", "nearest"), aString("coordinate_transformation_mode", "asymmetric"), aString("nearest_mode", "floor")) // 4×24×24
	w.node("MaxPool", "pool", []string{"near"}, []string{"pool"}, aInts("kernel_shape", 3, 3), aInts("strides", 3, 3)) // 4×8×8
	// LayerNorm over the channels, written out as exporters do.
	w.node("ReduceMean", "mu", []string{"pool"}, []string{"mu"}, aInts("axes", 1), aInt("keepdims", 1))
	w.node("Sub", "xc", []string{"pool", "mu"}, []string{"xc"})
	w.node("Pow", "sq", []string{"xc", w.initF32("two", nil, []float32{2})}, []string{"sq"})
	w.node("ReduceMean", "var", []string{"sq"}, []string{"var"}, aInts("axes", 1), aInt("keepdims", 1))
	w.node("Add", "vare", []string{"var", w.initF32("eps", nil, []float32{1e-5})}, []string{"vare"})
	w.node("Sqrt", "sd", []string{"vare"}, []string{"sd"})
	w.node("Div", "ln", []string{"xc", "sd"}, []string{"ln"})
	// Attention over the 4 channels: q = ln as 4×64, k = its transpose, softmax(q·k)·q.
	w.node("Reshape", "q", []string{"ln", w.initI64("q.shape", 0, 4, 64)}, []string{"q"})
	w.node("Transpose", "k", []string{"q"}, []string{"k"}, aInts("perm", 0, 2, 1))
	w.node("MatMul", "qk", []string{"q", "k"}, []string{"qk"}) // 4×4
	w.node("Mul", "qks", []string{"qk", w.initF32("scale", nil, []float32{0.125})}, []string{"qks"})
	w.node("Softmax", "att", []string{"qks"}, []string{"att"}, aInt("axis", -1))
	w.node("MatMul", "ctx", []string{"att", "q"}, []string{"ctx"}) // 4×64
	w.node("Unsqueeze", "ctx1", []string{"ctx", w.initI64("ax3", 3)}, []string{"ctx1"})
	w.node("Squeeze", "ctx2", []string{"ctx1", w.initI64("ax3b", 3)}, []string{"ctx2"})
	w.node("Reshape", "flat", []string{"ctx2", w.initI64("flat.shape", 0, -1)}, []string{"flat"})
	w.node("Gemm", "y", []string{"flat", w.initF32("fc.w", []int64{10, 256}, randn(r, 2560, 0.1)), w.initF32("fc.b", []int64{10}, randn(r, 10, 0.1))},
		[]string{"y"}, aInt("transB", 1))
	return modelBytes(w, 13, "x", "y", []int64{3, 32, 32}, []int64{10})
}

func seqOpsModel(r *rand.Rand) []byte {
	w := &writer{}
	w.node("Transpose", "tf", []string{"x"}, []string{"tf"}, aInts("perm", 0, 2, 1)) // 48×64: features as channels
	w.node("Conv", "c1", []string{"tf", w.initF32("c1.w", []int64{16, 48, 5}, randn(r, 16*48*5, 0.1)), w.initF32("c1.b", []int64{16}, randn(r, 16, 0.1))},
		[]string{"c1"}, aInts("kernel_shape", 5), aInts("strides", 2), aInts("pads", 2, 2)) // 16×32
	w.node("Max", "relu", []string{"c1", w.initF32("zero", nil, []float32{0})}, []string{"relu"})
	w.node("ReduceMean", "avg", []string{"relu"}, []string{"avg"}, aInts("axes", 2), aInt("keepdims", 0)) // 16
	w.node("MatMul", "y", []string{"avg", w.initF32("fc.w", []int64{16, 6}, randn(r, 96, 0.3))}, []string{"y"})
	return modelBytes(w, 13, "x", "y", []int64{64, 48}, []int64{6})
}

func upsampleModel(r *rand.Rand) []byte {
	w := &writer{}
	w.node("Conv", "c1", []string{"x", w.initF32("c1.w", []int64{4, 3, 3, 3}, randn(r, 4*27, 0.3))},
		[]string{"c1"}, aInts("kernel_shape", 3, 3), aInts("strides", 4, 4), aInts("pads", 1, 1, 1, 1)) // 4×8×8
	w.node("Upsample", "up2", []string{"c1", w.initF32("s2", []int64{4}, []float32{1, 1, 2, 2})}, []string{"up2"}, aString("mode", "nearest"))
	w.node("Upsample", "up3", []string{"up2", w.initF32("s3", []int64{4}, []float32{1, 1, 1.5, 1.5})}, []string{"up3"}, aString("mode", "linear"))
	w.node("GlobalAveragePool", "gap", []string{"up3"}, []string{"gap"})
	w.node("Flatten", "y", []string{"gap"}, []string{"y"})
	return modelBytes(w, 9, "x", "y", []int64{3, 32, 32}, []int64{4})
}

// TestTensorOpsModels reads the three models and runs them on real-valued inputs; with
// FOURBIT_ONNX_OPS_OUT set it writes them there for the Node test.
func TestTensorOpsModels(t *testing.T) {
	tests := []struct {
		file  string
		data  []byte
		in    int
		out   int
		kinds []string
	}{
		{"tensor-ops.onnx", tensorOpsModel(rand.New(rand.NewPCG(5, 5))), 3 * 32 * 32, 10,
			[]string{"Sigmoid", "Tanh", "Binary", "ConvTranspose", "Resize", "ReduceMean", "Pow", "Reshape", "Transpose", "MatMul", "Softmax", "Linear"}},
		{"seq-ops.onnx", seqOpsModel(rand.New(rand.NewPCG(6, 6))), 64 * 48, 6,
			[]string{"Transpose", "Conv", "ReduceMean", "Linear"}},
		{"upsample.onnx", upsampleModel(rand.New(rand.NewPCG(7, 7))), 3 * 32 * 32, 4,
			[]string{"Resize", "GlobalAvgPool"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			g, err := Read(tt.data)
			if err != nil {
				t.Fatal(err)
			}
			kinds := map[string]bool{}
			for _, n := range g.Nodes {
				k := n.Op.Kind()
				if i := strings.IndexByte(k, '('); i > 0 {
					k = k[:i]
				}
				kinds[k] = true
			}
			for _, k := range tt.kinds {
				if !kinds[k] {
					t.Errorf("no %s node in the imported graph: %v", k, kinds)
				}
			}
			x := make([]float32, 2*tt.in)
			for i := range x {
				x[i] = float32(i%97)/50 - 1
			}
			y, err := g.Forward(x, 2, nil)
			if err != nil || len(y) != 2*tt.out {
				t.Fatalf("forward: %v, %d outputs, want %d", err, len(y), 2*tt.out)
			}
			for i, v := range y {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("output %d is %v", i, v)
				}
			}
			if dir := os.Getenv("FOURBIT_ONNX_OPS_OUT"); dir != "" {
				if err := os.WriteFile(filepath.Join(dir, tt.file), tt.data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
