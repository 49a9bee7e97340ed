package ptq

import (
	"fmt"
	"time"

	"fourbit/nn"
)

// Row is one method of the results table: a name and how it changes the naive options.
type Row struct {
	Name  string
	Apply func(o Options) Options
}

// PaperRows are the rows of the paper's Table 1 (the methods alone and combined, all
// per-channel), followed by the baselines reviewers asked for (other clipping methods and
// per-tensor min-max).
var PaperRows = []Row{
	{"naive", func(o Options) Options { return o }},
	{"ACIQ", func(o Options) Options { o.Clip = "aciq-laplace"; return o }},
	{"PCBA", func(o Options) Options { o.PCBAWeights, o.PCBAActs = true, true; return o }},
	{"BC", func(o Options) Options { o.BiasCorrect = "mean"; return o }},
	{"ACIQ+PCBA", func(o Options) Options { o.Clip, o.PCBAWeights, o.PCBAActs = "aciq-laplace", true, true; return o }},
	{"ACIQ+BC", func(o Options) Options { o.Clip, o.BiasCorrect = "aciq-laplace", "mean"; return o }},
	{"PCBA+BC", func(o Options) Options { o.PCBAWeights, o.PCBAActs, o.BiasCorrect = true, true, "mean"; return o }},
	{"ACIQ+PCBA+BC", all3},
	{"2σ clip", func(o Options) Options { o.Clip = "ksigma:2"; return o }},
	{"3σ clip", func(o Options) Options { o.Clip = "ksigma:3"; return o }},
	{"percentile 99.99", func(o Options) Options { o.Clip = "percentile:99.99"; return o }},
	{"KL", func(o Options) Options { o.Clip = "kl"; return o }},
	{"MSE search", func(o Options) Options { o.Clip = "mse"; return o }},
	{"per-tensor min-max", func(o Options) Options { o.WeightPerChannel, o.ActPerChannel = false, false; return o }},
}

// all3 is the paper's three methods together.
func all3(o Options) Options {
	o.Clip, o.PCBAWeights, o.PCBAActs, o.BiasCorrect = "aciq-laplace", true, true, "mean"
	return o
}

// BeyondRows are methods published after the paper, measured against its ACIQ+PCBA+BC row
// ("Beyond the paper" in docs/results.md): MSE-optimal weight clipping per output channel,
// and learned rounding (AdaRound) alone on naive per-channel ranges and on top of the paper's
// methods. Run them by name (--rows); they are not in the default table.
var BeyondRows = []Row{
	{"ACIQ+PCBA+BC+MSE weights", func(o Options) Options { o = all3(o); o.WeightClip = "mse"; return o }},
	{"ACIQ+PCBA+empirical BC", func(o Options) Options { o = all3(o); o.BiasCorrect, o.EmpiricalBias = "off", true; return o }},
	{"ACIQ+PCBA+BC+empirical BC", func(o Options) Options { o = all3(o); o.EmpiricalBias = true; return o }},
	{"learned rounding", func(o Options) Options { o.Rounding = "learned"; return o }},
	{"ACIQ+PCBA+BC+learned", func(o Options) Options { o = all3(o); o.Rounding = "learned"; return o }},
	{"ACIQ+BC+learned", func(o Options) Options {
		o.Clip, o.BiasCorrect, o.Rounding = "aciq-laplace", "mean", "learned"
		return o
	}},
}

// AllRows returns PaperRows followed by BeyondRows: every row a table can be asked for.
func AllRows() []Row {
	return append(PaperRows[:len(PaperRows):len(PaperRows)], BeyondRows...)
}

// FindRows returns the rows with the given names (all of PaperRows for none), from PaperRows
// and BeyondRows.
func FindRows(names []string) ([]Row, error) {
	if len(names) == 0 {
		return PaperRows, nil
	}
	var out []Row
	for _, n := range names {
		found := false
		for _, r := range AllRows() {
			if r.Name == n {
				out, found = append(out, r), true
			}
		}
		if !found {
			var valid []string
			for _, r := range AllRows() {
				valid = append(valid, r.Name)
			}
			return nil, fmt.Errorf("unknown row %q (rows: %q)", n, valid)
		}
	}
	return out, nil
}

// Cell is one measured cell of the table.
type Cell struct {
	Row       string  `json:"row"`
	Bits      string  `json:"bits"`
	Top1      float64 `json:"top1"`
	Top5      float64 `json:"top5"`
	Agreement float64 `json:"agreement"` // % of images with the FP32 network's prediction
	// Seconds is the wall time of quantizing (making the plan, learned rounding included;
	// calibration and evaluation are not counted).
	Seconds float64 `json:"seconds"`
}

// Table is one network's block of the results table.
type Table struct {
	Model       string  `json:"model"`
	FP32Top1    float64 `json:"fp32_top1"`
	FP32Top5    float64 `json:"fp32_top5"`
	Images      int     `json:"images"`
	CalibImages int     `json:"calib_images"`
	Cells       []Cell  `json:"cells"`
}

// RunTable measures every row at every bit setting (e.g. "W4A4") on the first limit images of
// src, from one calibration of g. base supplies the options the rows do not set (naive
// otherwise: its methods are turned off before each row applies its own).
func RunTable(g *nn.Graph, cal *Calibration, src Source, base Options, bits []string, rows []Row, limit int, progress func(step, steps int, what string)) (*Table, error) {
	fp, err := Evaluate(g, src, limit, 0, nil, nil)
	if err != nil {
		return nil, err
	}
	t := &Table{FP32Top1: fp.Top1, FP32Top5: fp.Top5, Images: fp.Images, CalibImages: cal.Images}
	steps := len(bits) * len(rows)
	for bi, b := range bits {
		w, a, err := ParseBits(b)
		if err != nil {
			return nil, err
		}
		for ri, row := range rows {
			if progress != nil {
				progress(bi*len(rows)+ri, steps, b+" "+row.Name)
			}
			o := base.Naive()
			o.WeightBits, o.ActBits = w, a
			o = row.Apply(o)
			start := time.Now()
			q, err := Quantize(g, cal, o)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", b, row.Name, err)
			}
			secs := time.Since(start).Seconds()
			res, err := Evaluate(q.Graph, src, limit, 0, q.Hook(), nil)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", b, row.Name, err)
			}
			t.Cells = append(t.Cells, Cell{Row: row.Name, Bits: b, Top1: res.Top1, Top5: res.Top5, Agreement: Agreement(fp, res), Seconds: secs})
		}
	}
	if progress != nil {
		progress(steps, steps, "done")
	}
	return t, nil
}

// Cell returns the cell of a row and bit setting, or nil.
func (t *Table) Cell(row, bits string) *Cell {
	for i := range t.Cells {
		if t.Cells[i].Row == row && t.Cells[i].Bits == bits {
			return &t.Cells[i]
		}
	}
	return nil
}
