package nn

import (
	"fmt"
	"math"
	"slices"
)

// The general tensor ops real exporters emit between the layers: reshapes and transposes of
// computed tensors, element-wise ops of two computed tensors with broadcasting, powers and
// square roots, means over axes, resizing, matrix products. Shapes are per image, of any
// rank; the batch is the leading axis every op keeps.

// Reshape gives a tensor another per-image shape of the same size; the values keep their
// row-major order (ONNX Reshape, Squeeze, Unsqueeze; TFLite RESHAPE).
type Reshape struct{ Shape []int }

// Kind implements Op.
func (Reshape) Kind() string { return "Reshape" }

// OutShape implements Op.
func (r Reshape) OutShape(in [][]int) ([]int, error) {
	if err := wantInputs(in, 1); err != nil {
		return nil, err
	}
	if len(r.Shape) == 0 || Size(r.Shape) != Size(in[0]) || slices.ContainsFunc(r.Shape, func(d int) bool { return d <= 0 }) {
		return nil, fmt.Errorf("%w: reshape of %v to %v", ErrGraph, in[0], r.Shape)
	}
	return slices.Clone(r.Shape), nil
}

// Forward implements Op.
func (Reshape) Forward(out []float32, ins [][]float32, _ [][]int, _ []int, _ int) { copy(out, ins[0]) }

// SourceChannel implements Selector when every output channel (along axis 0) lies inside one
// input channel: a reshape that splits or keeps channels, or flattens them into values.
func (r Reshape) SourceChannel(c int, in [][]int) (int, int, bool) {
	inInner := Size(in[0]) / in[0][0]
	outInner := Size(r.Shape) / r.Shape[0]
	for o := 0; o < r.Shape[0]; o++ {
		if o*outInner/inInner != ((o+1)*outInner-1)/inInner {
			return 0, 0, false
		}
	}
	return 0, c * outInner / inInner, true
}

// Transpose permutes a tensor's per-image axes: output axis i is input axis Perm[i].
type Transpose struct{ Perm []int }

// Kind implements Op.
func (Transpose) Kind() string { return "Transpose" }

// OutShape implements Op.
func (t Transpose) OutShape(in [][]int) ([]int, error) {
	if err := wantInputs(in, 1); err != nil {
		return nil, err
	}
	s := in[0]
	if len(t.Perm) != len(s) {
		return nil, fmt.Errorf("%w: transpose %v of a rank-%d tensor", ErrGraph, t.Perm, len(s))
	}
	seen := make([]bool, len(s))
	out := make([]int, len(s))
	for i, p := range t.Perm {
		if p < 0 || p >= len(s) || seen[p] {
			return nil, fmt.Errorf("%w: transpose %v is not a permutation", ErrGraph, t.Perm)
		}
		seen[p] = true
		out[i] = s[p]
	}
	return out, nil
}

// Forward implements Op.
func (t Transpose) Forward(out []float32, ins [][]float32, inShapes [][]int, outShape []int, batch int) {
	in := inShapes[0]
	n := Size(in)
	inStride := strides(in)
	// The input stride of each output axis.
	st := make([]int, len(in))
	for i, p := range t.Perm {
		st[i] = inStride[p]
	}
	idx := make([]int, len(in))
	for b := 0; b < batch; b++ {
		src, dst := ins[0][b*n:(b+1)*n], out[b*n:(b+1)*n]
		clear(idx)
		off := 0
		for o := range dst {
			dst[o] = src[off]
			for a := len(idx) - 1; a >= 0; a-- { // next output index, row-major
				idx[a]++
				off += st[a]
				if idx[a] < outShape[a] {
					break
				}
				off -= st[a] * idx[a]
				idx[a] = 0
			}
		}
	}
}

// SourceChannel implements Selector when the channel axis stays first.
func (t Transpose) SourceChannel(c int, _ [][]int) (int, int, bool) { return 0, c, t.Perm[0] == 0 }

func strides(shape []int) []int {
	s := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= shape[i]
	}
	return s
}

