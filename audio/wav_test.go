package audio_test

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fourbit/audio"
)

// wav builds a WAV file: a fmt chunk (format tag, channels, rate, bits; extensible when ext)
// and a data chunk of body, whose size field says dataSize (−1: the body's true size).
func wav(format, channels, rate, bits int, ext bool, body []byte, dataSize int) []byte {
	fmtLen := 16
	if ext {
		fmtLen = 40
	}
	b := []byte("RIFF\x00\x00\x00\x00WAVE")
	b = append(b, "LIST\x04\x00\x00\x00INFO"...) // a chunk to skip
	b = append(b, "fmt "...)
	b = binary.LittleEndian.AppendUint32(b, uint32(fmtLen))
	tag := format
	if ext {
		tag = 0xFFFE
	}
	b = binary.LittleEndian.AppendUint16(b, uint16(tag))
	b = binary.LittleEndian.AppendUint16(b, uint16(channels))
	b = binary.LittleEndian.AppendUint32(b, uint32(rate))
	b = binary.LittleEndian.AppendUint32(b, uint32(rate*channels*bits/8))
	b = binary.LittleEndian.AppendUint16(b, uint16(channels*bits/8))
	b = binary.LittleEndian.AppendUint16(b, uint16(bits))
	if ext {
		b = binary.LittleEndian.AppendUint16(b, 22)
		b = binary.LittleEndian.AppendUint16(b, uint16(bits))
		b = binary.LittleEndian.AppendUint32(b, 0)
		b = binary.LittleEndian.AppendUint16(b, uint16(format))
		b = append(b, "\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"...)
	}
	b = append(b, "data"...)
	if dataSize < 0 {
		dataSize = len(body)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(dataSize))
	b = append(b, body...)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)-8))
	return b
}

// TestWAVFormats decodes the same two-channel ramp stored in every sample format.
func TestWAVFormats(t *testing.T) {
	const n = 64
	want := make([]float64, n) // the mono mix: the mean of the two channels
	left := func(i int) float64 { return float64(i)/n - 0.5 }
	right := func(i int) float64 { return -0.25 }
	for i := range want {
		want[i] = (left(i) + right(i)) / 2
	}
	enc := map[string]func(v float64) []byte{
		"pcm8": func(v float64) []byte { return []byte{byte(math.Round(v*128 + 128))} },
		"pcm16": func(v float64) []byte {
			return binary.LittleEndian.AppendUint16(nil, uint16(int16(math.Round(v*32768))))
		},
		"pcm24": func(v float64) []byte {
			u := uint32(int32(math.Round(v * (1 << 23))))
			return []byte{byte(u), byte(u >> 8), byte(u >> 16)}
		},
		"pcm32": func(v float64) []byte {
			return binary.LittleEndian.AppendUint32(nil, uint32(int32(math.Round(v*(1<<31)))))
		},
		"float32": func(v float64) []byte { return binary.LittleEndian.AppendUint32(nil, math.Float32bits(float32(v))) },
		"float64": func(v float64) []byte { return binary.LittleEndian.AppendUint64(nil, math.Float64bits(v)) },
	}
	for _, c := range []struct {
		name         string
		format, bits int
		ext          bool
		tol          float64
	}{
		{"pcm8", 1, 8, false, 1.0 / 128},
		{"pcm16", 1, 16, false, 1e-4},
		{"pcm24", 1, 24, true, 1e-6},
		{"pcm32", 1, 32, false, 1e-6},
		{"float32", 3, 32, false, 1e-6},
		{"float64", 3, 64, true, 1e-6},
	} {
		var body []byte
		for i := 0; i < n; i++ {
			body = append(body, enc[c.name](left(i))...)
			body = append(body, enc[c.name](right(i))...)
		}
		clip, err := audio.Decode(wav(c.format, 2, 22050, c.bits, c.ext, body, -1))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if clip.Rate != 22050 || len(clip.Samples) != n {
			t.Fatalf("%s: %d samples at %d Hz", c.name, len(clip.Samples), clip.Rate)
		}
		for i, v := range clip.Samples {
			if math.Abs(float64(v)-want[i]) > c.tol {
				t.Fatalf("%s: sample %d is %v, want %v", c.name, i, v, want[i])
			}
		}
	}
	// The committed clips round-trip through EncodeWAV bit for bit.
	c, err := audio.ReadFile(filepath.Join(clips, "no_1000ms.wav"))
	if err != nil {
		t.Fatal(err)
	}
	back, err := audio.Decode(audio.EncodeWAV(c.Samples, c.Rate))
	if err != nil {
		t.Fatal(err)
	}
	for i := range c.Samples {
		if back.Samples[i] != c.Samples[i] {
			t.Fatalf("EncodeWAV round trip: sample %d %v → %v", i, c.Samples[i], back.Samples[i])
		}
	}
}

// TestBadAudio: every unusable file is a clear error (ErrAudio, saying what is wrong), read
// with bounded memory.
func TestBadAudio(t *testing.T) {
	pcm := make([]byte, 3200)
	good := wav(1, 1, 16000, 16, false, pcm, -1)
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "empty file"},
		{"text", []byte("hello, this is not a sound"), "not a WAV or MP3"},
		{"truncated WAV", good[:len(good)-1000], "truncated file or a lying header"},
		{"lying header: 10 hours", wav(1, 1, 16000, 16, false, pcm, 10*3600*16000*2), "lying header"},
		{"compressed (µ-law)", wav(7, 1, 8000, 8, false, pcm, -1), "compressed"},
		{"12-bit samples", wav(1, 1, 16000, 12, false, pcm, -1), "12 bits"},
		{"no channels", wav(1, 0, 16000, 16, false, pcm, -1), "0 channels"},
		{"absurd rate", wav(1, 1, 1<<30, 16, false, pcm, -1), "sample rate"},
		{"no samples", wav(1, 1, 16000, 16, false, nil, -1), "no samples"},
		{"no fmt", []byte("RIFF\x0c\x00\x00\x00WAVEdata\x00\x00\x00\x00"), "without a fmt chunk"},
		{"RIFF not WAVE", []byte("RIFF\x04\x00\x00\x00AVI LIST"), "not WAVE"},
		{"Ogg", []byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00"), "Ogg, FLAC or MP4"},
		{"MP3 sync, no frame", []byte{0xFF, 0xFB, 0x00, 0x00, 0x01}, "MP3"},
		{"ID3 tag only", append([]byte("ID3\x04\x00\x00\x00\x00\x00\x0a"), make([]byte, 10)...), "MP3"},
	} {
		_, err := audio.Decode(c.data)
		if err == nil {
			t.Errorf("%s: decoded", c.name)
			continue
		}
		if !errors.Is(err, audio.ErrAudio) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q, want ErrAudio saying %q", c.name, err, c.want)
		}
	}
	// A ten-hour WAV file (1.15 GB, sparse on disk) is refused by its size before it is read.
	p := filepath.Join(t.TempDir(), "ten-hours.wav")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(wav(1, 1, 16000, 16, false, nil, 10*3600*16000*2))
	if err := f.Truncate(44 + 10*3600*16000*2); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := audio.ReadFile(p); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("a ten-hour WAV file: %v, want a size error", err)
	}
	// Eleven minutes of real 8 kHz PCM (10.6 MB): decodable bytes, too long a sound.
	long := wav(1, 1, 8000, 16, false, make([]byte, 11*60*8000*2), -1)
	if _, err := audio.Decode(long); err == nil || !strings.Contains(err.Error(), "11.0 min of sound") {
		t.Errorf("eleven minutes: %v, want a length error", err)
	}
}
