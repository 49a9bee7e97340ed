package engine

import (
	"path/filepath"
	"testing"

	"fourbit/dataset"
	"fourbit/formats/pytorch"
	"fourbit/internal/testenv"
	"fourbit/nn"
	"fourbit/ptq"
)

func source(t testing.TB, g *nn.Graph, dir string, limit int) *dataset.Source {
	t.Helper()
	if g == nil {
		var err error
		if g, err = pytorch.LoadFile(testenv.ResNet20()); err != nil {
			t.Fatal(err)
		}
	}
	f, err := dataset.Open(dir, g.Classes, limit)
	if err != nil {
		t.Fatal(err)
	}
	src, err := dataset.NewSource(f, g)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// engineOptions is the paper's W4A4 ACIQ+PCBA+BC with the residual Adds quantized at 8 bits,
// as the integer engine carries them.
func engineOptions() ptq.Options {
	o := ptq.DefaultOptions()
	o.CarryBits = 8
	return o
}

// quantized calibrates model on calib and quantizes it with opts.
func quantized(t testing.TB, model, calib string, opts ptq.Options) *ptq.Quantized {
	t.Helper()
	g, err := pytorch.LoadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	csrc := source(t, g, calib, 0)
	cal, err := ptq.Calibrate(g, csrc, opts.CalibImages, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	q, err := ptq.Quantize(g, cal, opts)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// compare evaluates the simulated network and the integer engine on src and returns both.
func compare(t testing.TB, q *ptq.Quantized, net *Net, src *dataset.Source, limit int) (sim, eng *ptq.EvalResult) {
	t.Helper()
	g := q.Graph
	sim, err := ptq.Evaluate(g, src, limit, 0, q.Hook(), nil)
	if err != nil {
		t.Fatal(err)
	}
	eng, err = ptq.EvaluateFunc(net.Forward, nn.Size(g.Input().Shape), nn.Size(g.Output().Shape), src, limit, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	return sim, eng
}

// TestEngineMatchesSimulationCommitted runs ResNet-20 on the committed images under several
// option sets — the paper's W4A4 ACIQ+PCBA+BC (per-channel activations: the folded int32
// path), per-tensor activations without PCBA (QConv: codes × codes, requantization fused), naive W4A4 and
// W8A4 — and requires the integer engine to predict as the simulation does.
func TestEngineMatchesSimulationCommitted(t *testing.T) {
	perTensor := engineOptions()
	perTensor.ActPerChannel, perTensor.PCBAActs, perTensor.PCBAWeights = false, false, false
	w8a4 := engineOptions()
	w8a4.WeightBits = 8
	cases := []struct {
		name   string
		opts   ptq.Options
		kernel string // a kernel some layer must use
	}{
		{"W4A4 ACIQ+PCBA+BC", engineOptions(), "int32-folded"},
		{"W4A4 per-tensor activations", perTensor, "qconv"},
		{"W4A4 naive", engineOptions().Naive(), "int32-folded"},
		{"W8A4 ACIQ+PCBA+BC", w8a4, "int32-folded"},
	}
	test := source(t, nil, testenv.Asset("cifar10-png/test"), 0)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := quantized(t, testenv.ResNet20(), testenv.Asset("cifar10-png/calib"), c.opts)
			net, err := Build(q)
			if err != nil {
				t.Fatal(err)
			}
			kernels := map[string]int{}
			for _, l := range net.Layers() {
				kernels[l.Kernel]++
			}
			if kernels[c.kernel] == 0 {
				t.Errorf("no layer uses the %s kernel: %v", c.kernel, kernels)
			}
			sim, eng := compare(t, q, net, test, 0)
			agree := ptq.Agreement(sim, eng)
			t.Logf("simulated %.2f%%, integer %.2f%%, agreement %.2f%% on %d images; kernels %v", sim.Top1, eng.Top1, agree, sim.Images, kernels)
			if agree < 99.5 {
				t.Errorf("agreement %.2f%% < 99.5%%", agree)
			}
		})
	}
}

// TestPackedSize checks the stored W4 ResNet-20 (uniform 4-bit weights, first layer 8-bit)
// against its fp32 size: at most 1/7.
func TestPackedSize(t *testing.T) {
	opts := engineOptions()
	opts.PCBAWeights = false
	q := quantized(t, testenv.ResNet20(), testenv.Asset("cifar10-png/calib"), opts)
	net, err := Build(q)
	if err != nil {
		t.Fatal(err)
	}
	packed, float := net.Sizes()
	t.Logf("ResNet-20 W4 weights: packed %d bytes, fp32 %d bytes (1/%.2f)", packed, float, float64(float)/float64(packed))
	if 7*packed > float {
		t.Errorf("packed %d bytes > 1/7 of fp32 %d bytes", packed, float)
	}
}

// TestEngineFirst1000 is the check on the first 1,000 of the 10,000 CIFAR-10 test
// images (JPEG, calibrated on the JPEG calibration images), ResNet-20 and ResNet-56.
func TestEngineFirst1000(t *testing.T) {
	data := testenv.Data(t, "cifar10")
	models := map[string]string{
		"resnet20": testenv.ResNet20(),
		"resnet56": testenv.Data(t, "cifar10-resnet/resnet56-4bfd9763.th"),
	}
	for _, name := range []string{"resnet20", "resnet56"} {
		t.Run(name, func(t *testing.T) {
			if testing.Short() && name == "resnet56" {
				t.Skip("-short")
			}
			q := quantized(t, models[name], filepath.Join(data, "calib"), engineOptions())
			net, err := Build(q)
			if err != nil {
				t.Fatal(err)
			}
			sim, eng := compare(t, q, net, source(t, q.Graph, filepath.Join(data, "test"), 1000), 1000)
			agree := ptq.Agreement(sim, eng)
			t.Logf("%s: simulated %.2f%%, integer %.2f%%, agreement %.2f%%", name, sim.Top1, eng.Top1, agree)
			if agree < 99.5 {
				t.Errorf("agreement %.2f%% < 99.5%%", agree)
			}
			if d := eng.Top1 - sim.Top1; d > 0.2 || d < -0.2 {
				t.Errorf("top-1 differs by %.2f points (> 0.2)", d)
			}
		})
	}
}
