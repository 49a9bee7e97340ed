package kernels

// Panel width of the float micro-kernel: C is computed in 4×4 blocks.
const mr, nr = 2, 4

// PackedA is a row-major M×K matrix packed for Sgemm: panels of 4 rows, each stored k-major
// ([k][4]); the last panel is padded with zero rows.
type PackedA struct {
	M, K int
	Data []float32
}

// PackA packs the row-major M×K matrix a (leading dimension lda).
func PackA(a []float32, m, k, lda int) *PackedA {
	return &PackedA{M: m, K: k, Data: packRows(a, m, k, lda)}
}

// packRows packs the row-major M×K matrix a into panels of mr rows, each k-major; the last
// panel is padded with zero rows. It is the A layout of every GEMM here.
func packRows[T float32 | int16 | int32](a []T, m, k, lda int) []T {
	panels := (m + mr - 1) / mr
	data := make([]T, panels*k*mr)
	for ip := 0; ip < panels; ip++ {
		dst := data[ip*k*mr:]
		for r := 0; r < mr; r++ {
			i := ip*mr + r
			if i >= m {
				break
			}
			for kk, v := range a[i*lda : i*lda+k] {
				dst[kk*mr+r] = v
			}
		}
	}
	return data
}

// packColumns packs the row-major K×N matrix b into dst: panels of nr columns, each k-major,
// the last padded with zeros. It is the B layout of every GEMM here.
func packColumns[T float32 | int16](dst, b []T, k, n, ldb int) {
	panels := (n + nr - 1) / nr
	for jp := 0; jp < panels; jp++ {
		p := dst[jp*k*nr : (jp+1)*k*nr]
		j0 := jp * nr
		w := min(nr, n-j0)
		for kk := 0; kk < k; kk++ {
			q := p[kk*nr : kk*nr+nr]
			for c := range nr {
				if c < w {
					q[c] = b[kk*ldb+j0+c]
				} else {
					q[c] = 0
				}
			}
		}
	}
}

// tiles runs a micro-kernel over every mr×nr tile of C = A·B (A packed by packRows, B by
// packColumns) and stores the tiles into the row-major c (leading dimension ldc).
func tiles[A, B, C any](c []C, ldc, m, k int, a []A, bp []B, n int, micro func(out *[mr * nr]C, a []A, b []B, k int)) {
	mPanels := (m + mr - 1) / mr
	nPanels := (n + nr - 1) / nr
	for ip := 0; ip < mPanels; ip++ {
		ap := a[ip*k*mr : (ip+1)*k*mr]
		i0 := ip * mr
		h := min(mr, m-i0)
		for jp := 0; jp < nPanels; jp++ {
			var blk [mr * nr]C
			micro(&blk, ap, bp[jp*k*nr:(jp+1)*k*nr], k)
			j0 := jp * nr
			w := min(nr, n-j0)
			for r := 0; r < h; r++ {
				copy(c[(i0+r)*ldc+j0:(i0+r)*ldc+j0+w], blk[r*nr:r*nr+w])
			}
		}
	}
}

// PackedBLen is the length of the buffer PackB fills for a K×N matrix.
func PackedBLen(k, n int) int { return (n + nr - 1) / nr * k * nr }

// PackB packs the row-major K×N matrix b (leading dimension ldb) into dst: panels of 4
// columns, each stored k-major ([k][4]); the last panel is padded with zeros.
func PackB(dst, b []float32, k, n, ldb int) { packColumns(dst, b, k, n, ldb) }

// SgemmPacked computes C = A·B (+ bias[i] on row i when bias is not nil) for a packed M×K A
// and a K×N B packed by PackB (or written in that layout by Im2colPacked). C is row-major
// M×N with leading dimension ldc.
func SgemmPacked(c []float32, ldc int, a *PackedA, bp []float32, n int, bias []float32) {
	if sgemmSIMD(c, ldc, a, bp, n, bias) {
		return
	}
	sgemmGo(c, ldc, a, bp, n, bias)
}

