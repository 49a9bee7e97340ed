package nn

import (
	"fmt"
	"math"
	"slices"
	"sync"

	"fourbit/kernels"
)

// Op is the computation of a node. Forward computes a batch: ins[i] holds batch images of
// inShapes[i], out receives batch images of outShape. Ops are immutable once in a graph, so
// one op value may serve several graphs.
type Op interface {
	Kind() string
	OutShape(in [][]int) ([]int, error)
	Forward(out []float32, ins [][]float32, inShapes [][]int, outShape []int, batch int)
}

func wantInputs(in [][]int, n int) error {
	if len(in) != n {
		return fmt.Errorf("%w: %d inputs, want %d", ErrGraph, len(in), n)
	}
	return nil
}

func wantMap(in []int) error {
	if len(in) != 3 || in[0] <= 0 || in[1] <= 0 || in[2] <= 0 {
		return fmt.Errorf("%w: input shape %v is not a C×H×W feature map", ErrGraph, in)
	}
	return nil
}

// Input is the graph's input placeholder.
type Input struct{}

// Kind implements Op.
func (Input) Kind() string { return "Input" }

// OutShape implements Op.
func (Input) OutShape([][]int) ([]int, error) {
	return nil, fmt.Errorf("%w: Input has no inputs", ErrGraph)
}

// Forward implements Op.
func (Input) Forward([]float32, [][]float32, [][]int, []int, int) {}

// Conv is a 2-D convolution with OIHW weights W (OutC × InC/Groups × KH × KW) and an optional
// bias. Padding is given per side (top, left, bottom, right).
type Conv struct {
	W, B                   []float32
	OutC, KH, KW           int
	StrideH, StrideW       int
	DilH, DilW             int
	PadT, PadL, PadB, PadR int
	Groups                 int
	// Prior, when set, is the expected mean and standard deviation of each output channel
	// on the data the network was trained on: the β and |γ| of the batch norm folded into
	// the convolution. Data-free calibration starts from it.
	Prior *ChannelPrior

	once   sync.Once
	kernel *kernels.Conv
	err    error
}

// Kind implements Op.
func (c *Conv) Kind() string { return "Conv" }

// ConvParams returns the kernel parameters of the convolution on an input of shape in.
func (c *Conv) ConvParams(in []int) kernels.ConvParams { return c.params(in) }

func (c *Conv) params(in []int) kernels.ConvParams {
	return kernels.ConvParams{InC: in[0], InH: in[1], InW: in[2], OutC: c.OutC, KH: c.KH, KW: c.KW,
		StrideH: c.StrideH, StrideW: c.StrideW, DilH: c.DilH, DilW: c.DilW,
		PadT: c.PadT, PadL: c.PadL, PadB: c.PadB, PadR: c.PadR, Groups: c.Groups}
}

// OutShape implements Op.
func (c *Conv) OutShape(in [][]int) ([]int, error) {
	if err := wantInputs(in, 1); err != nil {
		return nil, err
	}
	if err := wantMap(in[0]); err != nil {
		return nil, err
	}
	p := c.params(in[0])
	if err := p.Check(); err != nil {
		return nil, err
	}
	if want := c.OutC * in[0][0] / c.Groups * c.KH * c.KW; len(c.W) != want {
		return nil, fmt.Errorf("%w: conv weights have %d values, want %d", ErrGraph, len(c.W), want)
	}
	if c.B != nil && len(c.B) != c.OutC {
		return nil, fmt.Errorf("%w: conv bias has %d values, want %d", ErrGraph, len(c.B), c.OutC)
	}
	return []int{c.OutC, p.OutH(), p.OutW()}, nil
}

// Forward implements Op.
func (c *Conv) Forward(out []float32, ins [][]float32, inShapes [][]int, _ []int, batch int) {
	c.once.Do(func() { c.kernel, c.err = kernels.NewConv(c.params(inShapes[0]), c.W, c.B) })
	if c.err != nil {
		panic(c.err) // unreachable: OutShape checked the same parameters
	}
	c.kernel.ForwardBatch(out, ins[0], batch)
}

// Params implements the parameter count.
func (c *Conv) Params() int { return len(c.W) + len(c.B) }

