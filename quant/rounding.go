package quant

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// Learned rounding (AdaRound: Nagel et al., "Up or Down? Adaptive Rounding for Post-Training
// Quantization", ICML 2020). Rounding each weight to its nearest code is optimal for the
// weights but not for what the layer computes: for a layer y = f(W·x + b) the choice of
// rounding each weight up or down can be fitted so that the quantized layer's output on
// calibration inputs matches the float output. Each weight's code is floor(w/s + z) + h(V),
// with h the rectified sigmoid
//
//	h(V) = clip(σ(V)·(ζ − γ) + γ, 0, 1),  ζ = 1.1, γ = −0.1,
//
// and V is optimised (Adam) on
//
//	‖f(W̃·x̃ + b) − f(W·x + b)‖² + λ·Σ (1 − |2h(V) − 1|^β),
//
// the reconstruction error on the quantized network's inputs x̃ plus a regulariser that
// drives every h to 0 or 1 as β is annealed from 20 to 2 (AdaRound eq. 21–24). The weight
// W̃ = ξ·s·(code − z) + β keeps the row's quantizer and its bias correction (WeightRow).

// RoundingOptions set learned rounding's optimisation.
type RoundingOptions struct {
	Iterations int     // Adam steps (default 500)
	Batch      int     // rows of the samples per step (default 256)
	Rate       float64 // Adam's learning rate (default 0.01)
	Lambda     float64 // weight of the rounding regulariser (default 0.01)
	Warmup     float64 // share of the steps without the regulariser (default 0.2)
	// Scale converts the mean squared error per sample row into the error per image (the
	// number of output positions per image the rows were sampled from), the scale the
	// regulariser's λ is set for. Default 1.
	Scale float64
	Seed  uint64
}

func (o RoundingOptions) withDefaults() RoundingOptions {
	if o.Iterations <= 0 {
		o.Iterations = 500
	}
	if o.Batch <= 0 {
		o.Batch = 256
	}
	if o.Rate <= 0 {
		o.Rate = 0.01
	}
	if o.Lambda <= 0 {
		o.Lambda = 0.01
	}
	if o.Warmup < 0 || o.Warmup >= 1 {
		o.Warmup = 0.2
	} else if o.Warmup == 0 {
		o.Warmup = 0.2
	}
	if o.Scale <= 0 {
		o.Scale = 1
	}
	return o
}

// Reconstruction is a layer's fitting problem: N sample rows of its input (X, N×K: the
// quantized network's inputs, x̃) and the float layer's outputs there (Target, N×Out:
// f(W·x + b) with x the float network's input), the bias, and the activation the output goes
// through (f: identity, or a ReLU clipped at ClipHi when that is > 0).
type Reconstruction struct {
	X      []float32
	Target []float32
	N, K   int
	Bias   []float32 // nil: none
	ReLU   bool
	ClipHi float32
}

// RoundingResult reports what learned rounding did to one layer.
type RoundingResult struct {
	NearestLoss float64 `json:"nearest_loss"` // reconstruction error per sample of nearest rounding
	Loss        float64 `json:"loss"`         // of the rounding returned
	Flipped     int     `json:"flipped"`      // weights rounded the other way than nearest
	Kept        bool    `json:"kept"`         // the learned rounding was not better: nearest was kept
}

