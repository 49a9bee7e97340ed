package engine

import (
	"fmt"
	"math"

	"fourbit/kernels"
	"fourbit/nn"
	"fourbit/ptq"
	"fourbit/quant"
)

// gemmLayer is a conv or linear layer in integer form.
type gemmLayer struct {
	conv   kernels.ConvParams // zero for a linear layer
	m, k   int                // output channels, reduction length per group
	groups int
	info   LayerInfo

	// The stored model: per output row its codes bit-packed at its width, and the row's
	// quantizer and bias correction (quant.WeightRow, with the codes decoded from packed).
	packed [][]byte
	rows   []quant.WeightRow
	bias   []float64
	inZero []int32 // zero point of every input channel
	outQ   []quant.Quantizer
	q      *kernels.QConv       // the per-tensor path: codes × codes, requantization fused
	i32    []*kernels.PackedI32 // the folded path's weights, per group
	rowMul []float64            // folded path: y = rowMul·acc + bias per output row
	float  nn.Weighted          // a layer reading the float network input, with the stored weights
}

// newGemmLayer builds layer n of q from its plan, given its input's and output's quantizers.
func newGemmLayer(q *ptq.Quantized, n *nn.Node, inQ, outQ []quant.Quantizer, floatIn bool) (*gemmLayer, error) {
	planned := q.WeightRows(n)
	if planned == nil {
		return nil, fmt.Errorf("its weights are kept in float; the integer engine needs every conv and linear layer quantized")
	}
	l := &gemmLayer{outQ: outQ, groups: 1}
	inC := n.Inputs[0].Shape[0]
	inner := nn.Size(n.Inputs[0].Shape) / inC // input values per channel (linear: features per channel)
	w, bias, rows := n.Op.(nn.Weighted).Weights()
	l.m, l.k = rows, len(w)/rows
	if c, ok := n.Op.(*nn.Conv); ok {
		l.conv = c.ConvParams(n.Inputs[0].Shape)
		l.groups = c.Groups
	}
	if len(planned) != l.m {
		return nil, fmt.Errorf("plan has %d weight rows, want %d", len(planned), l.m)
	}
	l.info = LayerInfo{Name: n.Name, Kind: n.Op.Kind(), RowBits: make([]int, l.m), FloatBytes: 4 * (len(w) + len(bias))}
	l.bias = make([]float64, l.m)
	maxRowBits := 0
	for o, r := range planned {
		if bias != nil {
			l.bias[o] = float64(bias[o])
		}
		bits := r.Q.Bits()
		l.info.RowBits[o] = bits
		maxRowBits = max(maxRowBits, bits)
		row, err := kernels.PackBits(nil, r.Codes, bits)
		if err != nil {
			return nil, fmt.Errorf("row %d: %w", o, err)
		}
		l.packed = append(l.packed, row)
		l.info.PackedBytes += len(row) + 4*4 + 2
		// The kernels are built from the packed model: decode the stored row.
		r.Codes = make([]uint8, l.k)
		if err := kernels.UnpackBits(r.Codes, row, bits); err != nil {
			return nil, fmt.Errorf("row %d: %w", o, err)
		}
		l.rows = append(l.rows, r)
	}
	l.inZero = make([]int32, inC)
	uniform := true
	maxCode := int32(0)
	for c, iq := range inQ {
		l.inZero[c] = int32(iq.Zero)
		maxCode = max(maxCode, iq.QMax)
		if iq != inQ[0] || iq.QMin < 0 {
			uniform = false
		}
	}
	// corrected is the layer's weight matrix as the simulation uses it (quant.WeightRow).
	corrected := make([]float32, l.m*l.k)
	for o, r := range l.rows {
		r.Weights(corrected[o*l.k : (o+1)*l.k])
	}
	if floatIn {
		// The layer reads the float image (the paper keeps the network input unquantized):
		// its stored rows, decoded and corrected, run in the float kernel.
		l.float = n.Op.(nn.Weighted).WithWeights(corrected, bias)
		l.info.Kernel = "float-input"
		return l, nil
	}
	if q := l.qconv(inQ[0], uniform, maxCode); q != nil {
		l.q = q
		l.info.Kernel = "qconv"
		return l, nil
	}
	l.info.Kernel = "int32-folded"
	// Fold: corrected weight × its input channel's scale, quantized per row to 31-bit
	// integers (one scale per row); the int64 sums of GemmI32 cannot overflow for any
	// reduction length the engine meets (K < 2^17). At this precision the folded path
	// computes the layer as exactly as float64 would.
	if l.k >= 1<<17 {
		return nil, fmt.Errorf("reduction of %d values is too long for the integer kernel", l.k)
	}
	const emax = 1 << 30
	icg := inC / l.groups
	ocg := l.m / l.groups
	folded := make([]float64, l.k)
	e := make([]int32, l.m*l.k)
	l.rowMul = make([]float64, l.m)
	for o := 0; o < l.m; o++ {
		g := o / ocg
		var top float64
		for i, w := range corrected[o*l.k : (o+1)*l.k] {
			var ch int
			if l.conv.KH > 0 {
				ch = g*icg + i/(l.conv.KH*l.conv.KW)
			} else {
				ch = i / inner
			}
			folded[i] = float64(w) * inQ[ch].Scale
			top = max(top, math.Abs(folded[i]))
		}
		if top == 0 {
			continue
		}
		t := top / emax
		l.rowMul[o] = t
		for i, v := range folded {
			e[o*l.k+i] = int32(math.Round(v / t))
		}
	}
	for g := 0; g < l.groups; g++ {
		l.i32 = append(l.i32, kernels.PackI32(e[g*ocg*l.k:], ocg, l.k, l.k))
	}
	return l, nil
}

