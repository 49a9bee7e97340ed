package main

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// TestACIQCommandMatchesPaper runs `fourbit aciq --bits 1-8 --json` and compares it with the
// table of PAPER.md to ±0.001.
func TestACIQCommandMatchesPaper(t *testing.T) {
	laplace := []float64{1.8628, 2.8307, 3.8972, 5.0286, 6.2048, 7.4131, 8.6456, 9.8968}
	gauss := []float64{1.2399, 1.7106, 2.1516, 2.5591, 2.9362, 3.2869, 3.6151, 3.9240}
	var out, errOut bytes.Buffer
	if code := run([]string{"aciq", "--bits", "1-8", "--json"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var rows []aciqRow
	if err := json.Unmarshal(out.Bytes(), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 8 {
		t.Fatalf("%d rows", len(rows))
	}
	for i, r := range rows {
		if r.Bits != float64(i+1) || math.Abs(r.Laplace-laplace[i]) > 0.001 || math.Abs(r.Gauss-gauss[i]) > 0.001 {
			t.Errorf("M=%v: Laplace %.4f Gauss %.4f, paper %.4f %.4f", r.Bits, r.Laplace, r.Gauss, laplace[i], gauss[i])
		}
		if i+1 < len(rows) && math.Abs(r.LaplaceOneSided-laplace[i+1]) > 0.001 {
			t.Errorf("M=%v: one-sided Laplace %.4f, want the M+1 value %.4f", r.Bits, r.LaplaceOneSided, laplace[i+1])
		}
	}
}

func TestCLIUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"aciq", "--bits", "0-40"}, 2, "outside"},
		{[]string{"aciq", "--bits", "x"}, 2, "bad bit width"},
		{[]string{"aciq", "--nope"}, 2, "not defined"},
		{[]string{"aciq", "extra"}, 2, "unexpected argument"},
		{[]string{"help"}, 0, ""},
	} {
		var out, errOut bytes.Buffer
		code := run(tc.args, &out, &errOut)
		if code != tc.code || !strings.Contains(errOut.String(), tc.msg) {
			t.Errorf("%v: exit %d (want %d), stderr %q", tc.args, code, tc.code, errOut.String())
		}
	}
}
