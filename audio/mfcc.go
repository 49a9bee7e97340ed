package audio

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/dsp/fourier"
)

// Frontend is an MFCC feature front end, defined as TensorFlow computes it in the MLPerf Tiny
// keyword-spotting benchmark's training code (mlcommons/tiny,
// benchmark/training/keyword_spotting/get_dataset.py, feature_type "mfcc"):
//
//   - the clip is scaled by its largest sample (wav / reduce_max(wav)) and zero-padded to
//     Samples;
//   - tf.signal.stft: frames of Window samples every Stride, a periodic Hann window, an FFT of
//     the next power of two ≥ Window (512), the magnitude |X| (not the power);
//   - tf.signal.linear_to_mel_weight_matrix: MelBands triangles evenly spaced on the HTK mel
//     scale (1127·ln(1 + f/700)) from LowHz to HighHz, computed on the mel value of each FFT
//     bin, the DC bin weighted 0;
//   - log(mel + 1e-6);
//   - tf.signal.mfccs_from_log_mel_spectrograms: the unnormalised DCT-II
//     (2·Σ x_n cos(πk(2n+1)/2N)) scaled by 1/√(2N), the first Coefficients kept.
//
// The result is Frames × Coefficients values, frame-major (the network's 49×10 input).
type Frontend struct {
	Rate, Samples  int // 16,000 Hz, one second
	Window, Stride int // 480 (30 ms), 320 (20 ms)
	MelBands       int
	LowHz, HighHz  float64
	Coefficients   int
}

// KWS is the benchmark's front end: one second at 16 kHz, 30 ms frames every 20 ms, 40 mel
// bands from 20 Hz to 4 kHz, 10 coefficients — 49 × 10 features.
var KWS = Frontend{Rate: 16000, Samples: 16000, Window: 480, Stride: 320, MelBands: 40, LowHz: 20, HighHz: 4000, Coefficients: 10}

// Frames is the number of frames of one clip (1 + (Samples − Window) / Stride).
func (f Frontend) Frames() int { return 1 + (f.Samples-f.Window)/f.Stride }

// FFTSize is the FFT length: the smallest power of two ≥ Window, as tf.signal.stft chooses.
func (f Frontend) FFTSize() int {
	n := 1
	for n < f.Window {
		n *= 2
	}
	return n
}

// Features is a clip's front-end output with what the page draws beside it.
type Features struct {
	MFCC  []float32 // Frames × Coefficients
	Start int       // the first sample of the clip used, in Sound
	Clip  []float32 // the (up to) Samples samples used, before scaling: Sound[Start:…]
	Sound []float32 // the whole sound at the front end's rate
}

// Extract resamples c to the front end's rate, takes its loudest Samples-long stretch (the
// whole clip when shorter: it is zero-padded, as the benchmark pads) and computes its MFCCs.
func (f Frontend) Extract(c *Clip) (*Features, error) {
	if c == nil || len(c.Samples) == 0 {
		return nil, fmt.Errorf("%w: no samples", ErrAudio)
	}
	x := Resample(c.Samples, c.Rate, f.Rate)
	start := Loudest(x, f.Samples, f.Rate/100)
	end := min(start+f.Samples, len(x))
	clip := x[start:end]
	return &Features{MFCC: f.MFCC(clip), Start: start, Clip: clip, Sound: x}, nil
}

// Loudest is the start of the n-sample stretch of x with the most energy, searched in steps
// of step samples (0 when x is no longer than n): a keyword in a longer recording.
func Loudest(x []float32, n, step int) int {
	if len(x) <= n {
		return 0
	}
	step = max(step, 1)
	prefix := make([]float64, len(x)+1)
	for i, v := range x {
		prefix[i+1] = prefix[i] + float64(v)*float64(v)
	}
	best, at := -1.0, 0
	for s := 0; s+n <= len(x); s += step {
		if e := prefix[s+n] - prefix[s]; e > best {
			best, at = e, s
		}
	}
	return at
}

// MFCC computes the features of one clip at the front end's rate (at most Samples samples;
// fewer are zero-padded). A silent clip (no positive sample) is not scaled.
func (f Frontend) MFCC(clip []float32) []float32 {
	x := make([]float64, f.Samples)
	peak := 0.0
	for i, v := range clip[:min(len(clip), f.Samples)] {
		x[i] = float64(v)
		peak = math.Max(peak, x[i])
	}
	if peak > 0 { // wav / reduce_max(wav): the largest sample, not the largest magnitude
		for i := range x {
			x[i] /= peak
		}
	}
	nfft := f.FFTSize()
	bins := nfft/2 + 1
	hann := make([]float64, f.Window) // periodic: 0.5 − 0.5·cos(2πn/N) (gonum's Hann is symmetric)
	for i := range hann {
		hann[i] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(f.Window))
	}
	mel := f.melMatrix(bins)
	fft := fourier.NewFFT(nfft)
	frame := make([]float64, nfft)
	spec := make([]complex128, bins)
	mag := make([]float64, bins)
	logMel := make([]float64, f.MelBands)
	frames := f.Frames()
	out := make([]float32, frames*f.Coefficients)
	scale := 1 / math.Sqrt(2*float64(f.MelBands))
	for t := 0; t < frames; t++ {
		for i := range frame {
			frame[i] = 0
		}
		for i := 0; i < f.Window; i++ {
			frame[i] = x[t*f.Stride+i] * hann[i]
		}
		fft.Coefficients(spec, frame)
		for i, c := range spec {
			mag[i] = math.Hypot(real(c), imag(c))
		}
		for b := range logMel {
			var s float64
			for i, w := range mel[b] {
				s += w * mag[i]
			}
			logMel[b] = math.Log(s + 1e-6)
		}
		n := float64(f.MelBands)
		for k := 0; k < f.Coefficients; k++ {
			var s float64
			for i, v := range logMel {
				s += v * math.Cos(math.Pi*float64(k)*(2*float64(i)+1)/(2*n))
			}
			out[t*f.Coefficients+k] = float32(2 * s * scale)
		}
	}
	return out
}

// melMatrix is tf.signal.linear_to_mel_weight_matrix, one row of bins weights per mel band.
func (f Frontend) melMatrix(bins int) [][]float64 {
	hzToMel := func(hz float64) float64 { return 1127 * math.Log(1+hz/700) }
	lo, hi := hzToMel(f.LowHz), hzToMel(f.HighHz)
	edges := make([]float64, f.MelBands+2)
	for i := range edges {
		edges[i] = lo + (hi-lo)*float64(i)/float64(f.MelBands+1)
	}
	nyquist := float64(f.Rate) / 2
	m := make([][]float64, f.MelBands)
	for b := range m {
		m[b] = make([]float64, bins)
		for i := 1; i < bins; i++ { // the DC bin stays 0
			v := hzToMel(nyquist * float64(i) / float64(bins-1))
			lower := (v - edges[b]) / (edges[b+1] - edges[b])
			upper := (edges[b+2] - v) / (edges[b+2] - edges[b+1])
			m[b][i] = math.Max(0, math.Min(lower, upper))
		}
	}
	return m
}
