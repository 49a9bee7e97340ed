package nn

import (
	"math"
	"strings"
	"testing"
)

func TestOpsOnSmallTensors(t *testing.T) {
	// One 1×4×4 image with values 0..15.
	x := make([]float32, 16)
	for i := range x {
		x[i] = float32(i)
	}
	tests := []struct {
		name string
		op   Op
		want []float32
	}{
		{"maxpool 2x2/2", Pool{Max: true, KH: 2, KW: 2, StrideH: 2, StrideW: 2}, []float32{5, 7, 13, 15}},
		{"avgpool 2x2/2", Pool{KH: 2, KW: 2, StrideH: 2, StrideW: 2}, []float32{2.5, 4.5, 10.5, 12.5}},
		{"avgpool same, exclude pad", Pool{KH: 2, KW: 2, StrideH: 2, StrideW: 2, PadB: 1, PadR: 1, ExcludePad: true}, []float32{2.5, 4.5, 10.5, 12.5}},
		{"maxpool 3x3/2 pad 1", Pool{Max: true, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadT: 1, PadL: 1}, []float32{5, 7, 13, 15}},
		{"global avg", GlobalAvgPool{}, []float32{7.5}},
		{"shortcut A", ShortcutA{Stride: 2, PadC: 1}, []float32{0, 0, 0, 0, 0, 2, 8, 10, 0, 0, 0, 0}},
		{"clip", Clip{Lo: 2, Hi: 4}, []float32{2, 2, 2, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4}},
		{"flatten", Flatten{}, x},
	}
	for _, tc := range tests {
		g := NewGraph(1, 4, 4)
		if _, err := g.Add("op", tc.op, g.Input()); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got, err := g.Forward(x, 1, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(got) != len(tc.want) {
			t.Fatalf("%s: %v, want %v", tc.name, got, tc.want)
		}
		for i := range got {
			if math.Abs(float64(got[i]-tc.want[i])) > 1e-6 {
				t.Fatalf("%s: %v, want %v", tc.name, got, tc.want)
			}
		}
	}
}

func TestLeakyAddConcatLinear(t *testing.T) {
	g := NewGraph(2, 1, 1)
	a, _ := g.Add("leaky", LeakyReLU{Alpha: 0.1}, g.Input())
	b, _ := g.Add("sum", Add{}, a, g.Input())
	c, _ := g.Add("cat", Concat{}, b, a)
	f, _ := g.Add("flat", Flatten{}, c)
	if _, err := g.Add("fc", &Linear{W: []float32{1, 1, 1, 1}, B: []float32{0.5}, In: 4, Out: 1}, f); err != nil {
		t.Fatal(err)
	}
	out, err := g.Forward([]float32{-10, 3, 1, 2}, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	// image 0: x = (−10, 3): leaky (−1, 3); sum (−11, 6); concat (−11, 6, −1, 3) → 2.5
	// image 1: x = (1, 2): leaky (1, 2); sum (2, 4); concat (2, 4, 1, 2) → 9.5
	if out[0] != -2.5 || out[1] != 9.5 {
		t.Errorf("got %v", out)
	}
}

func TestGraphErrors(t *testing.T) {
	g := NewGraph(3, 8, 8)
	conv := &Conv{W: make([]float32, 4*3*9), OutC: 4, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, Groups: 1}
	c, err := g.Add("conv", conv, g.Input())
	if err != nil {
		t.Fatal(err)
	}
	if c.Shape[1] != 6 {
		t.Errorf("conv output %v", c.Shape)
	}
	bad := []struct {
		name string
		op   Op
		in   []*Node
	}{
		{"conv", ReLU{}, []*Node{c}}, // duplicate name
		{"", ReLU{}, []*Node{c}},
		{"wrong weights", &Conv{W: make([]float32, 5), OutC: 4, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, Groups: 1}, []*Node{c}},
		{"add shapes", Add{}, []*Node{c, g.Input()}},
		{"linear", &Linear{W: make([]float32, 10), In: 10, Out: 1}, []*Node{c}},
		{"bn", &BatchNorm{Gamma: []float32{1}}, []*Node{c}},
		{"pool too big", Pool{Max: true, KH: 9, KW: 9, StrideH: 1, StrideW: 1}, []*Node{c}},
		{"foreign input", ReLU{}, []*Node{NewGraph(1).Input(), c}},
	}
	for _, tc := range bad {
		if _, err := g.Add(tc.name, tc.op, tc.in...); err == nil {
			t.Errorf("%q accepted", tc.name)
		}
	}
	if _, err := g.Forward(make([]float32, 10), 1, nil); err == nil {
		t.Error("wrong input size accepted")
	}
	if _, err := g.WithOps(map[string]Op{"nope": ReLU{}}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("WithOps unknown node: %v", err)
	}
}

func TestTopK(t *testing.T) {
	nan := float32(math.NaN())
	got := TopK([]float32{0.1, nan, 3, -1, 2}, 3)
	if len(got) != 3 || got[0] != 2 || got[1] != 4 || got[2] != 0 {
		t.Errorf("TopK = %v", got)
	}
	if got := TopK([]float32{nan}, 5); len(got) != 0 {
		t.Errorf("TopK of NaN = %v", got)
	}
}