// LearnRounding fits the codes of rows (one per output channel, K codes each, all of the
// same layer; their quantizers, gains and offsets are kept) to the reconstruction problem r
// and returns new rows. w holds the float weights (rows × K). The result is never worse than
// nearest rounding on r's samples: when the learned codes reconstruct worse, the rows come
// back unchanged.
func LearnRounding(w []float32, rows []WeightRow, r Reconstruction, o RoundingOptions) ([]WeightRow, RoundingResult, error) {
	o = o.withDefaults()
	out, k, n := len(rows), r.K, r.N
	switch {
	case out == 0 || k <= 0 || n <= 0:
		return nil, RoundingResult{}, errors.New("quant: learned rounding of an empty problem")
	case len(w) != out*k || len(r.X) != n*k || len(r.Target) != n*out || (r.Bias != nil && len(r.Bias) != out):
		return nil, RoundingResult{}, fmt.Errorf("quant: learned rounding: %d weights, %d inputs, %d targets for %d rows of %d and %d samples", len(w), len(r.X), len(r.Target), out, k, n)
	}
	for _, row := range rows {
		if len(row.Codes) != k {
			return nil, RoundingResult{}, fmt.Errorf("quant: learned rounding: a row of %d codes, want %d", len(row.Codes), k)
		}
	}
	p := newRoundingProblem(w, rows, r, o)
	res := RoundingResult{NearestLoss: p.loss(p.nearestWeights())}
	p.optimise()
	learned := p.hardRows()
	wl := make([]float32, out*k)
	for i, row := range learned {
		row.Weights(wl[i*k : (i+1)*k])
	}
	res.Loss = p.loss(wl)
	if !(res.Loss < res.NearestLoss) {
		res.Loss, res.Kept = res.NearestLoss, true
		return rows, res, nil
	}
	for i := range learned {
		for j, c := range learned[i].Codes {
			if c != rows[i].Codes[j] {
				res.Flipped++
			}
		}
	}
	return learned, res, nil
}

const (
	roundZeta  = 1.1
	roundGamma = -0.1
)

// rectSigmoid is h(V) and its derivative (0 where the clip is active).
func rectSigmoid(v float64) (h, dh float64) {
	s := 1 / (1 + math.Exp(-v))
	h = s*(roundZeta-roundGamma) + roundGamma
	switch {
	case h <= 0:
		return 0, 0
	case h >= 1:
		return 1, 0
	}
	return h, s * (1 - s) * (roundZeta - roundGamma)
}

type roundingProblem struct {
	w     []float32
	rows  []WeightRow
	r     Reconstruction
	o     RoundingOptions
	out   int
	k     int
	floor []float64 // floor(w/s + z) per weight
	v     []float64 // the rounding variables
	scale []float64 // ξ·s per row
	rng   *rand.Rand
}

func newRoundingProblem(w []float32, rows []WeightRow, r Reconstruction, o RoundingOptions) *roundingProblem {
	p := &roundingProblem{w: w, rows: rows, r: r, o: o, out: len(rows), k: r.K, rng: rand.New(rand.NewPCG(o.Seed, 0x5eed))}
	p.floor = make([]float64, len(w))
	p.v = make([]float64, len(w))
	p.scale = make([]float64, len(rows))
	for i, row := range rows {
		q := row.Q
		p.scale[i] = row.Gain * q.Scale
		for j := 0; j < p.k; j++ {
			at := i*p.k + j
			if q.Scale == 0 {
				p.floor[at] = float64(row.Codes[j])
				p.v[at] = -8 // h = 0: the one code
				continue
			}
			c := float64(w[at])/q.Scale + q.Zero
			f := math.Floor(c)
			rest := c - f
			if c < float64(q.QMin) || c > float64(q.QMax) {
				// Outside the range the code is the end one whatever h is: pin it.
				f, rest = float64(clampCode(math.Round(c), q.QMin, q.QMax)), 0
			}
			p.floor[at] = f
			// h(V) = rest at the start: the soft weight equals the float weight.
			rest = math.Min(math.Max(rest, 1e-4), 1-1e-4)
			p.v[at] = -math.Log((roundZeta-roundGamma)/(rest-roundGamma) - 1)
		}
	}
	return p
}

// code returns the soft code of weight at (row i) and dcode/dV.
func (p *roundingProblem) code(i, at int) (c, dc float64) {
	h, dh := rectSigmoid(p.v[at])
	c = p.floor[at] + h
	q := p.rows[i].Q
	if c < float64(q.QMin) {
		return float64(q.QMin), 0
	}
	if c > float64(q.QMax) {
		return float64(q.QMax), 0
	}
	return c, dh
}

