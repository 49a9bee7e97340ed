//go:build goexperiment.simd && amd64

package kernels

import (
	"simd/archsimd"
	"unsafe"
)

// The native vector path of the float convolution (Go 1.26's simd/archsimd, AVX-512F): the
// im2col matrix in panels of 16 columns (one 512-bit vector), and a GEMM whose lanes are 16
// output pixels of one output channel. Each lane computes its dot product exactly as micro
// does — products rounded to float32 (Mul, then Add: never fused), summed in k order — so
// the result is the same bits as the portable kernel's.

// nr16 is the panel width of the vector path.
const nr16 = 16

// nativeOn reports whether the vector path runs: the CPU has AVX-512 (F, CD, BW, DQ, VL).
var nativeOn = archsimd.X86.AVX512()

// NativeSIMD reports whether the float convolution runs on the native AVX-512 kernels (a
// build with GOEXPERIMENT=simd on a CPU that has them).
func NativeSIMD() bool { return nativeOn }

// packedB16Len is the length of the 16-column panels of a K×N matrix.
func packedB16Len(k, n int) int { return (n + nr16 - 1) / nr16 * k * nr16 }

// nativeScratch is the scratch the vector path needs per image: the 16-column panels and
// one group's padded input planes.
func nativeScratch(p ConvParams) int {
	icg := p.InC / p.Groups
	return packedB16Len(icg*p.KH*p.KW, p.OutH()*p.OutW()) + icg*(p.InH+p.PadT+p.PadB)*(p.InW+p.PadL+p.PadR)
}

func (c *Conv) forwardNative(dst, src, scratch []float32) bool {
	if !nativeOn || forceGo {
		return false
	}
	p := c.P
	n := p.OutH() * p.OutW()
	icg, ocg := p.InC/p.Groups, p.OutC/p.Groups
	k := icg * p.KH * p.KW
	if len(scratch) < nativeScratch(p) {
		return false
	}
	b, pad := scratch[:packedB16Len(k, n)], scratch[packedB16Len(k, n):]
	if c.direct != nil {
		c.forwardDirect(dst, src, b, pad)
		return true
	}
	for g := 0; g < p.Groups; g++ {
		im2col16(b, pad, src[g*icg*p.InH*p.InW:], icg, p)
		var bias []float32
		if c.Bias != nil {
			bias = c.Bias[g*ocg:]
		}
		sgemm16(dst[g*ocg*n:], n, c.groups[g], b, n, bias)
	}
	return true
}

// im2col16 is Im2colPacked with panels of 16 columns. The image is first copied into
// planes with their padding written as 0 (pad), so that each (channel, ky, kx) row of the
// matrix is, output row by output row, a run of one padded input row (contiguous at stride 1)
// copied without bounds to test.
func im2col16(dst, pad, src []float32, icg int, p ConvParams) {
	oh, ow := p.OutH(), p.OutW()
	n := oh * ow
	k := icg * p.KH * p.KW
	panels := (n + nr16 - 1) / nr16
	if tail := n % nr16; tail != 0 { // the last panel's padding columns are zero
		last := dst[(panels-1)*k*nr16 : panels*k*nr16]
		for kk := 0; kk < k; kk++ {
			clear(last[kk*nr16+tail : (kk+1)*nr16])
		}
	}
	hp, wp := p.InH+p.PadT+p.PadB, p.InW+p.PadL+p.PadR
	planes := padPlanes(pad, src, icg, p)
	kk := 0
	for ci := 0; ci < icg; ci++ {
		plane := planes[ci*hp*wp : (ci+1)*hp*wp]
		for ky := 0; ky < p.KH; ky++ {
			for kx := 0; kx < p.KW; kx++ {
				for oy := 0; oy < oh; oy++ {
					row := plane[(oy*p.StrideH+ky*p.DilH)*wp+kx*p.DilW:]
					j := oy * ow
					for ox := 0; ox < ow; {
						run := min(ow-ox, nr16-j%nr16) // up to the end of this panel's row
						out := dst[(j/nr16)*k*nr16+kk*nr16+j%nr16:]
						out = out[:run]
						if p.StrideW == 1 { // one vector (masked when shorter): no memmove call
							if run == nr16 {
								archsimd.LoadFloat32x16Slice(row[ox : ox+nr16]).StoreSlice(out)
							} else {
								archsimd.LoadFloat32x16SlicePart(row[ox : ox+run]).StoreSlicePart(out)
							}
						} else {
							in := row[ox*p.StrideW:]
							in = in[:(run-1)*p.StrideW+1]
							for t := range out {
								out[t] = in[t*p.StrideW]
							}
						}
						ox += run
						j += run
					}
				}
				kk++
			}
		}
	}
}

// sgemm16 is sgemmGo for B in 16-column panels: C = A·B (+ bias per row). Rows go two at a
// time (one A panel), columns three panels at a time (micro2x3), then two (micro2x2), then
// one (micro2x1, which also serves a last panel narrower than 16 and an odd last row).
func sgemm16(c []float32, ldc int, a *PackedA, bp []float32, n int, bias []float32) {
	k := a.K
	m := a.M
	panels := (n + nr16 - 1) / nr16
	var blk [4][3][nr16]float32
	for i0 := 0; i0 < m; i0 += 2 {
		rows := min(2, m-i0)
		ap := a.Data[(i0/mr)*k*mr : (i0/mr+1)*k*mr]
		var b0, b1 float32
		if bias != nil {
			b0 = bias[i0]
			if rows == 2 {
				b1 = bias[i0+1]
			}
		}
		jp := 0
		if rows == 2 {
			for ; (jp+3)*nr16 <= n && (jp+4)*nr16 != n; jp += 3 { // four panels go as 2 + 2
				micro2x3(c[i0*ldc+jp*nr16:], ldc, b0, b1, ap, bp[jp*k*nr16:(jp+3)*k*nr16], k)
			}
			for ; (jp+2)*nr16 <= n; jp += 2 {
				micro2x2(c[i0*ldc+jp*nr16:], ldc, b0, b1, ap, bp[jp*k*nr16:(jp+2)*k*nr16], k)
			}
		}
		for ; jp < panels; jp++ {
			micro2x1(&blk, 0, ap, bp[jp*k*nr16:(jp+1)*k*nr16], k)
			j0 := jp * nr16
			w := min(nr16, n-j0)
			for r, bs := range []float32{b0, b1}[:rows] {
				v := archsimd.LoadFloat32x16(&blk[r][0]).Add(archsimd.BroadcastFloat32x16(bs))
				row := c[(i0+r)*ldc:]
				if w == nr16 {
					v.StoreSlice(row[j0 : j0+nr16])
				} else {
					v.StoreSlicePart(row[j0 : j0+w])
				}
			}
		}
	}
}