// Binary is an element-wise op of two computed tensors with NumPy broadcasting of their
// per-image shapes (aligned at the last axis; an axis of 1 repeats): ONNX Add, Sub, Mul, Div,
// Max, Min and Pow where the shapes differ.
type Binary struct {
	Fn string // add, sub, mul, div, max, min, pow
}

// Kind implements Op.
func (b Binary) Kind() string { return "Binary(" + b.Fn + ")" }

// BroadcastShape is NumPy's broadcast of two shapes, or false when they do not broadcast.
func BroadcastShape(a, b []int) ([]int, bool) {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := 0; i < n; i++ {
		da, db := 1, 1
		if k := len(a) - n + i; k >= 0 {
			da = a[k]
		}
		if k := len(b) - n + i; k >= 0 {
			db = b[k]
		}
		switch {
		case da == db, db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, false
		}
	}
	return out, true
}

// OutShape implements Op.
func (b Binary) OutShape(in [][]int) ([]int, error) {
	if err := wantInputs(in, 2); err != nil {
		return nil, err
	}
	if binaryFns[b.Fn] == nil {
		return nil, fmt.Errorf("%w: element-wise %q", ErrGraph, b.Fn)
	}
	out, ok := BroadcastShape(in[0], in[1])
	if !ok {
		return nil, fmt.Errorf("%w: %s of %v and %v: the shapes do not broadcast", ErrGraph, b.Fn, in[0], in[1])
	}
	return out, nil
}

var binaryFns = map[string]func(x, y float32) float32{
	"add": func(x, y float32) float32 { return x + y },
	"sub": func(x, y float32) float32 { return x - y },
	"mul": func(x, y float32) float32 { return x * y },
	"div": func(x, y float32) float32 { return x / y },
	"max": func(x, y float32) float32 { return max(x, y) },
	"min": func(x, y float32) float32 { return min(x, y) },
	"pow": func(x, y float32) float32 { return float32(math.Pow(float64(x), float64(y))) },
}

// Forward implements Op.
func (b Binary) Forward(out []float32, ins [][]float32, inShapes [][]int, outShape []int, batch int) {
	f := binaryFns[b.Fn]
	n := Size(outShape)
	sa, sb := broadcastStrides(inShapes[0], outShape), broadcastStrides(inShapes[1], outShape)
	na, nb := Size(inShapes[0]), Size(inShapes[1])
	idx := make([]int, len(outShape))
	for bt := 0; bt < batch; bt++ {
		x, y, dst := ins[0][bt*na:(bt+1)*na], ins[1][bt*nb:(bt+1)*nb], out[bt*n:(bt+1)*n]
		clear(idx)
		oa, ob := 0, 0
		for o := range dst {
			dst[o] = f(x[oa], y[ob])
			for a := len(idx) - 1; a >= 0; a-- {
				idx[a]++
				oa += sa[a]
				ob += sb[a]
				if idx[a] < outShape[a] {
					break
				}
				oa -= sa[a] * idx[a]
				ob -= sb[a] * idx[a]
				idx[a] = 0
			}
		}
	}
}

// broadcastStrides are the strides of shape s read as the (larger) shape out: 0 along the
// axes it repeats.
func broadcastStrides(s, out []int) []int {
	st := strides(s)
	res := make([]int, len(out))
	for i := range out {
		k := len(s) - len(out) + i
		if k >= 0 && s[k] != 1 {
			res[i] = st[k]
		}
	}
	return res
}

// Pow raises every value to a constant power (ONNX Pow with a constant exponent; Sqrt is
// the power ½, computed by math.Sqrt).
type Pow struct{ P float32 }

// Kind implements Op.
func (p Pow) Kind() string {
	if p.P == 0.5 {
		return "Sqrt"
	}
	return "Pow"
}

// OutShape implements Op.
func (Pow) OutShape(in [][]int) ([]int, error) { return elementwise(in) }

// Forward implements Op.
func (p Pow) Forward(out []float32, ins [][]float32, _ [][]int, _ []int, _ int) {
	for i, x := range ins[0] {
		switch p.P {
		case 0.5:
			out[i] = float32(math.Sqrt(float64(x)))
		case 2:
			out[i] = x * x
		default:
			out[i] = float32(math.Pow(float64(x), float64(p.P)))
		}
	}
}

