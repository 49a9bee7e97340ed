package ptq

import (
	"fmt"
	"math"
	"sort"

	"fourbit/nn"
)

// LayerError compares one quantized activation with its float counterpart on the same
// images. SQNR is 10·log10(Σx² / Σ(x − x̂)²) in dB; it is absent (nil) when the activation is
// exact — an unquantized node, or a layer kept in float with nothing quantized before it.
type LayerError struct {
	Layer  string   `json:"layer"`
	Node   string   `json:"node"`
	SQNR   *float64 `json:"sqnr_db"`
	Cosine float64  `json:"cosine"`
	RelMSE float64  `json:"rel_mse"` // Σ(x − x̂)² / Σx²
	// The same with only the weights quantized (activations float), and with only the
	// activations quantized (weights float): which of the two hurts this layer.
	SQNRWeights *float64 `json:"sqnr_weights_db"`
	SQNRActs    *float64 `json:"sqnr_acts_db"`
	// Layer-isolated errors: this layer alone, fed the float network's exact input, so that
	// nothing upstream contributes. LocalWeights is its output with only its own weights
	// quantized, LocalInput with only its input activation quantized (absent when the input
	// is not a quantized tensor), LocalOutput the quantization of its own output activation,
	// and Local all three together — the noise this layer injects.
	Local        *float64 `json:"local_db"`
	LocalWeights *float64 `json:"local_weights_db"`
	LocalInput   *float64 `json:"local_input_db"`
	LocalOutput  *float64 `json:"local_output_db"`
}

// localAcc accumulates a layer's isolated errors.
type localAcc struct{ all, w, in, out errAcc }

// isolate measures layer n (with its quantized counterpart qn) alone on one batch: x is its
// float input, y its float output, z the float value at node (y or its fused ReLU).
func isolate(a *localAcc, q *Quantized, n, qn *nn.Node, node string, x, y, z []float32, b int) error {
	hook := q.Hook()
	inShapes := [][]int{n.Inputs[0].Shape}
	run := func(op nn.Op, in []float32) []float32 {
		out := make([]float32, len(y))
		op.Forward(out, [][]float32{in}, inShapes, n.Shape, b)
		return out
	}
	post := func(v []float32) ([]float32, error) { // the ReLU (if fused) and the output quantizer
		if node != n.Name {
			for i, x := range v {
				v[i] = max(x, 0)
			}
		}
		return v, hook(&nn.Node{Name: node}, v, b)
	}
	// Only the weights.
	yw := run(qn.Op, x)
	a.w.add(y, yw)
	// Only the input activation, when the input is quantized.
	xq := append([]float32(nil), x...)
	if err := hook(n.Inputs[0], xq, b); err != nil {
		return err
	}
	a.in.add(y, run(n.Op, xq))
	// Only the output activation.
	zq, err := post(append([]float32(nil), y...))
	if err != nil {
		return err
	}
	a.out.add(z, zq)
	// All three.
	za, err := post(run(qn.Op, xq))
	if err != nil {
		return err
	}
	a.all.add(z, za)
	return nil
}

type errAcc struct{ xx, dd, xy, yy float64 }

func (a *errAcc) add(x, y []float32) {
	for i := range x {
		xf, yf := float64(x[i]), float64(y[i])
		a.xx += xf * xf
		a.yy += yf * yf
		a.xy += xf * yf
		a.dd += (xf - yf) * (xf - yf)
	}
}

func (a *errAcc) sqnr() *float64 {
	if a.dd == 0 {
		return nil
	}
	v := 10 * math.Log10(a.xx/a.dd)
	return &v
}

