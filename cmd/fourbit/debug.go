package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"fourbit/ptq"
)

func init() {
	register("debug", "per-layer quantization error (SQNR, cosine) against the float network, worst first", runDebug)
	register("sensitivity", "quantize one layer at a time and rank the layers by the accuracy they cost", runSensitivity)
}

// keepFlag collects --keep NAME=BITS|NAME=float.
type keepFlag map[string]ptq.Keep

func (k keepFlag) String() string { return "" }

func (k keepFlag) Set(v string) error {
	name, val, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return fmt.Errorf("want NAME=BITS or NAME=float, got %q", v)
	}
	if val == "float" {
		k[name] = ptq.Keep{Float: true}
		return nil
	}
	if b, err := strconv.Atoi(val); err == nil {
		if b < 1 || b > 8 {
			return fmt.Errorf("%s: bits must be 1..8 or float, got %q", name, val)
		}
		k[name] = ptq.Keep{WeightBits: b, ActBits: b}
		return nil
	}
	// w8, a8, w8a6: weights and/or output activation only.
	var keep ptq.Keep
	rest := strings.ToLower(val)
	for rest != "" {
		which := rest[0]
		i := 1
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		b, err := strconv.Atoi(rest[1:i])
		if (which != 'w' && which != 'a') || err != nil || b < 1 || b > 8 {
			return fmt.Errorf("%s: want BITS, float, wBITS, aBITS or wBITSaBITS (1..8), got %q", name, val)
		}
		if which == 'w' {
			keep.WeightBits = b
		} else {
			keep.ActBits = b
		}
		rest = rest[i:]
	}
	k[name] = keep
	return nil
}

func dbString(v *float64) string {
	if v == nil {
		return "exact"
	}
	return fmt.Sprintf("%.1f", *v)
}

func runDebug(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("debug", "--model FILE --calib DIR [options] [--data DIR] [--images N] [--json]", stderr)
	opts := ptq.DefaultOptions()
	of := bindOptions(fs, &opts)
	modelPath := fs.String("model", "", "model file")
	calibDir := fs.String("calib", "", "calibration folder")
	data := fs.String("data", "", "images to compare on (default: the calibration folder)")
	images := fs.Int("images", 64, "images to compare on")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := of.finish(); err != nil {
		return err
	}
	if *calibDir == "" {
		return usageError{fmt.Errorf("--calib is required")}
	}
	dir := *data
	if dir == "" {
		dir = *calibDir
	}
	s, src, err := open(*modelPath, dir, *images)
	if err != nil {
		return err
	}
	if err := quantizeWith(s, *calibDir, opts, stderr); err != nil {
		return err
	}
	errs, err := s.Debug(src, *images)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(errs)
	}
	fmt.Fprintf(stdout, "W%dA%d, %d images. SQNR (dB) of each quantized activation against the float network, worst first;\n"+
		"then the layer alone on the float network's input (isolated): all it injects, and split into its own weights, its input activation and its output activation.\n\n",
		opts.WeightBits, opts.ActBits, src.Len())
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "node\tlayer\tSQNR\tweights only\tactivations only\tcosine\trel. MSE\tisolated\town weights\tinput act.\toutput act.\t")
	for _, e := range errs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.4f\t%.3g\t%s\t%s\t%s\t%s\t\n", e.Node, e.Layer, dbString(e.SQNR), dbString(e.SQNRWeights), dbString(e.SQNRActs), e.Cosine, e.RelMSE,
			dbString(e.Local), dbString(e.LocalWeights), dbString(e.LocalInput), dbString(e.LocalOutput))
	}
	return tw.Flush()
}

type sensitivityOutput struct {
	FP32   float64           `json:"fp32_top1"`
	Images int               `json:"images"`
	Layers []ptq.Sensitivity `json:"layers"`
	Curve  []ptq.BudgetPoint `json:"curve,omitempty"`
}

func runSensitivity(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sensitivity", "--model FILE --calib DIR --data DIR [options] [--limit N] [--curve 4,4.5,...] [--json]", stderr)
	opts := ptq.DefaultOptions()
	of := bindOptions(fs, &opts)
	modelPath := fs.String("model", "", "model file")
	calibDir := fs.String("calib", "", "calibration folder")
	data := fs.String("data", "", "labelled evaluation folder")
	limit := fs.Int("limit", 500, "evaluation images")
	curve := fs.String("curve", "", "also measure the automatic mixed precision at these mean weight bits (e.g. 4,4.5,5,6,8)")
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
	var budgets []float64
	for _, s := range splitList(*curve) {
		b, err := strconv.ParseFloat(s, 64)
		if err != nil || b < 1 || b > 8 {
			return usageError{fmt.Errorf("--curve: bad budget %q", s)}
		}
		budgets = append(budgets, b)
	}
	s, src, err := open(*modelPath, *data, *limit)
	if err != nil {
		return err
	}
	if err := calibrate(s, *calibDir, opts.CalibImages, stderr); err != nil {
		return err
	}
	g, cal := s.Graph(), s.Calibration()
	sens, fp, err := ptq.LayerSensitivity(g, cal, src, opts, *limit, progressBar(stderr, "sensitivity"))
	if err != nil {
		return err
	}
	out := sensitivityOutput{FP32: fp.Top1, Images: fp.Images, Layers: sens}
	if len(budgets) > 0 {
		if out.Curve, err = ptq.BudgetCurve(g, cal, src, opts, sens, fp, budgets, *limit); err != nil {
			return err
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	fmt.Fprintf(stdout, "FP32 top-1 %.2f%% on %d images; each layer quantized alone at W%dA%d (most sensitive first)\n\n", fp.Top1, fp.Images, opts.WeightBits, opts.ActBits)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "layer\ttop-1\tdrop\tagreement\t")
	for _, s := range sens {
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%.1f\t\n", s.Layer, s.Top1, s.Drop, s.Agreement)
	}
	tw.Flush()
	if len(out.Curve) > 0 {
		fmt.Fprintln(stdout, "\nbudget\tmean W bits\ttop-1\tagreement\tlayers at 8 bits")
		for _, p := range out.Curve {
			fmt.Fprintf(stdout, "%.2f\t%.3f\t%.2f\t%.1f\t%s\n", p.Budget, p.MeanBits, p.Top1, p.Agreement, strings.Join(p.Raised, ","))
		}
	}
	return nil
}
