package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"fourbit/ptq"
	"fourbit/session"
)

func init() {
	register("quantize", "calibrate and quantize a model (simulated; --engine: also the integer engine), print the per-layer report and accuracy", runQuantize)
	register("table", "the paper's results table: every method at W4A4, W4A8, W8A4 on one or more models", runTable)
}

// optionFlags binds the quantization options to flags (the CLI form of ptq.Options).
type optionFlags struct {
	o                    *ptq.Options
	pcba                 string
	wPerTensor, aPerTens bool
	noHalf, noKeep8      bool
	carry                int      // --carry-bits; -1 when not given
	engine               bool     // the command builds the integer engine: CarryBits defaults to 8
	keep                 keepFlag // --keep NAME=…, repeatable
}

func bindOptions(fs *flag.FlagSet, o *ptq.Options) *optionFlags {
	f := &optionFlags{o: o}
	fs.IntVar(&o.WeightBits, "wbits", o.WeightBits, "weight bits (1..8; the mean with PCBA)")
	fs.IntVar(&o.ActBits, "abits", o.ActBits, "activation bits (1..8; the mean with PCBA)")
	fs.StringVar(&o.Clip, "clip", o.Clip, "activation clipping: none, aciq-laplace, aciq-gauss, ksigma:K, percentile:P, kl, mse")
	fs.StringVar(&o.WeightClip, "wclip", o.WeightClip, "weight clipping (same names; the paper uses none)")
	fs.StringVar(&f.pcba, "pcba", "w,a", "per-channel bit allocation for: w, a, w,a or none")
	fs.StringVar(&o.PCBAPrior, "pcba-prior", o.PCBAPrior, "PCBA's per-channel scale: sigma or b")
	fs.StringVar(&o.BiasCorrect, "bias-correct", o.BiasCorrect, "bias correction of weights: off, mean, mean+norm")
	fs.BoolVar(&f.wPerTensor, "w-per-tensor", false, "one weight range per layer instead of per output channel")
	fs.BoolVar(&f.aPerTens, "a-per-tensor", false, "one activation range per tensor instead of per channel")
	fs.BoolVar(&f.noHalf, "no-half-range", false, "quantize a ReLU's input two-sided instead of its output over [0, α]")
	fs.BoolVar(&f.noKeep8, "no-keep-8bit", false, "quantize the first layer's weights and the classifier's output like the rest")
	fs.IntVar(&o.CalibImages, "calib-images", o.CalibImages, "calibration images")
	fs.BoolVar(&o.EmpiricalBias, "empirical-bias", o.EmpiricalBias, "also correct each layer's bias from the calibration images (AIMET's empirical bias correction)")
	fs.StringVar(&o.Protocol, "protocol", o.Protocol, "which layers stay at 8 bits: paper (first layer's weights, classifier's output) or authors (as the authors' code: first layer's output, classifier's weights)")
	fs.StringVar(&o.Rounding, "rounding", o.Rounding, "rounding of weights to codes: nearest (the paper) or learned (AdaRound: fitted to each layer's float output on the calibration images)")
	fs.IntVar(&o.RoundingImages, "rounding-images", o.RoundingImages, "calibration images learned rounding fits on (default 256)")
	fs.IntVar(&o.RoundingIters, "rounding-iters", o.RoundingIters, "Adam steps of learned rounding per layer (default 500)")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "seed of learned rounding's sampling (same seed, same result)")
	f.keep = keepFlag{}
	fs.Var(f.keep, "keep", "keep a layer at other bits or float: NAME=8, NAME=a8 (output only), NAME=w8, NAME=float (repeatable; names from fourbit info)")
	fs.IntVar(&f.carry, "carry-bits", -1, "also quantize what the paper leaves in float — residual Adds, other ops' outputs — at this width, as the integer engine carries them (0: float, the paper's protocol; default 0, or 8 with --engine)")
	return f
}