// ReduceMean averages over the given per-image axes, keeping them as 1s with KeepDims.
type ReduceMean struct {
	Axes     []int
	KeepDims bool
}

// Kind implements Op.
func (ReduceMean) Kind() string { return "ReduceMean" }

// OutShape implements Op.
func (r ReduceMean) OutShape(in [][]int) ([]int, error) {
	if err := wantInputs(in, 1); err != nil {
		return nil, err
	}
	var out []int
	for i, d := range in[0] {
		if slices.Contains(r.Axes, i) {
			if r.KeepDims {
				out = append(out, 1)
			}
			continue
		}
		out = append(out, d)
	}
	for _, a := range r.Axes {
		if a < 0 || a >= len(in[0]) {
			return nil, fmt.Errorf("%w: mean over axis %d of a %v tensor", ErrGraph, a, in[0])
		}
	}
	if len(out) == 0 {
		out = []int{1}
	}
	return out, nil
}

// Forward implements Op.
func (r ReduceMean) Forward(out []float32, ins [][]float32, inShapes [][]int, outShape []int, batch int) {
	in := inShapes[0]
	n, m := Size(in), Size(outShape)
	// Each input index maps to the output index with the reduced axes dropped.
	st := make([]int, len(in))
	acc := 1
	for i := len(in) - 1; i >= 0; i-- {
		if !slices.Contains(r.Axes, i) {
			st[i] = acc
			acc *= in[i]
		}
	}
	count := float64(n / m)
	idx := make([]int, len(in))
	sums := make([]float64, m)
	for b := 0; b < batch; b++ {
		clear(sums)
		clear(idx)
		off := 0
		for _, v := range ins[0][b*n : (b+1)*n] {
			sums[off] += float64(v)
			for a := len(idx) - 1; a >= 0; a-- {
				idx[a]++
				off += st[a]
				if idx[a] < in[a] {
					break
				}
				off -= st[a] * idx[a]
				idx[a] = 0
			}
		}
		for i, s := range sums {
			out[b*m+i] = float32(s / count)
		}
	}
}

// Resize scales the height and width of a C×H×W map (ONNX Resize and Upsample): nearest or
// linear (bilinear) interpolation, with ONNX's coordinate transformations.
type Resize2D struct {
	Linear         bool
	ScaleH, ScaleW float32
	// Coordinates is asymmetric, half_pixel, pytorch_half_pixel or align_corners; Nearest
	// (for nearest) is floor, ceil, round_prefer_floor or round_prefer_ceil.
	Coordinates, Nearest string
}

// Kind implements Op.
func (r Resize2D) Kind() string {
	if r.Linear {
		return "Resize(linear)"
	}
	return "Resize(nearest)"
}

// OutShape implements Op.
func (r Resize2D) OutShape(in [][]int) ([]int, error) {
	if err := wantInputs(in, 1); err != nil {
		return nil, err
	}
	if err := wantMap(in[0]); err != nil {
		return nil, err
	}
	if !(r.ScaleH > 0 && r.ScaleW > 0 && r.ScaleH <= 64 && r.ScaleW <= 64) {
		return nil, fmt.Errorf("%w: resize by %v×%v", ErrGraph, r.ScaleH, r.ScaleW)
	}
	h, w := int(math.Floor(float64(in[0][1])*float64(r.ScaleH))), int(math.Floor(float64(in[0][2])*float64(r.ScaleW)))
	if h < 1 || w < 1 {
		return nil, fmt.Errorf("%w: resize of %v by %v×%v", ErrGraph, in[0], r.ScaleH, r.ScaleW)
	}
	return []int{in[0][0], h, w}, nil
}

// source maps an output coordinate to the input's (ONNX coordinate_transformation_mode).
func (r Resize2D) source(o, outN, inN int, scale float32) float64 {
	x := float64(o)
	s := float64(scale)
	switch r.Coordinates {
	case "half_pixel":
		return (x+0.5)/s - 0.5
	case "pytorch_half_pixel":
		if outN > 1 {
			return (x+0.5)/s - 0.5
		}
		return 0
	case "align_corners":
		if outN > 1 {
			return x * float64(inN-1) / float64(outN-1)
		}
		return 0
	}
	return x / s // asymmetric
}