// micro2x3 is micro2x2 with three B panels: six accumulators, so that six independent sums
// hide the latency of the additions (see direct2x3).
func micro2x3(c []float32, ldc int, b0, b1 float32, a0, b []float32, k int) {
	var c00, c01, c02, c10, c11, c12 archsimd.Float32x16
	if k <= 0 || len(b) < 3*k*nr16 || len(a0) < 2*k || len(c) < ldc+3*nr16 {
		panic("kernels: micro2x3 operands too short")
	}
	pb0 := unsafe.Pointer(&b[0])
	pb1 := unsafe.Pointer(&b[k*nr16])
	pb2 := unsafe.Pointer(&b[2*k*nr16])
	pa := unsafe.Pointer(&a0[0])
	for kk := 0; kk < k; kk++ {
		x0 := archsimd.LoadFloat32x16((*[16]float32)(pb0))
		x1 := archsimd.LoadFloat32x16((*[16]float32)(pb1))
		x2 := archsimd.LoadFloat32x16((*[16]float32)(pb2))
		pb0, pb1, pb2 = unsafe.Add(pb0, 64), unsafe.Add(pb1, 64), unsafe.Add(pb2, 64)
		r := archsimd.BroadcastFloat32x16(*(*float32)(pa))
		c00 = c00.Add(r.Mul(x0))
		c01 = c01.Add(r.Mul(x1))
		c02 = c02.Add(r.Mul(x2))
		r = archsimd.BroadcastFloat32x16(*(*float32)(unsafe.Add(pa, 4)))
		c10 = c10.Add(r.Mul(x0))
		c11 = c11.Add(r.Mul(x1))
		c12 = c12.Add(r.Mul(x2))
		pa = unsafe.Add(pa, 8)
	}
	vb := archsimd.BroadcastFloat32x16(b0)
	c00.Add(vb).StoreSlice(c[:nr16])
	c01.Add(vb).StoreSlice(c[nr16 : 2*nr16])
	c02.Add(vb).StoreSlice(c[2*nr16 : 3*nr16])
	vb = archsimd.BroadcastFloat32x16(b1)
	c10.Add(vb).StoreSlice(c[ldc : ldc+nr16])
	c11.Add(vb).StoreSlice(c[ldc+nr16 : ldc+2*nr16])
	c12.Add(vb).StoreSlice(c[ldc+2*nr16 : ldc+3*nr16])
}

// micro2x2 computes a 2-row × 32-column block of C (at c, leading dimension ldc, the biases
// b0 and b1 added at the end as sgemmGo adds them): rows from one A panel (2 rows, k-major),
// two 16-column B panels one after another in b. Two rows, not four: four accumulators, two B
// vectors and the products stay within the sixteen vector registers Go allocates, where a
// 4×2 tile spilled two accumulators to the stack every step and ran at half the speed.
func micro2x2(c []float32, ldc int, b0, b1 float32, a0, b []float32, k int) {
	var c00, c01, c10, c11 archsimd.Float32x16
	if k <= 0 || len(b) < 2*k*nr16 || len(a0) < 2*k || len(c) < ldc+2*nr16 {
		panic("kernels: micro2x2 operands too short")
	}
	// The bounds are checked above once; the loop walks raw pointers (per-load bounds checks
	// and their spilled indices cost more than the arithmetic).
	pb0 := unsafe.Pointer(&b[0])
	pb1 := unsafe.Pointer(&b[k*nr16])
	pa := unsafe.Pointer(&a0[0])
	for kk := 0; kk < k; kk++ {
		x0 := archsimd.LoadFloat32x16((*[16]float32)(pb0))
		x1 := archsimd.LoadFloat32x16((*[16]float32)(pb1))
		pb0, pb1 = unsafe.Add(pb0, 64), unsafe.Add(pb1, 64)
		r := archsimd.BroadcastFloat32x16(*(*float32)(pa))
		c00 = c00.Add(r.Mul(x0))
		c01 = c01.Add(r.Mul(x1))
		r = archsimd.BroadcastFloat32x16(*(*float32)(unsafe.Add(pa, 4)))
		c10 = c10.Add(r.Mul(x0))
		c11 = c11.Add(r.Mul(x1))
		pa = unsafe.Add(pa, 8)
	}
	vb := archsimd.BroadcastFloat32x16(b0)
	c00.Add(vb).StoreSlice(c[:nr16])
	c01.Add(vb).StoreSlice(c[nr16 : 2*nr16])
	vb = archsimd.BroadcastFloat32x16(b1)
	c10.Add(vb).StoreSlice(c[ldc : ldc+nr16])
	c11.Add(vb).StoreSlice(c[ldc+nr16 : ldc+2*nr16])
}

// micro2x1 computes 2 rows × one 16-column panel into out[·][q].
func micro2x1(out *[4][3][nr16]float32, q int, a0, b []float32, k int) {
	var c0, c1 archsimd.Float32x16
	b = b[:k*nr16]
	a0 = a0[:2*k]
	for kk := 0; kk < k; kk++ {
		x := archsimd.LoadFloat32x16Slice(b[kk*nr16:])
		c0 = c0.Add(archsimd.BroadcastFloat32x16(a0[2*kk]).Mul(x))
		c1 = c1.Add(archsimd.BroadcastFloat32x16(a0[2*kk+1]).Mul(x))
	}
	c0.Store(&out[0][q])
	c1.Store(&out[1][q])
}

// The native path of QConv (AVX-512BW): the im2col matrix of centred codes (code − zero) in
// panels of 16 output pixels, two k per int16 pair ([k/2][16][2], one 512-bit vector per k
// pair), multiplied by VPMADDWD (DotProductPairs) against each row's broadcast weight pair
// and summed in int32 — exact, as every QConv path is — then requantized with the float32
// operations of Requantize, in the same order, sixteen pixels at a time.