// finish applies the flags that are not plain fields and validates the options.
func (f *optionFlags) finish() error {
	o := f.o
	o.WeightPerChannel, o.ActPerChannel = !f.wPerTensor, !f.aPerTens
	o.HalfRange, o.Keep8Bit = !f.noHalf, !f.noKeep8
	if len(f.keep) > 0 {
		o.Keep = f.keep
	}
	switch {
	case f.carry >= 0:
		o.CarryBits = f.carry
	case f.engine:
		o.CarryBits = 8 // the integer engine needs a plan that carries every tensor as codes
	}
	o.PCBAWeights, o.PCBAActs = false, false
	for _, p := range strings.Split(f.pcba, ",") {
		switch strings.TrimSpace(p) {
		case "w":
			o.PCBAWeights = true
		case "a":
			o.PCBAActs = true
		case "none", "off", "":
		default:
			return usageError{fmt.Errorf("--pcba %q: want w, a, w,a or none", f.pcba)}
		}
	}
	if err := o.Validate(); err != nil {
		return usageError{err}
	}
	return nil
}

// calibrate calibrates s on n images of dir, or data-free (dir "data-free").
func calibrate(s *session.Session, dir string, n int, stderr io.Writer) error {
	if dir == dataFree {
		_, err := s.CalibrateDataFree()
		return err
	}
	src, err := s.Folder(dir, 0)
	if err != nil {
		return err
	}
	if src.Len() < n {
		return fmt.Errorf("calibration folder %s has %d images, %d asked (--calib-images)", dir, src.Len(), n)
	}
	_, err = s.Calibrate(src, n, progressBar(stderr, "calibrate"))
	return err
}

// dataFree as the calibration folder calibrates without images, from the batch norms'
// statistics (ptq.CalibrateDataFree).
const dataFree = "data-free"

type quantizeOutput struct {
	Model string    `json:"model"`
	Plan  *ptq.Plan `json:"plan"`
	*session.EvalReport
	Engine *engineOutput `json:"engine,omitempty"`
}

// engineOutput is the integer engine and, given test images, its result beside the
// simulation's.
type engineOutput struct {
	session.EngineInfo
	Eval *session.EngineReport `json:"eval,omitempty"`
}

