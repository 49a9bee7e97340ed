// Package engine runs a quantized network the way integer hardware does: weights stored as
// packed integer codes (each output channel at its own width, two 4-bit codes per byte),
// activations carried between layers as integer codes of at most 8 bits with a scale and zero
// point per channel, convolutions and linear layers computed as integer GEMMs with int32 sums,
// and one requantization per layer to the next layer's codes. Float appears where the input
// image becomes codes, in requantization (one multiply-add per output value: the "float scale"
// choice), and in the logits.
//
// The engine executes what package ptq planned and simulated (fake-quant in float): the same
// weight codes, the same activation quantizers. Where the simulation keeps a tensor in float
// — the network input and the residual Add outputs — the engine must still carry codes; it
// quantizes them per channel at Config.ExtraBits (8) over the range they took on the
// calibration images. That, and float rounding order, is all that separates its predictions
// from the simulation's.
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
	"math"
	"slices"

	"fourbit/kernels"
	"fourbit/nn"
	"fourbit/ptq"
	"fourbit/quant"
)

// Config sets what the engine chooses itself.
type Config struct {
	// ExtraBits is the width of the tensors the simulated network leaves in float: the
	// network input and the residual Add outputs (1..8).
	ExtraBits int `json:"extra_bits"`
	// CalibImages is how many calibration images set those tensors' ranges.
	CalibImages int `json:"calib_images"`
	// QuantizeInput makes the layers that read the network input take it as ExtraBits codes.
	// Off (the default), they read the float image, as the paper's simulation does: the first
	// layer's 8-bit weights are then applied in float, and every other layer is integer.
	QuantizeInput bool `json:"quantize_input"`
}

// DefaultConfig carries the Add outputs at 8 bits (ranges from 256 calibration images) and
// lets the first layer read the float image.
func DefaultConfig() Config { return Config{ExtraBits: 8, CalibImages: 256} }

// Net is a quantized network ready for integer inference. It is safe for one Forward at a
// time.
type Net struct {
	graph  *nn.Graph
	steps  []*step
	layers []LayerInfo
	cfg    Config
}

// LayerInfo describes how one conv/linear layer is stored and computed.
type LayerInfo struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Kernel is "qconv" (weight codes × per-tensor input codes, requantization fused),
	// "int32-folded" (per-channel input scales folded into 31-bit weights) or "float-input"
	// (the layer reads the float image).
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