// prepareNative keeps each weight row's centred codes as int32 words of two int16 (k, k+1).
func (c *QConv) prepareNative(centred []int16) {
	if !nativeOn {
		return
	}
	kp := (c.K + 1) / 2
	c.wpairs = make([]int32, c.M*kp)
	for o := 0; o < c.M; o++ {
		row := centred[o*c.K : (o+1)*c.K]
		for q := 0; q < kp; q++ {
			lo := uint32(uint16(row[2*q]))
			var hi uint32
			if 2*q+1 < c.K {
				hi = uint32(uint16(row[2*q+1]))
			}
			c.wpairs[o*kp+q] = int32(lo | hi<<16)
		}
	}
}

func (c *QConv) forwardNative(dst, src []uint8, s *QScratch) bool {
	if !nativeOn || forceGo || c.wpairs == nil {
		return false
	}
	p := c.P
	n := p.OutH() * p.OutW()
	kp := (c.K + 1) / 2
	panels := (n + nr16 - 1) / nr16
	b := grow(&s.b, panels*kp*2*nr16)
	im2colPairs(b, &s.pad16, src, int16(c.zero), p)
	colSum := grow(&s.colSum, panels*nr16)
	ones := archsimd.BroadcastInt32x16(1 | 1<<16).AsInt16x32()
	for jp := 0; jp < panels; jp++ {
		panel := b[jp*kp*2*nr16 : (jp+1)*kp*2*nr16]
		var d archsimd.Int32x16
		for q := 0; q < kp; q++ {
			d = d.Add(archsimd.LoadInt16x32Slice(panel[q*2*nr16:]).DotProductPairs(ones))
		}
		d.StoreSlice(colSum[jp*nr16:])
	}
	var blk [4][3]archsimd.Int32x16
	for o0 := 0; o0 < c.M; o0 += 4 {
		rows := min(4, c.M-o0)
		for jp := 0; jp < panels; jp += 2 {
			np := min(2, panels-jp)
			bb := b[jp*kp*2*nr16 : (jp+np)*kp*2*nr16]
			if rows == 4 && np == 2 {
				qmicro4x2(&blk, c.wpairs[o0*kp:(o0+4)*kp], bb, kp)
			} else {
				for r := 0; r < rows; r++ {
					for q := 0; q < np; q++ {
						blk[r][q] = qmicro1x1(c.wpairs[(o0+r)*kp:(o0+r+1)*kp], bb[q*kp*2*nr16:(q+1)*kp*2*nr16], kp)
					}
				}
			}
			for r := 0; r < rows; r++ {
				rq := newRequant16(c.rq[o0+r])
				row := dst[(o0+r)*n : (o0+r+1)*n]
				for q := 0; q < np; q++ {
					j0 := (jp + q) * nr16
					rq.apply(row[j0:min(j0+nr16, n)], blk[r][q], archsimd.LoadInt32x16Slice(colSum[j0:]))
				}
			}
		}
	}
	return true
}

// requant16 is one row's QRequant broadcast to sixteen lanes.
type requant16 struct{ mul, off, add, lo, hi archsimd.Float32x16 }

func newRequant16(r QRequant) requant16 {
	b := archsimd.BroadcastFloat32x16
	return requant16{b(r.Mul), b(r.Off), b(r.Add), b(r.Lo), b(r.Hi)}
}

// apply is Requantize for sixteen sums v with their window sums d (dst: up to 16).
func (r *requant16) apply(dst []uint8, v, d archsimd.Int32x16) {
	y := v.ConvertToFloat32().Mul(r.mul)
	y = y.Add(d.ConvertToFloat32().Mul(r.off))
	y = y.Add(r.add)
	y = y.RoundToEvenScaled(0)
	y = y.Max(r.lo).Min(r.hi)
	codes := y.ConvertToInt32().TruncateToInt8().AsUint8x16() // codes are 0..255: the low bytes
	if len(dst) == 16 {
		codes.StoreSlice(dst)
	} else {
		codes.StoreSlicePart(dst)
	}
}

// qmicro4x2 sums 4 weight rows (wp: 4 rows of kp pairs) against 2 panels (eight
// accumulators: within Go's sixteen vector registers).
func qmicro4x2(out *[4][3]archsimd.Int32x16, wp []int32, b []int16, kp int) {
	var c00, c01, c10, c11, c20, c21, c30, c31 archsimd.Int32x16
	const w = 2 * nr16
	if kp <= 0 || len(wp) < 4*kp || len(b) < 2*kp*w {
		panic("kernels: qmicro4x2 operands too short")
	}
	// The bounds are checked above once; the loop walks raw pointers (the per-load bounds
	// checks of six slices spilled their indices to the stack).
	pb0, pb1 := unsafe.Pointer(&b[0]), unsafe.Pointer(&b[kp*w])
	pw := unsafe.Pointer(&wp[0])
	row := uintptr(kp) * 4
	for q := 0; q < kp; q++ {
		x0 := archsimd.LoadInt16x32((*[32]int16)(pb0))
		x1 := archsimd.LoadInt16x32((*[32]int16)(pb1))
		pb0, pb1 = unsafe.Add(pb0, 2*w), unsafe.Add(pb1, 2*w)
		a := archsimd.BroadcastInt32x16(*(*int32)(pw)).AsInt16x32()
		c00 = c00.Add(x0.DotProductPairs(a))
		c01 = c01.Add(x1.DotProductPairs(a))
		a = archsimd.BroadcastInt32x16(*(*int32)(unsafe.Add(pw, row))).AsInt16x32()
		c10 = c10.Add(x0.DotProductPairs(a))
		c11 = c11.Add(x1.DotProductPairs(a))
		a = archsimd.BroadcastInt32x16(*(*int32)(unsafe.Add(pw, 2*row))).AsInt16x32()
		c20 = c20.Add(x0.DotProductPairs(a))
		c21 = c21.Add(x1.DotProductPairs(a))
		a = archsimd.BroadcastInt32x16(*(*int32)(unsafe.Add(pw, 3*row))).AsInt16x32()
		c30 = c30.Add(x0.DotProductPairs(a))
		c31 = c31.Add(x1.DotProductPairs(a))
		pw = unsafe.Add(pw, 4)
	}
	out[0][0], out[0][1] = c00, c01
	out[1][0], out[1][1] = c10, c11
	out[2][0], out[2][1] = c20, c21
	out[3][0], out[3][1] = c30, c31
}

// qmicro1x1 sums one weight row against one panel.
func qmicro1x1(wp []int32, b []int16, kp int) archsimd.Int32x16 {
	var acc archsimd.Int32x16
	const w = 2 * nr16
	b = b[:kp*w]
	wp = wp[:kp]
	for q := 0; q < kp; q++ {
		acc = acc.Add(archsimd.LoadInt16x32Slice(b[q*w:]).DotProductPairs(archsimd.BroadcastInt32x16(wp[q]).AsInt16x32()))
	}
	return acc
}