// MACs is the multiply-accumulate count of one image.
func (c *Conv) MACs(out []int) int64 {
	return int64(Size(out)) * int64(len(c.W)/c.OutC)
}

// Weights implements Weighted: OIHW weights, one row per output channel.
func (c *Conv) Weights() (w, b []float32, rows int) { return c.W, c.B, c.OutC }

// WithWeights implements Weighted: a copy of the convolution with other weights and bias
// (same geometry).
func (c *Conv) WithWeights(w, b []float32) Weighted { return c.withWeights(w, b) }

func (c *Conv) withWeights(w, b []float32) *Conv {
	return &Conv{W: w, B: b, OutC: c.OutC, KH: c.KH, KW: c.KW, StrideH: c.StrideH, StrideW: c.StrideW,
		DilH: c.DilH, DilW: c.DilW, PadT: c.PadT, PadL: c.PadL, PadB: c.PadB, PadR: c.PadR, Groups: c.Groups, Prior: c.Prior}
}

// ChannelPrior is a per-channel mean and standard deviation known without data.
type ChannelPrior struct {
	Mean, Std []float64
}

// Linear is a fully connected layer: out = W·x + B with W of Out × In values. On a vector (or
// a tensor of In values, read flattened) it gives Out values; on a tensor whose last axis has
// In values it is applied to each of those rows (ONNX MatMul by a constant matrix).
type Linear struct {
	W, B    []float32
	In, Out int
}

// Kind implements Op.
func (l *Linear) Kind() string { return "Linear" }

// OutShape implements Op.
func (l *Linear) OutShape(in [][]int) ([]int, error) {
	if err := wantInputs(in, 1); err != nil {
		return nil, err
	}
	if len(l.W) != l.In*l.Out || (l.B != nil && len(l.B) != l.Out) || l.Out <= 0 || l.In <= 0 {
		return nil, fmt.Errorf("%w: linear %d→%d (weights %d, bias %d) on input %v", ErrGraph, l.In, l.Out, len(l.W), len(l.B), in[0])
	}
	switch s := in[0]; {
	case Size(s) == l.In:
		return []int{l.Out}, nil
	case len(s) > 1 && s[len(s)-1] == l.In:
		return append(slices.Clone(s[:len(s)-1]), l.Out), nil
	}
	return nil, fmt.Errorf("%w: linear %d→%d on input %v", ErrGraph, l.In, l.Out, in[0])
}

// Forward implements Op.
func (l *Linear) Forward(out []float32, ins [][]float32, _ [][]int, _ []int, batch int) {
	x := ins[0]
	rows := len(x) / l.In // batch images, or batch × rows
	for b := 0; b < rows; b++ {
		xb := x[b*l.In : (b+1)*l.In]
		for o := 0; o < l.Out; o++ {
			w := l.W[o*l.In : (o+1)*l.In]
			var s float32
			for i, v := range xb {
				s += w[i] * v
			}
			if l.B != nil {
				s += l.B[o]
			}
			out[b*l.Out+o] = s
		}
	}
}

// Params implements the parameter count.
func (l *Linear) Params() int { return len(l.W) + len(l.B) }

// MACs is the multiply-accumulate count of one image.
func (l *Linear) MACs([]int) int64 { return int64(len(l.W)) }

// Weights implements Weighted: Out rows of In weights.
func (l *Linear) Weights() (w, b []float32, rows int) { return l.W, l.B, l.Out }

// WithWeights implements Weighted.
func (l *Linear) WithWeights(w, b []float32) Weighted {
	return &Linear{W: w, B: b, In: l.In, Out: l.Out}
}

// Weighted is a layer with a weight matrix — a convolution or a linear layer, the layers
// fourbit quantizes. Weights returns the row-major weights (rows output channels of
// len(w)/rows weights each) and the bias (nil: none); WithWeights a copy of the layer with
// other weights and bias.
type Weighted interface {
	Op
	Weights() (w, b []float32, rows int)
	WithWeights(w, b []float32) Weighted
}

// Selector is an op whose every output value is one of its inputs' values or 0: ReLU, max
// pooling, flattening, concatenation, zero padding, ResNet's option-A shortcut. On quantized
// inputs its output stays on the inputs' grids (0 is a code of every grid), so an integer
// engine carries it without requantizing. SourceChannel names the input and the input channel
// whose values output channel c takes (input −1: the channel is all zeros), given the input
// shapes; ok is false when the op does not select (an average pool).
type Selector interface {
	Op
	SourceChannel(c int, in [][]int) (input, channel int, ok bool)
}

