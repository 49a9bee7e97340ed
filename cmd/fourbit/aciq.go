package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"fourbit/quant"
)

func init() {
	register("aciq", "print ACIQ's optimal clipping values α*/b and α*/σ per bit width", runACIQ)
}

// aciqRow is one bit width of the ACIQ table (all values in units of b or σ).
type aciqRow struct {
	Bits            float64 `json:"bits"`
	Laplace         float64 `json:"laplace"`
	Gauss           float64 `json:"gauss"`
	LaplaceOneSided float64 `json:"laplace_one_sided"`
	GaussOneSided   float64 `json:"gauss_one_sided"`
	LaplaceMSE      float64 `json:"laplace_mse"` // expected MSE at α*, b = 1 (paper eq. 5)
	GaussMSE        float64 `json:"gauss_mse"`   // expected MSE at α*, σ = 1
}

func runACIQ(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("aciq", "[--bits 1-8] [--step S] [--json]", stderr)
	bits := fs.String("bits", "1-8", "bit widths: N, A-B, or a comma list (fractional widths allowed)")
	step := fs.Float64("step", 1, "step between widths for a range A-B")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	widths, err := parseWidths(*bits, *step)
	if err != nil {
		return usageError{err}
	}
	rows := make([]aciqRow, 0, len(widths))
	for _, m := range widths {
		r := aciqRow{Bits: m}
		for _, v := range []struct {
			dst      *float64
			prior    quant.Prior
			oneSided bool
		}{{&r.Laplace, quant.Laplace, false}, {&r.Gauss, quant.Gauss, false},
			{&r.LaplaceOneSided, quant.Laplace, true}, {&r.GaussOneSided, quant.Gauss, true}} {
			if *v.dst, err = quant.OptimalAlpha(v.prior, m, v.oneSided); err != nil {
				return err
			}
		}
		r.LaplaceMSE = quant.LaplaceMSE(r.Laplace, 1, m)
		r.GaussMSE = quant.GaussMSE(r.Gauss, 1, m)
		rows = append(rows, r)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "M\tα*/b Laplace\tα*/σ Gauss\tone-sided α*/b\tone-sided α*/σ\tMSE Laplace (b=1)\tMSE Gauss (σ=1)\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%g\t%.4f\t%.4f\t%.4f\t%.4f\t%.4g\t%.4g\t\n", r.Bits, r.Laplace, r.Gauss, r.LaplaceOneSided, r.GaussOneSided, r.LaplaceMSE, r.GaussMSE)
	}
	return tw.Flush()
}

// parseWidths reads "4", "1-8" (with step) or "2,3.5,4".
func parseWidths(s string, step float64) ([]float64, error) {
	var out []float64
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if a, b, ok := strings.Cut(part, "-"); ok {
			lo, err1 := strconv.ParseFloat(a, 64)
			hi, err2 := strconv.ParseFloat(b, 64)
			if err1 != nil || err2 != nil || !(lo <= hi) || !(step > 0) || (hi-lo)/step > 1000 {
				return nil, fmt.Errorf("bad bit range %q (step %v)", part, step)
			}
			for m := lo; m <= hi+1e-9; m += step {
				out = append(out, m)
			}
			continue
		}
		m, err := strconv.ParseFloat(part, 64)
		if err != nil {
			return nil, fmt.Errorf("bad bit width %q", part)
		}
		out = append(out, m)
	}
	for _, m := range out {
		if !(m >= 0.5 && m <= 16) {
			return nil, fmt.Errorf("bit width %v outside 0.5..16", m)
		}
	}
	return out, nil
}
