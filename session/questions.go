package session

import (
	"encoding/json"
	"fmt"
	"math"

	"fourbit/engine"
	"fourbit/nn"
	"fourbit/ptq"
)

// Answer is one of the questions the paper raises, answered on the loaded model: variants of
// the base options, each quantized from the same calibration and scored on the same images,
// with the figures its picture needs.
type Answer struct {
	ID       int       `json:"id"`
	Question string    `json:"question"`
	Variants []Variant `json:"variants"`
	// Shift (question 4) is the layer whose output channels' weight means quantization moved
	// the most, before and after bias correction.
	Shift *MeanShift `json:"shift,omitempty"`
}

// Variant is one set of options and what it gives.
type Variant struct {
	Name      string          `json:"name"`
	Options   ptq.Options     `json:"options"`
	Result    *ptq.EvalResult `json:"result"`
	Agreement float64         `json:"agreement"` // with FP32, %
	// NegativeCodes (question 3) is the share of the fused ReLUs' codes that stand for
	// negative values — values a ReLU never outputs — averaged over their channels.
	NegativeCodes float64 `json:"negative_codes"`
	// Engine (question 5) is the integer engine of the variant, scored on the same images
	// on one thread.
	Engine *EngineCost `json:"engine,omitempty"`
}

// EngineCost is what a plan costs on integer hardware, as fourbit's engine runs it.
type EngineCost struct {
	PackedBytes  int             `json:"packed_bytes"`
	FloatBytes   int             `json:"float_bytes"`
	Kernels      map[string]int  `json:"kernels"`
	Result       *ptq.EvalResult `json:"result"` // its top-1 and images/s
	ImagesPerSec float64         `json:"images_per_sec"`
}

// MeanShift is one layer's per-output-channel weight mean: float, quantized, and quantized
// with bias correction, and the mean absolute shift from the float mean before and after.
type MeanShift struct {
	Layer       string    `json:"layer"`
	Float       []float64 `json:"float"`
	Quantized   []float64 `json:"quantized"`
	Corrected   []float64 `json:"corrected"`
	ShiftBefore float64   `json:"shift_before"`
	ShiftAfter  float64   `json:"shift_after"`
}

// Questions answers the five questions a reader of the paper asks, on the loaded model with
// its calibration, around the options base, on the first limit labelled images of src (all
// for limit ≤ 0): (1) ACIQ or simple k·σ clipping; (2) per-channel or per-tensor ranges;
// (3) signed or unsigned codes after a ReLU; (4) why bias correction helps; (5) what PCBA and
// per-channel activations cost on integer hardware. The session's own quantization is left as
// it was. progress is told how many of the variants are done.
func (s *Session) Questions(base ptq.Options, src ptq.Source, limit int, progress ptq.Progress) (out []Answer, err error) {
	defer guard(&err)
	if err := need(s.cal != nil, "calibrate before asking"); err != nil {
		return nil, err
	}
	if err := base.Validate(); err != nil {
		return nil, fmt.Errorf("questions: %w", err)
	}
	vary := func(f func(o *ptq.Options)) ptq.Options {
		o := base
		f(&o)
		return o
	}
	perTensor := func(o *ptq.Options) {
		o.WeightPerChannel, o.ActPerChannel, o.PCBAWeights, o.PCBAActs = false, false, false, false
	}
	engineBase := vary(func(o *ptq.Options) {
		o.ActPerChannel, o.PCBAWeights, o.PCBAActs = true, true, true
		o.CarryBits = max(o.CarryBits, 8)
	})
	type variant struct {
		name   string
		opts   ptq.Options
		engine bool
	}
	questions := []struct {
		question string
		variants []variant
	}{
		{"ACIQ or simple ±2σ / 3σ clipping?", []variant{
			{"no clipping (min-max)", vary(func(o *ptq.Options) { o.Clip = "none" }), false},
			{"2σ clip", vary(func(o *ptq.Options) { o.Clip = "ksigma:2" }), false},
			{"3σ clip", vary(func(o *ptq.Options) { o.Clip = "ksigma:3" }), false},
			{"ACIQ (Laplace)", vary(func(o *ptq.Options) { o.Clip = "aciq-laplace" }), false},
		}},
		{"Per channel or per tensor (layer-wise)?", []variant{
			{"per tensor", vary(perTensor), false},
			{"weights per channel", vary(func(o *ptq.Options) {
				o.WeightPerChannel, o.ActPerChannel, o.PCBAActs = true, false, false
			}), false},
			{"weights and activations per channel", vary(func(o *ptq.Options) { o.WeightPerChannel, o.ActPerChannel = true, true }), false},
		}},
		{"Signed or unsigned codes after a ReLU (half range)?", []variant{
			{"signed: the layer's output, two-sided", vary(func(o *ptq.Options) { o.HalfRange = false }), false},
			{"unsigned: the ReLU's output over [0, α]", vary(func(o *ptq.Options) { o.HalfRange = true }), false},
		}},
		{"Why does bias correction help?", []variant{
			{"no bias correction", vary(func(o *ptq.Options) { o.BiasCorrect = "off" }), false},
			{"mean", vary(func(o *ptq.Options) { o.BiasCorrect = "mean" }), false},
			{"mean + norm", vary(func(o *ptq.Options) { o.BiasCorrect = "mean+norm" }), false},
		}},
		{"What do PCBA and per-channel activations cost on integer hardware?", []variant{
			{"per-channel activations + PCBA (the paper)", engineBase, true},
			{"per-tensor activations, no PCBA", vary(func(o *ptq.Options) {
				o.ActPerChannel, o.PCBAWeights, o.PCBAActs = false, false, false
				o.CarryBits = max(o.CarryBits, 8)
			}), true},
		}},
	}
	total := 1
	for _, q := range questions {
		total += len(q.variants)
	}
	done := 0
	step := func() {
		done++
		if progress != nil {
			progress(done, total)
		}
	}
	fp, err := ptq.Evaluate(s.g, src, limit, s.batch, nil, nil)
	if err != nil {
		return nil, err
	}
	step()
	// The same options recur across questions (the base, mostly): quantize and score once.
	type scored struct {
		q   *ptq.Quantized
		res *ptq.EvalResult
	}
	cache := map[string]scored{}
	score := func(o ptq.Options) (scored, error) {
		key, _ := json.Marshal(o)
		if c, ok := cache[string(key)]; ok {
			return c, nil
		}
		q, err := ptq.Quantize(s.g, s.cal, o)
		if err != nil {
			return scored{}, err
		}
		res, err := ptq.Evaluate(q.Graph, src, limit, s.batch, q.Hook(), nil)
		if err != nil {
			return scored{}, err
		}
		cache[string(key)] = scored{q, res}
		return cache[string(key)], nil
	}
	for i, q := range questions {
		a := Answer{ID: i + 1, Question: q.question}
		for _, v := range q.variants {
			sc, err := score(v.opts)
			if err != nil {
				return nil, fmt.Errorf("question %d, %s: %w", i+1, v.name, err)
			}
			vr := Variant{Name: v.name, Options: v.opts, Result: sc.res, Agreement: ptq.Agreement(fp, sc.res),
				NegativeCodes: negativeCodes(sc.q)}
			if v.engine {
				if vr.Engine, err = engineCost(sc.q, src, limit, s.batch); err != nil {
					return nil, fmt.Errorf("question %d, %s: %w", i+1, v.name, err)
				}
			}
			a.Variants = append(a.Variants, vr)
			step()
		}
		if i == 3 {
			off, _ := score(q.variants[0].opts)
			on, _ := score(q.variants[1].opts)
			a.Shift = meanShift(off.q, on.q)
		}
		out = append(out, a)
	}
	return out, nil
}

