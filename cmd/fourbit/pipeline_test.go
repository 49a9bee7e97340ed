package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fourbit/internal/testenv"
	"fourbit/ptq"
)

// TestTableResNet20W4A4 runs `fourbit table --models resnet20 --bits W4A4` on the lossless
// set (1,000 test PNGs, 256 calibration PNGs) and asserts the paper's ordering with margins
// that fit 1,000 images: all three methods clearly above naive per-channel, which is far
// above per-tensor min-max.
func TestTableResNet20W4A4(t *testing.T) {
	calib := testenv.Data(t, "cifar10-png/calib")
	test := testenv.Data(t, "cifar10-png/test")
	t.Setenv("FOURBIT_DATA", testenv.DataDir())
	var out, errOut bytes.Buffer
	start := time.Now()
	if code := run([]string{"table", "--models", "resnet20", "--bits", "W4A4", "--calib", calib, "--data", test, "--json"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	t.Logf("wall time %.0f s", time.Since(start).Seconds())
	var res tableOutput
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	tb := res.Tables[0]
	if tb.Images != 1000 || len(tb.Cells) != len(ptq.PaperRows) {
		t.Fatalf("%d images, %d cells", tb.Images, len(tb.Cells))
	}
	for _, c := range tb.Cells {
		t.Logf("%-20s %.2f%% (agreement %.1f%%)", c.Row, c.Top1, c.Agreement)
	}
	all, naive, perTensor := tb.Cell("ACIQ+PCBA+BC", "W4A4"), tb.Cell("naive", "W4A4"), tb.Cell("per-tensor min-max", "W4A4")
	if all.Top1 < naive.Top1+1 || all.Agreement < naive.Agreement+1 {
		t.Errorf("ACIQ+PCBA+BC %.2f%% (agreement %.1f) not clearly above naive %.2f%% (%.1f)", all.Top1, all.Agreement, naive.Top1, naive.Agreement)
	}
	if naive.Top1 < perTensor.Top1+8 {
		t.Errorf("naive per-channel %.2f%% not far above per-tensor min-max %.2f%%", naive.Top1, perTensor.Top1)
	}
	if all.Top1 < tb.FP32Top1-3 {
		t.Errorf("ACIQ+PCBA+BC %.2f%% more than 3 points below FP32 %.2f%%", all.Top1, tb.FP32Top1)
	}
}

func TestQuantizeBadInput(t *testing.T) {
	model := testenv.ResNet20()
	calib := testenv.Asset("cifar10-png/calib")
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"quantize", "--model", model, "--calib", calib, "--calib-images", "5000"}, 1, "has 260 images, 5000 asked"},
		{[]string{"quantize", "--model", model, "--calib", calib, "--wbits", "9"}, 2, "weight bits"},
		{[]string{"quantize", "--model", model, "--calib", calib, "--clip", "fancy"}, 2, "unknown clipping method"},
		{[]string{"quantize", "--model", model, "--calib", calib, "--pcba", "x"}, 2, "--pcba"},
		{[]string{"quantize", "--model", model}, 2, "--calib is required"},
		{[]string{"quantize", "--model", "/nonexistent.th", "--calib", calib}, 1, "no such file"},
		{[]string{"quantize", "--model", testenv.Asset("README.md"), "--calib", calib}, 1, "not a model file"},
		{[]string{"table", "--bits", "W4A9"}, 2, "activation bits"},
		{[]string{"table", "--rows", "magic"}, 2, "unknown row"},
		{[]string{"eval", "--model", model, "--data", testenv.Asset("cifar10-resnet")}, 1, "class folders"},
	} {
		var out, errOut bytes.Buffer
		code := run(tc.args, &out, &errOut)
		if code != tc.code || !strings.Contains(errOut.String(), tc.msg) {
			t.Errorf("%v: exit %d (want %d), stderr %q", tc.args, code, tc.code, errOut.String())
		}
	}
}

func TestQuantizeReport(t *testing.T) {
	var out, errOut bytes.Buffer
	exported := filepath.Join(t.TempDir(), "q.json")
	code := run([]string{"quantize", "--model", testenv.ResNet20(), "--calib", testenv.Asset("cifar10-png/calib"),
		"--calib-images", "64", "--data", testenv.Asset("cifar10-png/test"), "--limit", "50", "--out", exported}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	b, err := os.ReadFile(exported)
	if err != nil {
		t.Fatal(err)
	}
	var e ptq.Export
	if err := json.Unmarshal(b, &e); err != nil || e.Format != ptq.ExportFormat || len(e.Weights) != 20 {
		t.Errorf("exported model: format %q, %d layers, %v", e.Format, len(e.Weights), err)
	}
	for _, want := range []string{"layer3.2.conv2", "layer1.0.relu1", "avgpool", "W4A4 top-1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}
