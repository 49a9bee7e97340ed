package session

import (
	"fmt"
	"math"

	"fourbit/audio"
	"fourbit/dataset"
)

// Sound is one sound file heard by the loaded keyword network: what was decoded, the stretch
// the network heard, its features and both networks' top classes — everything the page draws.
type Sound struct {
	Format  string  `json:"format"`  // what it was decoded from
	Rate    int     `json:"rate"`    // the file's sample rate
	Seconds float64 `json:"seconds"` // its length
	// Start and Length (seconds) place the one-second stretch the network heard (the loudest).
	Start  float64 `json:"start"`
	Length float64 `json:"length"`
	// Peaks is the whole sound's envelope at the front end's rate: the largest |sample| of each
	// of up to 2,000 equal stretches.
	Peaks []float32 `json:"peaks"`
	// MFCC is the network's input, Frames × Coefficients, frame-major.
	MFCC         []float32 `json:"mfcc"`
	Frames       int       `json:"frames"`
	Coefficients int       `json:"coefficients"`
	Prediction
}

// maxPeaks bounds Sound.Peaks.
const maxPeaks = 2000

// Listen decodes a WAV or MP3 file, computes the keyword front end's features of its loudest
// second and classifies them with the float network and, once quantized, the quantized one
// (top k).
func (s *Session) Listen(data []byte, k int) (snd Sound, err error) {
	defer guard(&err)
	if err := need(s.g != nil, "load a model first"); err != nil {
		return Sound{}, err
	}
	c, f, err := dataset.SoundFeatures(data, s.g.Input().Shape)
	if err != nil {
		return Sound{}, fmt.Errorf("listen: %w", err)
	}
	pred, err := s.classify(f.MFCC, k)
	if err != nil {
		return Sound{}, err
	}
	fe := audio.KWS
	snd = Sound{
		Format: c.Format, Rate: c.Rate, Seconds: c.Seconds(),
		Start: float64(f.Start) / float64(fe.Rate), Length: float64(len(f.Clip)) / float64(fe.Rate),
		MFCC: f.MFCC, Frames: fe.Frames(), Coefficients: fe.Coefficients, Prediction: pred,
	}
	x := f.Sound
	n := min(len(x), maxPeaks)
	snd.Peaks = make([]float32, n)
	for i := range snd.Peaks {
		lo, hi := i*len(x)/n, (i+1)*len(x)/n
		for _, v := range x[lo:hi] {
			snd.Peaks[i] = float32(math.Max(float64(snd.Peaks[i]), math.Abs(float64(v))))
		}
	}
	return snd, nil
}
