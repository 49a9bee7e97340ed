package ptq

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"fourbit/internal/testenv"
	"fourbit/nn"
)

// TestPipelineOnCommittedData calibrates ResNet-20 on the 260 committed training images and
// scores the 300 committed test images: the paper's W4A4 with all methods stays close to
// FP32, per-tensor min-max falls far behind, and the plan keeps its promises.
func TestPipelineOnCommittedData(t *testing.T) {
	g := loadResNet20(t)
	cal, err := Calibrate(g, source(t, g, testenv.Asset("cifar10-png/calib"), 0), 256, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	src := source(t, g, testenv.Asset("cifar10-png/test"), 0)
	fp, err := Evaluate(g, src, 0, 0, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	all := DefaultOptions()
	perTensor := all.Naive()
	perTensor.WeightPerChannel, perTensor.ActPerChannel = false, false
	var agree [2]float64
	for i, o := range []Options{all, perTensor} {
		q, err := Quantize(g, cal, o)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Evaluate(q.Graph, src, 0, 0, q.Hook(), nil)
		if err != nil {
			t.Fatal(err)
		}
		agree[i] = Agreement(fp, res)
		t.Logf("%s: top-1 %.2f%% (FP32 %.2f%%), agreement %.1f%%", []string{"ACIQ+PCBA+BC", "per-tensor min-max"}[i], res.Top1, fp.Top1, agree[i])
		if i == 0 {
			checkPlan(t, q.Plan)
		}
	}
	if agree[0] < 90 || agree[0] < agree[1]+10 {
		t.Errorf("agreement with FP32: all methods %.1f%%, per-tensor min-max %.1f%%", agree[0], agree[1])
	}
}

func checkPlan(t *testing.T, p *Plan) {
	t.Helper()
	for _, w := range p.Weights {
		want := 4.0
		if w.Layer == "conv1" {
			want = 8 // the first layer stays at 8 bits
		}
		if math.Abs(w.MeanBits-want) > 0.5/float64(len(w.Bits)) {
			t.Errorf("%s: mean weight bits %v, want %v", w.Layer, w.MeanBits, want)
		}
		for c := range w.MeanCorrected {
			// Bias correction moved each channel's mean back to the float mean.
			if d := w.MeanCorrected[c] - w.MeanBefore[c]; math.Abs(d) > 1e-6 {
				t.Errorf("%s channel %d: corrected mean off by %v", w.Layer, c, d)
			}
		}
	}
	for _, a := range p.Acts {
		switch {
		case a.Pool || a.Last:
			if a.MeanBits != 8 {
				t.Errorf("%s: %v bits, want 8", a.Node, a.MeanBits)
			}
		case math.Abs(a.MeanBits-4) > 0.5/float64(len(a.Bits)):
			t.Errorf("%s: mean activation bits %v", a.Node, a.MeanBits)
		}
		if a.Relu != "" && (!a.OneSided || a.Quantized != a.Relu || a.RangeLo != 0) {
			t.Errorf("%s: fused ReLU not one-sided: %+v", a.Node, a.Point)
		}
		if math.IsNaN(a.MSE) || a.MSE < 0 {
			t.Errorf("%s: MSE %v", a.Node, a.MSE)
		}
	}
}

// TestDeterministic: the same options twice give the same plan and the same predictions.
func TestDeterministic(t *testing.T) {
	g := loadResNet20(t)
	run := func() (*Plan, *EvalResult) {
		cal, err := Calibrate(g, source(t, g, testenv.Asset("cifar10-png/calib"), 0), 64, 16, nil)
		if err != nil {
			t.Fatal(err)
		}
		q, err := Quantize(g, cal, DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		res, err := Evaluate(q.Graph, source(t, g, testenv.Asset("cifar10-png/test"), 0), 60, 0, q.Hook(), nil)
		if err != nil {
			t.Fatal(err)
		}
		return q.Plan, res
	}
	p1, r1 := run()
	p2, r2 := run()
	if !reflect.DeepEqual(p1.Weights, p2.Weights) || !reflect.DeepEqual(p1.Acts, p2.Acts) {
		t.Error("two runs made different plans")
	}
	if !reflect.DeepEqual(r1.Predicted, r2.Predicted) || r1.Top1 != r2.Top1 {
		t.Error("two runs predicted differently")
	}
}

func TestBadOptionsAndCalibration(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Options)
		msg  string
	}{
		{"wbits 0", func(o *Options) { o.WeightBits = 0 }, "weight bits"},
		{"abits 9", func(o *Options) { o.ActBits = 9 }, "activation bits"},
		{"clip", func(o *Options) { o.Clip = "magic" }, "unknown clipping"},
		{"bias", func(o *Options) { o.BiasCorrect = "sometimes" }, "bias correction"},
		{"pcba per-tensor", func(o *Options) { o.ActPerChannel = false }, "PCBA"},
		{"calib 0", func(o *Options) { o.CalibImages = 0 }, "calibration images"},
	} {
		o := DefaultOptions()
		tc.mod(&o)
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	g := loadResNet20(t)
	if _, err := Calibrate(g, source(t, g, testenv.Asset("cifar10-png/calib"), 0), 1000, 0, nil); err == nil || !strings.Contains(err.Error(), "260") {
		t.Errorf("too few calibration images: %v", err)
	}
	for _, s := range []string{"W4", "A4W4", "W0A4", "W4A9", "Wx"} {
		if _, _, err := ParseBits(s); err == nil {
			t.Errorf("ParseBits(%q) accepted", s)
		}
	}
}

// TestExportRoundTrip: the exported codes and per-channel affine maps give back the weights
// of the simulated network.
func TestExportRoundTrip(t *testing.T) {
	g := loadResNet20(t)
	cal, err := Calibrate(g, source(t, g, testenv.Asset("cifar10-png/calib"), 0), 32, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []Options{DefaultOptions(), func() Options {
		o := DefaultOptions().Naive()
		o.WeightPerChannel, o.ActPerChannel, o.BiasCorrect = false, false, "mean+norm"
		return o
	}()} {
		q, err := Quantize(g, cal, o)
		if err != nil {
			t.Fatal(err)
		}
		e := q.Export()
		if _, err := e.Marshal(); err != nil {
			t.Fatal(err)
		}
		for _, ew := range e.Weights {
			w, err := ew.DequantizeWeights()
			if err != nil {
				t.Fatal(err)
			}
			sim, _, _ := q.Graph.Node(ew.Layer).Op.(nn.Weighted).Weights()
			for i := range w {
				if math.Abs(float64(w[i]-sim[i])) > 1e-6 {
					t.Fatalf("%s[%d]: exported %v, simulated %v", ew.Layer, i, w[i], sim[i])
				}
			}
		}
		if len(e.Activations) != len(q.Plan.Acts) || e.Format != ExportFormat {
			t.Errorf("export has %d activations, format %q", len(e.Activations), e.Format)
		}
	}
}

// TestOneRangeForVectors: the classifier's logits share one 8-bit grid (they are compared
// with one another), and a tensor with one value per channel per image — here ResNet-20's
// linear output once the classifier is not kept at 8 bits — gets one range, not a range per
// channel resting on as many values as there are calibration images.
func TestOneRangeForVectors(t *testing.T) {
	g := loadResNet20(t)
	cal, err := Calibrate(g, source(t, g, testenv.Asset("cifar10-png/calib"), 0), 64, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		keep8    bool
		wantBits int
	}{
		{"classifier kept at 8 bits", true, 8},
		{"classifier like the rest", false, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := DefaultOptions()
			o.Keep8Bit = tt.keep8
			q, err := Quantize(g, cal, o)
			if err != nil {
				t.Fatal(err)
			}
			var last *ActPlan
			for i := range q.Plan.Acts {
				if a := &q.Plan.Acts[i]; a.Last {
					last = a
				}
			}
			if last == nil {
				t.Fatal("no classifier in the plan")
			}
			if last.PerChannel {
				t.Errorf("%s: a range per class", last.Node)
			}
			for c, b := range last.Bits {
				if b != tt.wantBits || last.Lo[c] != last.Lo[0] || last.Hi[c] != last.Hi[0] {
					t.Errorf("%s channel %d: %d bits over [%v, %v], want %d bits over [%v, %v]", last.Node, c, b, last.Lo[c], last.Hi[c], tt.wantBits, last.Lo[0], last.Hi[0])
				}
			}
		})
	}
}
