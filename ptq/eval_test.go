package ptq

import (
	"math"
	"testing"

	"fourbit/dataset"
	"fourbit/formats/pytorch"
	"fourbit/internal/testenv"
	"fourbit/nn"
)

func loadResNet20(t testing.TB) *nn.Graph {
	t.Helper()
	g, err := pytorch.LoadFile(testenv.ResNet20())
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func source(t testing.TB, g *nn.Graph, dir string, limit int) *dataset.Source {
	t.Helper()
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

// TestResNet20OnCommittedImages checks the float network on the 300 committed test images,
// and that the batch size does not change a single prediction.
func TestResNet20OnCommittedImages(t *testing.T) {
	g := loadResNet20(t)
	src := source(t, g, testenv.Asset("cifar10-png/test"), 0)
	a, err := Evaluate(g, src, 0, 64, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Evaluate(g, src, 100, 7, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ResNet-20 on the 300 committed test PNGs: top-1 %.2f%%, top-5 %.2f%%", a.Top1, a.Top5)
	// 91.5% on all 1,000 (ONNX Runtime); 300 images put the 95% interval at about ±3.2 points.
	if a.Images != 300 || a.Top1 < 87 || a.Top5 < 98 {
		t.Errorf("top-1 %.2f top-5 %.2f on %d images", a.Top1, a.Top5, a.Images)
	}
	for i := range b.Predicted {
		if a.Predicted[i] != b.Predicted[i] {
			t.Fatalf("image %d: batch 64 predicts %d, batch 7 %d", i, a.Predicted[i], b.Predicted[i])
		}
	}
}

// TestResNetsMatchONNXRuntime compares top-1 on the 1,000 lossless test PNGs with ONNX
// Runtime's figures (data README): within 0.2 points.
func TestResNetsMatchONNXRuntime(t *testing.T) {
	dir := testenv.Data(t, "cifar10-png/test")
	nets := []struct {
		file string
		ort  float64
	}{{"resnet20-12fca82f.th", 91.5}, {"resnet56-4bfd9763.th", 92.6}}
	if testing.Short() {
		nets = nets[:1]
	}
	for _, n := range nets {
		g, err := pytorch.LoadFile(testenv.Data(t, "cifar10-resnet/"+n.file))
		if err != nil {
			t.Fatal(err)
		}
		res, err := Evaluate(g, source(t, g, dir, 0), 0, 0, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: top-1 %.2f%% (ONNX Runtime %.2f%%), %.1f images/s", n.file, res.Top1, n.ort, res.ImagesPerSec)
		if res.Images != 1000 || math.Abs(res.Top1-n.ort) > 0.2 {
			t.Errorf("%s: top-1 %.2f%% on %d images, ONNX Runtime %.2f%%", n.file, res.Top1, res.Images, n.ort)
		}
	}
}