// Build prepares q for integer inference. The first cfg.CalibImages images of calib (the
// calibration set q was made from) give the ranges of the tensors the simulation leaves in
// float.
func Build(q *ptq.Quantized, calib ptq.Source, cfg Config) (*Net, error) {
	if cfg.ExtraBits < 1 || cfg.ExtraBits > quant.MaxBits {
		return nil, fmt.Errorf("engine: extra bits %d outside 1..%d", cfg.ExtraBits, quant.MaxBits)
	}
	if cfg.CalibImages < 1 {
		return nil, fmt.Errorf("engine: %d calibration images", cfg.CalibImages)
	}
	g := q.Graph
	rng, err := observeRanges(q, calib, cfg.CalibImages)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	cons := g.Consumers()
	net := &Net{graph: g, cfg: cfg}
	levels := quant.Levels(cfg.ExtraBits)
	// fused[i] marks a ReLU whose producer already quantized onto its one-sided grid.
	fused := make([]bool, len(g.Nodes))
	// soleRelu returns n's ReLU if it is n's only consumer.
	soleRelu := func(n *nn.Node) *nn.Node {
		if c := cons[n.Index()]; len(c) == 1 {
			if _, ok := c[0].Op.(nn.ReLU); ok {
				return c[0]
			}
		}
		return nil
	}
	// own returns the output quantizers of a node the plan does not cover: the plan's
	// quantizer of a fused ReLU consumer, else per channel at ExtraBits over the observed
	// range (one-sided through a sole ReLU consumer, which then passes codes through).
	own := func(n *nn.Node) ([]quant.Quantizer, error) {
		if r := soleRelu(n); r != nil {
			fused[r.Index()] = true
			if ap, ok := q.Act(r.Name); ok {
				return expand(ap.Quantizers(), r.Shape[0]), nil
			}
			return rangeQuantizers(rng[r.Index()], levels, true)
		}
		if ap, ok := q.Act(n.Name); ok {
			return expand(ap.Quantizers(), n.Shape[0]), nil
		}
		return rangeQuantizers(rng[n.Index()], levels, false)
	}
	steps := make([]*step, len(g.Nodes))
	for _, n := range g.Nodes {
		s := &step{node: n}
		for _, p := range n.Inputs {
			s.in = append(s.in, p.Index())
		}
		var err error
		switch op := n.Op.(type) {
		case nn.Input:
			s.kind = kindInput
			s.out, err = rangeQuantizers(rng[n.Index()], levels, false)
		case *nn.Conv, *nn.Linear:
			s.kind = kindConv
			if _, ok := op.(*nn.Linear); ok {
				s.kind = kindLinear
			}
			if s.out, err = own(n); err == nil {
				floatIn := !cfg.QuantizeInput && n.Inputs[0] == g.Input()
				s.layer, err = newGemmLayer(q, n, steps[s.in[0]].out, s.out, floatIn)
			}
			if err == nil {
				net.layers = append(net.layers, s.layer.info)
			}
		case nn.ReLU:
			in := steps[s.in[0]]
			switch {
			case fused[n.Index()]:
				s.kind, s.out = kindPass, in.out
			case hasAct(q, n.Name):
				s.kind, s.out = kindRescale, expand(mustAct(q, n.Name), n.Shape[0])
			default:
				s.kind, s.out = kindRelu, in.out
			}
		case nn.Flatten:
			s.kind, s.out = kindRescale, inherit(steps[s.in[0]].out, steps[s.in[0]].node.Shape, n.Shape)
		case nn.Clip, nn.LeakyReLU:
			s.kind, s.out = kindRescale, steps[s.in[0]].out
			if hasAct(q, n.Name) { // a fused LeakyReLU: the plan's grid
				s.out = expand(mustAct(q, n.Name), n.Shape[0])
			}
		case nn.Pool:
			s.kind = kindRescale
			if op.Max && !hasAct(q, n.Name) && soleRelu(n) == nil {
				s.out = steps[s.in[0]].out
			} else {
				s.out, err = own(n)
			}
		case nn.ShortcutA:
			s.kind = kindShortcut
			in := steps[s.in[0]].out
			s.out = make([]quant.Quantizer, n.Shape[0]) // padded channels: the zero quantizer
			copy(s.out[op.PadC:], in)
		case nn.Concat:
			s.kind = kindRescale
			for _, i := range s.in {
				s.out = append(s.out, steps[i].out...)
			}
		default: // Add, pooling, batch norm, anything else: rescale onto its own grid
			s.kind = kindRescale
			if s.out, err = own(n); err == nil {
				if _, ok := op.(nn.Add); ok {
					s.add = addRequant(steps[s.in[0]], steps[s.in[1]], s.out, n.Shape)
				}
				if s.add != nil {
					s.kind = kindAdd
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("engine: node %s (%s): %w", n.Name, n.Op.Kind(), err)
		}
		if len(s.out) != n.Shape[0] {
			return nil, fmt.Errorf("engine: node %s: %d output quantizers for %d channels", n.Name, len(s.out), n.Shape[0])
		}
		s.affine = affines(s.out)
		steps[n.Index()] = s
	}
	in := steps[g.Input().Index()]
	in.floatOnly = true
	for _, c := range cons[g.Input().Index()] {
		if l := steps[c.Index()].layer; l == nil || (l.f32 == nil && l.f32lin == nil) {
			in.floatOnly = false
		}
	}
	net.steps = steps
	return net, nil
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

func hasAct(q *ptq.Quantized, name string) bool { _, ok := q.Act(name); return ok }

func mustAct(q *ptq.Quantized, name string) []quant.Quantizer {
	ap, _ := q.Act(name)
	return ap.Quantizers()
}

// expand returns one quantizer per channel (a per-tensor plan repeats its one quantizer).
func expand(qs []quant.Quantizer, channels int) []quant.Quantizer {
	if len(qs) == channels {
		return qs
	}
	out := make([]quant.Quantizer, channels)
	for i := range out {
		out[i] = qs[0]
	}
	return out
}

// inherit maps per-channel quantizers through a reshape: the output's channel c (of the
// flattened shape) takes the quantizer of the input channel its first value came from.
func inherit(in []quant.Quantizer, inShape, outShape []int) []quant.Quantizer {
	inner := nn.Size(inShape) / inShape[0]
	outInner := nn.Size(outShape) / outShape[0]
	out := make([]quant.Quantizer, outShape[0])
	for c := range out {
		out[c] = in[min(c*outInner/inner, len(in)-1)]
	}
	return out
}

// channelRange is the observed per-channel minimum and maximum of a node's output.
type channelRange struct{ lo, hi []float64 }

func rangeQuantizers(r channelRange, levels float64, oneSided bool) ([]quant.Quantizer, error) {
	if r.lo == nil {
		return nil, errors.New("no range observed")
	}
	qs := make([]quant.Quantizer, len(r.lo))
	for c := range qs {
		var err error
		if oneSided {
			qs[c], err = quant.NewUnsigned(math.Max(r.hi[c], 0), levels)
		} else {
			qs[c], err = quant.NewAffine(r.lo[c], r.hi[c], levels)
		}
		if err != nil {
			return nil, fmt.Errorf("channel %d: %w", c, err)
		}
	}
	return qs, nil
}

// observeRanges runs the simulated network on the first n calibration images and records
// every node's per-channel range after fake quantization.
func observeRanges(q *ptq.Quantized, src ptq.Source, n int) ([]channelRange, error) {
	g := q.Graph
	if src.Len() < n {
		n = src.Len()
	}
	if n == 0 {
		return nil, errors.New("no calibration images")
	}
	rng := make([]channelRange, len(g.Nodes))
	sim := q.Hook()
	hook := func(node *nn.Node, out []float32, batch int) error {
		if err := sim(node, out, batch); err != nil {
			return err
		}
		c := node.Shape[0]
		inner := nn.Size(node.Shape) / c
		r := &rng[node.Index()]
		if r.lo == nil {
			r.lo, r.hi = make([]float64, c), make([]float64, c)
			for i := range r.lo {
				r.lo[i], r.hi[i] = math.Inf(1), math.Inf(-1)
			}
		}
		for b := 0; b < batch; b++ {
			for ch := 0; ch < c; ch++ {
				for _, v := range out[(b*c+ch)*inner : (b*c+ch+1)*inner] {
					x := float64(v)
					if x < r.lo[ch] {
						r.lo[ch] = x
					}
					if x > r.hi[ch] {
						r.hi[ch] = x
					}
				}
			}
		}
		return nil
	}
	per := nn.Size(g.Input().Shape)
	buf := make([]float32, ptq.DefaultBatch*per)
	for lo := 0; lo < n; lo += ptq.DefaultBatch {
		hi := min(lo+ptq.DefaultBatch, n)
		x := buf[:(hi-lo)*per]
		if _, err := src.Load(x, lo, hi); err != nil {
			return nil, fmt.Errorf("calibration ranges: %w", err)
		}
		if _, err := g.Forward(x, hi-lo, hook); err != nil {
			return nil, fmt.Errorf("calibration ranges: %w", err)
		}
	}
	for i, r := range rng {
		for c := range r.lo {
			if math.IsInf(r.lo[c], 0) || math.IsNaN(r.lo[c]) || math.IsInf(r.hi[c], 0) || math.IsNaN(r.hi[c]) {
				return nil, fmt.Errorf("node %s channel %d: no finite range on the calibration images", g.Nodes[i].Name, c)
			}
		}
	}
	return rng, nil
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

// Graph returns the (simulated) graph the engine executes.
func (net *Net) Graph() *nn.Graph { return net.graph }