// BatchNorm is inference batch normalisation: y = Gamma·(x − Mean)/√(Var + Eps) + Beta per
// channel. FoldBatchNorm merges it into the preceding convolution.
type BatchNorm struct {
	Gamma, Beta, Mean, Var []float32
	Eps                    float64
}

// Kind implements Op.
func (*BatchNorm) Kind() string { return "BatchNorm" }

// OutShape implements Op.
func (bn *BatchNorm) OutShape(in [][]int) ([]int, error) {
	if err := wantInputs(in, 1); err != nil {
		return nil, err
	}
	c := in[0][0]
	if len(bn.Gamma) != c || len(bn.Beta) != c || len(bn.Mean) != c || len(bn.Var) != c {
		return nil, fmt.Errorf("%w: batch norm parameters for %d channels on %d", ErrGraph, len(bn.Gamma), c)
	}
	return append([]int(nil), in[0]...), nil
}

// ScaleShift returns the per-channel affine form y = scale·x + shift.
func (bn *BatchNorm) ScaleShift() (scale, shift []float64) {
	scale, shift = make([]float64, len(bn.Gamma)), make([]float64, len(bn.Gamma))
	for c := range bn.Gamma {
		scale[c] = float64(bn.Gamma[c]) / math.Sqrt(float64(bn.Var[c])+bn.Eps)
		shift[c] = float64(bn.Beta[c]) - float64(bn.Mean[c])*scale[c]
	}
	return scale, shift
}

// Forward implements Op.
func (bn *BatchNorm) Forward(out []float32, ins [][]float32, inShapes [][]int, _ []int, batch int) {
	scale, shift := bn.ScaleShift()
	c := inShapes[0][0]
	inner := Size(inShapes[0]) / c
	x := ins[0]
	for b := 0; b < batch; b++ {
		for ch := 0; ch < c; ch++ {
			off := (b*c + ch) * inner
			s, t := float32(scale[ch]), float32(shift[ch])
			for i := off; i < off+inner; i++ {
				out[i] = x[i]*s + t
			}
		}
	}
}

// Params implements the parameter count.
func (bn *BatchNorm) Params() int { return 4 * len(bn.Gamma) }

// elementwise is the shared shape rule of one-input element-wise ops.
func elementwise(in [][]int) ([]int, error) {
	if err := wantInputs(in, 1); err != nil {
		return nil, err
	}
	return append([]int(nil), in[0]...), nil
}

// ReLU is max(x, 0).
type ReLU struct{}

// Kind implements Op.
func (ReLU) Kind() string { return "ReLU" }

// OutShape implements Op.
func (ReLU) OutShape(in [][]int) ([]int, error) { return elementwise(in) }

// Forward implements Op.
func (ReLU) Forward(out []float32, ins [][]float32, _ [][]int, _ []int, _ int) {
	kernels.ReLU(out, ins[0][:len(out)])
}

// Clip bounds values to [Lo, Hi] (ReLU6 is Clip{0, 6}).
type Clip struct{ Lo, Hi float32 }

// Kind implements Op.
func (Clip) Kind() string { return "Clip" }

// OutShape implements Op.
func (c Clip) OutShape(in [][]int) ([]int, error) {
	if !(c.Lo <= c.Hi) {
		return nil, fmt.Errorf("%w: clip bounds [%v, %v]", ErrGraph, c.Lo, c.Hi)
	}
	return elementwise(in)
}

// Forward implements Op.
func (c Clip) Forward(out []float32, ins [][]float32, _ [][]int, _ []int, _ int) {
	for i, v := range ins[0][:len(out)] {
		out[i] = min(max(v, c.Lo), c.Hi)
	}
}

// LeakyReLU is x for x ≥ 0 and Alpha·x below.
type LeakyReLU struct{ Alpha float32 }

// Kind implements Op.
func (LeakyReLU) Kind() string { return "LeakyReLU" }

// OutShape implements Op.
func (LeakyReLU) OutShape(in [][]int) ([]int, error) { return elementwise(in) }

