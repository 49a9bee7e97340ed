package audio_test

import (
	"os"
	"path/filepath"
	"testing"

	"fourbit/audio"
)

// FuzzDecode: no input makes the decoders panic, hang or hold more than their bounds; a
// decoded clip has samples in [−1, 1] at a sane rate.
func FuzzDecode(f *testing.F) {
	b, err := os.ReadFile(filepath.Join(clips, "yes_1000ms.wav"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b[:2000])
	mp3, err := os.ReadFile(filepath.Join(clips, "yes_150ms_64k.mp3"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(mp3)
	f.Add(mp3[:len(mp3)/2])
	f.Add([]byte("ID3\x03\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x64\x00"))
	f.Add([]byte{0xFF, 0xF3, 0x14, 0xC4, 0x00, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := audio.Decode(data)
		if err != nil {
			return
		}
		if c.Rate < 1000 || len(c.Samples) == 0 {
			t.Fatalf("decoded %d samples at %d Hz", len(c.Samples), c.Rate)
		}
		for _, v := range c.Samples {
			if !(v >= -1 && v <= 1) {
				t.Fatalf("sample %v outside [−1, 1]", v)
			}
		}
		if _, err := audio.KWS.Extract(c); err != nil {
			t.Fatal(err)
		}
	})
}
