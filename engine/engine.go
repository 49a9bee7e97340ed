// Package engine runs a quantized network the way integer hardware does: weights stored as
// packed integer codes (each output channel at its own width, two 4-bit codes per byte),
// activations carried between layers as integer codes of at most 8 bits with a scale and zero
// point per channel, convolutions and linear layers computed as integer GEMMs with int32 sums,
// and one requantization per layer to the next layer's codes. Float appears where the input
// image becomes codes, in requantization (one multiply-add per output value: the "float scale"
// choice), and in the logits.
//
// The engine executes what package ptq planned and simulated (fake-quant in float), and
// nothing else: the same weight rows (codes, quantizer, bias correction), and for every node
// the codes its output is carried as (ptq.Quantized.Tensor). A plan made with
// ptq.Options.CarryBits covers every tensor; the paper's protocol leaves residual Adds and
// other tensors in float, and Build refuses it. Float rounding order is then all that
// separates the engine's predictions from the simulation's.
//
// Two GEMM paths (package kernels): when a conv's input has one scale and zero point for
// all its channels (per-tensor activations; the residual Adds then are per tensor too) and
// codes of at most 8 bits, kernels.QConv multiplies the codes themselves — weight codes
// minus their row's zero point times input codes minus the input's, exact int32 sums — and
// requantizes to the next layer's codes in the same pass (float32 multipliers per row that
// carry bias correction, the bias and both scales; in the browser, the WebAssembly SIMD128
// kernels of kernels/simd.wat). When the input has per-channel scales (the paper's
// per-channel activations, with PCBA), no single integer dot product can mix channels of
// different scales, so the engine folds each input channel's scale — and bias correction —
// into 31-bit integer weights, one scale per row, and sums in int64. Per-channel
// activation scales cost arithmetic width, not storage: the stored model keeps the packed
// 4-bit codes. Residual Adds of two code tensors and ResNet's option-A shortcut run on codes
// too (kernels.AddCodes; a strided copy); other ops dequantize, compute and requantize.
package engine

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"fourbit/kernels"
	"fourbit/nn"
	"fourbit/ptq"
	"fourbit/quant"
)

// Net is a quantized network ready for integer inference. It is safe for one Forward at a
// time.
type Net struct {
	graph  *nn.Graph
	steps  []*step
	layers []LayerInfo
	// scratch keeps the kernels' work buffers (*scratch) between layers and calls: made
	// afresh for every layer of every image they were most of the engine's allocations, and
	// at batch 1 the garbage collector's work was an eighth of the time.
	scratch sync.Pool
}

// LayerInfo describes how one conv/linear layer is stored and computed.
type LayerInfo struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Kernel is "qconv" (weight codes × per-tensor input codes, requantization fused),
	// "int32-folded" (per-channel input scales folded into 31-bit weights), "float-input"
	// (the layer reads the float image) or "float-fallback" (no integer kernel for this kind
	// of layer — a transposed conv, a linear layer on rows: it runs in float between codes).
	Kernel string `json:"kernel"`
	// RowBits is the weight width of each output channel.
	RowBits []int `json:"row_bits"`
	// PackedBytes is the stored size: codes bit-packed per row at its width, plus per row a
	// float32 scale, float32 bias-correction gain and offset, float32 bias and one byte each
	// for zero point and width. FloatBytes is the fp32 size of the weights and bias.
	PackedBytes int `json:"packed_bytes"`
	FloatBytes  int `json:"float_bytes"`
}

// stepKind is how a node is executed.
type stepKind int

const (
	kindInput    stepKind = iota // float image → codes
	kindConv                     // integer GEMM
	kindLinear                   // integer GEMM
	kindPass                     // codes unchanged (a ReLU fused into its producer's quantizer)
	kindRelu                     // codes clamped at each channel's zero point
	kindRescale                  // dequantize inputs, apply the op, requantize
	kindAdd                      // two code tensors added and requantized (kernels.AddCodes)
	kindShortcut                 // ResNet's option-A shortcut: codes subsampled, new channels 0
	kindFloatOut                 // the graph's output computed in float (a softmax)
)

type step struct {
	node   *nn.Node
	kind   stepKind
	in     []int             // input node indices
	out    []quant.Quantizer // output quantizer per channel (shape[0])
	layer  *gemmLayer
	add    []kernels.AddRequant // kindAdd: per output channel
	affine []kernels.Affine     // out as kernels.Affine (nil unless every code is a byte)
	// floatOnly marks the input when every consumer reads the float image: no codes needed.
	floatOnly bool
}

// Build prepares the quantized network q for integer inference, from its plan alone.
func Build(q *ptq.Quantized) (*Net, error) {
	g := q.Network()
	net := &Net{graph: g}
	steps := make([]*step, len(g.Nodes))
	for _, n := range g.Nodes {
		s := &step{node: n, out: q.Tensor(n)}
		for _, p := range n.Inputs {
			s.in = append(s.in, p.Index())
		}
		err := net.plan(q, s, steps)
		if err != nil {
			return nil, fmt.Errorf("engine: node %s (%s): %w", n.Name, n.Op.Kind(), err)
		}
		s.affine = affines(s.out)
		steps[n.Index()] = s
	}
	net.steps = steps
	return net, nil
}

