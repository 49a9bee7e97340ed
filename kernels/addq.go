package kernels

import "fmt"

// AddCodes adds two tensors of uint8 codes of the same shape (channels × inner values per
// image) and requantizes the sum per channel, with the arithmetic of fake quantization —
// each input dequantized in float64 and rounded to float32, the float32 sum, then quantized
// in float64 (division by the output scale, round half away from zero, clamp):
//
//	y    = float32(float32((a − Za)·Sa) + float32((b − Zb)·Sb))
//	code = clamp(round(y/So + Zo), Lo, Hi)
//
// so that an integer network's residual Adds give exactly the codes its simulation (package
// ptq) gives for the same input codes. rq holds one requantization per channel; dst, a and
// b hold whole images (len a multiple of len(rq)·inner). The WebAssembly SIMD128 kernel
// (simd build) and the native AVX-512 one (GOEXPERIMENT=simd) give the same codes.
func AddCodes(dst, a, b []uint8, inner int, rq []AddRequant) {
	c := len(rq)
	if inner <= 0 || c == 0 || len(a)%(c*inner) != 0 || len(b) != len(a) || len(dst) < len(a) {
		panic(fmt.Sprintf("kernels: AddCodes of %d and %d codes into %d for %d channels of %d", len(a), len(b), len(dst), c, inner))
	}
	if addCodesSIMD(dst, a, b, inner, rq) || addCodesNative(dst, a, b, inner, rq) {
		return
	}
	for i := 0; i < len(a); i += inner {
		r := &rq[(i/inner)%c]
		for j := i; j < i+inner; j++ {
			dst[j] = r.code(a[j], b[j])
		}
	}
}

// AddRequant is one channel's requantization of AddCodes: the two inputs' and the output's
// zero points and scales, and the output's code range. A zero output scale gives the code
// round(Zo) (clamped), as a quantizer of a constant does.
type AddRequant struct {
	Za, Sa, Zb, Sb, Zo, So float64
	Lo, Hi                 float64
}

func (r *AddRequant) code(a, b uint8) uint8 {
	ya := float32((float64(a) - r.Za) * r.Sa)
	yb := float32((float64(b) - r.Zb) * r.Sb)
	return quantizeCode(float64(ya+yb), r.So, r.Zo, r.Lo, r.Hi)
}
