package ptq

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"fourbit/internal/testenv"
	"fourbit/nn"
)

// TestRoundingRows checks the reconstruction problems learned rounding builds: for every
// layer, the sampled input patches times the float weights plus the bias are the float
// network's outputs at those positions — on ResNet-20 (strided and padded convolutions, the
// linear classifier) and on a grouped, dilated convolution.
func TestRoundingRows(t *testing.T) {
	grouped := nn.NewGraph(4, 7, 6)
	rng := rand.New(rand.NewPCG(1, 2))
	w := make([]float32, 6*2*3*3)
	for i := range w {
		w[i] = float32(rng.NormFloat64())
	}
	if _, err := grouped.Add("c", &nn.Conv{W: w, B: []float32{1, 2, 3, 4, 5, 6}, OutC: 6, KH: 3, KW: 3, StrideH: 2, StrideW: 1, DilH: 1, DilW: 2, PadT: 1, PadL: 2, PadB: 0, PadR: 1, Groups: 2}, grouped.Input()); err != nil {
		t.Fatal(err)
	}
	for _, g := range []*nn.Graph{loadResNet20(t), grouped} {
		cons := g.Consumers()
		per := nn.Size(g.Input().Shape)
		x := make([]float32, 2*per)
		for i := range x {
			x[i] = float32(rng.Float64())
		}
		for _, n := range g.Nodes {
			l, ok := newRoundingLayer(g, n, cons)
			if !ok {
				continue
			}
			in, err := capture(g, nil, n.Inputs[0], x, 2)
			if err != nil {
				t.Fatal(err)
			}
			y, err := capture(g, nil, n, x, 2)
			if err != nil {
				t.Fatal(err)
			}
			wts, bias, _ := n.Op.(nn.Weighted).Weights()
			og := l.out / l.group
			positions := rng.Perm(l.pos)[:min(l.pos, 5)]
			for img := 0; img < 2; img++ {
				for grp := 0; grp < l.group; grp++ {
					xs, ts := l.rows(nil, nil, in[img*len(in)/2:(img+1)*len(in)/2], y[img*len(y)/2:(img+1)*len(y)/2], positions, grp)
					for r := range positions {
						for o := 0; o < og; o++ {
							oc := grp*og + o
							s := float64(0)
							if bias != nil {
								s = float64(bias[oc])
							}
							for j := 0; j < l.k; j++ {
								s += float64(xs[r*l.k+j]) * float64(wts[oc*l.k+j])
							}
							if got := float64(ts[r*og+o]); math.Abs(s-got) > 1e-4*(1+math.Abs(got)) {
								t.Fatalf("%s group %d row %d channel %d: patch·w + b = %v, output %v", n.Name, grp, r, o, s, got)
							}
						}
					}
				}
			}
		}
	}
}

