package ptq

import (
	"math"
	"testing"

	"fourbit/internal/testenv"
)

// TestDataFreeRules checks the analytic rules against closed forms: the mean of a
// LeakyReLU'd standard normal is (1−α)/√(2π); the mean of the maximum of K standard normals
// is 1.0294 for K = 4 and 1.4850 for K = 9 (order statistics tables).
func TestDataFreeRules(t *testing.T) {
	std := [][]float32{gaussian(0, 1)}
	cases := []struct {
		name string
		d    []float32
		mean float64
	}{
		{"N(0,1)", std[0], 0},
		{"N(2,3²)", gaussian(2, 3), 2},
		{"ReLU", mapped(std, func(x float32) float32 { return max(x, 0) })[0], 1 / math.Sqrt(2*math.Pi)},
		{"LeakyReLU 0.1", mapped(std, func(x float32) float32 { return max(x, 0.1*x) })[0], 0.9 / math.Sqrt(2*math.Pi)},
		{"max of 4", maxOf(std, 4)[0], 1.0294},
		{"max of 9", maxOf(std, 9)[0], 1.4850},
	}
	for _, c := range cases {
		m, _ := moments(c.d)
		if math.Abs(m-c.mean) > 0.01 {
			t.Errorf("%s: mean %.4f, want %.4f", c.name, m, c.mean)
		}
	}
	if _, v := moments(gaussian(2, 3)); math.Abs(math.Sqrt(v)-3) > 0.05 {
		t.Errorf("σ of N(2,3²) quantiles: %.3f", math.Sqrt(v))
	}
}

// TestDataFreeResNet20 calibrates ResNet-20 from its batch norms alone: the per-channel means
// it predicts for every convolution's output follow the ones measured on images, and the
// network quantized from them still agrees with FP32 on most committed test images.
func TestDataFreeResNet20(t *testing.T) {
	g := loadResNet20(t)
	free, err := CalibrateDataFree(g)
	if err != nil {
		t.Fatal(err)
	}
	cal, err := Calibrate(g, source(t, g, testenv.Asset("cifar10-png/calib"), 0), 256, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Correlation of predicted and measured channel means over all conv outputs with a prior.
	var xs, ys []float64
	for _, p := range free.Points {
		if p.Pool || p.Last {
			continue
		}
		f, m := free.Stats[p.Layer], cal.Stats[p.Layer]
		for c := range f.PerChannel {
			xs, ys = append(xs, f.PerChannel[c].Mean), append(ys, m.PerChannel[c].Mean)
		}
	}
	if r := correlation(xs, ys); r < 0.9 {
		t.Errorf("data-free channel means vs measured: correlation %.3f over %d channels", r, len(xs))
	} else {
		t.Logf("data-free channel means vs measured: correlation %.3f over %d channels", r, len(xs))
	}
	src := source(t, g, testenv.Asset("cifar10-png/test"), 0)
	fp, err := Evaluate(g, src, 0, 0, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := DefaultOptions()
	o.ActBits = 8
	q, err := Quantize(g, free, o)
	if err != nil {
		t.Fatal(err)
	}
	if q.Plan.Options.Clip != "aciq-gauss" {
		t.Errorf("data-free clipping %q, want aciq-gauss", q.Plan.Options.Clip)
	}
	res, err := Evaluate(q.Graph, src, 0, 0, q.Hook(), nil)
	if err != nil {
		t.Fatal(err)
	}
	a := Agreement(fp, res)
	t.Logf("W4A8 data-free: top-1 %.2f%% (FP32 %.2f%%), agreement %.1f%%", res.Top1, fp.Top1, a)
	if a < 85 {
		t.Errorf("W4A8 calibrated data-free agrees with FP32 on %.1f%% of images", a)
	}
}

func correlation(x, y []float64) float64 {
	var mx, my float64
	for i := range x {
		mx, my = mx+x[i], my+y[i]
	}
	mx, my = mx/float64(len(x)), my/float64(len(y))
	var sxy, sxx, syy float64
	for i := range x {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) * (x[i] - mx)
		syy += (y[i] - my) * (y[i] - my)
	}
	return sxy / math.Sqrt(sxx*syy)
}
