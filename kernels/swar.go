package kernels

// The packed 4-bit GEMM multiplies unsigned 4-bit weight codes (0..15, two per byte) by
// unsigned 4-bit activation codes (0..15) with SWAR arithmetic: four activations sit in the
// 16-bit lanes of one uint64, one multiplication by a broadcast weight code computes four
// products (each ≤ 225, no carry between lanes), and a lane can absorb swarFlush = 256 such
// products (≤ 57,600 < 2^16) before it is added into int32 accumulators. Go's wasm target has
// no SIMD instructions; this gives four multiply-adds per 64-bit operation anyway.
//
// The kernel computes the raw sums Σ_k a·b of the codes; the zero points are applied by the
// caller from the row sums of A and the column sums of B (gemmlowp's decomposition):
// Σ (a−za)(b−zb) = Σ ab − za·Σb − zb·Σa + K·za·zb.

// Tile of the SWAR micro-kernel: 4 rows of A by 8 columns of B (two uint64 of four lanes).
const (
	u4mr = 4
	u4nr = 8
	// swarFlush is how many products a 16-bit lane accumulates before it is emptied.
	swarFlush = 256
)

// PackedU4 is an M×K matrix of 4-bit codes packed for GemmU4: panels of 4 rows, each stored
// k-major with the four codes of a k in two bytes (rows 0 and 1 in the low and high nibble
// of the first, rows 2 and 3 in the second). It takes K·M/2 bytes: the weights stay 4-bit in
// memory. RowSum holds each row's Σ_k a for the zero-point terms.
type PackedU4 struct {
	M, K   int
	Data   []byte
	RowSum []int32
}

// PackU4 packs the row-major M×K matrix of codes a (each < 16; leading dimension lda).
func PackU4(a []uint8, m, k, lda int) *PackedU4 {
	panels := (m + u4mr - 1) / u4mr
	p := &PackedU4{M: m, K: k, Data: make([]byte, panels*k*2), RowSum: make([]int32, m)}
	for ip := 0; ip < panels; ip++ {
		dst := p.Data[ip*k*2:]
		for r := 0; r < u4mr; r++ {
			i := ip*u4mr + r
			if i >= m {
				break
			}
			shift := uint(r&1) * 4
			for kk, v := range a[i*lda : i*lda+k] {
				dst[kk*2+r/2] |= (v & 15) << shift
				p.RowSum[i] += int32(v & 15)
			}
		}
	}
	return p
}

// PackedU4BLen is the number of uint64 words PackBU4 fills for a K×N matrix.
func PackedU4BLen(k, n int) int { return (n + u4nr - 1) / u4nr * k * 2 }

// PackBU4 packs the row-major K×N matrix of codes b (each < 16) into dst — panels of 8
// columns, per k two words of four 16-bit lanes — and writes each column's Σ_k b into
// colSum (n values). Missing columns of the last panel are zero.
func PackBU4(dst []uint64, colSum []int32, b []uint8, k, n, ldb int) {
	panels := (n + u4nr - 1) / u4nr
	clear(colSum[:n])
	for jp := 0; jp < panels; jp++ {
		p := dst[jp*k*2 : (jp+1)*k*2]
		j0 := jp * u4nr
		w := min(u4nr, n-j0)
		for kk := 0; kk < k; kk++ {
			var lo, hi uint64
			row := b[kk*ldb+j0:]
			for c := 0; c < w; c++ {
				v := uint64(row[c] & 15)
				colSum[j0+c] += int32(v)
				if c < 4 {
					lo |= v << (16 * c)
				} else {
					hi |= v << (16 * (c - 4))
				}
			}
			p[2*kk], p[2*kk+1] = lo, hi
		}
	}
}

// GemmU4 computes the raw code sums C = A·B into the row-major int32 matrix c (leading
// dimension ldc), for A packed by PackU4 and B packed by PackBU4 (or Im2colU4).
func GemmU4(c []int32, ldc int, a *PackedU4, bp []uint64, n int) {
	k := a.K
	mPanels := (a.M + u4mr - 1) / u4mr
	nPanels := (n + u4nr - 1) / u4nr
	for ip := 0; ip < mPanels; ip++ {
		ap := a.Data[ip*k*2 : (ip+1)*k*2]
		i0 := ip * u4mr
		h := min(u4mr, a.M-i0)
		for jp := 0; jp < nPanels; jp++ {
			var blk [u4mr * u4nr]int32
			microU4(&blk, ap, bp[jp*k*2:(jp+1)*k*2], k)
			j0 := jp * u4nr
			w := min(u4nr, n-j0)
			for r := 0; r < h; r++ {
				copy(c[(i0+r)*ldc+j0:(i0+r)*ldc+j0+w], blk[r*u4nr:r*u4nr+w])
			}
		}
	}
}

