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