func (r Resize2D) nearest(x float64, n int) int {
	var i float64
	switch r.Nearest {
	case "floor":
		i = math.Floor(x)
	case "ceil":
		i = math.Ceil(x)
	case "round_prefer_ceil":
		i = math.Floor(x + 0.5)
	default: // round_prefer_floor, ONNX's default
		i = math.Ceil(x - 0.5)
	}
	return min(max(int(i), 0), n-1)
}

// Forward implements Op.
func (r Resize2D) Forward(out []float32, ins [][]float32, inShapes [][]int, outShape []int, batch int) {
	c, ih, iw := inShapes[0][0], inShapes[0][1], inShapes[0][2]
	oh, ow := outShape[1], outShape[2]
	for bc := 0; bc < batch*c; bc++ {
		src, dst := ins[0][bc*ih*iw:(bc+1)*ih*iw], out[bc*oh*ow:(bc+1)*oh*ow]
		for y := 0; y < oh; y++ {
			sy := r.source(y, oh, ih, r.ScaleH)
			for x := 0; x < ow; x++ {
				sx := r.source(x, ow, iw, r.ScaleW)
				if !r.Linear {
					dst[y*ow+x] = src[r.nearest(sy, ih)*iw+r.nearest(sx, iw)]
					continue
				}
				fy, fx := min(max(sy, 0), float64(ih-1)), min(max(sx, 0), float64(iw-1))
				y0, x0 := int(fy), int(fx)
				y1, x1 := min(y0+1, ih-1), min(x0+1, iw-1)
				dy, dx := float32(fy-float64(y0)), float32(fx-float64(x0))
				top := src[y0*iw+x0]*(1-dx) + src[y0*iw+x1]*dx
				bot := src[y1*iw+x0]*(1-dx) + src[y1*iw+x1]*dx
				dst[y*ow+x] = top*(1-dy) + bot*dy
			}
		}
	}
}

// SourceChannel implements Selector for nearest resizing (every value is an input value).
func (r Resize2D) SourceChannel(c int, _ [][]int) (int, int, bool) { return 0, c, !r.Linear }

// MatMul multiplies two computed tensors as matrices over their last two per-image axes,
// broadcasting the leading ones (ONNX MatMul of two computed tensors: attention).
type MatMul struct{}

// Kind implements Op.
func (MatMul) Kind() string { return "MatMul" }

// OutShape implements Op.
func (MatMul) OutShape(in [][]int) ([]int, error) {
	if err := wantInputs(in, 2); err != nil {
		return nil, err
	}
	a, b := in[0], in[1]
	if len(a) < 2 || len(b) < 2 || a[len(a)-1] != b[len(b)-2] {
		return nil, fmt.Errorf("%w: matrix product of %v and %v", ErrGraph, a, b)
	}
	lead, ok := BroadcastShape(a[:len(a)-2], b[:len(b)-2])
	if !ok {
		return nil, fmt.Errorf("%w: matrix product of %v and %v: the leading axes do not broadcast", ErrGraph, a, b)
	}
	return append(lead, a[len(a)-2], b[len(b)-1]), nil
}

// Forward implements Op.
func (MatMul) Forward(out []float32, ins [][]float32, inShapes [][]int, outShape []int, batch int) {
	a, b := inShapes[0], inShapes[1]
	m, k, n := a[len(a)-2], a[len(a)-1], b[len(b)-1]
	lead := outShape[:len(outShape)-2]
	la := broadcastStrides(a[:len(a)-2], lead)
	lb := broadcastStrides(b[:len(b)-2], lead)
	na, nb, no := Size(a), Size(b), Size(outShape)
	mats := Size(lead)
	idx := make([]int, len(lead))
	for bt := 0; bt < batch; bt++ {
		x, y, dst := ins[0][bt*na:(bt+1)*na], ins[1][bt*nb:(bt+1)*nb], out[bt*no:(bt+1)*no]
		clear(idx)
		oa, ob := 0, 0
		for t := 0; t < mats; t++ {
			A, B, C := x[oa*m*k:], y[ob*k*n:], dst[t*m*n:]
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					var s float32
					for kk := 0; kk < k; kk++ {
						s += A[i*k+kk] * B[kk*n+j]
					}
					C[i*n+j] = s
				}
			}
			for ax := len(idx) - 1; ax >= 0; ax-- {
				idx[ax]++
				oa += la[ax]
				ob += lb[ax]
				if idx[ax] < lead[ax] {
					break
				}
				oa -= la[ax] * idx[ax]
				ob -= lb[ax] * idx[ax]
				idx[ax] = 0
			}
		}
	}
}