// microU4 accumulates the 4×8 block of raw sums, flushing the 16-bit lanes every swarFlush
// steps of k.
func microU4(out *[u4mr * u4nr]int32, a []byte, b []uint64, k int) {
	a = a[:2*k]
	b = b[:2*k]
	for k0 := 0; k0 < k; k0 += swarFlush {
		k1 := min(k, k0+swarFlush)
		var s00, s01, s10, s11, s20, s21, s30, s31 uint64
		kk := k0
		for ; kk+1 < k1; kk += 2 {
			av := a[2*kk : 2*kk+4 : 2*kk+4]
			bv := b[2*kk : 2*kk+4 : 2*kk+4]
			w := uint64(av[0]) | uint64(av[1])<<8
			b0, b1 := bv[0], bv[1]
			w0, w1, w2, w3 := w&15, w>>4&15, w>>8&15, w>>12
			s00 += b0 * w0
			s01 += b1 * w0
			s10 += b0 * w1
			s11 += b1 * w1
			s20 += b0 * w2
			s21 += b1 * w2
			s30 += b0 * w3
			s31 += b1 * w3
			w = uint64(av[2]) | uint64(av[3])<<8
			b0, b1 = bv[2], bv[3]
			w0, w1, w2, w3 = w&15, w>>4&15, w>>8&15, w>>12
			s00 += b0 * w0
			s01 += b1 * w0
			s10 += b0 * w1
			s11 += b1 * w1
			s20 += b0 * w2
			s21 += b1 * w2
			s30 += b0 * w3
			s31 += b1 * w3
		}
		for ; kk < k1; kk++ {
			w := uint64(a[2*kk]) | uint64(a[2*kk+1])<<8
			b0, b1 := b[2*kk], b[2*kk+1]
			w0, w1, w2, w3 := w&15, w>>4&15, w>>8&15, w>>12
			s00 += b0 * w0
			s01 += b1 * w0
			s10 += b0 * w1
			s11 += b1 * w1
			s20 += b0 * w2
			s21 += b1 * w2
			s30 += b0 * w3
			s31 += b1 * w3
		}
		lanes(out[0:8], s00, s01)
		lanes(out[8:16], s10, s11)
		lanes(out[16:24], s20, s21)
		lanes(out[24:32], s30, s31)
	}
}

// lanes adds the four 16-bit lanes of lo and of hi to dst[0:4] and dst[4:8].
func lanes(dst []int32, lo, hi uint64) {
	dst = dst[:8]
	dst[0] += int32(lo & 0xffff)
	dst[1] += int32(lo >> 16 & 0xffff)
	dst[2] += int32(lo >> 32 & 0xffff)
	dst[3] += int32(lo >> 48)
	dst[4] += int32(hi & 0xffff)
	dst[5] += int32(hi >> 16 & 0xffff)
	dst[6] += int32(hi >> 32 & 0xffff)
	dst[7] += int32(hi >> 48)
}

// Im2colU4 writes the im2col matrix of one group of an image of 4-bit codes (icg channels
// starting at src) straight into the PackBU4 layout, padding with the code pad (the zero
// point, i.e. real 0), and each column's code sum into colSum (OutH·OutW values).
func Im2colU4(dst []uint64, colSum []int32, src []uint8, pad uint8, icg int, p ConvParams) {
	if p.OutW()%u4nr == 0 {
		im2colU4Rows(dst, colSum, src, pad, icg, p)
		return
	}
	oh, ow := p.OutH(), p.OutW()
	n := oh * ow
	k := icg * p.KH * p.KW
	panels := (n + u4nr - 1) / u4nr
	clear(colSum[:n])
	pad &= 15
	kk := 0
	for ci := 0; ci < icg; ci++ {
		plane := src[ci*p.InH*p.InW : (ci+1)*p.InH*p.InW]
		for ky := 0; ky < p.KH; ky++ {
			for kx := 0; kx < p.KW; kx++ {
				// Row kk of the im2col matrix, eight columns (two words) at a time.
				oy, ox := 0, 0
				for jp := 0; jp < panels; jp++ {
					var w [2]uint64
					for c := 0; c < u4nr; c++ {
						j := jp*u4nr + c
						if j >= n {
							break
						}
						iy := oy*p.StrideH - p.PadT + ky*p.DilH
						ix := ox*p.StrideW - p.PadL + kx*p.DilW
						v := pad
						if iy >= 0 && iy < p.InH && ix >= 0 && ix < p.InW {
							v = plane[iy*p.InW+ix] & 15
						}
						colSum[j] += int32(v)
						w[c>>2] |= uint64(v) << (16 * uint(c&3))
						if ox++; ox == ow {
							ox = 0
							oy++
						}
					}
					dst[jp*k*2+2*kk] = w[0]
					dst[jp*k*2+2*kk+1] = w[1]
				}
				kk++
			}
		}
	}
}