// TestLearnedRoundingNetwork runs learned rounding over ResNet-20 at naive W4A4 on the
// committed images: every layer's reconstruction error is no worse than nearest rounding's
// (and better in total), the same seed gives the same codes, and the quantized network agrees
// with FP32 at least as well as with nearest rounding on the 300 committed test images.
func TestLearnedRoundingNetwork(t *testing.T) {
	if testing.Short() {
		t.Skip("learned rounding over ResNet-20 takes about a minute natively; run without -short")
	}
	g := loadResNet20(t)
	cal, err := Calibrate(g, source(t, g, testenv.Asset("cifar10-png/calib"), 0), 64, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := DefaultOptions().Naive()
	near, err := Quantize(g, cal, o)
	if err != nil {
		t.Fatal(err)
	}
	o.Rounding, o.RoundingImages, o.RoundingIters, o.Seed = "learned", 32, 100, 7
	learned, err := Quantize(g, cal, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(learned.Plan.Rounding) != len(learned.Plan.Weights) {
		t.Fatalf("%d rounding reports for %d quantized layers", len(learned.Plan.Rounding), len(learned.Plan.Weights))
	}
	var before, after float64
	flipped := 0
	for _, r := range learned.Plan.Rounding {
		if r.Loss > r.NearestLoss {
			t.Errorf("%s: learned loss %g worse than nearest %g", r.Layer, r.Loss, r.NearestLoss)
		}
		before, after, flipped = before+r.NearestLoss, after+r.Loss, flipped+r.Flipped
	}
	t.Logf("reconstruction error summed over %d layers: nearest %.4g, learned %.4g; %d weights flipped", len(learned.Plan.Rounding), before, after, flipped)
	if !(after < before) || flipped == 0 {
		t.Errorf("learned rounding did not improve: %g → %g, %d flipped", before, after, flipped)
	}
	again, err := Quantize(g, cal, o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range learned.Plan.Weights {
		if !reflect.DeepEqual(learned.Plan.Weights[i].Rows(), again.Plan.Weights[i].Rows()) {
			t.Fatalf("%s: the same seed gave other codes", learned.Plan.Weights[i].Layer)
		}
	}
	src := source(t, g, testenv.Asset("cifar10-png/test"), 0)
	fp, err := Evaluate(g, src, 0, 0, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var agree [2]float64
	for i, q := range []*Quantized{near, learned} {
		res, err := Evaluate(q.Graph, src, 0, 0, q.Hook(), nil)
		if err != nil {
			t.Fatal(err)
		}
		agree[i] = Agreement(fp, res)
	}
	t.Logf("agreement with FP32 on %d images: nearest %.1f%%, learned %.1f%%", fp.Images, agree[0], agree[1])
	if agree[1] < agree[0] {
		t.Errorf("learned rounding agrees less with FP32 (%.1f%%) than nearest (%.1f%%)", agree[1], agree[0])
	}
}

// TestLearnedRoundingNeedsImages: a data-free calibration has no images to fit on.
func TestLearnedRoundingNeedsImages(t *testing.T) {
	g := loadResNet20(t)
	cal, err := CalibrateDataFree(g)
	if err != nil {
		t.Fatal(err)
	}
	o := DefaultOptions()
	o.Rounding = "learned"
	if _, err := Quantize(g, cal, o); err == nil {
		t.Fatal("learned rounding on a data-free calibration: no error")
	}
	o.Rounding = "stochastic"
	if err := o.Validate(); err == nil {
		t.Fatal("rounding \"stochastic\": no error")
	}
}

// TestAuthorsProtocol: the authors' preset keeps the first layer's output and the classifier's
// weights at 8 bits, and leaves the first layer's weights at the target width.
func TestAuthorsProtocol(t *testing.T) {
	g := loadResNet20(t)
	cal, err := Calibrate(g, source(t, g, testenv.Asset("cifar10-png/calib"), 0), 16, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := DefaultOptions()
	o.Protocol = "authors"
	q, err := Quantize(g, cal, o)
	if err != nil {
		t.Fatal(err)
	}
	w := map[string]float64{}
	for _, wp := range q.Plan.Weights {
		w[wp.Layer] = wp.MeanBits
	}
	if w["conv1"] != 4 || w["linear"] != 8 || w["layer1.0.conv1"] != 4 {
		t.Errorf("weight bits conv1 %v, linear %v, layer1.0.conv1 %v; want 4, 8, 4", w["conv1"], w["linear"], w["layer1.0.conv1"])
	}
	for _, ap := range q.Plan.Acts {
		if ap.Layer == "conv1" && meanInt(ap.Bits) != 8 {
			t.Errorf("conv1's output at %v bits, want 8", meanInt(ap.Bits))
		}
	}
}

// TestEmpiricalBias: after empirical bias correction every quantized layer's output, fed by
// the quantized network, has the float layer's mean per channel on the calibration images —
// which nearest rounding alone leaves off.
func TestEmpiricalBias(t *testing.T) {
	if testing.Short() {
		t.Skip("empirical bias correction over ResNet-20 takes half a minute natively; run without -short")
	}
	g := loadResNet20(t)
	cal, err := Calibrate(g, source(t, g, testenv.Asset("cifar10-png/calib"), 0), 32, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := DefaultOptions().Naive()
	plain, err := Quantize(g, cal, o)
	if err != nil {
		t.Fatal(err)
	}
	o.EmpiricalBias = true
	corrected, err := Quantize(g, cal, o)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 32*nn.Size(g.Input().Shape))
	if _, err := cal.src.Load(x, 0, 32); err != nil {
		t.Fatal(err)
	}
	shift := func(q *Quantized, name string) float64 {
		n, qn := g.Node(name), q.Graph.Node(name)
		in, y, err := layerIO(g, q, n, x, 32)
		if err != nil {
			t.Fatal(err)
		}
		yq := make([]float32, len(y))
		qn.Op.Forward(yq, [][]float32{in}, [][]int{qn.Inputs[0].Shape}, qn.Shape, 32)
		c, pos := n.Shape[0], nn.Size(n.Shape)/n.Shape[0]
		worst := 0.0
		for ch := 0; ch < c; ch++ {
			var d, s float64
			for i := 0; i < 32; i++ {
				for p := 0; p < pos; p++ {
					at := (i*c+ch)*pos + p
					d += float64(yq[at]) - float64(y[at])
					s += math.Abs(float64(y[at]))
				}
			}
			worst = math.Max(worst, math.Abs(d)/(s+1e-9))
		}
		return worst
	}
	for _, name := range []string{"conv1", "layer1.0.conv2", "layer3.2.conv2"} {
		before, after := shift(plain, name), shift(corrected, name)
		t.Logf("%s: worst channel mean shift / mean |y|: nearest %.2e, corrected %.2e", name, before, after)
		if after > 1e-4 || after > before {
			t.Errorf("%s: mean shift after empirical bias correction %.2e (before %.2e)", name, after, before)
		}
	}
}
