package kernels

// Integer GEMM on 16-bit operands: C (int32) = A·B, A an M×K matrix of int16 weights packed
// like PackA (panels of 2 rows, k-major), B K×N int16 values packed like PackB (panels of 4
// columns, k-major). It serves 8-bit codes with their zero point subtracted (and weights
// with per-input-channel scales folded in, see package engine); the caller keeps
// |a|·|b|·K below 2^31 so the int32 sums cannot overflow.

// PackedI16 is a row-major M×K int16 matrix packed for GemmI16.
type PackedI16 struct {
	M, K int
	Data []int16
}

// PackI16 packs the row-major M×K matrix a (leading dimension lda).
func PackI16(a []int16, m, k, lda int) *PackedI16 {
	return &PackedI16{M: m, K: k, Data: packRows(a, m, k, lda)}
}

// PackBI16 packs the row-major K×N int16 matrix b (leading dimension ldb) into dst
// (PackedBLen(k, n) values).
func PackBI16(dst, b []int16, k, n, ldb int) { packColumns(dst, b, k, n, ldb) }

// GemmI16 computes C = A·B into the row-major int32 matrix c (leading dimension ldc).
func GemmI16(c []int32, ldc int, a *PackedI16, bp []int16, n int) {
	tiles(c, ldc, a.M, a.K, a.Data, bp, n, microI16)
}

// microI16 accumulates the 2×4 block Σ_k a[k][r]·b[k][c] in int32 registers.
func microI16(out *[mr * nr]int32, a, b []int16, k int) {
	var c00, c01, c02, c03, c10, c11, c12, c13 int32
	a = a[:k*mr]
	b = b[:k*nr]
	kk := 0
	for ; kk+1 < k; kk += 2 {
		av := a[kk*mr : kk*mr+4 : kk*mr+4]
		bv := b[kk*nr : kk*nr+8 : kk*nr+8]
		a0, a1 := int32(av[0]), int32(av[1])
		x0, x1, x2, x3 := int32(bv[0]), int32(bv[1]), int32(bv[2]), int32(bv[3])
		c00 += a0 * x0
		c01 += a0 * x1
		c02 += a0 * x2
		c03 += a0 * x3
		c10 += a1 * x0
		c11 += a1 * x1
		c12 += a1 * x2
		c13 += a1 * x3
		a0, a1 = int32(av[2]), int32(av[3])
		x0, x1, x2, x3 = int32(bv[4]), int32(bv[5]), int32(bv[6]), int32(bv[7])
		c00 += a0 * x0
		c01 += a0 * x1
		c02 += a0 * x2
		c03 += a0 * x3
		c10 += a1 * x0
		c11 += a1 * x1
		c12 += a1 * x2
		c13 += a1 * x3
	}
	for ; kk < k; kk++ {
		a0, a1 := int32(a[kk*mr]), int32(a[kk*mr+1])
		bv := b[kk*nr : kk*nr+4 : kk*nr+4]
		x0, x1, x2, x3 := int32(bv[0]), int32(bv[1]), int32(bv[2]), int32(bv[3])
		c00 += a0 * x0
		c01 += a0 * x1
		c02 += a0 * x2
		c03 += a0 * x3
		c10 += a1 * x0
		c11 += a1 * x1
		c12 += a1 * x2
		c13 += a1 * x3
	}
	*out = [mr * nr]int32{c00, c01, c02, c03, c10, c11, c12, c13}
}

// GemmI32Ref is the plain reference: c[i][j] = Σ_k a[i][k]·b[k][j] for row-major int32
// operands, accumulated in int64 and truncated to int32 (what an exact int32 kernel gives).
func GemmI32Ref(c []int32, a, b []int32, m, k, n int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s int64
			for kk := 0; kk < k; kk++ {
				s += int64(a[i*k+kk]) * int64(b[kk*n+j])
			}
			c[i*n+j] = int32(s)
		}
	}
}