func (p *roundingProblem) softWeights(dst []float32, dcode []float64) {
	for i, row := range p.rows {
		for j := 0; j < p.k; j++ {
			at := i*p.k + j
			c, dc := p.code(i, at)
			dst[at] = float32(row.Gain*(c-row.Q.Zero)*row.Q.Scale + row.Offset)
			dcode[at] = dc
		}
	}
}

func (p *roundingProblem) nearestWeights() []float32 {
	wq := make([]float32, len(p.w))
	for i, row := range p.rows {
		row.Weights(wq[i*p.k : (i+1)*p.k])
	}
	return wq
}

// hardRows rounds every h to 0 or 1.
func (p *roundingProblem) hardRows() []WeightRow {
	out := make([]WeightRow, len(p.rows))
	for i, row := range p.rows {
		nr := row
		nr.Codes = make([]uint8, p.k)
		for j := range nr.Codes {
			at := i*p.k + j
			c := p.floor[at]
			if h, _ := rectSigmoid(p.v[at]); h >= 0.5 {
				c++
			}
			nr.Codes[j] = uint8(clampCode(c, row.Q.QMin, row.Q.QMax))
		}
		out[i] = nr
	}
	return out
}

// forward computes y = f(X_b·Wᵀ + b) for the rows idx into y (len(idx) × out) and returns
// the squared error against the targets; with grad set it also writes dL/dy into grad.
func (p *roundingProblem) forward(wq []float32, idx []int, xb, y, grad []float32) float64 {
	b := len(idx)
	k, out := p.k, p.out
	for i, row := range idx {
		copy(xb[i*k:(i+1)*k], p.r.X[row*k:(row+1)*k])
	}
	blas32.Gemm(blas.NoTrans, blas.Trans, 1,
		blas32.General{Rows: b, Cols: k, Stride: k, Data: xb[:b*k]},
		blas32.General{Rows: out, Cols: k, Stride: k, Data: wq},
		0, blas32.General{Rows: b, Cols: out, Stride: out, Data: y[:b*out]})
	var sum float64
	for i, row := range idx {
		for c := 0; c < out; c++ {
			v := y[i*out+c]
			if p.r.Bias != nil {
				v += p.r.Bias[c]
			}
			d := float32(1)
			if p.r.ReLU {
				if v < 0 {
					v, d = 0, 0
				} else if p.r.ClipHi > 0 && v > p.r.ClipHi {
					v, d = p.r.ClipHi, 0
				}
			}
			e := v - p.r.Target[row*out+c]
			sum += float64(e) * float64(e)
			if grad != nil {
				grad[i*out+c] = 2 * e * d
			}
		}
	}
	return sum
}

// loss is the reconstruction error per image of weights wq over all the samples.
func (p *roundingProblem) loss(wq []float32) float64 {
	const chunk = 512
	xb := make([]float32, chunk*p.k)
	y := make([]float32, chunk*p.out)
	idx := make([]int, 0, chunk)
	var sum float64
	for lo := 0; lo < p.r.N; lo += chunk {
		idx = idx[:0]
		for i := lo; i < min(lo+chunk, p.r.N); i++ {
			idx = append(idx, i)
		}
		sum += p.forward(wq, idx, xb, y, nil)
	}
	return sum / float64(p.r.N) * p.o.Scale
}

// workspace holds the buffers of one gradient evaluation on b rows.
type workspace struct {
	wq, xb, y, grad, gw []float32
	dcode               []float64
}

func (p *roundingProblem) workspace(b int) *workspace {
	return &workspace{wq: make([]float32, len(p.w)), dcode: make([]float64, len(p.w)), xb: make([]float32, b*p.k),
		y: make([]float32, b*p.out), grad: make([]float32, b*p.out), gw: make([]float32, p.out*p.k)}
}