// negativeCodes is the share of codes below the zero point in the quantizers of the points
// that fuse a ReLU, averaged over their channels (0 with unsigned codes).
func negativeCodes(q *ptq.Quantized) float64 {
	var sum float64
	n := 0
	for _, a := range q.Plan.Acts {
		if a.Relu == "" || a.LeakyAlpha != 0 {
			continue
		}
		for _, qz := range a.Quantizers() {
			if levels := float64(qz.QMax-qz.QMin) + 1; qz.Scale > 0 {
				sum += (qz.Zero - float64(qz.QMin)) / levels
				n++
			}
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// engineCost builds q's integer engine and scores it on src.
func engineCost(q *ptq.Quantized, src ptq.Source, limit, batch int) (*EngineCost, error) {
	net, err := engine.Build(q)
	if err != nil {
		return nil, err
	}
	g := q.Graph
	res, err := ptq.EvaluateFunc(net.Forward, nn.Size(g.Input().Shape), nn.Size(g.Output().Shape), src, limit, batch, nil)
	if err != nil {
		return nil, err
	}
	c := &EngineCost{Kernels: net.KernelCounts(), Result: res, ImagesPerSec: res.ImagesPerSec}
	c.PackedBytes, c.FloatBytes = net.Sizes()
	return c, nil
}

// meanShift picks the layer whose per-channel weight means quantization moved the most
// (mean |E[Q] − E[W]| in units of the layer's spread of means) and returns its means
// without (off) and with (on) bias correction.
func meanShift(off, on *ptq.Quantized) *MeanShift {
	var best *MeanShift
	bestScore := -1.0
	for _, w := range off.Plan.Weights {
		c, ok := on.Weights(w.Layer)
		if !ok || len(w.MeanBefore) < 2 {
			continue
		}
		m := &MeanShift{Layer: w.Layer, Float: w.MeanBefore, Quantized: w.MeanQuant, Corrected: c.MeanCorrected}
		var spread float64
		for i := range w.MeanBefore {
			m.ShiftBefore += math.Abs(w.MeanQuant[i] - w.MeanBefore[i])
			m.ShiftAfter += math.Abs(c.MeanCorrected[i] - w.MeanBefore[i])
			spread += math.Abs(w.MeanBefore[i])
		}
		k := float64(len(w.MeanBefore))
		m.ShiftBefore, m.ShiftAfter = m.ShiftBefore/k, m.ShiftAfter/k
		if score := m.ShiftBefore / (spread/k + 1e-12); score > bestScore {
			best, bestScore = m, score
		}
	}
	return best
}