// im2colPairs writes the centred im2col matrix (code − zero, 0 for padding) of one image of
// codes in the pair-interleaved 16-pixel panels: value (k, j) at
// panel(j)·kp·32 + (k/2)·32 + (j mod 16)·2 + k mod 2. An odd K's last pair and the last
// panel's columns past N are 0. The input is first laid out centred, as int16, in planes with
// their padding written as 0, so that the copy has no bounds to test.
func im2colPairs(dst []int16, pad *[]int16, src []uint8, zero int16, p ConvParams) {
	oh, ow := p.OutH(), p.OutW()
	k := p.InC * p.KH * p.KW
	kp := (k + 1) / 2
	hp, wp := p.InH+p.PadT+p.PadB, p.InW+p.PadL+p.PadR
	planes := grow(pad, p.InC*hp*wp)
	clear(planes)
	z16 := archsimd.BroadcastInt16x16(zero)
	for ci := 0; ci < p.InC; ci++ {
		for y := 0; y < p.InH; y++ {
			in := src[(ci*p.InH+y)*p.InW : (ci*p.InH+y+1)*p.InW]
			out := planes[(ci*hp+y+p.PadT)*wp+p.PadL:]
			out = out[:len(in)]
			x := 0
			for ; x+16 <= len(in); x += 16 { // widen sixteen codes, subtract the zero point
				archsimd.LoadUint8x16Slice(in[x:]).ExtendToUint16().AsInt16x16().Sub(z16).StoreSlice(out[x:])
			}
			for ; x < len(in); x++ {
				out[x] = int16(in[x]) - zero
			}
		}
	}
	const panelRow = 2 * nr16
	if p.StrideW == 1 {
		im2colPairsStride1(dst, planes, kp, p)
		return
	}
	clear(dst)
	kk := 0
	for ci := 0; ci < p.InC; ci++ {
		plane := planes[ci*hp*wp : (ci+1)*hp*wp]
		for ky := 0; ky < p.KH; ky++ {
			for kx := 0; kx < p.KW; kx++ {
				lane := (kk/2)*panelRow + kk%2
				for oy := 0; oy < oh; oy++ {
					row := plane[(oy*p.StrideH+ky*p.DilH)*wp+kx*p.DilW:]
					j := oy * ow
					for ox := 0; ox < ow; {
						// The run of pixels of this output row inside one panel.
						run := min(ow-ox, nr16-j%nr16)
						out := dst[(j/nr16)*kp*panelRow+lane+(j%nr16)*2:]
						out = out[:2*run-1]
						in := row[ox*p.StrideW:]
						if p.StrideW == 1 {
							in = in[:run]
							for t, v := range in {
								out[2*t] = v
							}
						} else {
							in = in[:(run-1)*p.StrideW+1]
							for t := 0; t < run; t++ {
								out[2*t] = in[t*p.StrideW]
							}
						}
						ox += run
						j += run
					}
				}
				kk++
			}
		}
	}
}

// ConvI32 is the int32-folded convolution of one group of an image of codes — Im2colI16
// (code − zero[ci], 0 for padding) then GemmI32 — on the native path: the im2col matrix in
// panels of 8 pixels and a GEMM whose lanes are 8 int64 sums (the int16 values sign-extended,
// the int32 weights broadcast, VPMULLQ products: exact, as GemmI32's). It returns false, having
// done nothing, where the native kernels do not run; scratch is grown as needed.
func ConvI32(c []int64, ldc int, a *PackedI32, scratch *[]int16, pad *[]int16, src []uint8, zero []int32, icg int, p ConvParams) bool {
	if !nativeOn || forceGo {
		return false
	}
	oh, ow := p.OutH(), p.OutW()
	n := oh * ow
	k := icg * p.KH * p.KW
	const w8 = 8
	panels := (n + w8 - 1) / w8
	b := grow(scratch, panels*k*w8)
	hp, wp := p.InH+p.PadT+p.PadB, p.InW+p.PadL+p.PadR
	planes := grow(pad, icg*hp*wp)
	clear(planes)
	for ci := 0; ci < icg; ci++ {
		z := int16(zero[ci])
		for y := 0; y < p.InH; y++ {
			in := src[(ci*p.InH+y)*p.InW : (ci*p.InH+y+1)*p.InW]
			out := planes[(ci*hp+y+p.PadT)*wp+p.PadL:]
			out = out[:len(in)]
			for x, v := range in {
				out[x] = int16(v) - z
			}
		}
	}
	if tail := n % w8; tail != 0 {
		last := b[(panels-1)*k*w8:]
		for kk := 0; kk < k; kk++ {
			clear(last[kk*w8+tail : (kk+1)*w8])
		}
	}
	kk := 0
	for ci := 0; ci < icg; ci++ {
		plane := planes[ci*hp*wp : (ci+1)*hp*wp]
		for ky := 0; ky < p.KH; ky++ {
			for kx := 0; kx < p.KW; kx++ {
				for oy := 0; oy < oh; oy++ {
					row := plane[(oy*p.StrideH+ky*p.DilH)*wp+kx*p.DilW:]
					j := oy * ow
					for ox := 0; ox < ow; {
						run := min(ow-ox, w8-j%w8)
						out := b[(j/w8)*k*w8+kk*w8+j%w8:]
						out = out[:run]
						if p.StrideW == 1 {
							copy(out, row[ox:ox+run])
						} else {
							in := row[ox*p.StrideW:]
							in = in[:(run-1)*p.StrideW+1]
							for t := range out {
								out[t] = in[t*p.StrideW]
							}
						}
						ox += run
						j += run
					}
				}
				kk++
			}
		}
	}
	m := a.M
	for i0 := 0; i0 < m; i0 += 4 {
		rows := min(4, m-i0)
		ap0 := a.Data[(i0/mr)*k*mr : (i0/mr+1)*k*mr]
		var ap1 []int32
		if rows > 2 {
			ap1 = a.Data[(i0/mr+1)*k*mr : (i0/mr+2)*k*mr]
		}
		for jp := 0; jp < panels; jp += 2 {
			np := min(2, panels-jp)
			var blk [4][3][w8]int64
			if rows > 2 && np == 2 {
				i32micro4x2(&blk, ap0, ap1, b[jp*k*w8:(jp+2)*k*w8], k)
			} else {
				for q := 0; q < np; q++ {
					bq := b[(jp+q)*k*w8 : (jp+q+1)*k*w8]
					i32micro2x1(&blk, 0, q, ap0, bq, k)
					if rows > 2 {
						i32micro2x1(&blk, 2, q, ap1, bq, k)
					}
				}
			}
			for r := 0; r < rows; r++ {
				row := c[(i0+r)*ldc:]
				for q := 0; q < np; q++ {
					j0 := (jp + q) * w8
					copy(row[j0:j0+min(w8, n-j0)], blk[r][q][:])
				}
			}
		}
	}
	return true
}

