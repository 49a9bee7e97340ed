package session

import (
	"os"
	"strings"
	"testing"

	"fourbit/dataset"
	"fourbit/internal/testenv"
	"fourbit/ptq"
)

// folderImages reads a folder's images as encoded bytes, in the dataset package's order.
func folderImages(t *testing.T, dir string, limit int) ([]Image, []int) {
	t.Helper()
	f, err := dataset.Open(dir, nil, limit)
	if err != nil {
		t.Fatal(err)
	}
	var imgs []Image
	var labels []int
	for _, it := range f.Items {
		b, err := os.ReadFile(it.Path)
		if err != nil {
			t.Fatal(err)
		}
		imgs, labels = append(imgs, Image{Encoded: b}), append(labels, it.Label)
	}
	return imgs, labels
}

// TestSessionMatchesPipeline: the session, fed image bytes, gives exactly the numbers of the
// folder-based pipeline the CLI uses.
func TestSessionMatchesPipeline(t *testing.T) {
	model, err := os.ReadFile(testenv.ResNet20())
	if err != nil {
		t.Fatal(err)
	}
	s := New()
	info, err := s.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Classes) != 10 || info.Params < 260000 {
		t.Fatalf("info %+v", info)
	}
	calib, _ := folderImages(t, testenv.Asset("cifar10-png/calib"), 128)
	test, labels := folderImages(t, testenv.Asset("cifar10-png/test"), 100)
	if _, err := s.Calibrate(images(t, s, calib, nil), 0, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Quantize(ptq.DefaultOptions()); err != nil {
		t.Fatal(err)
	}
	var calls int
	rep, err := s.Evaluate(images(t, s, test, labels), 0, func(done, total int) { calls++ }, false)
	if err != nil {
		t.Fatal(err)
	}
	if calls == 0 || rep.FP32.Images != 100 || rep.Quantized == nil {
		t.Fatalf("report %+v after %d progress calls", rep, calls)
	}

	// The same job through the folder pipeline.
	g := s.g
	open := func(dir string, n int) *dataset.Source {
		f, err := dataset.Open(dir, g.Classes, n)
		if err != nil {
			t.Fatal(err)
		}
		src, _ := dataset.NewSource(f, g)
		return src
	}
	cal, err := ptq.Calibrate(g, open(testenv.Asset("cifar10-png/calib"), 128), 128, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	q, err := ptq.Quantize(g, cal, ptq.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	res, err := ptq.Evaluate(q.Graph, open(testenv.Asset("cifar10-png/test"), 100), 0, 0, q.Hook(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Top1 != rep.Quantized.Top1 || ptq.Agreement(res, rep.Quantized) != 100 {
		t.Errorf("session top-1 %.2f, pipeline %.2f", rep.Quantized.Top1, res.Top1)
	}

	// The integer engine from a plan that carries every tensor, on the same images.
	engineOpts := ptq.DefaultOptions()
	engineOpts.CarryBits = 8
	if _, err := s.Quantize(engineOpts); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Evaluate(images(t, s, test, labels), 0, nil, true); err != nil {
		t.Fatal(err)
	}
	einfo, err := s.BuildEngine()
	if err != nil {
		t.Fatal(err)
	}
	er, err := s.EvaluateEngine(images(t, s, test, labels), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("engine: %v, top-1 %.2f%%, agreement with the simulation %.1f%% (%d of %d)", einfo.Kernels, er.Engine.Top1, er.AgreementSimulated, er.AgreedSimulated, er.Engine.Images)
	if einfo.Kernels["int32-folded"]+einfo.Kernels["float-input"] != len(einfo.Layers) || er.AgreedSimulated < 99 || er.Engine.Correct1 == 0 {
		t.Errorf("engine %+v, report %+v", einfo, er)
	}

	pred, err := s.Infer(test[0], 3)
	if err != nil || len(pred.FP32) != 3 || len(pred.Quantized) != 3 || pred.FP32[0].Name == "" {
		t.Errorf("infer: %+v %v", pred, err)
	}
	v, err := s.Channel("layer1.0.conv1", 3)
	if err != nil {
		t.Fatal(err)
	}
	if !v.OneSided || len(v.Counts) == 0 || len(v.Edges) != len(v.Counts)+1 || len(v.MSEAnalytic) != 40 || v.Hi <= 0 || len(v.WeightFixed) != 16 {
		t.Errorf("channel view %+v", v)
	}
	// Every layer opens on a live channel (-1: the session picks one); a channel PCBA gave 0
	// bits is said to be dead.
	for _, w := range s.q.Plan.Weights {
		if w.Layer == "linear" {
			continue
		}
		v, err := s.Channel(w.Layer, -1)
		if err != nil {
			t.Fatal(err)
		}
		if v.Dead || v.Bits == 0 {
			t.Errorf("%s opens on channel %d with %d bits (dead %v)", w.Layer, v.Channel, v.Bits, v.Dead)
		}
		for c, b := range v.ChannelBits {
			if b == 0 {
				if d, _ := s.Channel(w.Layer, c); !d.Dead {
					t.Errorf("%s channel %d has 0 bits but is not called dead", w.Layer, c)
				}
			}
		}
	}
}

// images serves imgs through the session, failing the test on error.
func images(t *testing.T, s *Session, imgs []Image, labels []int) ptq.Source {
	t.Helper()
	src, err := s.Images(imgs, labels)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// calibrateImages is Calibrate on caller images, as the wasm adapter calls it.
func calibrateImages(s *Session, imgs []Image) error {
	src, err := s.Images(imgs, nil)
	if err == nil {
		_, err = s.Calibrate(src, 0, nil)
	}
	return err
}

// evaluateImages is Evaluate on caller images, as the wasm adapter calls it.
func evaluateImages(s *Session, imgs []Image, labels []int) error {
	src, err := s.Images(imgs, labels)
	if err == nil {
		_, err = s.Evaluate(src, 0, nil, false)
	}
	return err
}

func TestSessionBadInput(t *testing.T) {
	s := New()
	if err := calibrateImages(s, []Image{{Width: 1, Height: 1, RGBA: make([]byte, 4)}}); err == nil {
		t.Error("calibrate without a model")
	}
	model, _ := os.ReadFile(testenv.ResNet20())
	if _, err := s.Load(model); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(model[:1000]); err == nil {
		t.Error("corrupt model loaded")
	}
	if _, err := s.Info(); err != nil {
		t.Errorf("previous model lost after a failed load: %v", err)
	}
	if _, err := s.Quantize(ptq.DefaultOptions()); err == nil || !strings.Contains(err.Error(), "calibrate") {
		t.Errorf("quantize before calibrate: %v", err)
	}
	for _, bad := range [][]Image{
		{{Width: 32, Height: 32, RGBA: make([]byte, 10)}},
		{{Width: 0, Height: 32}},
		{{Encoded: []byte("not an image")}},
		{},
	} {
		if err := calibrateImages(s, bad); err == nil {
			t.Errorf("calibrate on %d bad images accepted", len(bad))
		}
	}
	ok := Image{Width: 40, Height: 20, RGBA: make([]byte, 4*40*20)}
	if err := calibrateImages(s, []Image{ok, ok}); err != nil {
		t.Fatalf("odd-sized images: %v", err)
	}
	bad := ptq.DefaultOptions()
	bad.Clip = "nope"
	if _, err := s.Quantize(bad); err == nil {
		t.Error("bad options accepted")
	}
	if err := evaluateImages(s, []Image{ok}, []int{12}); err == nil {
		t.Error("label out of range accepted")
	}
	if err := evaluateImages(s, []Image{ok}, nil); err == nil {
		t.Error("evaluate without labels accepted")
	}

	if _, err := s.Channel("nope", 0); err == nil {
		t.Error("channel view before quantize")
	}
	if _, err := s.Quantize(ptq.DefaultOptions()); err != nil {
		t.Errorf("the session is not usable after errors: %v", err)
	}
	if _, err := s.BuildEngine(); err == nil || !strings.Contains(err.Error(), "CarryBits") {
		t.Errorf("integer engine of a plan that leaves the residual Adds in float (the paper's protocol): %v", err)
	}
}
