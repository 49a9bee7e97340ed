package onnx

import (
	"slices"
	"testing"

	"fourbit/dataset"
	"fourbit/formats/pytorch"
	"fourbit/internal/testenv"
	"fourbit/nn"
)

func TestExportRoundTrip(t *testing.T) {
	g, err := pytorch.LoadFile(testenv.ResNet20())
	if err != nil {
		t.Fatal(err)
	}
	data, err := Export(g)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Read(data)
	if err != nil {
		t.Fatal(err)
	}
	if back.Params() != g.Params() || back.Preprocess != g.Preprocess || !slices.Equal(back.Classes, g.Classes) {
		t.Fatalf("round trip: %d params (want %d), preprocess %+v, classes %v", back.Params(), g.Params(), back.Preprocess, back.Classes)
	}
	f, err := dataset.Open(testenv.Asset("cifar10-png/test"), g.Classes, 40)
	if err != nil {
		t.Fatal(err)
	}
	src, err := dataset.NewSource(f, g)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 40*nn.Size(g.Input().Shape))
	if _, err := src.Load(x, 0, 40); err != nil {
		t.Fatal(err)
	}
	want, err := g.Forward(x, 40, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := back.Forward(x, 40, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("re-imported logits differ from the original")
	}
}