// i32micro4x2: 4 rows (two PackedI32 panels) × 16 pixels (two 8-pixel panels).
func i32micro4x2(out *[4][3][8]int64, a0, a1 []int32, b []int16, k int) {
	var c00, c01, c10, c11, c20, c21, c30, c31 archsimd.Int64x8
	b0, b1 := b[:k*8], b[k*8:2*k*8]
	a0, a1 = a0[:2*k], a1[:2*k]
	for kk := 0; kk < k; kk++ {
		x0 := archsimd.LoadInt16x8Slice(b0[kk*8:]).ExtendToInt64()
		x1 := archsimd.LoadInt16x8Slice(b1[kk*8:]).ExtendToInt64()
		r := archsimd.BroadcastInt64x8(int64(a0[2*kk]))
		c00 = c00.Add(x0.Mul(r))
		c01 = c01.Add(x1.Mul(r))
		r = archsimd.BroadcastInt64x8(int64(a0[2*kk+1]))
		c10 = c10.Add(x0.Mul(r))
		c11 = c11.Add(x1.Mul(r))
		r = archsimd.BroadcastInt64x8(int64(a1[2*kk]))
		c20 = c20.Add(x0.Mul(r))
		c21 = c21.Add(x1.Mul(r))
		r = archsimd.BroadcastInt64x8(int64(a1[2*kk+1]))
		c30 = c30.Add(x0.Mul(r))
		c31 = c31.Add(x1.Mul(r))
	}
	c00.Store(&out[0][0])
	c01.Store(&out[0][1])
	c10.Store(&out[1][0])
	c11.Store(&out[1][1])
	c20.Store(&out[2][0])
	c21.Store(&out[2][1])
	c30.Store(&out[3][0])
	c31.Store(&out[3][1])
}

// i32micro2x1: the two rows of one PackedI32 panel × one 8-pixel panel, into out[r0, r0+1][q].
func i32micro2x1(out *[4][3][8]int64, r0, q int, a []int32, b []int16, k int) {
	var c0, c1 archsimd.Int64x8
	b = b[:k*8]
	a = a[:2*k]
	for kk := 0; kk < k; kk++ {
		x := archsimd.LoadInt16x8Slice(b[kk*8:]).ExtendToInt64()
		c0 = c0.Add(x.Mul(archsimd.BroadcastInt64x8(int64(a[2*kk]))))
		c1 = c1.Add(x.Mul(archsimd.BroadcastInt64x8(int64(a[2*kk+1]))))
	}
	c0.Store(&out[r0][q])
	c1.Store(&out[r0+1][q])
}

// reluNative is ReLU on 16 float32 lanes with Go's max(v, 0) semantics: NaN stays NaN and −0
// becomes +0 (a lane keeps v where v > 0 or v is NaN, else it is +0).
func reluNative(dst, src []float32) bool {
	if !nativeOn || forceGo {
		return false
	}
	dst = dst[:len(src)]
	var zero archsimd.Float32x16
	i := 0
	for ; i+16 <= len(src); i += 16 {
		v := archsimd.LoadFloat32x16Slice(src[i:])
		v.Masked(v.Greater(zero).Or(v.NotEqual(v))).StoreSlice(dst[i:])
	}
	if i < len(src) {
		v := archsimd.LoadFloat32x16SlicePart(src[i:])
		v.Masked(v.Greater(zero).Or(v.NotEqual(v))).StoreSlicePart(dst[i:])
	}
	return true
}

// padPlanes returns the icg input planes of src with their padding written as 0: src itself
// when the convolution has no padding, else a copy in pad.
func padPlanes(pad, src []float32, icg int, p ConvParams) []float32 {
	hp, wp := p.InH+p.PadT+p.PadB, p.InW+p.PadL+p.PadR
	if hp == p.InH && wp == p.InW {
		return src[:icg*hp*wp]
	}
	planes := pad[:icg*hp*wp]
	clear(planes)
	for ci := 0; ci < icg; ci++ {
		for y := 0; y < p.InH; y++ {
			copy(planes[(ci*hp+y+p.PadT)*wp+p.PadL:], src[(ci*p.InH+y)*p.InW:(ci*p.InH+y+1)*p.InW])
		}
	}
	return planes
}

// The direct convolution (native, stride 1 along the width, output rows of 16 pixels or
// more, output channels per group even): no im2col matrix at all. Sixteen consecutive
// output pixels of one row read, for each (channel, ky, kx) term, as many
// consecutive values of one padded input row, so the GEMM's B vector is loaded straight from
// the padded planes at a precomputed offset. A row whose width is not a multiple of that ends
// with a group that overlaps the one before it (those pixels are computed twice, with the
// same bits). The arithmetic is micro2x2's — products rounded, summed in (channel, ky, kx)
// order from +0, the bias added last — so the result equals the im2col path's bit for bit.

// prepareDirect fills c.direct (and directMax, directShifted) where a direct convolution
// applies: rows of ≥ 16 output pixels read the padded planes; at stride 1 both ways, rows of
// fewer read kx-shifted copies of them (directShifted).
func (c *Conv) prepareDirect() {
	p := c.P
	if !nativeOn || p.StrideW != 1 || (p.OutC/p.Groups)%mr != 0 {
		return
	}
	ow := p.OutW()
	shifted := ow < nr16
	if shifted && (p.StrideH != 1 || p.OutH()*ow < nr16) {
		return
	}
	icg := p.InC / p.Groups
	hp, wp := p.InH+p.PadT+p.PadB, p.InW+p.PadL+p.PadR
	if int64(icg)*int64(hp)*int64(max(wp, p.KW*ow)) >= 1<<31 {
		return // offsets would not fit int32: the im2col path
	}
	offs := make([]int32, 0, icg*p.KH*p.KW)
	maxOff := 0
	for ci := 0; ci < icg; ci++ {
		for ky := 0; ky < p.KH; ky++ {
			for kx := 0; kx < p.KW; kx++ {
				off := ci*hp*wp + ky*p.DilH*wp + kx*p.DilW
				if shifted { // plane (ci, kx) of hp rows of ow values
					off = (ci*p.KW+kx)*hp*ow + ky*p.DilH*ow
				}
				offs = append(offs, int32(off))
				maxOff = max(maxOff, off)
			}
		}
	}
	if shifted && icg*p.KW*hp*ow > packedB16Len(len(offs), p.OutH()*ow) {
		return // the shifted planes would not fit the scratch
	}
	c.direct, c.directMax, c.directShifted = offs, maxOff, shifted
}