// Im2colI16 writes the im2col matrix of one group of a quantized image into the PackBI16
// layout: src holds icg channels of uint8 codes, zero[ci] is channel ci's zero point, and
// each value written is code − zero (so padding, the real value 0, is written as 0).
func Im2colI16(dst []int16, src []uint8, zero []int32, icg int, p ConvParams) {
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
				z := zero[ci]
				for ky := 0; ky < p.KH; ky++ {
					iy := iy0 + ky*p.DilH
					rowOK := iy >= 0 && iy < p.InH
					for kx := 0; kx < p.KW; kx++ {
						ix := ix0 + kx*p.DilW
						var v int16
						if rowOK && ix >= 0 && ix < p.InW {
							v = int16(int32(plane[iy*p.InW+ix]) - z)
						}
						panel[kk*nr+c] = v
						kk++
					}
				}
			}
		}
	}
}

// PackedI32 is a row-major M×K int32 matrix packed for GemmI32 (panels of 2 rows, k-major).
type PackedI32 struct {
	M, K int
	Data []int32
}

// PackI32 packs the row-major M×K matrix a (leading dimension lda).
func PackI32(a []int32, m, k, lda int) *PackedI32 {
	return &PackedI32{M: m, K: k, Data: packRows(a, m, k, lda)}
}

// GemmI32 computes C = A·B with int64 sums, for int32 weights A (PackI32) and int16 values
// B (PackBI16 layout), into the row-major int64 matrix c (leading dimension ldc). It is the
// exact kernel for weights that carry folded per-input-channel scales at 31-bit precision:
// with |a| < 2^31 and |b| < 2^15 no sum of fewer than 2^17 products can overflow.
func GemmI32(c []int64, ldc int, a *PackedI32, bp []int16, n int) {
	if gemmI32SIMD(c, ldc, a, bp, n) {
		return
	}
	tiles(c, ldc, a.M, a.K, a.Data, bp, n, microI32)
}

func microI32(out *[mr * nr]int64, a []int32, b []int16, k int) {
	var c00, c01, c02, c03, c10, c11, c12, c13 int64
	a = a[:k*mr]
	b = b[:k*nr]
	kk := 0
	for ; kk+1 < k; kk += 2 {
		av := a[kk*mr : kk*mr+4 : kk*mr+4]
		bv := b[kk*nr : kk*nr+8 : kk*nr+8]
		a0, a1 := int64(av[0]), int64(av[1])
		x0, x1, x2, x3 := int64(bv[0]), int64(bv[1]), int64(bv[2]), int64(bv[3])
		c00 += a0 * x0
		c01 += a0 * x1
		c02 += a0 * x2
		c03 += a0 * x3
		c10 += a1 * x0
		c11 += a1 * x1
		c12 += a1 * x2
		c13 += a1 * x3
		a0, a1 = int64(av[2]), int64(av[3])
		x0, x1, x2, x3 = int64(bv[4]), int64(bv[5]), int64(bv[6]), int64(bv[7])
		c00 += a0 * x0
		c01 += a0 * x1
		c02 += a0 * x2
		c03 += a0 * x3
		c10 += a1 * x0
		c11 += a1 * x1
		c12 += a1 * x2
		c13 += a1 * x3
	}
	for ; kk < k; kk++ {
		a0, a1 := int64(a[kk*mr]), int64(a[kk*mr+1])
		bv := b[kk*nr : kk*nr+4 : kk*nr+4]
		x0, x1, x2, x3 := int64(bv[0]), int64(bv[1]), int64(bv[2]), int64(bv[3])
		c00 += a0 * x0
		c01 += a0 * x1
		c02 += a0 * x2
		c03 += a0 * x3
		c10 += a1 * x0
		c11 += a1 * x1
		c12 += a1 * x2
		c13 += a1 * x3
	}
	*out = [mr * nr]int64{c00, c01, c02, c03, c10, c11, c12, c13}
}