func runQuantize(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("quantize", "--model FILE --calib DIR [options] [--data DIR] [--limit N] [--out FILE] [--json]", stderr)
	opts := ptq.DefaultOptions()
	of := bindOptions(fs, &opts)
	modelPath := fs.String("model", "", "model file")
	calibDir := fs.String("calib", "", "calibration image folder (training images, never the test set; DIR:even or DIR:odd for half of its classes), or data-free")
	data := fs.String("data", "", "labelled test folder: also report FP32 and quantized accuracy")
	limit := fs.Int("limit", 0, "evaluate only the first N images")
	asJSON := fs.Bool("json", false, "print JSON")
	outFile := fs.String("out", "", "write the quantized model to this file (fourbit-quantized/1 JSON)")
	useEngine := fs.Bool("engine", false, "also build the integer engine and evaluate it (packed weights, integer activations) against the simulation; --carry-bits defaults to 8")
	budget := fs.Float64("budget", 0, "automatic mixed precision: raise the most sensitive layers to 8 bits within this mean weight width (needs --data)")
	if err := parse(fs, args); err != nil {
		return err
	}
	of.engine = *useEngine
	if err := of.finish(); err != nil {
		return err
	}
	if *calibDir == "" {
		return usageError{fmt.Errorf("--calib is required")}
	}
	if *budget != 0 && (*data == "" || *budget < 1 || *budget > 8) {
		return usageError{fmt.Errorf("--budget needs --data (sensitivity is measured on it) and a value in 1..8")}
	}
	s, test, err := open(*modelPath, *data, *limit)
	if err != nil {
		return err
	}
	if err := calibrate(s, *calibDir, opts.CalibImages, stderr); err != nil {
		return err
	}
	if *budget != 0 {
		sens, _, err := ptq.LayerSensitivity(s.Graph(), s.Calibration(), test, opts, *limit, progressBar(stderr, "sensitivity"))
		if err != nil {
			return err
		}
		var raised []string
		opts, _, raised = ptq.RaiseWithin(s.Graph(), opts, sens, *budget)
		fmt.Fprintf(stderr, "budget %.2f bits: layers raised to 8 bits: %s\n", *budget, strings.Join(raised, ", "))
	}
	out := quantizeOutput{Model: filepath.Base(*modelPath)}
	if out.Plan, err = s.QuantizeProgress(opts, roundingProgress(stderr)); err != nil {
		return err
	}
	if *outFile != "" {
		b, err := s.Export()
		if err != nil {
			return err
		}
		if err := os.WriteFile(*outFile, b, 0o644); err != nil {
			return err
		}
	}
	if test != nil {
		rep, err := s.Evaluate(test, *limit, progressBar(stderr, "evaluate"), false)
		if err != nil {
			return err
		}
		out.EvalReport = &rep
	}
	if *useEngine {
		e := &engineOutput{}
		if e.EngineInfo, err = s.BuildEngine(); err != nil {
			return err
		}
		if test != nil {
			rep, err := s.EvaluateEngine(test, *limit, progressBar(stderr, "integer"))
			if err != nil {
				return err
			}
			e.Eval = &rep
		}
		out.Engine = e
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	printReport(stdout, out.Plan)
	if r := out.EvalReport; r != nil {
		fmt.Fprintf(stdout, "\nFP32 top-1 %.2f%%, W%dA%d top-1 %.2f%% (agreement with FP32 %.1f%%) on %d images\n",
			r.FP32.Top1, opts.WeightBits, opts.ActBits, r.Quantized.Top1, r.Agreement, r.Quantized.Images)
	}
	if e := out.Engine; e != nil {
		fmt.Fprintf(stdout, "integer engine: weights %d bytes packed vs %d fp32 (1/%.2f); layers by kernel: %s\n",
			e.PackedBytes, e.FloatBytes, float64(e.FloatBytes)/float64(e.PackedBytes), kernelCounts(e.Kernels))
		var fallback []string
		for _, l := range e.Layers {
			if l.Kernel == "float-fallback" {
				fallback = append(fallback, l.Name+" ("+l.Kind+")")
			}
		}
		if len(fallback) > 0 {
			fmt.Fprintf(stdout, "integer engine: no integer kernel for %s: run in float between codes\n", strings.Join(fallback, ", "))
		}
		if r := e.Eval; r != nil {
			fmt.Fprintf(stdout, "integer engine top-1 %.2f%% (agreement with the simulation %.2f%%) on %d images, %.1f images/s\n",
				r.Engine.Top1, r.AgreementSimulated, r.Engine.Images, r.Engine.ImagesPerSec)
		}
	}
	return nil
}

// printReport prints the per-layer table of a plan.
func printReport(w io.Writer, p *ptq.Plan) {
	o := p.Options
	fmt.Fprintf(w, "W%dA%d  clip %s  PCBA w=%v a=%v  bias correction %s  per-channel w=%v a=%v  half range %v  8-bit first/last %v\n\n",
		o.WeightBits, o.ActBits, o.Clip, o.PCBAWeights, o.PCBAActs, o.BiasCorrect, o.WeightPerChannel, o.ActPerChannel, o.HalfRange, o.Keep8Bit)
	acts := map[string]ptq.ActPlan{} // the paper's point of each layer, not a carried tensor
	for _, a := range p.Acts {
		if !a.Carried {
			acts[a.Layer] = a
		}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "layer\tkind\tW bits\tW MSE\tquantized output\tA bits\tA range\tA MSE\t")
	for _, wp := range p.Weights {
		a := acts[wp.Layer]
		fmt.Fprintf(tw, "%s\t%s\t%.2f\t%.3g\t%s\t%.2f\t[%.3g, %.3g]\t%.3g\t\n", wp.Layer, wp.Kind, wp.MeanBits, wp.MSE,
			a.Quantized, a.MeanBits, a.RangeLo, a.RangeHi, a.MSE)
	}
	for _, a := range p.Acts {
		if a.Pool {
			fmt.Fprintf(tw, "%s\tpool\t\t\t%s\t%.2f\t[%.3g, %.3g]\t%.3g\t\n", a.Layer, a.Quantized, a.MeanBits, a.RangeLo, a.RangeHi, a.MSE)
		}
	}
	tw.Flush()
}

// resolveModel turns a model name (resnet20) into its file under $FOURBIT_DATA, or returns
// a path as is.
func resolveModel(name string) (string, error) {
	if _, err := os.Stat(name); err == nil {
		return name, nil
	}
	if name == "darknet-tiny" {
		return filepath.Join(dataDir(), "imagenet-darknet-tiny"), nil
	}
	matches, _ := filepath.Glob(filepath.Join(dataDir(), "cifar10-resnet", name+"-*.th"))
	if len(matches) == 1 {
		return matches[0], nil
	}
	return "", usageError{fmt.Errorf("model %q: not a file, and no %s-*.th under %s", name, name, filepath.Join(dataDir(), "cifar10-resnet"))}
}

// dataDir is $FOURBIT_DATA or ../shared/data.
func dataDir() string {
	if d := os.Getenv("FOURBIT_DATA"); d != "" {
		return d
	}
	return filepath.Join("..", "shared", "data")
}

type tableOutput struct {
	Command string       `json:"command"`
	Calib   string       `json:"calib"`
	Data    string       `json:"data"`
	Seconds float64      `json:"seconds"`
	Tables  []*ptq.Table `json:"tables"`
}

func runTable(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("table", "[--models resnet20,...] [--bits W4A4,W4A8,W8A4] [--rows ...] [--calib DIR] [--data DIR] [--limit N] [--json] [--md FILE]", stderr)
	opts := ptq.DefaultOptions()
	fs.IntVar(&opts.CalibImages, "calib-images", opts.CalibImages, "calibration images")
	fs.IntVar(&opts.RoundingImages, "rounding-images", opts.RoundingImages, "calibration images learned rounding fits on, in its rows (default 256)")
	fs.IntVar(&opts.RoundingIters, "rounding-iters", opts.RoundingIters, "Adam steps of learned rounding per layer, in its rows (default 500)")
	fs.Uint64Var(&opts.Seed, "seed", opts.Seed, "seed of learned rounding's sampling")
	models := fs.String("models", "resnet20,resnet32,resnet44,resnet56", "models: names under $FOURBIT_DATA/cifar10-resnet, darknet-tiny, mobilenet-v1-0.25, resnet8, or files")
	bits := fs.String("bits", "W4A4,W4A8,W8A4", "bit settings")
	rows := fs.String("rows", "", "rows to run (default: the paper's 14, the first ones; the others are beyond the paper): "+rowNames())
	calibDir := fs.String("calib", filepath.Join(dataDir(), "cifar10-png", "calib"), "calibration folder")
	data := fs.String("data", filepath.Join(dataDir(), "cifar10-png", "test"), "test folder")
	limit := fs.Int("limit", 0, "evaluate only the first N test images")
	asJSON := fs.Bool("json", false, "print JSON")
	md := fs.String("md", "", "also write the table as Markdown to this file")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := opts.Validate(); err != nil {
		return usageError{err}
	}
	bitList := splitList(*bits)
	for _, b := range bitList {
		if _, _, err := ptq.ParseBits(b); err != nil {
			return usageError{err}
		}
	}
	rowList, err := ptq.FindRows(splitList(*rows))
	if err != nil {
		return usageError{err}
	}
	start := time.Now()
	out := tableOutput{Command: "fourbit table " + strings.Join(args, " "), Calib: *calibDir, Data: *data}
	for _, name := range splitList(*models) {
		s, src, err := open(name, *data, *limit)
		if err != nil {
			return err
		}
		if err := calibrate(s, *calibDir, opts.CalibImages, stderr); err != nil {
			return err
		}
		var progress func(int, int, string)
		if bar := progressBar(stderr, name); bar != nil {
			progress = func(step, steps int, what string) {
				bar(step, steps)
				fmt.Fprintf(stderr, " %-24s", what)
			}
		}
		t, err := ptq.RunTable(s.Graph(), s.Calibration(), src, opts, bitList, rowList, *limit, progress)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		t.Model = name
		out.Tables = append(out.Tables, t)
	}
	out.Seconds = time.Since(start).Seconds()
	text := markdownTables(out, bitList, rowList)
	if *md != "" {
		if err := os.WriteFile(*md, []byte(text), 0o644); err != nil {
			return err
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	_, err = io.WriteString(stdout, text)
	return err
}

func markdownTables(out tableOutput, bits []string, rows []ptq.Row) string {
	var b strings.Builder
	timed := false // rows beyond the paper show each cell's quantization wall time
	for _, r := range rows {
		for _, br := range ptq.BeyondRows {
			timed = timed || r.Name == br.Name
		}
	}
	head := "top-1 (agreement)"
	if timed {
		head += " time"
	}
	for _, t := range out.Tables {
		calib := fmt.Sprintf("calibrated on %d images", t.CalibImages)
		if t.CalibImages == 0 {
			calib = "calibrated data-free, from the batch norms' statistics"
		}
		fmt.Fprintf(&b, "### %s — FP32 top-1 %.2f%%, top-5 %.2f%% on %d images (%s)\n\n", t.Model, t.FP32Top1, t.FP32Top5, t.Images, calib)
		b.WriteString("| method |")
		for _, bs := range bits {
			fmt.Fprintf(&b, " %s %s |", bs, head)
		}
		b.WriteString("\n|---|")
		for range bits {
			b.WriteString("---|")
		}
		b.WriteString("\n")
		for _, r := range rows {
			fmt.Fprintf(&b, "| %s |", r.Name)
			for _, bs := range bits {
				if c := t.Cell(r.Name, bs); c != nil {
					fmt.Fprintf(&b, " %.2f (%.1f)", c.Top1, c.Agreement)
					if timed {
						fmt.Fprintf(&b, " %.0f s", c.Seconds)
					}
					b.WriteString(" |")
				} else {
					b.WriteString(" – |")
				}
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "Command: `%s` (calibration %s, test %s); wall time %.0f s.\n", out.Command, out.Calib, out.Data, out.Seconds)
	return b.String()
}

func rowNames() string {
	var names []string
	for _, r := range ptq.AllRows() {
		names = append(names, r.Name)
	}
	return strings.Join(names, ", ")
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// kernelCounts prints the engine's layers by kernel, "int32-folded 3, qconv 17", sorted.
func kernelCounts(k map[string]int) string {
	names := slices.Sorted(maps.Keys(k))
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d", n, k[n])
	}
	return strings.Join(parts, ", ")
}

// roundingProgress prints learned rounding's work layer by layer: the reconstruction error of
// nearest and of learned rounding, the weights rounded the other way, the wall time.
func roundingProgress(w io.Writer) ptq.RoundingProgress {
	return func(layer string, done, total int, r ptq.RoundingReport) {
		kept := ""
		if r.Kept {
			kept = " (nearest kept in a part)"
		}
		fmt.Fprintf(w, "learned rounding %d/%d %s: loss %.4g -> %.4g, %d weights flipped, %.1f s%s\n", done, total, layer, r.NearestLoss, r.Loss, r.Flipped, r.Seconds, kept)
	}
}
