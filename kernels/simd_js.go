//go:build js && wasm && simd

package kernels

import (
	"runtime"
	"sync"
	"unsafe"
)

// The WebAssembly SIMD128 kernels of simd.wat, bound by the JavaScript host
// (www/fourbit-simd.js) when the module is instantiated. available reports whether the host
// could instantiate them (the engine has SIMD128); when it could not, the Go kernels run.

//go:wasmimport fourbit_simd available
func simdAvailable() int32

//go:wasmimport fourbit_simd gemm_i32
func simdGemmI32(c unsafe.Pointer, ldc int32, a unsafe.Pointer, b unsafe.Pointer, m, k, n int32)

var simdOn = sync.OnceValue(func() bool { return simdAvailable() == 1 })

//go:wasmimport fourbit_simd relaxed
func simdRelaxed() int32

var relaxedOn = sync.OnceValue(func() bool { return simdOn() && simdRelaxed() == 1 })

// RelaxedSIMD reports whether QConv runs on the relaxed-SIMD kernels of relaxed.wat (int8
// dot products, twice the multiply-adds of SIMD128's per instruction) where its weights are
// codes of up to 7 bits; the SIMD128 kernels elsewhere.
func RelaxedSIMD() bool { return relaxedOn() }

// SIMD reports whether the engine's kernels (integer GEMMs, QConv, AddCodes, QuantizeCodes,
// the float GEMM) run on the WebAssembly SIMD128 kernels.
func SIMD() bool { return simdOn() }

// small: shapes whose sizes would not fit the kernels' 32-bit arguments go to Go.
func small(v ...int) bool {
	for _, x := range v {
		if x <= 0 || x >= 1<<30 {
			return false
		}
	}
	return true
}

func gemmI32SIMD(c []int64, ldc int, a *PackedI32, bp []int16, n int) bool {
	m, k := a.M, a.K
	if !SIMD() || !small(m, k, n, ldc) || len(a.Data) < (m+mr-1)/mr*k*mr || len(bp) < PackedBLen(k, n) || len(c) < (m-1)*ldc+n {
		return false
	}
	simdGemmI32(unsafe.Pointer(&c[0]), int32(ldc), unsafe.Pointer(&a.Data[0]), unsafe.Pointer(&bp[0]), int32(m), int32(k), int32(n))
	runtime.KeepAlive(c)
	runtime.KeepAlive(a)
	runtime.KeepAlive(bp)
	return true
}

//go:wasmimport fourbit_simd pad_q
func simdPadQ(dst, src unsafe.Pointer, inC, inH, inW, hp, wp, padT, padL, z, size int32)

//go:wasmimport fourbit_simd im2col_q
func simdIm2colQ(dst, src, koff unsafe.Pointer, kp, oh, ppr, wp, sh, sw, z, kodd int32, colsum unsafe.Pointer)

//go:wasmimport fourbit_simd gemm_q
func simdGemmQ(dst unsafe.Pointer, ldc int32, a, b, colsum, par unsafe.Pointer, m, kp, oh, ppr, ow int32)

//go:wasmimport fourbit_simd im2col_q4
func simdIm2colQ4(dst, src, koff unsafe.Pointer, kq, oh, ppr, wp, sh, sw, z, k int32, colsum unsafe.Pointer)

//go:wasmimport fourbit_simd gemm_q4
func simdGemmQ4(dst unsafe.Pointer, ldc int32, a, b, colsum, par, zr unsafe.Pointer, m, kq, oh, ppr, ow int32)

// prepareRelaxed packs the relaxed-SIMD kernels' operands where they are exact: weight codes
// up to 127 (the instruction's 7-bit operand; the inputs may be any 8-bit codes).
func (c *QConv) prepareRelaxed(w []uint8) {
	for _, v := range w {
		if v > 127 {
			return
		}
	}
	m, k := c.M, c.K
	kq := (k + 3) / 4
	panels := (m + 3) / 4
	c.quads = make([]uint8, panels*kq*16)
	c.zr = make([]int32, panels*8)
	for i := 0; i < m; i++ {
		panel := c.quads[(i/4)*kq*16:]
		var sum int32
		for kk := 0; kk < k; kk++ {
			v := w[i*k+kk]
			panel[(kk/4)*16+(i%4)*4+kk%4] = v
			sum += int32(v)
		}
		c.zr[(i/4)*8+i%4] = (128 - int32(c.zero)) * sum
		c.zr[(i/4)*8+4+i%4] = c.rowZero[i]
	}
	c.koff4 = make([]int32, kq*4)
	copy(c.koff4, c.koff[:k])
	for kk := k; kk < len(c.koff4); kk++ {
		c.koff4[kk] = c.koff[k-1] // its weight is 0; an address inside the planes
	}
}

