package quant

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// roundingCase is a small layer fitting problem: 6 output channels of 20 weights at 3 bits,
// inputs with a ReLU-like (non-negative, skewed) distribution, targets the float layer's.
func roundingCase(seed uint64, relu bool) ([]float32, []WeightRow, Reconstruction) {
	r := rand.New(rand.NewPCG(seed, 1))
	const out, k, n = 6, 20, 300
	w := make([]float32, out*k)
	for i := range w {
		w[i] = float32(r.NormFloat64() * 0.3)
	}
	bias := make([]float32, out)
	for i := range bias {
		bias[i] = float32(r.NormFloat64() * 0.1)
	}
	x := make([]float32, n*k)
	for i := range x {
		x[i] = float32(math.Max(0, r.NormFloat64()+0.3))
	}
	rows := make([]WeightRow, out)
	for i := range rows {
		lo, hi := float64(slices.Min(w[i*k:(i+1)*k])), float64(slices.Max(w[i*k:(i+1)*k]))
		q, _ := NewAffine(lo, hi, Levels(3))
		rows[i] = QuantizeRow(w[i*k:(i+1)*k], q)
	}
	t := make([]float32, n*out)
	for s := 0; s < n; s++ {
		for o := 0; o < out; o++ {
			v := bias[o]
			for j := 0; j < k; j++ {
				v += w[o*k+j] * x[s*k+j]
			}
			if relu && v < 0 {
				v = 0
			}
			t[s*out+o] = v
		}
	}
	return w, rows, Reconstruction{X: x, Target: t, N: n, K: k, Bias: bias, ReLU: relu}
}

// TestRoundingGradient checks the gradient of the objective (reconstruction, with and
// without the ReLU, plus the regulariser) against central differences.
func TestRoundingGradient(t *testing.T) {
	for _, tc := range []struct {
		name         string
		relu         bool
		beta, lambda float64
	}{
		{"linear", false, 0, 0},
		{"relu", true, 0, 0},
		{"relu + regulariser", true, 8, 0.05},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, rows, rec := roundingCase(3, tc.relu)
			p := newRoundingProblem(w, rows, rec, RoundingOptions{}.withDefaults())
			r := rand.New(rand.NewPCG(9, 9))
			for i := range p.v {
				p.v[i] += r.NormFloat64() * 0.5 // away from the start, where h = the float rest
			}
			idx := make([]int, 64)
			for i := range idx {
				idx[i] = i * 3
			}
			gv := make([]float64, len(p.v))
			p.gradient(idx, tc.beta, tc.lambda, p.workspace(len(idx)), gv)
			checked := 0
			for _, at := range []int{0, 7, 19, 33, 58, 77, 101, 119} {
				if _, dh := rectSigmoid(p.v[at]); dh == 0 {
					continue // h is clipped: flat
				}
				const h = 1e-3
				v := p.v[at]
				p.v[at] = v + h
				up := p.objective(idx, tc.beta, tc.lambda)
				p.v[at] = v - h
				down := p.objective(idx, tc.beta, tc.lambda)
				p.v[at] = v
				num := (up - down) / (2 * h)
				if d := math.Abs(num - gv[at]); d > 0.02*math.Max(math.Abs(num), 1e-2) {
					t.Errorf("weight %d: gradient %.6g, central difference %.6g", at, gv[at], num)
				}
				checked++
			}
			if checked < 4 {
				t.Fatalf("only %d weights checked", checked)
			}
		})
	}
}

// TestLearnRounding: learned rounding reconstructs better than nearest rounding, moves some
// weights the other way, is never worse than nearest (it keeps nearest when it would be), and
// is deterministic for a seed.
func TestLearnRounding(t *testing.T) {
	w, rows, rec := roundingCase(5, true)
	o := RoundingOptions{Iterations: 400, Batch: 128, Seed: 1}
	a, res, err := LearnRounding(w, rows, rec, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("nearest %.4g, learned %.4g, %d of %d weights flipped", res.NearestLoss, res.Loss, res.Flipped, len(w))
	if res.Kept || res.Loss >= res.NearestLoss || res.Flipped == 0 {
		t.Errorf("learned rounding did not improve: %+v", res)
	}
	b, _, err := LearnRounding(w, rows, rec, o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if !slices.Equal(a[i].Codes, b[i].Codes) {
			t.Fatalf("row %d: two runs with one seed differ", i)
		}
	}
	// Codes stay within each row's range and move by at most one step from the floor.
	for i, row := range a {
		for j, c := range row.Codes {
			near := rows[i].Codes[j]
			if int32(c) < row.Q.QMin || int32(c) > row.Q.QMax || math.Abs(float64(c)-float64(near)) > 1 {
				t.Errorf("row %d weight %d: code %d (nearest %d)", i, j, c, near)
			}
		}
	}
	// A problem nearest rounding already solves exactly: nothing to gain, nearest is kept.
	exact := rec
	exact.Target = make([]float32, len(rec.Target))
	wq := make([]float32, len(w))
	for i, row := range rows {
		row.Weights(wq[i*rec.K : (i+1)*rec.K])
	}
	for s := 0; s < rec.N; s++ {
		for o := range rows {
			v := rec.Bias[o]
			for j := 0; j < rec.K; j++ {
				v += wq[o*rec.K+j] * rec.X[s*rec.K+j]
			}
			exact.Target[s*len(rows)+o] = max(v, 0)
		}
	}
	c, res, err := LearnRounding(w, rows, exact, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Loss > res.NearestLoss {
		t.Errorf("worse than nearest: %+v", res)
	}
	if res.Kept {
		for i := range c {
			if !slices.Equal(c[i].Codes, rows[i].Codes) {
				t.Fatalf("kept nearest but row %d changed", i)
			}
		}
	}
	if _, _, err := LearnRounding(w, rows, Reconstruction{X: rec.X, Target: rec.Target, N: rec.N, K: rec.K + 1}, o); err == nil {
		t.Error("mismatched sizes accepted")
	}
}
