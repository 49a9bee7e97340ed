package audio_test

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"fourbit/audio"
)

// lame encodes wav (a file) to an MP3 with Debian's lame and the given options.
func lame(t *testing.T, wavPath, out string, args ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath("lame"); err != nil {
		t.Fatalf("lame is not installed (./build.sh test installs it: apt-get install lame): %v", err)
	}
	cmd := exec.Command("lame", append(append([]string{"--quiet"}, args...), wavPath, out)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("lame %v: %v\n%s", args, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// stereoWAV writes a clip as a two-channel 16-bit WAV (both channels equal), so that lame
// makes a stereo MP3 of it.
func stereoWAV(t *testing.T, c *audio.Clip, path string) {
	mono := audio.EncodeWAV(c.Samples, c.Rate)
	var b []byte
	b = append(b, mono[:44]...)
	binary.LittleEndian.PutUint16(b[22:], 2)
	binary.LittleEndian.PutUint32(b[28:], uint32(4*c.Rate))
	binary.LittleEndian.PutUint16(b[32:], 4)
	binary.LittleEndian.PutUint32(b[40:], uint32(4*len(c.Samples)))
	binary.LittleEndian.PutUint32(b[4:], uint32(36+4*len(c.Samples)))
	for i := 44; i < len(mono); i += 2 {
		b = append(b, mono[i], mono[i+1], mono[i], mono[i+1])
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// mfccTolerance bounds how far an MP3's features may be from its WAV's: the relative L2
// distance ‖Δ‖/‖x‖ of the 49×10 MFCCs (lossy coding at 64 kb/s changes the quiet frames'
// log-mel energies most; the keyword is carried by the loud ones). It holds for the speech
// and the noise clip; the silence clip's samples are within ±7 of 32,768 (−73 dBFS), so the
// MP3's coding noise is as large as the clip itself, and the front end, which scales every
// clip by its peak, sees a different sound (relative L2 ≈ 1.0–1.3): for it, only its class is
// compared (cmd/fourbit's TestListen).
const mfccTolerance = 0.05

// TestMP3 decodes MP3s that lame makes of the four real clips — 64 kb/s at their own 16 kHz
// (MPEG-2, mono) and 44.1 kHz stereo (MPEG-1, from a two-channel copy, lame resampling) —
// and checks that they line up with the WAV sample for sample (the LAME tag's encoder delay
// and padding cut) and give MFCCs within mfccTolerance of the WAV's.
func TestMP3(t *testing.T) {
	dir := t.TempDir()
	for _, name := range clipNames {
		src := filepath.Join(clips, name+"_1000ms.wav")
		w, err := audio.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		ref := audio.KWS.MFCC(w.Samples)
		stereo := filepath.Join(dir, name+"-stereo.wav")
		stereoWAV(t, w, stereo)
		for _, v := range []struct {
			kind, in string
			rate     int
			args     []string
		}{
			{"64 kb/s", src, 16000, []string{"-b", "64"}},
			{"44.1 kHz stereo", stereo, 44100, []string{"--resample", "44.1", "-m", "s"}},
		} {
			b := lame(t, v.in, filepath.Join(dir, name+".mp3"), v.args...)
			c, err := audio.Decode(b)
			if err != nil {
				t.Fatalf("%s %s: %v", name, v.kind, err)
			}
			if c.Rate != v.rate || !strings.HasPrefix(c.Format, "MP3") {
				t.Fatalf("%s %s: %s at %d Hz", name, v.kind, c.Format, c.Rate)
			}
			f, err := audio.KWS.Extract(c)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(f.Sound); n < 15990 || n > 16010 {
				t.Errorf("%s %s: %d samples at 16 kHz after cutting the encoder's delay and padding, want 16,000", name, v.kind, n)
			}
			var d2, x2, worst float64
			for i := range ref {
				d := float64(f.MFCC[i] - ref[i])
				d2, x2, worst = d2+d*d, x2+float64(ref[i])*float64(ref[i]), math.Max(worst, math.Abs(d))
			}
			rel := math.Sqrt(d2 / x2)
			t.Logf("%-8s %-16s %6d bytes: MFCC relative L2 %.4f, max |Δ| %.2f", name, v.kind, len(b), rel, worst)
			if rel > mfccTolerance && name != "silence" {
				t.Errorf("%s %s: MFCCs %.3f (relative L2) from the WAV's, more than %.2f", name, v.kind, rel, mfccTolerance)
			}
		}
	}
}

// TestBadMP3: a truncated MP3 and a ten-hour one are errors before anything is decoded.
func TestBadMP3(t *testing.T) {
	dir := t.TempDir()
	b := lame(t, filepath.Join(clips, "yes_1000ms.wav"), filepath.Join(dir, "yes.mp3"), "-b", "64")
	if _, err := audio.Decode(b[:len(b)-100]); err == nil || !strings.Contains(err.Error(), "truncated MP3") {
		t.Errorf("a truncated MP3: %v, want a truncation error", err)
	}
	if _, err := audio.Decode(b[:200]); err == nil || !strings.Contains(err.Error(), "truncated MP3") {
		t.Errorf("an MP3 cut in its first frames: %v", err)
	}
	// Ten hours: the file's frames repeated (8 kb/s at 8 kHz: 3.6 MB per hour).
	one := lame(t, filepath.Join(clips, "yes_1000ms.wav"), filepath.Join(dir, "low.mp3"), "-b", "8", "--resample", "8", "-t")
	hours := bytes.Repeat(one, 10*3600)
	if _, err := audio.Decode(hours); err == nil || !strings.Contains(err.Error(), "h of sound is more than") {
		t.Errorf("ten hours of MP3: %v, want a length error", err)
	}
}

// TestMFCCReferenceLive runs tools/mfcc-ref.py (SciPy) on sounds that are not in the
// committed reference — the 44.1 kHz stereo MP3s decoded and resampled here, a clip shorter
// than a second and one longer — written as 16-bit WAVs, and compares with the front end on
// the same 16-bit samples: within 1e-3.
func TestMFCCReferenceLive(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import scipy").Run(); err != nil {
		t.Skipf("SciPy not found for %s (./build.sh test installs python3-scipy): the committed reference (TestMFCCReference) still ran", py)
	}
	dir := t.TempDir()
	var paths []string
	var want [][]float32
	for _, name := range []string{"yes", "noise"} {
		w, err := audio.ReadFile(filepath.Join(clips, name+"_1000ms.wav"))
		if err != nil {
			t.Fatal(err)
		}
		stereo := filepath.Join(dir, name+"-stereo.wav")
		stereoWAV(t, w, stereo)
		c, err := audio.Decode(lame(t, stereo, filepath.Join(dir, name+".mp3"), "--resample", "44.1", "-m", "s"))
		if err != nil {
			t.Fatal(err)
		}
		x := audio.Resample(c.Samples, c.Rate, 16000)
		for _, s := range [][]float32{x, x[:11000]} {
			p := filepath.Join(dir, fmtName(len(paths)))
			if err := os.WriteFile(p, audio.EncodeWAV(s, 16000), 0o644); err != nil {
				t.Fatal(err)
			}
			back, err := audio.ReadFile(p) // the same 16-bit samples the script reads
			if err != nil {
				t.Fatal(err)
			}
			paths = append(paths, p)
			want = append(want, audio.KWS.MFCC(back.Samples))
		}
	}
	out := filepath.Join(dir, "ref.npy")
	cmd := exec.Command(py, append([]string{filepath.Join("..", "tools", "mfcc-ref.py"), out}, paths...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mfcc-ref.py: %v\n%s", err, b)
	}
	ref := readNPY(t, out)
	per := audio.KWS.Frames() * audio.KWS.Coefficients
	for i, w := range want {
		worst := 0.0
		for j, v := range w {
			worst = math.Max(worst, math.Abs(float64(v-ref[i*per+j])))
		}
		t.Logf("%s: max |Δ| %.2g against SciPy", filepath.Base(paths[i]), worst)
		if worst > 1e-3 {
			t.Errorf("%s: %.3g from the SciPy reference (> 1e-3)", paths[i], worst)
		}
	}
}

func fmtName(i int) string { return "clip" + string(rune('a'+i)) + ".wav" }
