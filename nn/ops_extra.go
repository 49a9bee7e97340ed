package nn

import (
	"fmt"
	"math"
	"slices"
)

// Affine is a per-channel (or, with one value, whole-tensor) scale and shift: y = Scale·x +
// Shift. It holds the element-wise Mul, Div, Add and Sub by constants that exporters emit
// (input normalisation inside the model, say).
type Affine struct {
	Scale, Shift []float32 // one value, or one per channel
}

// Kind implements Op.
func (Affine) Kind() string { return "Affine" }

// OutShape implements Op.
func (a Affine) OutShape(in [][]int) ([]int, error) {
	if err := wantInputs(in, 1); err != nil {
		return nil, err
	}
	c := in[0][0]
	for _, v := range [][]float32{a.Scale, a.Shift} {
		if len(v) != 1 && len(v) != c {
			return nil, fmt.Errorf("%w: affine with %d values on %d channels", ErrGraph, len(v), c)
		}
	}
	return append([]int(nil), in[0]...), nil
}

// Forward implements Op.
func (a Affine) Forward(out []float32, ins [][]float32, inShapes [][]int, _ []int, batch int) {
	c := inShapes[0][0]
	inner := Size(inShapes[0]) / c
	at := func(v []float32, ch int) float32 {
		if len(v) == 1 {
			return v[0]
		}
		return v[ch]
	}
	for b := 0; b < batch; b++ {
		for ch := 0; ch < c; ch++ {
			s, t := at(a.Scale, ch), at(a.Shift, ch)
			off := (b*c + ch) * inner
			for i := off; i < off+inner; i++ {
				out[i] = ins[0][i]*s + t
			}
		}
	}
}

// Pad adds zeros around the height and width of a C×H×W map (ONNX Pad, constant mode).
type Pad struct{ T, L, B, R int }

// Kind implements Op.
func (Pad) Kind() string { return "Pad" }

// OutShape implements Op.
func (p Pad) OutShape(in [][]int) ([]int, error) {
	if err := wantInputs(in, 1); err != nil {
		return nil, err
	}
	if err := wantMap(in[0]); err != nil {
		return nil, err
	}
	const big = 1 << 16
	if p.T < 0 || p.L < 0 || p.B < 0 || p.R < 0 || p.T > big || p.L > big || p.B > big || p.R > big {
		return nil, fmt.Errorf("%w: padding %+v", ErrGraph, p)
	}
	return []int{in[0][0], in[0][1] + p.T + p.B, in[0][2] + p.L + p.R}, nil
}

// Forward implements Op.
func (p Pad) Forward(out []float32, ins [][]float32, inShapes [][]int, outShape []int, batch int) {
	c, h, w := inShapes[0][0], inShapes[0][1], inShapes[0][2]
	oh, ow := outShape[1], outShape[2]
	clear(out)
	for bc := 0; bc < batch*c; bc++ {
		for y := 0; y < h; y++ {
			copy(out[bc*oh*ow+(y+p.T)*ow+p.L:], ins[0][bc*h*w+y*w:bc*h*w+(y+1)*w])
		}
	}
}

// Softmax normalises the last axis of each image's tensor to probabilities (a vector of
// logits, most often). It does not change the ranking, so accuracy is the same with or without
// it.
type Softmax struct{}

// Kind implements Op.
func (Softmax) Kind() string { return "Softmax" }

// OutShape implements Op.
func (Softmax) OutShape(in [][]int) ([]int, error) {
	if err := wantInputs(in, 1); err != nil {
		return nil, err
	}
	return slices.Clone(in[0]), nil
}

// Forward implements Op.
func (Softmax) Forward(out []float32, ins [][]float32, inShapes [][]int, _ []int, batch int) {
	s := inShapes[0]
	n := s[len(s)-1]
	for r := 0; r < batch*Size(s)/n; r++ {
		x, y := ins[0][r*n:(r+1)*n], out[r*n:(r+1)*n]
		m := float32(math.Inf(-1))
		for _, v := range x {
			m = max(m, v)
		}
		var sum float64
		for i, v := range x {
			e := math.Exp(float64(v - m))
			y[i] = float32(e)
			sum += e
		}
		for i := range y {
			y[i] = float32(float64(y[i]) / sum)
		}
	}
}

// HardSigmoid is max(0, min(1, Alpha·x + Beta)) element-wise (ONNX HardSigmoid; MobileNetV3's
// gates).
type HardSigmoid struct{ Alpha, Beta float32 }

// Kind implements Op.
func (HardSigmoid) Kind() string { return "HardSigmoid" }

// OutShape implements Op.
func (HardSigmoid) OutShape(in [][]int) ([]int, error) { return elementwise(in) }

// Forward implements Op.
func (h HardSigmoid) Forward(out []float32, ins [][]float32, _ [][]int, _ []int, _ int) {
	for i, v := range ins[0] {
		out[i] = max(0, min(1, h.Alpha*v+h.Beta))
	}
}

// Mul multiplies two computed tensors element-wise; the second may be a C×1×1 map broadcast
// over the first's height and width (a squeeze-and-excitation gate).
type Mul struct{}

// Kind implements Op.
func (Mul) Kind() string { return "Mul" }

// OutShape implements Op.
func (Mul) OutShape(in [][]int) ([]int, error) {
	if err := wantInputs(in, 2); err != nil {
		return nil, err
	}
	a, b := in[0], in[1]
	if slices.Equal(a, b) {
		return slices.Clone(a), nil
	}
	if len(a) == 3 && len(b) == 3 && a[0] == b[0] && b[1] == 1 && b[2] == 1 {
		return slices.Clone(a), nil
	}
	return nil, fmt.Errorf("%w: multiply %v by %v (want equal shapes, or C×H×W by C×1×1)", ErrGraph, a, b)
}

// Forward implements Op.
func (Mul) Forward(out []float32, ins [][]float32, inShapes [][]int, _ []int, batch int) {
	a, b := ins[0], ins[1]
	if len(a) == len(b) {
		for i := range out {
			out[i] = a[i] * b[i]
		}
		return
	}
	c := inShapes[0][0]
	inner := Size(inShapes[0]) / c
	for bc := 0; bc < batch*c; bc++ {
		g := b[bc]
		for i := bc * inner; i < (bc+1)*inner; i++ {
			out[i] = a[i] * g
		}
	}
}

// Sigmoid is the logistic function 1/(1 + e^−x), element-wise (ONNX Sigmoid, TFLite LOGISTIC).
type Sigmoid struct{}

// Kind implements Op.
func (Sigmoid) Kind() string { return "Sigmoid" }

// OutShape implements Op.
func (Sigmoid) OutShape(in [][]int) ([]int, error) { return elementwise(in) }

// Forward implements Op.
func (Sigmoid) Forward(out []float32, ins [][]float32, _ [][]int, _ []int, _ int) {
	for i, x := range ins[0] {
		out[i] = float32(1 / (1 + math.Exp(-float64(x))))
	}
}

// Tanh is the hyperbolic tangent, element-wise.
type Tanh struct{}

// Kind implements Op.
func (Tanh) Kind() string { return "Tanh" }

// OutShape implements Op.
func (Tanh) OutShape(in [][]int) ([]int, error) { return elementwise(in) }

// Forward implements Op.
func (Tanh) Forward(out []float32, ins [][]float32, _ [][]int, _ []int, _ int) {
	for i, x := range ins[0] {
		out[i] = float32(math.Tanh(float64(x)))
	}
}
