package kernels

import (
	"fmt"
	"runtime"
	"sync"
)

// ConvParams describes a 2-D convolution of one NCHW image: InC×InH×InW in, OutC×OutH×OutW
// out, a KH×KW kernel with strides, dilations and padding on each side (top, left, bottom,
// right; asymmetric padding covers Keras/TF "same"), and Groups (InC and OutC divisible by
// it; Groups = InC = OutC is a depthwise convolution).
type ConvParams struct {
	InC, InH, InW          int
	OutC                   int
	KH, KW                 int
	StrideH, StrideW       int
	DilH, DilW             int
	PadT, PadL, PadB, PadR int
	Groups                 int
}

// OutH is the output height.
func (p ConvParams) OutH() int {
	return (p.InH+p.PadT+p.PadB-p.DilH*(p.KH-1)-1)/p.StrideH + 1
}

// OutW is the output width.
func (p ConvParams) OutW() int {
	return (p.InW+p.PadL+p.PadR-p.DilW*(p.KW-1)-1)/p.StrideW + 1
}

// Check reports an error for parameters no convolution has.
func (p ConvParams) Check() error {
	const big = 1 << 24
	for _, v := range []int{p.InC, p.InH, p.InW, p.OutC, p.KH, p.KW, p.StrideH, p.StrideW, p.DilH, p.DilW, p.Groups} {
		if v <= 0 || v > big {
			return fmt.Errorf("kernels: bad convolution %+v", p)
		}
	}
	for _, v := range []int{p.PadT, p.PadL, p.PadB, p.PadR} {
		if v < 0 || v > big {
			return fmt.Errorf("kernels: bad padding in %+v", p)
		}
	}
	if p.InC%p.Groups != 0 || p.OutC%p.Groups != 0 {
		return fmt.Errorf("kernels: %d groups do not divide %d→%d channels", p.Groups, p.InC, p.OutC)
	}
	if p.InH+p.PadT+p.PadB < p.DilH*(p.KH-1)+1 || p.InW+p.PadL+p.PadR < p.DilW*(p.KW-1)+1 {
		return fmt.Errorf("kernels: %dx%d kernel larger than the padded %dx%d input", p.KH, p.KW, p.InH, p.InW)
	}
	return nil
}

// Conv is a float32 convolution with its weights packed for SgemmPacked, one panel set per
// group. Build it once with NewConv and run it on many images.
type Conv struct {
	P      ConvParams
	groups []*PackedA // (OutC/G) × (InC/G·KH·KW) per group
	Bias   []float32  // OutC values, or nil
	// direct holds, for the native direct convolution (native_simd.go), the offset of each
	// (channel, ky, kx) term in the padded input planes; nil where that path does not run.
	direct        []int32
	directMax     int  // the largest of direct's offsets
	directShifted bool // direct reads kx-shifted planes (rows narrower than 16 pixels)
	// koff holds, for the WebAssembly im2col kernel (simd_js.go), the byte offset of each
	// (channel, ky, kx) term in the zero-padded planes of one group; nil in other builds.
	koff []int32
	// scratch keeps ForwardBatch's scratch buffers between calls: allocating (and clearing)
	// one per call cost more than the convolution itself at batch 1. Forward never reads
	// scratch before writing it, so a buffer needs no clearing.
	scratch sync.Pool
}

// NewConv packs OIHW weights w (OutC × InC/G × KH × KW) and an optional bias.
func NewConv(p ConvParams, w, bias []float32) (*Conv, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	ocg, k := p.OutC/p.Groups, p.InC/p.Groups*p.KH*p.KW
	if len(w) != p.OutC*k {
		return nil, fmt.Errorf("kernels: conv weights have %d values, want %d", len(w), p.OutC*k)
	}
	if bias != nil && len(bias) != p.OutC {
		return nil, fmt.Errorf("kernels: conv bias has %d values, want %d", len(bias), p.OutC)
	}
	c := &Conv{P: p, Bias: bias}
	for g := 0; g < p.Groups; g++ {
		c.groups = append(c.groups, PackA(w[g*ocg*k:], ocg, k, k))
	}
	c.prepareDirect()
	c.prepareSIMD()
	return c, nil
}

// ScratchLen is the scratch length Forward needs per image.
func (c *Conv) ScratchLen() int {
	p := c.P
	k, n := p.InC/p.Groups*p.KH*p.KW, p.OutH()*p.OutW()
	return max(PackedBLen(k, n), nativeScratch(p)) + simdScratch(p)
}