// gradient writes into gv the gradient with respect to V of the objective on the rows idx:
// the reconstruction error per image plus, when lambda > 0, the regulariser at beta.
func (p *roundingProblem) gradient(idx []int, beta, lambda float64, ws *workspace, gv []float64) {
	b := len(idx)
	k, out := p.k, p.out
	p.softWeights(ws.wq, ws.dcode)
	p.forward(ws.wq, idx, ws.xb, ws.y, ws.grad)
	// dL/dW = gradᵀ·X_b, scaled to the error per image.
	blas32.Gemm(blas.Trans, blas.NoTrans, float32(p.o.Scale/float64(b)),
		blas32.General{Rows: b, Cols: out, Stride: out, Data: ws.grad[:b*out]},
		blas32.General{Rows: b, Cols: k, Stride: k, Data: ws.xb[:b*k]},
		0, blas32.General{Rows: out, Cols: k, Stride: k, Data: ws.gw})
	for i := 0; i < out; i++ {
		for j := 0; j < k; j++ {
			at := i*k + j
			g := float64(ws.gw[at]) * p.scale[i] * ws.dcode[at]
			if lambda > 0 {
				h, dh := rectSigmoid(p.v[at])
				// d/dV of λ(1 − |u|^β), u = 2h − 1: −λβ|u|^(β−1)·sign(u)·2·dh.
				if u := 2*h - 1; u != 0 {
					g -= lambda * beta * math.Pow(math.Abs(u), beta-1) * math.Copysign(1, u) * 2 * dh
				}
			}
			gv[at] = g
		}
	}
}

// optimise runs Adam on V.
func (p *roundingProblem) optimise() {
	o := p.o
	b := min(o.Batch, p.r.N)
	ws := p.workspace(b)
	gv := make([]float64, len(p.v))
	m1 := make([]float64, len(p.v))
	m2 := make([]float64, len(p.v))
	idx := make([]int, b)
	const beta1, beta2, eps = 0.9, 0.999, 1e-8
	warm := int(o.Warmup * float64(o.Iterations))
	for it := 0; it < o.Iterations; it++ {
		for i := range idx {
			idx[i] = p.rng.IntN(p.r.N)
		}
		beta, lambda := 0.0, 0.0
		if it >= warm {
			// β anneals from 20 to 2 over the steps after the warm-up (AdaRound's schedule).
			t := float64(it-warm) / float64(max(o.Iterations-warm, 1))
			beta, lambda = 2+(20-2)*(1-t), o.Lambda
		}
		p.gradient(idx, beta, lambda, ws, gv)
		t := float64(it + 1)
		c1, c2 := 1-math.Pow(beta1, t), 1-math.Pow(beta2, t)
		for at, g := range gv {
			m1[at] = beta1*m1[at] + (1-beta1)*g
			m2[at] = beta2*m2[at] + (1-beta2)*g*g
			p.v[at] -= o.Rate * (m1[at] / c1) / (math.Sqrt(m2[at]/c2) + eps)
		}
	}
}

// objective is the objective LearnRounding minimises at V (reconstruction on the
// rows idx plus the regulariser at β and λ) — for the gradient check.
func (p *roundingProblem) objective(idx []int, beta, lambda float64) float64 {
	wq := make([]float32, len(p.w))
	dcode := make([]float64, len(p.w))
	p.softWeights(wq, dcode)
	xb := make([]float32, len(idx)*p.k)
	y := make([]float32, len(idx)*p.out)
	l := p.forward(wq, idx, xb, y, nil) / float64(len(idx)) * p.o.Scale
	if lambda > 0 {
		for _, v := range p.v {
			h, _ := rectSigmoid(v)
			l += lambda * (1 - math.Pow(math.Abs(2*h-1), beta))
		}
	}
	return l
}
