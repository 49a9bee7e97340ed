package ptq

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"fourbit/internal/testenv"
)

func TestDebugAndKeep(t *testing.T) {
	g := loadResNet20(t)
	cal, err := Calibrate(g, source(t, g, testenv.Asset("cifar10-png/calib"), 0), 64, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	src := source(t, g, testenv.Asset("cifar10-png/test"), 0)
	o := DefaultOptions().Naive()
	o.Keep = map[string]Keep{"layer3.2.conv2": {Float: true}, "layer1.0.conv1": {WeightBits: 8, ActBits: 8}}
	errs, err := Debug(g, cal, src, o, 20, 10)
	if err != nil {
		t.Fatal(err)
	}
	byNode := map[string]LayerError{}
	for _, e := range errs {
		byNode[e.Node] = e
		t.Logf("%-16s SQNR %s (weights only %s, activations only %s) cos %.4f", e.Node, db(e.SQNR), db(e.SQNRWeights), db(e.SQNRActs), e.Cosine)
	}
	// The stem (8-bit weights, 4-bit output) reads the exact input: its error is its own,
	// its isolated error equals its network error, and its input split is absent.
	if e := byNode["relu"]; e.SQNR == nil || *e.SQNR < 15 || e.Local == nil || math.Abs(*e.Local-*e.SQNR) > 1e-6 || e.LocalInput != nil {
		t.Errorf("stem: SQNR %v, isolated %v, input %v", e.SQNR, e.Local, e.LocalInput)
	}
	// A conv2 reads a quantized activation (relu1): its input split is present, and what it
	// injects alone is less than what it carries in the network.
	if e := byNode["layer2.1.conv2"]; e.LocalInput == nil || e.Local == nil || e.LocalWeights == nil || *e.Local <= *e.SQNR {
		t.Errorf("layer2.1.conv2: %+v", e)
	}
	// Worst injector first.
	for i := 1; i < len(errs); i++ {
		if a, b := errs[i-1].Local, errs[i].Local; a == nil || (b != nil && *a > *b) {
			t.Fatalf("rows not ordered by isolated SQNR at %d", i)
		}
	}
	// Kept in float, the stem's output is exact (its input is the unquantized image).
	o2 := o
	o2.Keep = map[string]Keep{"conv1": {Float: true}}
	errs2, err := Debug(g, cal, src, o2, 10, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range errs2 {
		if e.Layer == "conv1" && (e.SQNR != nil || e.RelMSE != 0 || e.Cosine != 1) {
			t.Errorf("conv1 kept float has an error: %+v", e)
		}
	}
	if p, _ := Quantize(g, cal, o); p != nil {
		for _, w := range p.Plan.Weights {
			if w.Layer == "layer3.2.conv2" {
				t.Error("a layer kept in float has quantized weights")
			}
			if w.Layer == "layer1.0.conv1" && w.MeanBits != 8 {
				t.Errorf("layer1.0.conv1 kept at 8 bits has %v", w.MeanBits)
			}
		}
	}
	// An unknown name lists the valid ones.
	o.Keep = map[string]Keep{"layer9.9.conv1": {Float: true}}
	if _, err := Quantize(g, cal, o); err == nil || !strings.Contains(err.Error(), "layer3.2.conv2") {
		t.Errorf("unknown layer: %v", err)
	}
	// Keeping every layer float makes every error zero (SQNR absent).
	o.Keep = map[string]Keep{}
	for _, l := range Layers(g) {
		o.Keep[l] = Keep{Float: true}
	}
	errs, err = Debug(g, cal, src, o, 10, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range errs {
		if e.SQNR != nil || e.RelMSE != 0 {
			t.Errorf("%s kept float has error: SQNR %v rel MSE %v", e.Node, *e.SQNR, e.RelMSE)
		}
	}
}

func db(v *float64) string {
	if v == nil {
		return "∞"
	}
	return fmt.Sprintf("%.1f dB", *v)
}
