package kernels

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// QConv is a convolution from uint8 codes to uint8 codes with the requantization fused in:
// the input has one zero point for all its channels (per-tensor activations, up to 8 bits),
// every weight row has its own codes and zero point (up to 8 bits, PCBA's widths included),
// the sums are exact int32, and each output value becomes a code in float32:
//
//	v = Σ_k (w − zw)(a − z),  d = Σ_k (a − z)  (over the window of the output value)
//	code = clamp(roundEven(float32(v)·Mul + float32(d)·Off + Add), Lo, Hi)
//
// evaluated in exactly that order, each operation rounded to float32. The second term
// carries bias correction's per-row offset (a constant added to every corrected weight);
// Add holds the bias and the output zero point. Every implementation — the Go kernels and
// the WebAssembly SIMD128 kernel — computes the same integers and the same float32
// operations, so they give the same codes bit for bit.
type QConv struct {
	P    ConvParams
	M, K int
	zero uint8
	// rq is each output row's requantization; five float32 in a row, it is also the
	// parameter array the SIMD kernel reads.
	rq []QRequant

	// Go path: the packed 4-bit SWAR kernel when weights and inputs are 4-bit codes,
	// else the int16 GEMM on zero-point-subtracted values.
	u4      *PackedU4
	rowZero []int32
	i16     *PackedI16
	zeros   []int32 // the input zero point for each input channel (Im2colI16's argument)

	// SIMD path (simd build): weights (code − zw) as int16 pairs, panels of 4 rows; and
	// the byte offset of every k in the padded input plane stack.
	pairs []int16
	koff  []int32

	// Relaxed-SIMD path (simd build, weight codes ≤ 127): the weight codes as quads of k,
	// panels of 4 rows; per panel its rows' (128 − z)·Σ w and then their zw (relaxed.wat);
	// the byte offset of every k, K padded to a multiple of 4.
	quads []uint8
	zr    []int32
	koff4 []int32

	// Native path (GOEXPERIMENT=simd on AVX-512): each row's centred weights as int32
	// words of two int16.
	wpairs []int32
}

// QRequant is the requantization of one output row (see QConv).
type QRequant struct {
	Mul, Off, Add float32
	Lo, Hi        float32
}

// NewQConv builds the convolution p (one group) from the row-major M×K weight codes w,
// each row's weight zero point wZero, the input's zero point and largest code, and each
// row's requantization.
func NewQConv(p ConvParams, w []uint8, wZero []int32, zero, maxCode uint8, rq []QRequant) (*QConv, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	if p.Groups != 1 {
		return nil, errors.New("kernels: QConv takes one group")
	}
	m, k := p.OutC, p.InC*p.KH*p.KW
	if len(w) != m*k || len(wZero) != m || len(rq) != m {
		return nil, fmt.Errorf("kernels: QConv of %d×%d weights with %d codes, %d zero points, %d requantizations", m, k, len(w), len(wZero), len(rq))
	}
	// |w − zw| ≤ 255 and |a − z| ≤ 255: K < 2^15 keeps every int32 sum exact.
	if k >= 1<<15 {
		return nil, fmt.Errorf("kernels: QConv reduction of %d values is too long for int32 sums", k)
	}
	c := &QConv{P: p, M: m, K: k, zero: zero, rowZero: wZero, rq: slices.Clone(rq)}
	fourBit := maxCode <= 15 && zero <= 15
	for o, r := range rq {
		if !(r.Lo <= r.Hi) || r.Lo < 0 || r.Hi > 255 || isBad(r.Mul) || isBad(r.Off) || isBad(r.Add) {
			return nil, fmt.Errorf("kernels: QConv row %d: requantization %+v", o, r)
		}
		if wZero[o] < 0 || wZero[o] > 255 {
			return nil, fmt.Errorf("kernels: QConv row %d: weight zero point %d", o, wZero[o])
		}
	}
	centred := make([]int16, m*k)
	for i, v := range w {
		centred[i] = int16(int32(v) - wZero[i/k])
		if v > 15 || wZero[i/k] > 15 {
			fourBit = false
		}
	}
	if fourBit {
		c.u4 = PackU4(w, m, k, k)
	} else {
		c.i16 = PackI16(centred, m, k, k)
		c.zeros = make([]int32, p.InC)
		for i := range c.zeros {
			c.zeros[i] = int32(zero)
		}
	}
	c.pairs = packPairs(centred, m, k)
	c.prepareNative(centred)
	c.koff = make([]int32, 0, k+1)
	hp, wp := c.paddedDims()
	for ci := 0; ci < p.InC; ci++ {
		for ky := 0; ky < p.KH; ky++ {
			for kx := 0; kx < p.KW; kx++ {
				c.koff = append(c.koff, int32(ci*hp*wp+ky*p.DilH*wp+kx*p.DilW))
			}
		}
	}
	if k%2 == 1 {
		c.koff = append(c.koff, c.koff[k-1]) // its weight is 0; an address inside the planes
	}
	c.prepareRelaxed(w)
	return c, nil
}