func (c *Conv) forwardDirect(dst, src, b, pad []float32) {
	p := c.P
	oh, ow := p.OutH(), p.OutW()
	n := oh * ow
	icg, ocg := p.InC/p.Groups, p.OutC/p.Groups
	wp := p.InW + p.PadL + p.PadR
	perRow := (ow + nr16 - 1) / nr16
	groups := oh * perRow
	at := func(gi int) (in, out int) {
		oy, ox := gi/perRow, min(gi%perRow*nr16, ow-nr16)
		return oy*p.StrideH*wp + ox, oy*ow + ox
	}
	if c.directShifted { // groups of 16 consecutive output pixels, across rows
		perRow, groups = 1, (n+nr16-1)/nr16
		at = func(gi int) (in, out int) {
			j := min(gi*nr16, n-nr16)
			return j, j
		}
	}
	for g := 0; g < p.Groups; g++ {
		planes := padPlanes(pad, src[g*icg*p.InH*p.InW:], icg, p)
		if c.directShifted {
			planes = shiftPlanes(b, planes, icg, p)
		}
		a := c.groups[g]
		out := dst[g*ocg*n : (g+1)*ocg*n]
		// tile runs 2 output channels from i0 on groups gi.. (three, or two: a single last
		// group is paired with itself) and returns the group after them. Triples while more
		// than four groups are left; four go as 2 + 2.
		tile := func(i0, gi int) int {
			var bs [2]float32
			if c.Bias != nil {
				copy(bs[:], c.Bias[g*ocg+i0:g*ocg+i0+2])
			}
			ap := a.Data[(i0/mr)*a.K*mr : (i0/mr+1)*a.K*mr]
			if gi+3 <= groups && groups-gi != 4 {
				in0, out0 := at(gi)
				in1, out1 := at(gi + 1)
				in2, out2 := at(gi + 2)
				direct2x3(out[i0*n:], n, out0, out1, out2, &bs, ap, planes, in0, in1, in2, c.direct, c.directMax)
				return gi + 3
			}
			in0, out0 := at(gi)
			in1, out1 := at(min(gi+1, groups-1))
			direct2x2(out[i0*n:], n, out0, out1, &bs, ap, planes, in0, in1, c.direct, c.directMax)
			return gi + 2
		}
		// The smaller operand stays in cache: with more weights than input, every pair of
		// output channels sweeps the whole image; else every group sweeps all the weights.
		if len(a.Data) > len(planes) {
			for i0 := 0; i0 < ocg; i0 += 2 {
				for gi := 0; gi < groups; {
					gi = tile(i0, gi)
				}
			}
		} else {
			for gi := 0; gi < groups; {
				next := gi
				for i0 := 0; i0 < ocg; i0 += 2 {
					next = tile(i0, gi)
				}
				gi = next
			}
		}
	}
}

// direct2x2 computes 2 output channels (rows of c, leading dimension ldc, bias bs added last)
// × two groups of 16 pixels (at out0 and out1 in each row), reading the input at
// planes[in0+off] and planes[in1+off] for each term's offset, the weights from one A panel.
// Two rows, not four: with four accumulators, two inputs and the products the loop stays
// within the sixteen vector registers Go allocates — a 4×2 tile spills two accumulators to
// the stack every step and runs at half the speed.
func direct2x2(c []float32, ldc, out0, out1 int, bs *[2]float32, a0, planes []float32, in0, in1 int, offs []int32, maxOff int) {
	k := len(offs)
	var c00, c01, c10, c11 archsimd.Float32x16
	if k == 0 {
		panic("kernels: direct2x2 without terms")
	}
	last := maxOff
	if len(a0) < 2*k || in0 < 0 || in1 < 0 ||
		in0+last+nr16 > len(planes) || in1+last+nr16 > len(planes) ||
		ldc+max(out0, out1)+nr16 > len(c) || out0 < 0 || out1 < 0 {
		panic("kernels: direct2x2 operands out of range")
	}
	// Bounds are checked above once; the loop walks raw pointers as micro2x2 does.
	pb0 := unsafe.Pointer(&planes[in0])
	pb1 := unsafe.Pointer(&planes[in1])
	pa0 := unsafe.Pointer(&a0[0])
	po := unsafe.Pointer(&offs[0])
	for kk := 0; kk < k; kk++ {
		off := uintptr(*(*int32)(po)) * 4
		po = unsafe.Add(po, 4)
		x0 := archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(pb0, off)))
		x1 := archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(pb1, off)))
		r := archsimd.BroadcastFloat32x16(*(*float32)(pa0))
		c00 = c00.Add(r.Mul(x0))
		c01 = c01.Add(r.Mul(x1))
		r = archsimd.BroadcastFloat32x16(*(*float32)(unsafe.Add(pa0, 4)))
		c10 = c10.Add(r.Mul(x0))
		c11 = c11.Add(r.Mul(x1))
		pa0 = unsafe.Add(pa0, 8)
	}
	store := func(row int, v0, v1 archsimd.Float32x16) {
		vb := archsimd.BroadcastFloat32x16(bs[row])
		r := c[row*ldc:]
		v0.Add(vb).StoreSlice(r[out0 : out0+nr16])
		v1.Add(vb).StoreSlice(r[out1 : out1+nr16])
	}
	store(0, c00, c01)
	store(1, c10, c11)
}