// Forward implements Op.
func (l LeakyReLU) Forward(out []float32, ins [][]float32, _ [][]int, _ []int, _ int) {
	for i, v := range ins[0][:len(out)] {
		if v < 0 {
			v *= l.Alpha
		}
		out[i] = v
	}
}

// Add sums two tensors of the same shape.
type Add struct{}

// Kind implements Op.
func (Add) Kind() string { return "Add" }

// OutShape implements Op.
func (Add) OutShape(in [][]int) ([]int, error) {
	if err := wantInputs(in, 2); err != nil {
		return nil, err
	}
	if !slices.Equal(in[0], in[1]) {
		return nil, fmt.Errorf("%w: adding shapes %v and %v", ErrGraph, in[0], in[1])
	}
	return append([]int(nil), in[0]...), nil
}

// Forward implements Op.
func (Add) Forward(out []float32, ins [][]float32, _ [][]int, _ []int, _ int) {
	kernels.AddFloats(out, ins[0][:len(out)], ins[1][:len(out)])
}

// Pool is max or average pooling over K×K windows with stride S and per-side padding.
// Average pooling divides by the number of real (unpadded) values in the window when
// ExcludePad is set (Keras, ONNX count_include_pad=0), else by K·K.
type Pool struct {
	Max                    bool
	KH, KW                 int
	StrideH, StrideW       int
	PadT, PadL, PadB, PadR int
	ExcludePad             bool
}

// Kind implements Op.
func (p Pool) Kind() string {
	if p.Max {
		return "MaxPool"
	}
	return "AvgPool"
}

// OutShape implements Op.
func (p Pool) OutShape(in [][]int) ([]int, error) {
	if err := wantInputs(in, 1); err != nil {
		return nil, err
	}
	if err := wantMap(in[0]); err != nil {
		return nil, err
	}
	if p.KH <= 0 || p.KW <= 0 || p.StrideH <= 0 || p.StrideW <= 0 || p.PadT < 0 || p.PadL < 0 || p.PadB < 0 || p.PadR < 0 ||
		p.PadT >= p.KH || p.PadB >= p.KH || p.PadL >= p.KW || p.PadR >= p.KW {
		return nil, fmt.Errorf("%w: pooling %+v", ErrGraph, p)
	}
	h := (in[0][1]+p.PadT+p.PadB-p.KH)/p.StrideH + 1
	w := (in[0][2]+p.PadL+p.PadR-p.KW)/p.StrideW + 1
	if h <= 0 || w <= 0 {
		return nil, fmt.Errorf("%w: %dx%d pooling window larger than the %dx%d input", ErrGraph, p.KH, p.KW, in[0][1], in[0][2])
	}
	return []int{in[0][0], h, w}, nil
}

// Forward implements Op.
func (p Pool) Forward(out []float32, ins [][]float32, inShapes [][]int, outShape []int, batch int) {
	c, ih, iw := inShapes[0][0], inShapes[0][1], inShapes[0][2]
	oh, ow := outShape[1], outShape[2]
	x := ins[0]
	for bc := 0; bc < batch*c; bc++ {
		plane := x[bc*ih*iw : (bc+1)*ih*iw]
		dst := out[bc*oh*ow : (bc+1)*oh*ow]
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				acc := float32(0)
				if p.Max {
					acc = float32(math.Inf(-1))
				}
				n := 0
				for ky := 0; ky < p.KH; ky++ {
					iy := oy*p.StrideH - p.PadT + ky
					if iy < 0 || iy >= ih {
						continue
					}
					for kx := 0; kx < p.KW; kx++ {
						ix := ox*p.StrideW - p.PadL + kx
						if ix < 0 || ix >= iw {
							continue
						}
						v := plane[iy*iw+ix]
						if p.Max {
							acc = max(acc, v)
						} else {
							acc += v
						}
						n++
					}
				}
				if !p.Max {
					if p.ExcludePad && n > 0 {
						acc /= float32(n)
					} else {
						acc /= float32(p.KH * p.KW)
					}
				}
				dst[oy*ow+ox] = acc
			}
		}
	}
}

// GlobalAvgPool averages each channel of a C×H×W map into a vector of C values (a C×1×1
// map with KeepDims, as ONNX's GlobalAveragePool, whose output convolutions may read).
type GlobalAvgPool struct{ KeepDims bool }