// qconvSIMD runs QConv.Forward on the SIMD kernels: pad_q copies the input into planes padded
// with the zero point (rows wide enough for whole 8-pixel panels); then im2col_q4 and gemm_q4
// (relaxed SIMD: quads of k in int8 dot products) where the engine and the layer allow them,
// else im2col_q and gemm_q (SIMD128: pairs of k in int16 dot products) lay out the matrix,
// multiply and requantize.
func qconvSIMD(c *QConv, dst, src []uint8, s *QScratch) bool {
	p := c.P
	if !SIMD() || (p.StrideW != 1 && p.StrideW != 2) {
		return false
	}
	hp, wp := c.paddedDims()
	oh, ow := p.OutH(), p.OutW()
	ppr := (ow + 7) / 8
	kp := (c.K + 1) / 2
	kq := (c.K + 3) / 4
	size := p.InC*hp*wp + 64 // slack for the last 16-byte loads
	panels := oh * ppr
	if !small(size, panels*kp*16, panels*kq*16, c.M*oh*ow) {
		return false
	}
	padded := grow(&s.padded, size)
	simdPadQ(unsafe.Pointer(&padded[0]), unsafe.Pointer(&src[0]), int32(p.InC), int32(p.InH), int32(p.InW),
		int32(hp), int32(wp), int32(p.PadT), int32(p.PadL), int32(c.zero), int32(size))
	colSum := grow(&s.colSum, panels*8)
	var b []int16 // the im2col matrix (as int16 storage: 32 bytes per pair or quad and panel)
	if c.quads != nil && RelaxedSIMD() {
		b = grow(&s.b, panels*kq*16)
		simdIm2colQ4(unsafe.Pointer(&b[0]), unsafe.Pointer(&padded[0]), unsafe.Pointer(&c.koff4[0]),
			int32(kq), int32(oh), int32(ppr), int32(wp), int32(p.StrideH), int32(p.StrideW), int32(c.zero), int32(c.K), unsafe.Pointer(&colSum[0]))
		simdGemmQ4(unsafe.Pointer(&dst[0]), int32(oh*ow), unsafe.Pointer(&c.quads[0]), unsafe.Pointer(&b[0]), unsafe.Pointer(&colSum[0]),
			unsafe.Pointer(&c.rq[0]), unsafe.Pointer(&c.zr[0]), int32(c.M), int32(kq), int32(oh), int32(ppr), int32(ow))
	} else {
		b = grow(&s.b, panels*kp*16)
		simdIm2colQ(unsafe.Pointer(&b[0]), unsafe.Pointer(&padded[0]), unsafe.Pointer(&c.koff[0]),
			int32(kp), int32(oh), int32(ppr), int32(wp), int32(p.StrideH), int32(p.StrideW), int32(c.zero), int32(c.K%2), unsafe.Pointer(&colSum[0]))
		simdGemmQ(unsafe.Pointer(&dst[0]), int32(oh*ow), unsafe.Pointer(&c.pairs[0]), unsafe.Pointer(&b[0]), unsafe.Pointer(&colSum[0]),
			unsafe.Pointer(&c.rq[0]), int32(c.M), int32(kp), int32(oh), int32(ppr), int32(ow))
	}
	runtime.KeepAlive(src)
	runtime.KeepAlive(padded)
	runtime.KeepAlive(b)
	runtime.KeepAlive(colSum)
	runtime.KeepAlive(c)
	runtime.KeepAlive(dst)
	return true
}

//go:wasmimport fourbit_simd add_q
func simdAddQ(dst, a, b unsafe.Pointer, inner, n int32, par unsafe.Pointer, channels int32)

func addCodesSIMD(dst, a, b []uint8, inner int, rq []AddRequant) bool {
	if !SIMD() || !small(len(a), inner) {
		return false
	}
	simdAddQ(unsafe.Pointer(&dst[0]), unsafe.Pointer(&a[0]), unsafe.Pointer(&b[0]), int32(inner), int32(len(a)), unsafe.Pointer(&rq[0]), int32(len(rq)))
	runtime.KeepAlive(dst)
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	runtime.KeepAlive(rq)
	return true
}

//go:wasmimport fourbit_simd quant_f32
func simdQuantF32(dst, x unsafe.Pointer, inner, n int32, par unsafe.Pointer, channels int32)