func isBad(f float32) bool { return math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) }

// packPairs packs the row-major M×K int16 matrix a for the SIMD kernel: panels of 4 rows;
// per pair of k, each row's two values side by side (K is padded to even, M to 4 rows, with 0).
func packPairs(a []int16, m, k int) []int16 {
	kp := (k + 1) / 2
	panels := (m + 3) / 4
	out := make([]int16, panels*kp*8)
	for i := 0; i < m; i++ {
		panel := out[(i/4)*kp*8:]
		for kk := 0; kk < k; kk++ {
			panel[(kk/2)*8+(i%4)*2+kk%2] = a[i*k+kk]
		}
	}
	return out
}

// paddedDims is the size of each input plane after padding, as the SIMD path lays it out:
// the rows are wide enough for whole 8-pixel output panels (the columns past OutW are computed
// and dropped) and the planes are followed by slack for 16-byte loads.
func (c *QConv) paddedDims() (hp, wp int) {
	p := c.P
	ow := (p.OutW() + 7) / 8 * 8
	wp = max(p.InW+p.PadL+p.PadR, (ow-1)*p.StrideW+(p.KW-1)*p.DilW+1)
	return p.InH + p.PadT + p.PadB, wp
}

// QScratch holds one worker's reusable buffers for QConv.Forward.
type QScratch struct {
	acc    []int32
	colSum []int32
	words  []uint64
	b      []int16
	padded []uint8
	pad16  []int16 // the native path's centred, padded input planes
}

func grow[T any](s *[]T, n int) []T {
	if cap(*s) < n {
		*s = make([]T, n)
	}
	return (*s)[:n]
}

// Forward convolves one image of codes src (InC×InH×InW) into dst (M×OutH×OutW codes).
func (c *QConv) Forward(dst, src []uint8, s *QScratch) {
	p := c.P
	n := p.OutH() * p.OutW()
	if len(src) < p.InC*p.InH*p.InW || len(dst) < c.M*n {
		panic(fmt.Sprintf("kernels: QConv.Forward: %d input and %d output codes for %v", len(src), len(dst), p))
	}
	if qconvSIMD(c, dst, src, s) || c.forwardNative(dst, src, s) {
		return
	}
	acc := grow(&s.acc, c.M*n)
	colSum := grow(&s.colSum, n)
	k, z := int32(c.K), int32(c.zero)
	if c.u4 != nil {
		words := grow(&s.words, PackedU4BLen(c.K, n))
		Im2colU4(words, colSum, src, c.zero, p.InC, p)
		GemmU4(acc, n, c.u4, words, n)
		for o := 0; o < c.M; o++ {
			zw, rs := c.rowZero[o], c.u4.RowSum[o]
			row := acc[o*n : (o+1)*n]
			for j, raw := range row {
				row[j] = raw - zw*colSum[j] - z*rs + k*zw*z
			}
		}
		for j := range colSum {
			colSum[j] -= k * z
		}
	} else {
		b := grow(&s.b, PackedBLen(c.K, n))
		Im2colI16(b, src, c.zeros, p.InC, p)
		GemmI16(acc, n, c.i16, b, n)
		columnSums(colSum, b, c.K, n)
	}
	for o := 0; o < c.M; o++ {
		Requantize(dst[o*n:(o+1)*n], acc[o*n:(o+1)*n], colSum, c.rq[o])
	}
}

// columnSums writes Σ_k b[k][j] of a K×N matrix packed by PackBI16.
func columnSums(dst []int32, bp []int16, k, n int) {
	for j := 0; j < n; j++ {
		panel := bp[(j/nr)*k*nr:]
		var s int32
		for kk := 0; kk < k; kk++ {
			s += int32(panel[kk*nr+j%nr])
		}
		dst[j] = s
	}
}

// Requantize turns the sums v of one output row (and their windows' sums d) into codes,
// the arithmetic of QConv.
func Requantize(dst []uint8, v, d []int32, r QRequant) {
	for j, x := range v {
		y := float32(float32(x) * r.Mul)
		y = float32(y + float32(float32(d[j])*r.Off))
		y = float32(y + r.Add)
		y = float32(math.RoundToEven(float64(y)))
		if y < r.Lo {
			y = r.Lo
		}
		if y > r.Hi {
			y = r.Hi
		}
		dst[j] = uint8(y)
	}
}
