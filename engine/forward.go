package engine

import (
	"fmt"

	"fourbit/kernels"
	"fourbit/nn"
	"fourbit/quant"
)

// Forward runs the integer network on batch float images x (batch × input size, NCHW, as
// for nn.Graph.Forward) and returns the dequantized logits.
func (net *Net) Forward(x []float32, batch int) ([]float32, error) {
	g := net.graph
	if batch <= 0 || len(x) != batch*nn.Size(g.Input().Shape) {
		return nil, fmt.Errorf("engine: input of %d values for %d images of shape %v", len(x), batch, g.Input().Shape)
	}
	lastUse := make([]int, len(g.Nodes))
	for _, n := range g.Nodes {
		for _, p := range n.Inputs {
			lastUse[p.Index()] = n.Index()
		}
	}
	lastUse[len(g.Nodes)-1] = len(g.Nodes)
	codes := make([][]uint8, len(g.Nodes))
	var floatOut []float32
	for _, s := range net.steps {
		n := s.node
		size := nn.Size(n.Shape)
		if size <= 0 || size > nn.MaxBatchValues/batch {
			return nil, fmt.Errorf("engine: node %s: output of %d×%d values is too large", n.Name, batch, size)
		}
		var out []uint8
		switch s.kind {
		case kindInput:
			if s.floatOnly {
				break // every consumer reads the float image
			}
			out = make([]uint8, len(x))
			s.quantize(out, x, batch)
		case kindPass:
			out = codes[s.in[0]]
		case kindRelu:
			in := codes[s.in[0]]
			out = make([]uint8, len(in))
			c := n.Shape[0]
			inner := size / c
			for i, v := range in {
				z := uint8(s.out[(i/inner)%c].Zero)
				out[i] = max(v, z)
			}
		case kindConv, kindLinear:
			if l := s.layer; l.float != nil {
				y := make([]float32, batch*size)
				l.float.Forward(y, [][]float32{x}, [][]int{g.Input().Shape}, n.Shape, batch)
				out = make([]uint8, batch*size)
				s.quantize(out, y, batch)
				break
			}
			if s.kind == kindLinear {
				out = make([]uint8, batch*size)
				sc := net.getScratch()
				s.layer.linear(out, codes[s.in[0]], batch, sc)
				net.scratch.Put(sc)
				break
			}
			out = make([]uint8, batch*size)
			in := codes[s.in[0]]
			inLen := nn.Size(n.Inputs[0].Shape)
			l := s.layer
			kernels.Parallel(batch, func(lo, hi int) {
				sc := net.getScratch()
				for i := lo; i < hi; i++ {
					l.convImage(out[i*size:(i+1)*size], in[i*inLen:(i+1)*inLen], sc)
				}
				net.scratch.Put(sc)
			})
		case kindAdd:
			out = make([]uint8, batch*size)
			kernels.AddCodes(out, codes[s.in[0]], codes[s.in[1]], size/n.Shape[0], s.add)
		case kindShortcut:
			out = make([]uint8, batch*size) // the new channels: code 0 of the zero quantizer
			op := n.Op.(nn.ShortcutA)
			in := net.steps[s.in[0]].node.Shape
			c, ih, iw := in[0], in[1], in[2]
			oh, ow := n.Shape[1], n.Shape[2]
			src := codes[s.in[0]]
			for i := 0; i < batch*c; i++ {
				b, ch := i/c, i%c
				plane := src[i*ih*iw:]
				dst := out[(b*n.Shape[0]+ch+op.PadC)*oh*ow:]
				for y := 0; y < oh; y++ {
					for x := 0; x < ow; x++ {
						dst[y*ow+x] = plane[y*op.Stride*iw+x*op.Stride]
					}
				}
			}
		case kindFloatOut:
			floatOut = make([]float32, batch*size)
			n.Op.Forward(floatOut, net.dequantized(s, codes, batch), net.inShapes(s), n.Shape, batch)
		case kindRescale:
			out = make([]uint8, batch*size)
			y := make([]float32, batch*size)
			n.Op.Forward(y, net.dequantized(s, codes, batch), net.inShapes(s), n.Shape, batch)
			s.quantize(out, y, batch)
		}
		codes[n.Index()] = out
		for _, p := range n.Inputs {
			if lastUse[p.Index()] == n.Index() {
				codes[p.Index()] = nil
			}
		}
	}
	if floatOut != nil {
		return floatOut, nil
	}
	last := net.steps[len(net.steps)-1]
	logits := make([]float32, len(codes[len(codes)-1]))
	dequantizeChannels(logits, codes[len(codes)-1], last.out, batch)
	return logits, nil
}

// getScratch returns a work buffer set of the pool (one goroutine's; the kernels write
// before they read, so a reused one needs no clearing).
func (net *Net) getScratch() *scratch {
	if sc, ok := net.scratch.Get().(*scratch); ok {
		return sc
	}
	return new(scratch)
}

// dequantized returns the real values of step s's inputs.
func (net *Net) dequantized(s *step, codes [][]uint8, batch int) [][]float32 {
	ins := make([][]float32, len(s.in))
	for i, idx := range s.in {
		ins[i] = make([]float32, len(codes[idx]))
		dequantizeChannels(ins[i], codes[idx], net.steps[idx].out, batch)
	}
	return ins
}

func (net *Net) inShapes(s *step) [][]int {
	shapes := make([][]int, len(s.in))
	for i, idx := range s.in {
		shapes[i] = net.steps[idx].node.Shape
	}
	return shapes
}

// quantize writes the codes of batch images x of the step's output (channel c quantized by
// s.out[c]): through kernels.QuantizeCodes — Quantize's arithmetic, SIMD in the browser —
// when the codes are bytes.
func (s *step) quantize(dst []uint8, x []float32, batch int) {
	c := len(s.out)
	inner := len(x) / (batch * c)
	if s.affine != nil {
		kernels.QuantizeCodes(dst, x, inner, s.affine)
		return
	}
	for i := 0; i < len(x); i += inner {
		q := s.out[(i/inner)%c]
		out := dst[i : i+inner]
		for j, v := range x[i : i+inner] {
			out[j] = uint8(q.Quantize(v))
		}
	}
}

// affines returns qs as kernels.Affine quantizers, or nil when some code is not a byte.
func affines(qs []quant.Quantizer) []kernels.Affine {
	if !byteCodes(qs...) {
		return nil
	}
	aff := make([]kernels.Affine, len(qs))
	for i, q := range qs {
		aff[i] = kernels.Affine{Scale: q.Scale, Zero: q.Zero, Lo: float64(q.QMin), Hi: float64(q.QMax)}
	}
	return aff
}

// byteCodes reports whether every quantizer's codes are bytes (0..255).
func byteCodes(qs ...quant.Quantizer) bool {
	for _, q := range qs {
		if q.QMin < 0 || q.QMax > 255 {
			return false
		}
	}
	return true
}

// dequantizeChannels writes the real values of batch images of codes.
func dequantizeChannels(dst []float32, codes []uint8, qs []quant.Quantizer, batch int) {
	c := len(qs)
	inner := len(codes) / (batch * c)
	for i := 0; i < len(codes); i += inner {
		q := qs[(i/inner)%c]
		out := dst[i : i+inner]
		for j, v := range codes[i : i+inner] {
			out[j] = q.Dequantize(int32(v))
		}
	}
}