// direct2x3 is direct2x2 with three groups: six accumulators, so that six independent sums
// (not four) hide the latency of the additions — twice direct2x2's speed on ResNet-20's
// shapes. (Four groups spill to the stack again.)
func direct2x3(c []float32, ldc, out0, out1, out2 int, bs *[2]float32, a0, planes []float32, in0, in1, in2 int, offs []int32, maxOff int) {
	k := len(offs)
	var c00, c01, c02, c10, c11, c12 archsimd.Float32x16
	if k == 0 {
		panic("kernels: direct2x3 without terms")
	}
	last := maxOff
	if len(a0) < 2*k || min(in0, in1, in2) < 0 || max(in0, in1, in2)+last+nr16 > len(planes) ||
		ldc+max(out0, out1, out2)+nr16 > len(c) || min(out0, out1, out2) < 0 {
		panic("kernels: direct2x3 operands out of range")
	}
	pb0 := unsafe.Pointer(&planes[in0])
	pb1 := unsafe.Pointer(&planes[in1])
	pb2 := unsafe.Pointer(&planes[in2])
	pa0 := unsafe.Pointer(&a0[0])
	po := unsafe.Pointer(&offs[0])
	for kk := 0; kk < k; kk++ {
		off := uintptr(*(*int32)(po)) * 4
		po = unsafe.Add(po, 4)
		x0 := archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(pb0, off)))
		x1 := archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(pb1, off)))
		x2 := archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(pb2, off)))
		r := archsimd.BroadcastFloat32x16(*(*float32)(pa0))
		c00 = c00.Add(r.Mul(x0))
		c01 = c01.Add(r.Mul(x1))
		c02 = c02.Add(r.Mul(x2))
		r = archsimd.BroadcastFloat32x16(*(*float32)(unsafe.Add(pa0, 4)))
		c10 = c10.Add(r.Mul(x0))
		c11 = c11.Add(r.Mul(x1))
		c12 = c12.Add(r.Mul(x2))
		pa0 = unsafe.Add(pa0, 8)
	}
	store := func(row int, v0, v1, v2 archsimd.Float32x16) {
		vb := archsimd.BroadcastFloat32x16(bs[row])
		r := c[row*ldc:]
		v0.Add(vb).StoreSlice(r[out0 : out0+nr16])
		v1.Add(vb).StoreSlice(r[out1 : out1+nr16])
		v2.Add(vb).StoreSlice(r[out2 : out2+nr16])
	}
	store(0, c00, c01, c02)
	store(1, c10, c11, c12)
}

// shiftPlanes writes, for each channel and each kx, the padded plane shifted left by
// kx·DilW and cut to the output width: hp rows of ow values. At stride 1 the (ci, ky, kx)
// term of output pixel j = oy·ow + ox is then element j + ky·DilH·ow of plane (ci, kx), so
// that consecutive output pixels are consecutive values even across rows.
func shiftPlanes(dst, planes []float32, icg int, p ConvParams) []float32 {
	hp, wp := p.InH+p.PadT+p.PadB, p.InW+p.PadL+p.PadR
	ow := p.OutW()
	out := dst[:icg*p.KW*hp*ow]
	for ci := 0; ci < icg; ci++ {
		plane := planes[ci*hp*wp : (ci+1)*hp*wp]
		for kx := 0; kx < p.KW; kx++ {
			o := out[(ci*p.KW+kx)*hp*ow : (ci*p.KW+kx+1)*hp*ow]
			for y := 0; y < hp; y++ {
				copy(o[y*ow:(y+1)*ow], plane[y*wp+kx*p.DilW:])
			}
		}
	}
	return out
}

// addNative is AddFloats on 16 float32 lanes.
func addNative(dst, a, b []float32) bool {
	if !nativeOn || forceGo {
		return false
	}
	a, b = a[:len(dst)], b[:len(dst)]
	i := 0
	for ; i+16 <= len(dst); i += 16 {
		archsimd.LoadFloat32x16Slice(a[i:]).Add(archsimd.LoadFloat32x16Slice(b[i:])).StoreSlice(dst[i:])
	}
	if i < len(dst) {
		archsimd.LoadFloat32x16SlicePart(a[i:]).Add(archsimd.LoadFloat32x16SlicePart(b[i:])).StoreSlicePart(dst[i:])
	}
	return true
}

// addCodesNative is AddCodes on eight float64 lanes with AddRequant.code's arithmetic step
// for step (so the same codes): each input dequantized in float64 and rounded to float32,
// the float32 sum widened, divided by the output scale, the zero point added, rounded half
// away from zero (truncate, then ±1 where the exact remainder is at least ½), clamped. A
// channel with a zero output scale, and each run's last codes short of eight, take code.
func addCodesNative(dst, a, b []uint8, inner int, rq []AddRequant) bool {
	if !nativeOn || forceGo {
		return false
	}
	c := len(rq)
	one := archsimd.BroadcastFloat64x8(1)
	half, mhalf := archsimd.BroadcastFloat64x8(0.5), archsimd.BroadcastFloat64x8(-0.5)
	for i := 0; i < len(a); i += inner {
		r := &rq[(i/inner)%c]
		j := i
		if r.So != 0 {
			za, sa := archsimd.BroadcastFloat64x8(r.Za), archsimd.BroadcastFloat64x8(r.Sa)
			zb, sb := archsimd.BroadcastFloat64x8(r.Zb), archsimd.BroadcastFloat64x8(r.Sb)
			zo, so := archsimd.BroadcastFloat64x8(r.Zo), archsimd.BroadcastFloat64x8(r.So)
			lo, hi := archsimd.BroadcastFloat64x8(r.Lo), archsimd.BroadcastFloat64x8(r.Hi)
			for ; j+8 <= i+inner; j += 8 {
				fa := archsimd.LoadUint8x16SlicePart(a[j : j+8]).ExtendLo8ToUint32().ConvertToFloat64()
				fb := archsimd.LoadUint8x16SlicePart(b[j : j+8]).ExtendLo8ToUint32().ConvertToFloat64()
				ya := fa.Sub(za).Mul(sa).ConvertToFloat32()
				yb := fb.Sub(zb).Mul(sb).ConvertToFloat32()
				t := ya.Add(yb).ConvertToFloat64().Div(so).Add(zo)
				q := roundAway(t, one, half, mhalf).Max(lo).Min(hi)
				q.ConvertToInt32().TruncateToInt8().AsUint8x16().StoreSlicePart(dst[j : j+8])
			}
		}
		for ; j < i+inner; j++ {
			dst[j] = r.code(a[j], b[j])
		}
	}
	return true
}