func quantizeCodesSIMD(dst []uint8, x []float32, inner int, qs []Affine) bool {
	if !SIMD() || !small(len(x), inner) {
		return false
	}
	simdQuantF32(unsafe.Pointer(&dst[0]), unsafe.Pointer(&x[0]), int32(inner), int32(len(x)), unsafe.Pointer(&qs[0]), int32(len(qs)))
	runtime.KeepAlive(dst)
	runtime.KeepAlive(x)
	runtime.KeepAlive(qs)
	return true
}

//go:wasmimport fourbit_simd sgemm
func simdSgemm(c unsafe.Pointer, ldc int32, a, b unsafe.Pointer, m, k, n int32, bias unsafe.Pointer)

func sgemmSIMD(c []float32, ldc int, a *PackedA, bp []float32, n int, bias []float32) bool {
	m, k := a.M, a.K
	if !SIMD() || !small(m, k, n, ldc) || len(a.Data) < (m+mr-1)/mr*k*mr || len(bp) < PackedBLen(k, n) || len(c) < (m-1)*ldc+n || (bias != nil && len(bias) < m) {
		return false
	}
	var bp0 unsafe.Pointer // nil: no bias (address 0 in wasm memory)
	if bias != nil {
		bp0 = unsafe.Pointer(&bias[0])
	}
	simdSgemm(unsafe.Pointer(&c[0]), int32(ldc), unsafe.Pointer(&a.Data[0]), unsafe.Pointer(&bp[0]), int32(m), int32(k), int32(n), bp0)
	runtime.KeepAlive(c)
	runtime.KeepAlive(a)
	runtime.KeepAlive(bp)
	runtime.KeepAlive(bias)
	return true
}

//go:wasmimport fourbit_simd im2col_f32
func simdIm2colF32(dst, pad, koff unsafe.Pointer, k, oh, ow, wp, sh, sw int32)

// simdScratch is the room the float im2col kernel needs after the matrix: one group's input
// planes with their padding.
func simdScratch(p ConvParams) int {
	return p.InC / p.Groups * (p.InH + p.PadT + p.PadB) * (p.InW + p.PadL + p.PadR)
}

// prepareSIMD computes the float im2col kernel's offsets: each (channel, ky, kx) term's
// byte offset from an output pixel's window origin in the padded planes.
func (c *Conv) prepareSIMD() {
	p := c.P
	hp, wp := p.InH+p.PadT+p.PadB, p.InW+p.PadL+p.PadR
	if !small(p.InC*hp*wp*4, p.OutH(), p.OutW(), p.StrideH*wp) {
		return
	}
	for ci := 0; ci < p.InC/p.Groups; ci++ {
		for ky := 0; ky < p.KH; ky++ {
			for kx := 0; kx < p.KW; kx++ {
				c.koff = append(c.koff, int32(4*(ci*hp*wp+ky*p.DilH*wp+kx*p.DilW)))
			}
		}
	}
}

// im2colSIMD is Im2colPacked on the SIMD kernel im2col_f32: the group's planes are copied
// with their padding written as 0 into the scratch after the matrix, and each (channel, ky,
// kx) row of the matrix is gathered from them without bounds to test — four columns in one
// v128 where they are consecutive pixels of one output row at stride 1.
func im2colSIMD(scratch, src []float32, icg int, c *Conv) bool {
	p := c.P
	if !SIMD() || c.koff == nil {
		return false
	}
	oh, ow := p.OutH(), p.OutW()
	n, k := oh*ow, len(c.koff)
	blen := PackedBLen(k, n)
	hp, wp := p.InH+p.PadT+p.PadB, p.InW+p.PadL+p.PadR
	if len(scratch) < blen+icg*hp*wp || len(src) < icg*p.InH*p.InW {
		return false
	}
	pad := scratch[blen : blen+icg*hp*wp]
	if p.PadT+p.PadB+p.PadL+p.PadR > 0 {
		clear(pad)
	}
	for ci := 0; ci < icg; ci++ {
		for y := 0; y < p.InH; y++ {
			copy(pad[(ci*hp+y+p.PadT)*wp+p.PadL:], src[(ci*p.InH+y)*p.InW:(ci*p.InH+y+1)*p.InW])
		}
	}
	if tail := n % nr; tail != 0 { // the last panel's padding columns are zero
		last := scratch[(n/nr)*k*nr : blen]
		for kk := 0; kk < k; kk++ {
			clear(last[kk*nr+tail : (kk+1)*nr])
		}
	}
	simdIm2colF32(unsafe.Pointer(&scratch[0]), unsafe.Pointer(&pad[0]), unsafe.Pointer(&c.koff[0]),
		int32(k), int32(oh), int32(ow), int32(wp), int32(p.StrideH), int32(p.StrideW))
	runtime.KeepAlive(scratch)
	runtime.KeepAlive(c)
	return true
}
