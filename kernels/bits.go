package kernels

import "fmt"

// PackedBitsLen is the number of bytes PackBits needs for n codes of the given width.
func PackedBitsLen(n, bits int) int { return (n*bits + 7) / 8 }

// PackBits appends n codes of width bits (1..8; each code < 2^bits) to dst as a little-endian
// bit stream — code i occupies bits [i·bits, (i+1)·bits) — and returns the extended slice.
// For 4 bits this is two codes per byte, the first in the low nibble. A width of 0 stores
// nothing (a channel that per-channel bit allocation made constant).
func PackBits(dst []byte, codes []uint8, bits int) ([]byte, error) {
	if bits < 0 || bits > 8 {
		return dst, fmt.Errorf("kernels: pack %d-bit codes: width must be 0..8", bits)
	}
	if bits == 0 {
		return dst, nil
	}
	limit := uint16(1) << bits
	start := len(dst)
	dst = append(dst, make([]byte, PackedBitsLen(len(codes), bits))...)
	out := dst[start:]
	pos := 0
	for i, c := range codes {
		if uint16(c) >= limit {
			return dst[:start], fmt.Errorf("kernels: pack: code %d at %d does not fit %d bits", c, i, bits)
		}
		v := uint16(c) << (pos & 7)
		out[pos>>3] |= byte(v)
		if v > 0xff {
			out[pos>>3+1] |= byte(v >> 8)
		}
		pos += bits
	}
	return dst, nil
}

// UnpackBits reads len(dst) codes of width bits from the bit stream src written by PackBits.
// A width of 0 yields zero codes.
func UnpackBits(dst []uint8, src []byte, bits int) error {
	if bits < 0 || bits > 8 {
		return fmt.Errorf("kernels: unpack %d-bit codes: width must be 0..8", bits)
	}
	if bits == 0 {
		clear(dst)
		return nil
	}
	if len(src) < PackedBitsLen(len(dst), bits) {
		return fmt.Errorf("kernels: unpack: %d bytes hold fewer than %d %d-bit codes", len(src), len(dst), bits)
	}
	mask := uint16(1)<<bits - 1
	pos := 0
	for i := range dst {
		b := pos >> 3
		v := uint16(src[b])
		if b+1 < len(src) {
			v |= uint16(src[b+1]) << 8
		}
		dst[i] = uint8(v >> (pos & 7) & mask)
		pos += bits
	}
	return nil
}