// Kind implements Op.
func (GlobalAvgPool) Kind() string { return "GlobalAvgPool" }

// OutShape implements Op.
func (p GlobalAvgPool) OutShape(in [][]int) ([]int, error) {
	if err := wantInputs(in, 1); err != nil {
		return nil, err
	}
	if err := wantMap(in[0]); err != nil {
		return nil, err
	}
	if p.KeepDims {
		return []int{in[0][0], 1, 1}, nil
	}
	return []int{in[0][0]}, nil
}

// Forward implements Op.
func (GlobalAvgPool) Forward(out []float32, ins [][]float32, inShapes [][]int, _ []int, batch int) {
	c := inShapes[0][0]
	hw := inShapes[0][1] * inShapes[0][2]
	for bc := 0; bc < batch*c; bc++ {
		var s float32
		for _, v := range ins[0][bc*hw : (bc+1)*hw] {
			s += v
		}
		out[bc] = s / float32(hw)
	}
}

// Flatten turns any per-image shape into a vector.
type Flatten struct{}

// Kind implements Op.
func (Flatten) Kind() string { return "Flatten" }

// OutShape implements Op.
func (Flatten) OutShape(in [][]int) ([]int, error) {
	if err := wantInputs(in, 1); err != nil {
		return nil, err
	}
	return []int{Size(in[0])}, nil
}

// Forward implements Op.
func (Flatten) Forward(out []float32, ins [][]float32, _ [][]int, _ []int, _ int) { copy(out, ins[0]) }

// Concat joins feature maps (or vectors) along the channel axis.
type Concat struct{}

// Kind implements Op.
func (Concat) Kind() string { return "Concat" }

// OutShape implements Op.
func (Concat) OutShape(in [][]int) ([]int, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("%w: concat of nothing", ErrGraph)
	}
	out := append([]int(nil), in[0]...)
	for _, s := range in[1:] {
		if len(s) != len(out) || !slices.Equal(s[1:], out[1:]) {
			return nil, fmt.Errorf("%w: concatenating shapes %v and %v", ErrGraph, in[0], s)
		}
		out[0] += s[0]
	}
	return out, nil
}

// Forward implements Op.
func (Concat) Forward(out []float32, ins [][]float32, inShapes [][]int, outShape []int, batch int) {
	total := Size(outShape)
	for b := 0; b < batch; b++ {
		off := b * total
		for i, s := range inShapes {
			n := Size(s)
			copy(out[off:off+n], ins[i][b*n:(b+1)*n])
			off += n
		}
	}
}

// ShortcutA is the CIFAR ResNet "option A" shortcut: keep every Stride-th pixel
// (x[:, :, ::s, ::s]) and zero-pad the channels by PadC on each side.
type ShortcutA struct{ Stride, PadC int }

// Kind implements Op.
func (ShortcutA) Kind() string { return "ShortcutA" }

// OutShape implements Op.
func (s ShortcutA) OutShape(in [][]int) ([]int, error) {
	if err := wantInputs(in, 1); err != nil {
		return nil, err
	}
	if err := wantMap(in[0]); err != nil {
		return nil, err
	}
	if s.Stride <= 0 || s.PadC < 0 {
		return nil, fmt.Errorf("%w: shortcut %+v", ErrGraph, s)
	}
	return []int{in[0][0] + 2*s.PadC, (in[0][1] + s.Stride - 1) / s.Stride, (in[0][2] + s.Stride - 1) / s.Stride}, nil
}

// Forward implements Op.
func (s ShortcutA) Forward(out []float32, ins [][]float32, inShapes [][]int, outShape []int, batch int) {
	c, ih, iw := inShapes[0][0], inShapes[0][1], inShapes[0][2]
	oc, oh, ow := outShape[0], outShape[1], outShape[2]
	clear(out)
	for b := 0; b < batch; b++ {
		for ch := 0; ch < c; ch++ {
			src := ins[0][(b*c+ch)*ih*iw:]
			dst := out[(b*oc+ch+s.PadC)*oh*ow:]
			for y := 0; y < oh; y++ {
				for x := 0; x < ow; x++ {
					dst[y*ow+x] = src[y*s.Stride*iw+x*s.Stride]
				}
			}
		}
	}
}
