package audio_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"fourbit/audio"
)

// BenchmarkDecodeMP3 decodes a one-second 64 kb/s MP3 (lame, from the committed clip) and
// computes its MFCCs.
func BenchmarkDecodeMP3(b *testing.B) {
	dir := b.TempDir()
	cmd := exec.Command("lame", "--quiet", "-b", "64", filepath.Join(clips, "yes_1000ms.wav"), filepath.Join(dir, "yes.mp3"))
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("lame: %v\n%s", err, out)
	}
	mp3, err := os.ReadFile(filepath.Join(dir, "yes.mp3"))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		c, err := audio.Decode(mp3)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := audio.KWS.Extract(c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResample44k resamples one second of 44.1 kHz sound to 16 kHz.
func BenchmarkResample44k(b *testing.B) {
	x := make([]float32, 44100)
	for i := range x {
		x[i] = float32(i%100) / 100
	}
	for b.Loop() {
		audio.Resample(x, 44100, 16000)
	}
}