// lanes4 spreads the four bytes of x into the four 16-bit lanes of a word, keeping the low
// four bits of each.
func lanes4(x uint32) uint64 {
	v := uint64(x)
	v = (v | v<<16) & 0x0000FFFF0000FFFF
	v = (v | v<<8) & 0x00FF00FF00FF00FF
	return v & 0x000F000F000F000F
}

// im2colU4Rows is Im2colU4 when each panel of eight columns lies in one output row: rows
// entirely in the padding are written as whole words, eight unit-stride pixels inside the
// image are loaded as one 64-bit word and spread into lanes, and the column sums are taken
// afterwards with SWAR additions over the packed words.
func im2colU4Rows(dst []uint64, colSum []int32, src []uint8, pad uint8, icg int, p ConvParams) {
	oh, ow := p.OutH(), p.OutW()
	n := oh * ow
	k := icg * p.KH * p.KW
	pad &= 15
	padWord := uint64(pad) * 0x0001000100010001
	perRow := ow / u4nr
	kk := 0
	for ci := 0; ci < icg; ci++ {
		plane := src[ci*p.InH*p.InW : (ci+1)*p.InH*p.InW]
		for ky := 0; ky < p.KH; ky++ {
			for kx := 0; kx < p.KW; kx++ {
				for oy := 0; oy < oh; oy++ {
					iy := oy*p.StrideH - p.PadT + ky*p.DilH
					for q := 0; q < perRow; q++ {
						at := ((oy*perRow+q)*k + kk) * 2
						if iy < 0 || iy >= p.InH {
							dst[at], dst[at+1] = padWord, padWord
							continue
						}
						row := plane[iy*p.InW : (iy+1)*p.InW]
						ix0 := q*u4nr*p.StrideW - p.PadL + kx*p.DilW
						if p.StrideW == 1 && ix0 >= 0 && ix0+u4nr <= p.InW {
							v := row[ix0 : ix0+8 : ix0+8]
							lo := uint32(v[0]) | uint32(v[1])<<8 | uint32(v[2])<<16 | uint32(v[3])<<24
							hi := uint32(v[4]) | uint32(v[5])<<8 | uint32(v[6])<<16 | uint32(v[7])<<24
							dst[at], dst[at+1] = lanes4(lo), lanes4(hi)
							continue
						}
						var w [2]uint64
						for c := 0; c < u4nr; c++ {
							ix := ix0 + c*p.StrideW
							v := pad
							if ix >= 0 && ix < p.InW {
								v = row[ix] & 15
							}
							w[c>>2] |= uint64(v) << (16 * uint(c&3))
						}
						dst[at], dst[at+1] = w[0], w[1]
					}
				}
				kk++
			}
		}
	}
	// Column sums: lanes hold ≤ 15 per k, so 4,369 rows fit a 16-bit lane; flush every 4,096.
	for jp := 0; jp < n/u4nr; jp++ {
		panel := dst[jp*k*2 : (jp+1)*k*2]
		var sum [u4nr]int32
		for k0 := 0; k0 < k; k0 += 4096 {
			var lo, hi uint64
			for kk := k0; kk < min(k, k0+4096); kk++ {
				lo += panel[2*kk]
				hi += panel[2*kk+1]
			}
			var s [8]int32
			lanes(s[:], lo, hi)
			for c := range sum {
				sum[c] += s[c]
			}
		}
		copy(colSum[jp*u4nr:], sum[:])
	}
}

// GemmU8Ref is the plain reference of the code kernels: c[i][j] = Σ_k a[i][k]·b[k][j] for
// row-major uint8 code matrices.
func GemmU8Ref(c []int32, a, b []uint8, m, k, n int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s int32
			for kk := 0; kk < k; kk++ {
				s += int32(a[i*k+kk]) * int32(b[kk*n+j])
			}
			c[i*n+j] = s
		}
	}
}
