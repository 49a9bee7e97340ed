package tflite

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestBadFiles: truncated files, offsets that point anywhere, shapes of 2^40 values,
// operators that read what nothing has computed (a cycle), unsupported operators and fully
// quantized models are errors in words — never a panic, never an allocation larger than the
// file.
func TestBadFiles(t *testing.T) {
	good := everyOperatorModel()
	for n := 0; n < len(good); n += 1 + n/16 {
		if _, err := Read(good[:n]); err == nil {
			t.Fatalf("a file truncated to %d of %d bytes was read", n, len(good))
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		b := append([]byte(nil), good...)
		for k := 0; k < 1+r.IntN(4); k++ {
			at := 8 + r.IntN(len(b)-8)
			binary.LittleEndian.PutUint32(b[at&^3:], r.Uint32())
		}
		if _, err := Read(b); err != nil && !errors.Is(err, ErrFormat) {
			t.Fatalf("corrupted file: error %v does not wrap ErrFormat", err)
		}
	}
	cases := map[string]struct {
		data []byte
		msg  string
	}{
		"2^40 values":        {hugeTensorModel(), "more than"},
		"cycle":              {cycleModel(), "before an operator computes it"},
		"unsupported":        {unsupportedModel(), "operators fourbit does not convert: TRANSPOSE_CONV, WHILE"},
		"fully quantized":    {int8InputModel(), "fully quantized model"},
		"no TFL3 identifier": {append([]byte{8, 0, 0, 0}, "ONNX"...), "no TFL3 identifier"},
	}
	for name, c := range cases {
		_, err := Read(c.data)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: error %v, want one saying %q", name, err, c.msg)
		}
	}
}

func hugeTensorModel() []byte {
	m := newModelBuilder(1)
	in := m.computed("input", 1, 1<<20, 1<<20, 1)
	out := m.computed("relu", 1, 1<<20, 1<<20, 1)
	m.op(opRelu, []int{in}, []int{out}, 0, nil)
	return m.build(in, out)
}

// cycleModel's first operator reads the output of the second.
func cycleModel() []byte {
	m := newModelBuilder(1)
	in := m.computed("input", 1, 4, 4, 1)
	a, b := m.computed("a", 1, 4, 4, 1), m.computed("b", 1, 4, 4, 1)
	m.op(opAdd, []int{in, b}, []int{a}, optAdd, (&fbTable{}).u8(0, 0))
	m.op(opRelu, []int{a}, []int{b}, 0, nil)
	return m.build(in, b)
}

func unsupportedModel() []byte {
	m := newModelBuilder(1)
	in := m.computed("input", 1, 4, 4, 1)
	a, b := m.computed("a", 1, 4, 4, 1), m.computed("b", 1, 4, 4, 1)
	m.op(67, []int{in}, []int{a}, 0, nil) // TRANSPOSE_CONV
	m.op(119, []int{a}, []int{b}, 0, nil) // WHILE: control flow over subgraphs
	return m.build(in, b)
}

func int8InputModel() []byte {
	m := newModelBuilder(1)
	in := m.tensor("input", typeInt8, []int{1, 4, 4, 1}, nil)
	out := m.computed("relu", 1, 4, 4, 1)
	m.op(opRelu, []int{in}, []int{out}, 0, nil)
	return m.build(in, out)
}

// TestInt8Weights: weights stored as int8 codes with per-channel scales (a dynamic-range
// model) are decoded to scale·(code − zero point).
func TestInt8Weights(t *testing.T) {
	m := newModelBuilder(1)
	in := m.computed("input", 1, 1, 1, 2)
	w := m.tensor("w", typeInt8, []int{2, 1, 1, 2}, []byte{1, 0xff, 2, 3}) // codes 1, −1 | 2, 3
	m.tensors[w].obj(4, (&fbTable{}).obj(2, f32s(0.5, 0.25)).obj(3, fbBytes{make([]byte, 16), 8}).i32(6, 0))
	out := m.computed("conv", 1, 1, 1, 2)
	m.op(opConv2D, []int{in, w, -1}, []int{out}, optConv2D, (&fbTable{}).u8(0, 1).i32(1, 1).i32(2, 1))
	g, err := Read(m.build(in, out))
	if err != nil {
		t.Fatal(err)
	}
	y, err := g.Forward([]float32{1, 10}, 1, nil) // C×H×W: channel 0 = 1, channel 1 = 10
	if err != nil {
		t.Fatal(err)
	}
	// Row 0: 0.5·(1, −1) → 0.5 − 5; row 1: 0.25·(2, 3) → 0.5 + 7.5.
	if y[0] != -4.5 || y[1] != 8 {
		t.Errorf("outputs %v, want [-4.5 8]", y)
	}
}
