package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"fourbit/internal/testenv"
	"fourbit/ptq"
	"fourbit/session"
)

func TestDebugAndSensitivityCommands(t *testing.T) {
	model, calib, test := testenv.ResNet20(), testenv.Asset("cifar10-png/calib"), testenv.Asset("cifar10-png/test")
	var out, errOut bytes.Buffer
	if code := run([]string{"debug", "--model", model, "--calib", calib, "--calib-images", "32", "--images", "10", "--json"}, &out, &errOut); code != 0 {
		t.Fatalf("debug: exit %d: %s", code, errOut.String())
	}
	var errs []ptq.LayerError
	if err := json.Unmarshal(out.Bytes(), &errs); err != nil || len(errs) < 20 {
		t.Fatalf("debug: %d rows, %v", len(errs), err)
	}
	// Worst injector first: ordered by the layer-isolated SQNR.
	for i := 1; i < len(errs); i++ {
		if errs[i-1].Local != nil && errs[i].Local != nil && *errs[i-1].Local > *errs[i].Local {
			t.Errorf("debug rows not worst first at %d", i)
		}
	}
	out.Reset()
	errOut.Reset()
	if code := run([]string{"sensitivity", "--model", model, "--calib", calib, "--calib-images", "32", "--data", test,
		"--limit", "30", "--curve", "4,8", "--json"}, &out, &errOut); code != 0 {
		t.Fatalf("sensitivity: exit %d: %s", code, errOut.String())
	}
	var sens sensitivityOutput
	if err := json.Unmarshal(out.Bytes(), &sens); err != nil || len(sens.Layers) != 21 || len(sens.Curve) != 2 {
		t.Fatalf("sensitivity: %+v %v", sens, err)
	}
	if sens.Curve[0].MeanBits > 4.01 || sens.Curve[1].MeanBits < 7.9 || len(sens.Curve[1].Raised) != 19 {
		t.Errorf("budget curve %+v", sens.Curve)
	}
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"quantize", "--model", model, "--calib", calib, "--calib-images", "16", "--keep", "layer9.conv=float"}, "the layers are: conv1"},
		{[]string{"quantize", "--model", model, "--calib", calib, "--keep", "conv1=12"}, "bits must be 1..8"},
		{[]string{"quantize", "--model", model, "--calib", calib, "--budget", "4.5"}, "--budget needs --data"},
	} {
		out.Reset()
		errOut.Reset()
		if code := run(tc.args, &out, &errOut); code == 0 || !strings.Contains(errOut.String(), tc.msg) {
			t.Errorf("%v: exit %d, stderr %q", tc.args, code, errOut.String())
		}
	}
}

func TestBenchCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"bench", "--model", testenv.ResNet20(), "--calib", testenv.Asset("cifar10-png/calib"), "--seconds", "0.05", "--json"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var b benchOutput
	if err := json.Unmarshal(out.Bytes(), &b); err != nil || len(b.Conv) != 3 || !(b.FP32ImagesSec > 0) || !(b.W4A4ImagesSec > 0) ||
		len(b.ConvInt8) != 3 || len(b.ConvInt4) != 3 || !(b.GemmInt4 > 0) || !(b.EngineImgSec > 0) || !(b.EnginePTImgSec > 0) ||
		b.PackedBytes <= 0 || 7*b.PackedBytes > b.FloatBytes {
		t.Errorf("bench output %+v %v", b, err)
	}
}

func TestKeepFlag(t *testing.T) {
	for _, c := range []struct {
		in   string
		want ptq.Keep
		bad  bool
	}{
		{"l=8", ptq.Keep{WeightBits: 8, ActBits: 8}, false},
		{"l=float", ptq.Keep{Float: true}, false},
		{"l=a8", ptq.Keep{ActBits: 8}, false},
		{"l=w6", ptq.Keep{WeightBits: 6}, false},
		{"l=W8A6", ptq.Keep{WeightBits: 8, ActBits: 6}, false},
		{"l=9", ptq.Keep{}, true},
		{"l=x8", ptq.Keep{}, true},
		{"l=w", ptq.Keep{}, true},
		{"l=a0", ptq.Keep{}, true},
		{"=8", ptq.Keep{}, true},
	} {
		k := keepFlag{}
		err := k.Set(c.in)
		if (err != nil) != c.bad || (!c.bad && k["l"] != c.want) {
			t.Errorf("%q: got %+v, %v", c.in, k["l"], err)
		}
	}
}

func TestQuantizeEngineCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	args := []string{"quantize", "--model", testenv.ResNet20(), "--calib", testenv.Asset("cifar10-png/calib"), "--calib-images", "32",
		"--data", testenv.Asset("cifar10-png/test"), "--limit", "50", "--engine", "--json"}
	if code := run(args, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var q quantizeOutput
	if err := json.Unmarshal(out.Bytes(), &q); err != nil || q.Engine == nil || q.Engine.Eval == nil {
		t.Fatalf("output %s: %v", out.String(), err)
	}
	if q.Plan.Options.CarryBits != 8 || q.Engine.Eval.Engine.Images != 50 || q.Engine.Eval.AgreementSimulated < 98 ||
		7*q.Engine.PackedBytes > q.Engine.FloatBytes || len(q.Engine.Layers) != 20 || q.Engine.Kernels["int32-folded"] != 19 {
		t.Errorf("engine: carry bits %d, %+v", q.Plan.Options.CarryBits, q.Engine)
	}
	// The paper's protocol leaves the residual Adds in float: no integer engine from that plan.
	out.Reset()
	errOut.Reset()
	if code := run(append(args, "--carry-bits", "0"), &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "CarryBits") {
		t.Errorf("--engine --carry-bits 0: exit %d, %s", code, errOut.String())
	}
}

func TestQuestionsCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	args := []string{"questions", "--model", testenv.ResNet20(), "--calib", testenv.Asset("cifar10-png/calib"), "--calib-images", "64",
		"--data", testenv.Asset("cifar10-png/test"), "--limit", "60", "--json"}
	if code := run(args, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var answers []session.Answer
	if err := json.Unmarshal(out.Bytes(), &answers); err != nil || len(answers) != 5 {
		t.Fatalf("%d answers: %v", len(answers), err)
	}
	for _, a := range answers {
		for _, v := range a.Variants {
			if v.Result == nil || v.Result.Images != 60 || v.Result.Top1StdErr <= 0 {
				t.Errorf("question %d, %s: %+v", a.ID, v.Name, v.Result)
			}
		}
	}
	if signed, unsigned := answers[2].Variants[0].NegativeCodes, answers[2].Variants[1].NegativeCodes; signed < 0.2 || unsigned != 0 {
		t.Errorf("negative codes after ReLU: signed %.2f, unsigned %.2f", signed, unsigned)
	}
	if m := answers[3].Shift; m == nil || !(m.ShiftAfter < m.ShiftBefore/100) {
		t.Errorf("bias correction's mean shift: %+v", m)
	}
	paper, perTensor := answers[4].Variants[0].Engine, answers[4].Variants[1].Engine
	if paper == nil || perTensor == nil || paper.Kernels["int32-folded"] != 19 || perTensor.Kernels["qconv"] != 18 {
		t.Errorf("engine costs: %+v, %+v", paper, perTensor)
	}
}