// qconv builds the per-tensor path (kernels.QConv) when the layer allows it: a conv of one
// group whose input has one quantizer for all channels with codes in 0..255, and weight rows
// with integer zero points. The corrected weight is gain·s_w·(code − z_w) + offset, so
//
//	y = gain·s_w·s_in·Σ(code − z_w)(a − z) + offset·s_in·Σ(a − z) + bias
//
// and the output code is round(y/s_out) + z_out: the requantization folds 1/s_out and z_out
// into the kernel's per-row multipliers (float32, kernels.Requantize).
func (l *gemmLayer) qconv(in quant.Quantizer, uniform bool, maxCode int32) *kernels.QConv {
	if !uniform || maxCode > 255 || l.groups != 1 || l.conv.KH == 0 || in.Zero != math.Trunc(in.Zero) || in.Zero < 0 || in.Zero > 255 {
		return nil
	}
	zw := make([]int32, l.m)
	rq := make([]kernels.QRequant, l.m)
	codes := make([]uint8, 0, l.m*l.k)
	for o, row := range l.rows {
		codes = append(codes, row.Codes...)
		z := row.Q.Zero
		if z != math.Trunc(z) || z < 0 || z > 255 || l.info.RowBits[o] > 8 {
			return nil
		}
		zw[o] = int32(z)
		oq := l.outQ[o]
		if !byteCodes(oq) {
			return nil
		}
		r := kernels.QRequant{Add: float32(oq.Zero), Lo: float32(oq.QMin), Hi: float32(oq.QMax)}
		if oq.Scale != 0 {
			r.Mul = float32(row.Gain * row.Q.Scale * in.Scale / oq.Scale)
			r.Off = float32(row.Offset * in.Scale / oq.Scale)
			r.Add = float32(l.bias[o]/oq.Scale + oq.Zero)
		}
		rq[o] = r
	}
	q, err := kernels.NewQConv(l.conv, codes, zw, uint8(in.Zero), uint8(maxCode), rq)
	if err != nil {
		return nil // outside the kernel's bounds (non-finite multipliers, long reductions): the folded path
	}
	return q
}

// convImage runs the layer on one image of codes src into dst codes, with scratch space.
func (l *gemmLayer) convImage(dst, src []uint8, sc *scratch) {
	p := l.conv
	n := p.OutH() * p.OutW()
	if l.q != nil {
		l.q.Forward(dst, src, &sc.q)
		return
	}
	icg, ocg := p.InC/l.groups, l.m/l.groups
	acc := sc.acc64(l.m * n)
	for g := 0; g < l.groups; g++ {
		in := src[g*icg*p.InH*p.InW:]
		if kernels.ConvI32(acc[g*ocg*n:], n, l.i32[g], &sc.s, &sc.pad, in, l.inZero[g*icg:], icg, p) {
			continue // the native kernels (GOEXPERIMENT=simd on AVX-512): the same sums
		}
		b := sc.i16(kernels.PackedBLen(l.k, n))
		kernels.Im2colI16(b, in, l.inZero[g*icg:], icg, p)
		kernels.GemmI32(acc[g*ocg*n:], n, l.i32[g], b, n)
	}
	l.requant(dst, acc, n)
}

// requant turns folded-path sums (m rows of n) into output codes.
func (l *gemmLayer) requant(dst []uint8, acc []int64, n int) {
	for o := 0; o < l.m; o++ {
		mul, b, oq := l.rowMul[o], l.bias[o], l.outQ[o]
		row, out := acc[o*n:(o+1)*n], dst[o*n:(o+1)*n]
		kernels.RequantizeI64(out, row, mul, b, oq.Scale, oq.Zero, oq.QMin, oq.QMax)
	}
}

// linear runs a linear layer on batch images of codes (k values each) into dst (batch × m
// codes, image-major).
func (l *gemmLayer) linear(dst, src []uint8, batch int, sc *scratch) {
	inner := l.k / len(l.inZero)
	bm := make([]int16, l.k*batch) // K × batch, row-major
	for j := 0; j < batch; j++ {
		for i := 0; i < l.k; i++ {
			bm[i*batch+j] = int16(int32(src[j*l.k+i]) - l.inZero[i/inner])
		}
	}
	bp := sc.i16(kernels.PackedBLen(l.k, batch))
	kernels.PackBI16(bp, bm, l.k, batch, batch)
	acc := sc.acc64(l.m * batch)
	kernels.GemmI32(acc, batch, l.i32[0], bp, batch)
	out := make([]uint8, l.m*batch)
	l.requant(out, acc, batch)
	for o := 0; o < l.m; o++ {
		for j := 0; j < batch; j++ {
			dst[j*l.m+o] = out[o*batch+j]
		}
	}
}

// scratch holds one worker's reusable buffers.
type scratch struct {
	q   kernels.QScratch
	l   []int64
	s   []int16
	pad []int16 // the native folded path's padded input planes
}

func (s *scratch) acc64(n int) []int64 {
	if cap(s.l) < n {
		s.l = make([]int64, n)
	}
	return s.l[:n]
}

func (s *scratch) i16(n int) []int16 {
	if cap(s.s) < n {
		s.s = make([]int16, n)
	}
	return s.s[:n]
}
