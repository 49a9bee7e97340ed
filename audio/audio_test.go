package audio_test

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"fourbit/audio"
	"fourbit/dataset"
)

const clips = "../testdata/speech-commands"

var clipNames = []string{"yes", "no", "silence", "noise"} // the order of mfcc-ref.npy

// TestMFCCReference checks the front end against tools/mfcc-ref.py (SciPy/NumPy, written from
// the same TensorFlow definition) on the four real clips: every value within 1e-3.
func TestMFCCReference(t *testing.T) {
	ref := readNPY(t, filepath.Join(clips, "mfcc-ref.npy"))
	per := audio.KWS.Frames() * audio.KWS.Coefficients
	if len(ref) != len(clipNames)*per {
		t.Fatalf("reference holds %d values, want %d", len(ref), len(clipNames)*per)
	}
	for i, name := range clipNames {
		c, err := audio.ReadFile(filepath.Join(clips, name+"_1000ms.wav"))
		if err != nil {
			t.Fatal(err)
		}
		if c.Rate != 16000 || len(c.Samples) != 16000 {
			t.Fatalf("%s: %d samples at %d Hz", name, len(c.Samples), c.Rate)
		}
		f, err := audio.KWS.Extract(c)
		if err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		for j, v := range f.MFCC {
			worst = math.Max(worst, math.Abs(float64(v-ref[i*per+j])))
		}
		t.Logf("%s: max |Δ| %.2g against the SciPy reference", name, worst)
		if worst > 1e-3 {
			t.Errorf("%s: MFCCs differ from the reference by %.3g (> 1e-3)", name, worst)
		}
	}
}

// TestResample: a 1 kHz tone from 44.1 kHz to 16 kHz equals the tone sampled at 16 kHz (away
// from the ends), and a 12 kHz tone — above the new Nyquist frequency — is removed, not
// folded down to 4 kHz.
func TestResample(t *testing.T) {
	tone := func(hz float64, rate, n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(0.5 * math.Sin(2*math.Pi*hz*float64(i)/float64(rate)))
		}
		return x
	}
	for _, c := range []struct {
		from, to int
		hz       float64
	}{{44100, 16000, 1000}, {48000, 16000, 3000}, {8000, 16000, 1000}, {22050, 16000, 440}} {
		y := audio.Resample(tone(c.hz, c.from, c.from), c.from, c.to)
		want := tone(c.hz, c.to, c.to)
		if len(y) != len(want) {
			t.Fatalf("%d → %d Hz: %d samples, want %d", c.from, c.to, len(y), len(want))
		}
		worst := 0.0
		for i := c.to / 10; i < len(y)-c.to/10; i++ {
			worst = math.Max(worst, math.Abs(float64(y[i]-want[i])))
		}
		t.Logf("%d → %d Hz, %.0f Hz tone: max error %.2g", c.from, c.to, c.hz, worst)
		if worst > 1e-3 {
			t.Errorf("%d → %d Hz: max error %.3g on a %.0f Hz tone (> 1e-3)", c.from, c.to, worst, c.hz)
		}
	}
	y := audio.Resample(tone(12000, 44100, 44100), 44100, 16000)
	var energy float64
	for _, v := range y[1600 : len(y)-1600] {
		energy += float64(v) * float64(v)
	}
	rms := math.Sqrt(energy / float64(len(y)-3200))
	t.Logf("12 kHz tone of RMS 0.35 after 44.1 → 16 kHz: RMS %.2g", rms)
	if rms > 0.35e-3 { // −60 dB
		t.Errorf("a 12 kHz tone leaks through the low-pass at RMS %.3g (> −60 dB)", rms)
	}
}

// TestLoudest finds a keyword in a longer recording: the one-second stretch with the energy.
func TestLoudest(t *testing.T) {
	c, err := audio.ReadFile(filepath.Join(clips, "yes_1000ms.wav"))
	if err != nil {
		t.Fatal(err)
	}
	long := make([]float32, 3*16000)
	copy(long[20000:], c.Samples)
	long = append(long, c.Samples[:100]...)
	f, err := audio.KWS.Extract(&audio.Clip{Rate: 16000, Samples: long})
	if err != nil {
		t.Fatal(err)
	}
	if f.Start != 20000 { // on the 10 ms search grid
		t.Errorf("the loudest second starts at sample %d, the clip at 20000", f.Start)
	}
	direct := audio.KWS.MFCC(c.Samples)
	worst := 0.0
	for i := range direct {
		worst = math.Max(worst, math.Abs(float64(direct[i]-f.MFCC[i])))
	}
	if worst != 0 {
		t.Errorf("the clip found in the recording has MFCCs %.3g from the clip's own", worst)
	}
}

// readNPY reads a float .npy file's values.
func readNPY(t *testing.T, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := dataset.ReadNPY(b)
	if err != nil {
		t.Fatal(err)
	}
	return a.Values
}