// plan chooses how step s runs, given the steps before it.
func (net *Net) plan(q *ptq.Quantized, s *step, steps []*step) error {
	n := s.node
	if n == net.graph.Input() {
		s.kind = kindInput
		if s.out != nil {
			return nil
		}
		// Left in float by the plan: every consumer must read the float image.
		s.floatOnly = true
		for _, c := range net.graph.Consumers()[n.Index()] {
			if _, ok := c.Op.(nn.Weighted); !ok {
				return fmt.Errorf("the plan leaves the network input in float, but %s (%s) reads it: quantize with CarryBits (--carry-bits 8)", c.Name, c.Op.Kind())
			}
		}
		return nil
	}
	if _, ok := n.Op.(nn.Softmax); ok && s.out == nil && n == net.graph.Output() {
		s.kind = kindFloatOut // the output's probabilities, from the dequantized logits
		return nil
	}
	if s.out == nil {
		return errors.New("the plan leaves this tensor in float (the paper's protocol); the integer engine needs a plan made with CarryBits (--carry-bits 8, carry_bits: 8), or the layer is kept in float")
	}
	if len(s.out) != n.Shape[0] {
		return fmt.Errorf("%d output quantizers for %d channels", len(s.out), n.Shape[0])
	}
	in := make([]*step, len(s.in))
	for i, idx := range s.in {
		in[i] = steps[idx]
		if in[i].out == nil && !(in[i].floatOnly && isWeighted(n)) {
			return fmt.Errorf("input %s is not carried as codes", in[i].node.Name)
		}
	}
	switch op := n.Op.(type) {
	case nn.Weighted:
		if !integerGEMM(n) {
			// No integer kernel (a transposed conv, a linear layer on rows): the layer runs in
			// float on the dequantized input, with the plan's corrected weights.
			if q.WeightRows(n) == nil {
				return fmt.Errorf("its weights are kept in float; the integer engine needs every layer's weights quantized")
			}
			if in[0].floatOnly {
				return fmt.Errorf("it reads the float network input and has no integer kernel")
			}
			w, b, _ := op.Weights()
			s.kind = kindRescale
			net.layers = append(net.layers, LayerInfo{Name: n.Name, Kind: n.Op.Kind(), Kernel: "float-fallback", FloatBytes: 4 * (len(w) + len(b)), PackedBytes: 4 * (len(w) + len(b))})
			return nil
		}
		s.kind = kindConv
		if _, ok := op.(*nn.Linear); ok {
			s.kind = kindLinear
		}
		var err error
		if s.layer, err = newGemmLayer(q, n, in[0].out, s.out, in[0].floatOnly); err != nil {
			return err
		}
		net.layers = append(net.layers, s.layer.info)
	case nn.ReLU:
		switch {
		case !slices.Equal(s.out, in[0].out):
			s.kind = kindRescale
		case oneSided(s.out): // the producer's requantization clamped at 0 already
			s.kind = kindPass
		default:
			s.kind = kindRelu
		}
	case nn.Clip:
		s.kind = kindRescale
		if slices.Equal(s.out, in[0].out) && oneSided(s.out) {
			s.kind = kindPass // a fused ReLU6: the producer's grid stops at the clip's top
		}
	case nn.ShortcutA:
		s.kind = kindShortcut
	case nn.Add:
		s.kind = kindRescale
		if s.add = addRequant(in[0], in[1], s.out, n.Shape); s.add != nil {
			s.kind = kindAdd
		}
	default: // pooling, flatten, concat, element-wise ops: rescale onto the planned grid
		s.kind = kindRescale
	}
	return nil
}

func isWeighted(n *nn.Node) bool { _, ok := n.Op.(nn.Weighted); return ok }

// integerGEMM reports whether a layer has integer kernels: a convolution, or a linear layer
// that gives a vector.
func integerGEMM(n *nn.Node) bool {
	switch n.Op.(type) {
	case *nn.Conv:
		return len(n.Inputs[0].Shape) == 3
	case *nn.Linear:
		return len(n.Shape) == 1
	}
	return false
}

// oneSided reports whether every quantizer's lowest code is its zero point (codes of values
// ≥ 0): a ReLU leaves such codes unchanged.
func oneSided(qs []quant.Quantizer) bool {
	for _, q := range qs {
		if float64(q.QMin) != q.Zero {
			return false
		}
	}
	return true
}

// addRequant returns the per-channel requantization of an Add of a and b onto out, when the
// inputs have the output's shape and every code is a byte (else nil: the generic rescale).
func addRequant(a, b *step, out []quant.Quantizer, shape []int) []kernels.AddRequant {
	if !slices.Equal(a.node.Shape, shape) || !slices.Equal(b.node.Shape, shape) {
		return nil
	}
	rq := make([]kernels.AddRequant, len(out))
	for c, oq := range out {
		qa, qb := a.out[c], b.out[c]
		if !byteCodes(qa, qb, oq) {
			return nil
		}
		rq[c] = kernels.AddRequant{Za: qa.Zero, Sa: qa.Scale, Zb: qb.Zero, Sb: qb.Scale, Zo: oq.Zero, So: oq.Scale,
			Lo: float64(oq.QMin), Hi: float64(oq.QMax)}
	}
	return rq
}

// Layers describes the conv and linear layers: kernel path, widths and sizes.
func (net *Net) Layers() []LayerInfo { return net.layers }

// Sizes returns the stored size of all conv/linear weights (packed codes and per-row
// parameters) and their fp32 size.
func (net *Net) Sizes() (packed, float int) {
	for _, l := range net.layers {
		packed += l.PackedBytes
		float += l.FloatBytes
	}
	return packed, float
}

// KernelCounts counts the conv and linear layers by the kernel that runs them
// (LayerInfo.Kernel).
func (net *Net) KernelCounts() map[string]int {
	k := map[string]int{}
	for _, l := range net.layers {
		k[l.Kernel]++
	}
	return k
}