// ConvTranspose is a transposed 2-D convolution (ONNX ConvTranspose, TFLite TRANSPOSE_CONV):
// every input value spreads over a KH×KW window of the output. W holds one row per output
// channel, OutC × InC/Groups × KH × KW — the layout fourbit quantizes by output channel (ONNX's
// InC × OutC/Groups × KH × KW is transposed on import).
type ConvTranspose struct {
	W, B                   []float32
	OutC, KH, KW           int
	StrideH, StrideW       int
	DilH, DilW             int
	PadT, PadL, PadB, PadR int
	OutPadH, OutPadW       int
	Groups                 int
}

// Kind implements Op.
func (*ConvTranspose) Kind() string { return "ConvTranspose" }

// OutShape implements Op.
func (c *ConvTranspose) OutShape(in [][]int) ([]int, error) {
	if err := wantInputs(in, 1); err != nil {
		return nil, err
	}
	if err := wantMap(in[0]); err != nil {
		return nil, err
	}
	for _, v := range []int{c.OutC, c.KH, c.KW, c.StrideH, c.StrideW, c.DilH, c.DilW, c.Groups} {
		if v < 1 || v > 1<<16 {
			return nil, fmt.Errorf("%w: transposed conv parameter %d", ErrGraph, v)
		}
	}
	inC := in[0][0]
	if inC%c.Groups != 0 || c.OutC%c.Groups != 0 || len(c.W) != c.OutC*inC/c.Groups*c.KH*c.KW || (c.B != nil && len(c.B) != c.OutC) {
		return nil, fmt.Errorf("%w: transposed conv of %d weights, %d groups, on %v", ErrGraph, len(c.W), c.Groups, in[0])
	}
	h := (in[0][1]-1)*c.StrideH - c.PadT - c.PadB + c.DilH*(c.KH-1) + c.OutPadH + 1
	w := (in[0][2]-1)*c.StrideW - c.PadL - c.PadR + c.DilW*(c.KW-1) + c.OutPadW + 1
	if h < 1 || w < 1 || h > 1<<16 || w > 1<<16 {
		return nil, fmt.Errorf("%w: transposed conv output %d×%d", ErrGraph, h, w)
	}
	return []int{c.OutC, h, w}, nil
}

// Forward implements Op.
func (c *ConvTranspose) Forward(out []float32, ins [][]float32, inShapes [][]int, outShape []int, batch int) {
	inC, ih, iw := inShapes[0][0], inShapes[0][1], inShapes[0][2]
	oh, ow := outShape[1], outShape[2]
	icg, ocg := inC/c.Groups, c.OutC/c.Groups
	for b := 0; b < batch; b++ {
		src := ins[0][b*inC*ih*iw:]
		dst := out[b*c.OutC*oh*ow : (b+1)*c.OutC*oh*ow]
		for o := 0; o < c.OutC; o++ {
			plane := dst[o*oh*ow : (o+1)*oh*ow]
			bias := float32(0)
			if c.B != nil {
				bias = c.B[o]
			}
			for i := range plane {
				plane[i] = bias
			}
			g := o / ocg
			for ci := 0; ci < icg; ci++ {
				in := src[(g*icg+ci)*ih*iw:]
				wk := c.W[(o*icg+ci)*c.KH*c.KW:]
				for y := 0; y < ih; y++ {
					for x := 0; x < iw; x++ {
						v := in[y*iw+x]
						for ky := 0; ky < c.KH; ky++ {
							yy := y*c.StrideH - c.PadT + ky*c.DilH
							if yy < 0 || yy >= oh {
								continue
							}
							for kx := 0; kx < c.KW; kx++ {
								xx := x*c.StrideW - c.PadL + kx*c.DilW
								if xx >= 0 && xx < ow {
									plane[yy*ow+xx] += v * wk[ky*c.KW+kx]
								}
							}
						}
					}
				}
			}
		}
	}
}

