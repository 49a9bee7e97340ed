package main

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"fourbit/internal/testenv"
)

// TestZooFP32: the data set's TFLite networks by name, with the preprocessing and labels the
// zoo gives them, score what independent runtimes score on the same images — MobileNet V1
// 0.25 on the 1,000 imagenet-samples images against a NumPy TFLite interpreter's 55.4% /
// 79.5% (the data set's README; central 87.5% crop, bilinear to 224, x/127.5 − 1), within
// half a point.
func TestZooFP32(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 ImageNet images: not in -short")
	}
	data := testenv.Data(t, "imagenet-samples")
	testenv.Data(t, "imagenet-mobilenet-v1/mobilenet_v1_0.25_224.tflite")
	t.Setenv("FOURBIT_DATA", testenv.DataDir())
	var out, errOut bytes.Buffer
	if code := run([]string{"eval", "--model", "mobilenet-v1-0.25", "--data", data, "--json"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var res struct {
		Images int     `json:"images"`
		Top1   float64 `json:"top1"`
		Top5   float64 `json:"top5"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	t.Logf("MobileNet V1 0.25 FP32 on %d images: top-1 %.2f%%, top-5 %.2f%%", res.Images, res.Top1, res.Top5)
	if res.Images != 1000 || math.Abs(res.Top1-55.4) > 0.5 || math.Abs(res.Top5-79.5) > 0.5 {
		t.Errorf("top-1 %.2f%%, top-5 %.2f%% on %d images; the independent interpreter gives 55.4%% and 79.5%% on 1,000", res.Top1, res.Top5, res.Images)
	}
}