// Debug runs the float network and three quantized variants (all quantized, weights only,
// activations only) side by side on the first n images of src, and returns, for every
// quantization point, how far the quantized activation is from the float one, and what the
// layer alone injects (LayerError.Local and its split), worst injector first.
// Memory stays bounded: one batch of activations at a time.
func Debug(g *nn.Graph, cal *Calibration, src Source, opts Options, n, batch int) ([]LayerError, error) {
	q, err := Quantize(g, cal, opts)
	if err != nil {
		return nil, err
	}
	if n <= 0 || n > src.Len() {
		n = src.Len()
	}
	if batch <= 0 {
		batch = DefaultBatch
	}
	// The node of each point: the quantized output, or the layer's output when it is float.
	nodeOf := map[string]string{}
	for _, p := range cal.Points {
		nodeOf[p.QuantizedNode(opts.HalfRange)] = p.Layer
	}
	full, wOnly, aOnly := map[string]*errAcc{}, map[string]*errAcc{}, map[string]*errAcc{}
	local := map[string]*localAcc{}
	keepRef := map[string]bool{} // the float tensors the isolated measurements need
	for node, layer := range nodeOf {
		full[node], wOnly[node], aOnly[node] = &errAcc{}, &errAcc{}, &errAcc{}
		local[node] = &localAcc{}
		ln := g.Node(layer)
		keepRef[node], keepRef[layer] = true, true
		if len(ln.Inputs) == 1 {
			keepRef[ln.Inputs[0].Name] = true
		}
	}
	per := nn.Size(g.Input().Shape)
	err = batches(src, n, batch, per, func(x []float32, _ []int, lo, hi int) error {
		ref := map[string][]float32{}
		if _, err := g.Forward(x, hi-lo, func(nd *nn.Node, out []float32, _ int) error {
			if keepRef[nd.Name] {
				ref[nd.Name] = append([]float32(nil), out...)
			}
			return nil
		}); err != nil {
			return err
		}
		for node, layer := range nodeOf {
			ln := g.Node(layer)
			if len(ln.Inputs) != 1 {
				continue
			}
			if err := isolate(local[node], q, ln, q.Graph.Node(layer), node, ref[ln.Inputs[0].Name], ref[layer], ref[node], hi-lo); err != nil {
				return err
			}
		}
		compare := func(accs map[string]*errAcc, quantize nn.Hook) nn.Hook {
			return func(nd *nn.Node, out []float32, b int) error {
				if quantize != nil {
					if err := quantize(nd, out, b); err != nil {
						return err
					}
				}
				if a, ok := accs[nd.Name]; ok {
					a.add(ref[nd.Name], out)
				}
				return nil
			}
		}
		for _, run := range []struct {
			graph *nn.Graph
			hook  nn.Hook
		}{{q.Graph, compare(full, q.Hook())}, {q.Graph, compare(wOnly, nil)}, {g, compare(aOnly, q.Hook())}} {
			if _, err := run.graph.Forward(x, hi-lo, run.hook); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []LayerError
	for node, layer := range nodeOf {
		a := full[node]
		la := local[node]
		le := LayerError{Layer: layer, Node: node, SQNR: a.sqnr(), SQNRWeights: wOnly[node].sqnr(), SQNRActs: aOnly[node].sqnr(),
			Local: la.all.sqnr(), LocalWeights: la.w.sqnr(), LocalInput: la.in.sqnr(), LocalOutput: la.out.sqnr()}
		if a.xx > 0 {
			le.RelMSE = a.dd / a.xx
		}
		if a.xx > 0 && a.yy > 0 {
			le.Cosine = a.xy / math.Sqrt(a.xx*a.yy)
		} else if a.dd == 0 {
			le.Cosine = 1
		}
		out = append(out, le)
	}
	// Worst first by what each layer injects on its own: the cumulative SQNR only grows
	// worse with depth and would name the last layers whatever their share.
	sort.Slice(out, func(i, j int) bool {
		si, sj := out[i].Local, out[j].Local
		switch {
		case si == nil || sj == nil:
			if (si == nil) != (sj == nil) {
				return sj == nil
			}
		case *si != *sj:
			return *si < *sj
		}
		return out[i].Node < out[j].Node
	})
	return out, nil
}

// Sensitivity is the effect of quantizing one layer alone (all others float).
type Sensitivity struct {
	Layer     string  `json:"layer"`
	Top1      float64 `json:"top1"`
	Agreement float64 `json:"agreement"` // % of images with the float network's prediction
	Drop      float64 `json:"drop"`      // FP32 top-1 − this top-1
}

// LayerSensitivity quantizes one layer at a time (its weights and its output activation;
// every other layer kept float) and measures top-1 and agreement with FP32 on the first limit
// images of src; the most sensitive layer comes first.
func LayerSensitivity(g *nn.Graph, cal *Calibration, src Source, opts Options, limit int, progress Progress) ([]Sensitivity, *EvalResult, error) {
	fp, err := Evaluate(g, src, limit, 0, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	layers := Layers(g)
	var out []Sensitivity
	for i, layer := range layers {
		o := opts
		o.Keep = map[string]Keep{}
		for _, other := range layers {
			if other != layer {
				o.Keep[other] = Keep{Float: true}
			}
		}
		q, err := Quantize(g, cal, o)
		if err != nil {
			return nil, nil, fmt.Errorf("sensitivity of %s: %w", layer, err)
		}
		res, err := Evaluate(q.Graph, src, limit, 0, q.Hook(), nil)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, Sensitivity{Layer: layer, Top1: res.Top1, Agreement: Agreement(fp, res), Drop: fp.Top1 - res.Top1})
		if progress != nil {
			progress(i+1, len(layers))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Agreement < out[j].Agreement })
	return out, fp, nil
}

// BudgetPoint is one point of the accuracy-vs-size curve of the automatic mixed precision.
type BudgetPoint struct {
	Budget    float64  `json:"budget"`    // the allowed mean weight bits
	MeanBits  float64  `json:"mean_bits"` // mean weight bits reached, over parameters
	Raised    []string `json:"raised"`    // layers raised to 8 bits
	Top1      float64  `json:"top1"`      // on the evaluation images
	Agreement float64  `json:"agreement"` // with FP32
}

// RaiseWithin returns the options that raise the most sensitive layers (sens, most sensitive
// first) to 8-bit weights and activations, in that order, while the mean weight bits over all
// quantized parameters stays within budget; layers that would overrun it are skipped.
func RaiseWithin(g *nn.Graph, opts Options, sens []Sensitivity, budget float64) (Options, float64, []string) {
	params, width := map[string]int{}, map[string]int{}
	total, bits := 0, 0.0
	for _, n := range g.Nodes {
		op, ok := n.Op.(nn.Weighted)
		if !ok {
			continue
		}
		ws, _, _ := op.Weights()
		p := len(ws)
		params[n.Name] = p
		total += p
		w := opts.WeightBits
		if len(n.Inputs) == 1 && n.Inputs[0] == g.Input() && opts.Keep8Bit {
			w = 8
		}
		width[n.Name] = w
		bits += float64(p * w)
	}
	out := opts
	out.Keep = map[string]Keep{}
	for k, v := range opts.Keep {
		out.Keep[k] = v
	}
	var raised []string
	for _, s := range sens {
		p, ok := params[s.Layer]
		if !ok {
			continue
		}
		add := float64(p * (8 - width[s.Layer]))
		if add <= 0 || (bits+add)/float64(total) > budget+1e-9 {
			continue
		}
		bits += add
		out.Keep[s.Layer] = Keep{WeightBits: 8, ActBits: 8}
		raised = append(raised, s.Layer)
	}
	return out, bits / float64(total), raised
}

// BudgetCurve measures RaiseWithin at each budget on the first limit images of src.
func BudgetCurve(g *nn.Graph, cal *Calibration, src Source, opts Options, sens []Sensitivity, fp *EvalResult, budgets []float64, limit int) ([]BudgetPoint, error) {
	var out []BudgetPoint
	for _, b := range budgets {
		o, mean, raised := RaiseWithin(g, opts, sens, b)
		q, err := Quantize(g, cal, o)
		if err != nil {
			return nil, err
		}
		res, err := Evaluate(q.Graph, src, limit, 0, q.Hook(), nil)
		if err != nil {
			return nil, err
		}
		out = append(out, BudgetPoint{Budget: b, MeanBits: mean, Raised: raised, Top1: res.Top1, Agreement: Agreement(fp, res)})
	}
	return out, nil
}
