package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkConvF32 reports GOPS (2 ops per multiply-add) of the float conv, one image at a
// time on one goroutine, for ResNet-20's layer shapes.
func BenchmarkConvF32(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, p := range ResNet20Convs {
		b.Run(fmt.Sprintf("%dx%dx%d", p.InC, p.InH, p.InW), func(b *testing.B) {
			c, _ := NewConv(p, randSlice(r, p.OutC*p.InC*9), nil)
			src := randSlice(r, p.InC*p.InH*p.InW)
			dst := make([]float32, p.OutC*p.OutH()*p.OutW())
			scratch := make([]float32, c.ScratchLen())
			ops := 2 * float64(p.OutC*p.OutH()*p.OutW()*p.InC*9)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c.Forward(dst, src, scratch)
			}
			b.ReportMetric(ops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
		})
	}
}

// BenchmarkSgemm reports GOPS of the packed GEMM alone (operands packed outside the loop).
func BenchmarkSgemm(b *testing.B) {
	r := rand.New(rand.NewPCG(2, 2))
	for _, s := range [][3]int{{16, 144, 1024}, {64, 576, 64}, {64, 576, 1024}} {
		m, k, n := s[0], s[1], s[2]
		b.Run(fmt.Sprintf("%dx%dx%d", m, k, n), func(b *testing.B) {
			pa := PackA(randSlice(r, m*k), m, k, k)
			bp := make([]float32, PackedBLen(k, n))
			PackB(bp, randSlice(r, k*n), k, n, n)
			c := make([]float32, m*n)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				SgemmPacked(c, n, pa, bp, n, nil)
			}
			b.ReportMetric(2*float64(m*k*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
		})
	}
}

// BenchmarkConvInt8 reports GOPS of the integer conv on 8-bit codes (int16 operands, int32
// sums; the engine's path for per-channel activation scales), one image on one goroutine.
func BenchmarkConvInt8(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, p := range ResNet20Convs {
		b.Run(fmt.Sprintf("%dx%dx%d", p.InC, p.InH, p.InW), func(b *testing.B) {
			k, n := p.InC*9, p.OutH()*p.OutW()
			w := make([]int16, p.OutC*k)
			for i := range w {
				w[i] = int16(r.IntN(255) - 127)
			}
			pa := PackI16(w, p.OutC, k, k)
			src := make([]uint8, p.InC*p.InH*p.InW)
			for i := range src {
				src[i] = uint8(r.IntN(256))
			}
			zero := make([]int32, p.InC)
			scratch := make([]int16, PackedBLen(k, n))
			dst := make([]int32, p.OutC*n)
			ops := 2 * float64(p.OutC*n*k)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				Im2colI16(scratch, src, zero, p.InC, p)
				GemmI16(dst, n, pa, scratch, n)
			}
			b.ReportMetric(ops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
		})
	}
}

// BenchmarkConvInt4 reports GOPS of the packed 4-bit SWAR conv (4-bit weights × 4-bit
// activation codes), one image on one goroutine, im2col included.
func BenchmarkConvInt4(b *testing.B) {
	r := rand.New(rand.NewPCG(4, 4))
	for _, p := range ResNet20Convs {
		b.Run(fmt.Sprintf("%dx%dx%d", p.InC, p.InH, p.InW), func(b *testing.B) {
			k, n := p.InC*9, p.OutH()*p.OutW()
			w := randCodes(r, p.OutC*k, 16)
			pa := PackU4(w, p.OutC, k, k)
			src := randCodes(r, p.InC*p.InH*p.InW, 16)
			scratch := make([]uint64, PackedU4BLen(k, n))
			colSum := make([]int32, n)
			dst := make([]int32, p.OutC*n)
			ops := 2 * float64(p.OutC*n*k)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				Im2colU4(scratch, colSum, src, 0, p.InC, p)
				GemmU4(dst, n, pa, scratch, n)
			}
			b.ReportMetric(ops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
		})
	}
}

// BenchmarkGemmU4 reports GOPS of the packed 4-bit SWAR GEMM alone (operands packed outside
// the loop), on the shapes of BenchmarkSgemm.
func BenchmarkGemmU4(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 5))
	for _, s := range [][3]int{{16, 144, 1024}, {64, 576, 64}, {64, 576, 1024}} {
		m, k, n := s[0], s[1], s[2]
		b.Run(fmt.Sprintf("%dx%dx%d", m, k, n), func(b *testing.B) {
			a, bm := make([]uint8, m*k), make([]uint8, k*n)
			for i := range a {
				a[i] = uint8(r.IntN(16))
			}
			for i := range bm {
				bm[i] = uint8(r.IntN(16))
			}
			pa := PackU4(a, m, k, k)
			bp := make([]uint64, PackedU4BLen(k, n))
			PackBU4(bp, make([]int32, n), bm, k, n, n)
			c := make([]int32, m*n)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				GemmU4(c, n, pa, bp, n)
			}
			b.ReportMetric(2*float64(m*k*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
		})
	}
}

// BenchmarkQConv reports GOPS of QConv — im2col, integer GEMM and requantization to codes
// — on 4-bit weights and 4-bit input codes, one image on one goroutine (in the simd wasm
// build under tools/wasm-exec-simd.mjs, the SIMD128 kernels).
func BenchmarkQConv(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 5))
	for _, p := range ResNet20Convs {
		b.Run(fmt.Sprintf("%dx%dx%d", p.InC, p.InH, p.InW), func(b *testing.B) {
			k, n := p.InC*9, p.OutH()*p.OutW()
			w := randCodes(r, p.OutC*k, 16)
			zw := make([]int32, p.OutC)
			rq := make([]QRequant, p.OutC)
			for o := range rq {
				zw[o] = 8
				rq[o] = QRequant{Mul: 0.01, Off: 0.001, Add: 3, Lo: 0, Hi: 15}
			}
			c, err := NewQConv(p, w, zw, 0, 15, rq)
			if err != nil {
				b.Fatal(err)
			}
			src := randCodes(r, p.InC*p.InH*p.InW, 16)
			dst := make([]uint8, p.OutC*n)
			var s QScratch
			ops := 2 * float64(p.OutC*n*k)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c.Forward(dst, src, &s)
			}
			b.ReportMetric(ops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
		})
	}
}
