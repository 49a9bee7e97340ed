package audio

import (
	"math"

	"gonum.org/v1/gonum/dsp/window"
)

// The resampler's low-pass: a windowed sinc (Blackman window, gonum's dsp/window) spanning
// ±resampleCrossings zero crossings, with its cutoff at resampleRolloff × the lower of the two
// Nyquist frequencies (7.2 kHz for 16 kHz out). The Blackman window's stop band is −74 dB; its
// transition band (≈ 5.5 × cutoff / crossings ≈ 1.7 kHz here) ends at the output's Nyquist
// frequency, far above the 4 kHz the keyword network's mel bands reach.
const (
	resampleCrossings = 24
	resampleRolloff   = 0.9
	resampleTable     = 512 // kernel samples per zero crossing (linearly interpolated)
)

// kernel is the windowed sinc sampled resampleTable times per zero crossing over
// [0, resampleCrossings] (it is even).
var kernel = func() []float64 {
	n := resampleCrossings * resampleTable
	seq := make([]float64, 2*n+1)
	for i := range seq {
		seq[i] = 1
	}
	w := window.Blackman(seq)
	k := make([]float64, n+2)
	for i := 0; i <= n; i++ {
		x := math.Pi * float64(i) / resampleTable
		s := 1.0
		if i > 0 {
			s = math.Sin(x) / x
		}
		k[i] = s * w[n+i]
	}
	return k // k[n+1] = 0 pads the interpolation at the edge
}()

// Resample converts samples at rate from to rate to by band-limited interpolation (Smith's
// method: each output sample is the input convolved with the low-pass above, evaluated at the
// output's instant, so any ratio works, 44.1 kHz → 16 kHz included). Samples beyond the ends
// are zero.
func Resample(x []float32, from, to int) []float32 {
	if from == to || len(x) == 0 {
		return append([]float32(nil), x...)
	}
	n := int(int64(len(x)) * int64(to) / int64(from))
	out := make([]float32, n)
	scale := resampleRolloff * math.Min(1, float64(to)/float64(from)) // cutoff in input zero crossings
	reach := float64(resampleCrossings) / scale                       // half-width in input samples
	step := float64(from) / float64(to)
	for m := range out {
		u := float64(m) * step
		lo := max(int(math.Ceil(u-reach)), 0)
		hi := min(int(math.Floor(u+reach)), len(x)-1)
		var sum float64
		for k := lo; k <= hi; k++ {
			t := math.Abs(u-float64(k)) * scale * resampleTable
			i := int(t)
			if i >= len(kernel)-1 {
				continue
			}
			f := t - float64(i)
			sum += float64(x[k]) * (kernel[i] + f*(kernel[i+1]-kernel[i]))
		}
		out[m] = float32(sum * scale)
	}
	return out
}