// sgemmGo is SgemmPacked in Go (the reference of the SIMD kernel).
func sgemmGo(c []float32, ldc int, a *PackedA, bp []float32, n int, bias []float32) {
	k := a.K
	mPanels := (a.M + mr - 1) / mr
	nPanels := (n + nr - 1) / nr
	for ip := 0; ip < mPanels; ip++ {
		ap := a.Data[ip*k*mr : (ip+1)*k*mr]
		i0 := ip * mr
		h := min(mr, a.M-i0)
		var bs [mr]float32
		if bias != nil {
			copy(bs[:h], bias[i0:i0+h])
		}
		for jp := 0; jp < nPanels; jp++ {
			bpp := bp[jp*k*nr : (jp+1)*k*nr]
			var blk [mr * nr]float32
			micro(&blk, ap, bpp, k)
			j0 := jp * nr
			w := min(nr, n-j0)
			for r := 0; r < h; r++ {
				row := c[(i0+r)*ldc+j0:]
				for cc := 0; cc < w; cc++ {
					row[cc] = blk[r*nr+cc] + bs[r]
				}
			}
		}
	}
}

// micro accumulates the 2×4 block Σ_k a[k][r]·b[k][c] in registers. Each product is
// rounded to float32 before it is added (float32(x*y)), which keeps compilers for targets
// with fused multiply-add from fusing: results are the same bits natively and in wasm.
func micro(out *[mr * nr]float32, a, b []float32, k int) {
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	a = a[:k*mr]
	b = b[:k*nr]
	kk := 0
	for ; kk+1 < k; kk += 2 {
		av := a[kk*mr : kk*mr+4 : kk*mr+4]
		bv := b[kk*nr : kk*nr+8 : kk*nr+8]
		a0, a1 := av[0], av[1]
		x0, x1, x2, x3 := bv[0], bv[1], bv[2], bv[3]
		c00 += float32(a0 * x0)
		c01 += float32(a0 * x1)
		c02 += float32(a0 * x2)
		c03 += float32(a0 * x3)
		c10 += float32(a1 * x0)
		c11 += float32(a1 * x1)
		c12 += float32(a1 * x2)
		c13 += float32(a1 * x3)
		a0, a1 = av[2], av[3]
		x0, x1, x2, x3 = bv[4], bv[5], bv[6], bv[7]
		c00 += float32(a0 * x0)
		c01 += float32(a0 * x1)
		c02 += float32(a0 * x2)
		c03 += float32(a0 * x3)
		c10 += float32(a1 * x0)
		c11 += float32(a1 * x1)
		c12 += float32(a1 * x2)
		c13 += float32(a1 * x3)
	}
	for ; kk < k; kk++ {
		av := a[kk*mr : kk*mr+2 : kk*mr+2]
		bv := b[kk*nr : kk*nr+4 : kk*nr+4]
		a0, a1 := av[0], av[1]
		x0, x1, x2, x3 := bv[0], bv[1], bv[2], bv[3]
		c00 += float32(a0 * x0)
		c01 += float32(a0 * x1)
		c02 += float32(a0 * x2)
		c03 += float32(a0 * x3)
		c10 += float32(a1 * x0)
		c11 += float32(a1 * x1)
		c12 += float32(a1 * x2)
		c13 += float32(a1 * x3)
	}
	*out = [mr * nr]float32{c00, c01, c02, c03, c10, c11, c12, c13}
}

// Sgemm computes C = A·B for row-major A (M×K), B (K×N) and C (M×N), packing both operands.
// It is the convenience form; layers pack their weights once with PackA.
func Sgemm(c, a, b []float32, m, k, n int) {
	pa := PackA(a, m, k, k)
	bp := make([]float32, PackedBLen(k, n))
	PackB(bp, b, k, n, n)
	SgemmPacked(c, n, pa, bp, n, nil)
}
