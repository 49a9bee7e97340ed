package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"fourbit/ptq"
)

func init() {
	register("questions", "answer the questions the paper raises on a model: ACIQ vs k·σ, per channel vs per tensor, half range, bias correction, the hardware cost of PCBA", runQuestions)
}

func runQuestions(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("questions", "--model FILE --calib DIR --data DIR [options] [--limit N] [--json]", stderr)
	opts := ptq.DefaultOptions()
	of := bindOptions(fs, &opts)
	modelPath := fs.String("model", "", "model file")
	calibDir := fs.String("calib", "", "calibration folder, or data-free")
	data := fs.String("data", "", "labelled evaluation folder")
	limit := fs.Int("limit", 0, "evaluate only the first N images")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := of.finish(); err != nil {
		return err
	}
	if *calibDir == "" || *data == "" {
		return usageError{fmt.Errorf("--calib and --data are required")}
	}
	s, src, err := open(*modelPath, *data, *limit)
	if err != nil {
		return err
	}
	if err := calibrate(s, *calibDir, opts.CalibImages, stderr); err != nil {
		return err
	}
	answers, err := s.Questions(opts, src, *limit, progressBar(stderr, "questions"))
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(answers)
	}
	for _, a := range answers {
		fmt.Fprintf(stdout, "(%d) %s\n", a.ID, a.Question)
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		for _, v := range a.Variants {
			fmt.Fprintf(tw, "  %s\ttop-1 %.2f ± %.2f\tagreement %.1f%%\t", v.Name, v.Result.Top1, v.Result.Top1StdErr, v.Agreement)
			if a.ID == 3 {
				fmt.Fprintf(tw, "negative codes after ReLU %.1f%%\t", 100*v.NegativeCodes)
			}
			if e := v.Engine; e != nil {
				fmt.Fprintf(tw, "engine %d bytes, %.1f images/s, top-1 %.2f, %v\t", e.PackedBytes, e.ImagesPerSec, e.Result.Top1, e.Kernels)
			}
			fmt.Fprintln(tw)
		}
		tw.Flush()
		if m := a.Shift; m != nil {
			fmt.Fprintf(stdout, "  %s: mean |E[Q] − E[W]| per output channel %.3g before bias correction, %.3g after\n", m.Layer, m.ShiftBefore, m.ShiftAfter)
		}
		fmt.Fprintln(stdout)
	}
	return nil
}