// im2colPairsStride1 is im2colPairs' layout step at stride 1 along the width, a pair of k at
// a time: the two terms' runs of eight pixels are loaded as int16 vectors and interleaved by
// widening to int32 words (k in the low half, k+1 in the high half), one store per eight
// pixels. Every value of dst is written (the last panel's padding columns and an odd k's
// missing partner as 0).
func im2colPairsStride1(dst []int16, planes []int16, kp int, p ConvParams) {
	oh, ow := p.OutH(), p.OutW()
	n := oh * ow
	k := p.InC * p.KH * p.KW
	hp, wp := p.InH+p.PadT+p.PadB, p.InW+p.PadL+p.PadR
	const panelRow = 2 * nr16
	panels := (n + nr16 - 1) / nr16
	if n%nr16 != 0 {
		clear(dst[(panels-1)*kp*panelRow : panels*kp*panelRow])
	}
	off := func(kk int) int {
		ci, r := kk/(p.KH*p.KW), kk%(p.KH*p.KW)
		return ci*hp*wp + (r/p.KW)*p.DilH*wp + (r%p.KW)*p.DilW
	}
	low := archsimd.BroadcastInt32x8(0xffff)
	for q := 0; q < kp; q++ {
		o0, o1 := off(2*q), -1
		if 2*q+1 < k {
			o1 = off(2*q + 1)
		}
		for oy := 0; oy < oh; oy++ {
			row0 := planes[o0+oy*p.StrideH*wp:]
			row0 = row0[:ow]
			var row1 []int16
			if o1 >= 0 {
				row1 = planes[o1+oy*p.StrideH*wp:]
				row1 = row1[:ow]
			}
			j := oy * ow
			for ox := 0; ox < ow; {
				run := min(ow-ox, nr16-j%nr16) // up to the end of this panel's row
				out := dst[(j/nr16)*kp*panelRow+q*panelRow+(j%nr16)*2:]
				out = out[:2*run]
				t := 0
				for ; t+8 <= run; t += 8 {
					w := archsimd.LoadInt16x8Slice(row0[ox+t:]).ExtendToInt32().And(low)
					if row1 != nil {
						w = w.Or(archsimd.LoadInt16x8Slice(row1[ox+t:]).ExtendToInt32().ShiftAllLeft(16))
					}
					w.AsInt16x16().StoreSlice(out[2*t:])
				}
				for ; t < run; t++ {
					out[2*t] = row0[ox+t]
					if row1 != nil {
						out[2*t+1] = row1[ox+t]
					} else {
						out[2*t+1] = 0
					}
				}
				ox += run
				j += run
			}
		}
	}
}

// requantI64Native is RequantizeI64 on eight float64 lanes, step for step (quantize as in
// fakeQuantNative). A zero scale takes the scalar loop.
func requantI64Native(dst []uint8, v []int64, mul, add, scale, zero float64, lo, hi int32) bool {
	if !nativeOn || forceGo || scale == 0 {
		return false
	}
	vm, va := archsimd.BroadcastFloat64x8(mul), archsimd.BroadcastFloat64x8(add)
	vs, vz := archsimd.BroadcastFloat64x8(scale), archsimd.BroadcastFloat64x8(zero)
	vlo, vhi := archsimd.BroadcastFloat64x8(float64(lo)), archsimd.BroadcastFloat64x8(float64(hi))
	one := archsimd.BroadcastFloat64x8(1)
	half, mhalf := archsimd.BroadcastFloat64x8(0.5), archsimd.BroadcastFloat64x8(-0.5)
	step := func(s archsimd.Int64x8) archsimd.Uint8x16 {
		x := s.ConvertToFloat64().Mul(vm).Add(va).ConvertToFloat32().ConvertToFloat64()
		x = x.Masked(x.Equal(x)) // NaN as 0
		t := x.Div(vs).Add(vz)
		return roundAway(t, one, half, mhalf).Max(vlo).Min(vhi).ConvertToInt32().TruncateToInt8().AsUint8x16()
	}
	j := 0
	for ; j+8 <= len(v); j += 8 {
		step(archsimd.LoadInt64x8Slice(v[j:])).StoreSlicePart(dst[j : j+8])
	}
	if j < len(v) {
		step(archsimd.LoadInt64x8SlicePart(v[j:])).StoreSlicePart(dst[j:])
	}
	return true
}

// quantizeCodesNative is QuantizeCodes on eight float64 lanes, Quantize's steps as in
// fakeQuantNative; a channel with a zero scale, and each run's last values short of eight,
// take the scalar code.
func quantizeCodesNative(dst []uint8, x []float32, inner int, qs []Affine) bool {
	if !nativeOn || forceGo {
		return false
	}
	c := len(qs)
	one := archsimd.BroadcastFloat64x8(1)
	half, mhalf := archsimd.BroadcastFloat64x8(0.5), archsimd.BroadcastFloat64x8(-0.5)
	for i := 0; i < len(x); i += inner {
		q := qs[(i/inner)%c]
		j := i
		if q.Scale != 0 {
			vs, vz := archsimd.BroadcastFloat64x8(q.Scale), archsimd.BroadcastFloat64x8(q.Zero)
			lo, hi := archsimd.BroadcastFloat64x8(q.Lo), archsimd.BroadcastFloat64x8(q.Hi)
			for ; j+8 <= i+inner; j += 8 {
				v := archsimd.LoadFloat32x8Slice(x[j:]).ConvertToFloat64()
				v = v.Masked(v.Equal(v)) // NaN as 0
				t := v.Div(vs).Add(vz)
				roundAway(t, one, half, mhalf).Max(lo).Min(hi).ConvertToInt32().TruncateToInt8().AsUint8x16().StoreSlicePart(dst[j : j+8])
			}
		}
		for ; j < i+inner; j++ {
			v := float64(x[j])
			if v != v {
				v = 0
			}
			dst[j] = quantizeCode(v, q.Scale, q.Zero, q.Lo, q.Hi)
		}
	}
	return true
}

// roundAway is math.Round on eight lanes: truncate, then ±1 where the exact remainder t −
// trunc(t) is at least ½ in magnitude (one, half and mhalf are the broadcast 1, ½ and −½, kept
// by the callers outside their loops). Shared by every native quantizing kernel.
func roundAway(t, one, half, mhalf archsimd.Float64x8) archsimd.Float64x8 {
	r := t.TruncScaled(0)
	f := t.Sub(r)
	return r.Add(one.Masked(f.GreaterEqual(half))).Sub(one.Masked(f.LessEqual(mhalf)))
}