// Params implements the parameter count.
func (c *ConvTranspose) Params() int { return len(c.W) + len(c.B) }

// MACs is the multiply-accumulate count of one image (every input value times its window).
func (c *ConvTranspose) MACs(out []int) int64 {
	return int64(len(c.W)) * int64(Size(out)) / int64(c.OutC) / int64(c.StrideH*c.StrideW)
}

// Weights implements Weighted.
func (c *ConvTranspose) Weights() (w, b []float32, rows int) { return c.W, c.B, c.OutC }

// WithWeights implements Weighted.
func (c *ConvTranspose) WithWeights(w, b []float32) Weighted {
	d := *c
	d.W, d.B = w, b
	return &d
}

// ConstBinary is an element-wise op of a computed tensor and a constant that broadcasts
// against it (NumPy rules, per image: a LayerNorm's scale along the last axis, say). With
// First the constant is the left operand (c − x, c / x).
type ConstBinary struct {
	Fn    string
	Value []float32
	Shape []int // the constant's per-image broadcast shape (right-aligned)
	First bool
}

// Kind implements Op.
func (c ConstBinary) Kind() string { return "ConstBinary(" + c.Fn + ")" }

// OutShape implements Op.
func (c ConstBinary) OutShape(in [][]int) ([]int, error) {
	if err := wantInputs(in, 1); err != nil {
		return nil, err
	}
	if binaryFns[c.Fn] == nil || Size(c.Shape) != len(c.Value) {
		return nil, fmt.Errorf("%w: %s by a constant of %d values, shape %v", ErrGraph, c.Fn, len(c.Value), c.Shape)
	}
	out, ok := BroadcastShape(in[0], c.Shape)
	if !ok || !slices.Equal(out, in[0]) {
		return nil, fmt.Errorf("%w: %s of %v by a constant of shape %v", ErrGraph, c.Fn, in[0], c.Shape)
	}
	return out, nil
}

// Forward implements Op.
func (c ConstBinary) Forward(out []float32, ins [][]float32, inShapes [][]int, outShape []int, batch int) {
	k := make([]float32, batch*len(c.Value))
	for b := 0; b < batch; b++ {
		copy(k[b*len(c.Value):], c.Value)
	}
	b := Binary{Fn: c.Fn}
	if c.First {
		b.Forward(out, [][]float32{k, ins[0]}, [][]int{c.Shape, inShapes[0]}, outShape, batch)
	} else {
		b.Forward(out, [][]float32{ins[0], k}, [][]int{inShapes[0], c.Shape}, outShape, batch)
	}
}

// Take keeps one index of a per-image axis, dropping the axis (ONNX Gather with a scalar
// index, or Slice-then-Squeeze of one index).
type Take struct{ Axis, Index int }

// Kind implements Op.
func (Take) Kind() string { return "Take" }

// OutShape implements Op.
func (t Take) OutShape(in [][]int) ([]int, error) {
	if err := wantInputs(in, 1); err != nil {
		return nil, err
	}
	s := in[0]
	if t.Axis < 0 || t.Axis >= len(s) || t.Index < 0 || t.Index >= s[t.Axis] || len(s) < 2 {
		return nil, fmt.Errorf("%w: index %d of axis %d of a %v tensor", ErrGraph, t.Index, t.Axis, s)
	}
	return slices.Delete(slices.Clone(s), t.Axis, t.Axis+1), nil
}

// Forward implements Op.
func (t Take) Forward(out []float32, ins [][]float32, inShapes [][]int, _ []int, batch int) {
	s := inShapes[0]
	outer, inner := Size(s[:t.Axis]), Size(s[t.Axis+1:])
	n := Size(s)
	o := 0
	for b := 0; b < batch; b++ {
		for i := 0; i < outer; i++ {
			src := ins[0][b*n+(i*s[t.Axis]+t.Index)*inner:]
			copy(out[o:o+inner], src[:inner])
			o += inner
		}
	}
}