// forceGo makes Forward take the portable kernels even where native vector kernels exist
// (for tests and benchmarks that compare the two).
var forceGo bool

// Forward convolves one image src (InC×InH×InW) into dst (OutC×OutH×OutW) using scratch
// (at least ScratchLen values).
func (c *Conv) Forward(dst, src, scratch []float32) {
	if c.forwardNative(dst, src, scratch) {
		return
	}
	p := c.P
	n := p.OutH() * p.OutW()
	icg, ocg := p.InC/p.Groups, p.OutC/p.Groups
	for g := 0; g < p.Groups; g++ {
		if !im2colSIMD(scratch, src[g*icg*p.InH*p.InW:], icg, c) {
			Im2colPacked(scratch, src[g*icg*p.InH*p.InW:], icg, p)
		}
		var bias []float32
		if c.Bias != nil {
			bias = c.Bias[g*ocg:]
		}
		SgemmPacked(dst[g*ocg*n:], n, c.groups[g], scratch, n, bias)
	}
}

// ForwardBatch convolves batch images laid out one after another, spreading the images over
// up to GOMAXPROCS goroutines. Each image's result is independent of the split.
func (c *Conv) ForwardBatch(dst, src []float32, batch int) {
	p := c.P
	inLen, outLen := p.InC*p.InH*p.InW, p.OutC*p.OutH()*p.OutW()
	Parallel(batch, func(lo, hi int) {
		sp, _ := c.scratch.Get().(*[]float32)
		if sp == nil {
			s := make([]float32, c.ScratchLen())
			sp = &s
		}
		for i := lo; i < hi; i++ {
			c.Forward(dst[i*outLen:(i+1)*outLen], src[i*inLen:(i+1)*inLen], *sp)
		}
		c.scratch.Put(sp)
	})
}

// Parallel calls fn on contiguous parts of [0, n) from up to GOMAXPROCS goroutines and waits.
func Parallel(n int, fn func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := w*n/workers, (w+1)*n/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}

// Im2colPacked writes the im2col matrix of one group of an image (icg channels starting at
// src) straight into the packed-B layout: K = icg·KH·KW rows, N = OutH·OutW columns, panels
// of 4 columns, zeros for padding.
func Im2colPacked(dst, src []float32, icg int, p ConvParams) {
	oh, ow := p.OutH(), p.OutW()
	n := oh * ow
	k := icg * p.KH * p.KW
	panels := (n + nr - 1) / nr
	for jp := 0; jp < panels; jp++ {
		panel := dst[jp*k*nr : (jp+1)*k*nr]
		for c := 0; c < nr; c++ {
			j := jp*nr + c
			if j >= n {
				for kk := 0; kk < k; kk++ {
					panel[kk*nr+c] = 0
				}
				continue
			}
			oy, ox := j/ow, j%ow
			iy0, ix0 := oy*p.StrideH-p.PadT, ox*p.StrideW-p.PadL
			kk := 0
			for ci := 0; ci < icg; ci++ {
				plane := src[ci*p.InH*p.InW : (ci+1)*p.InH*p.InW]
				for ky := 0; ky < p.KH; ky++ {
					iy := iy0 + ky*p.DilH
					rowOK := iy >= 0 && iy < p.InH
					for kx := 0; kx < p.KW; kx++ {
						ix := ix0 + kx*p.DilW
						v := float32(0)
						if rowOK && ix >= 0 && ix < p.InW {
							v = plane[iy*p.InW+ix]
						}
						panel[kk*nr+c] = v
						kk++
					}
				}
			}
		}
	}
}

// ReLU writes max(v, 0) of each value of src into dst (which must be as long, and may be
// src), with Go's max semantics: NaN stays NaN, −0 becomes +0. Natively it runs on AVX-512
// vectors where the CPU has them.
func ReLU(dst, src []float32) {
	if reluNative(dst, src) {
		return
	}
	for i, v := range src {
		dst[i] = max(v, 0)
	}
}

// AddFloats writes a[i] + b[i] into dst (all as long; dst may be a or b) — natively on
// AVX-512 vectors, the same float32 additions.
func AddFloats(dst, a, b []float32) {
	if addNative(dst, a, b) {
		return
	}
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] + b[i]
	}
}
