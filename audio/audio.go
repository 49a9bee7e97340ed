// Package audio turns sound files into the features a keyword-spotting network eats: it
// decodes WAV (PCM 8/16/24/32-bit integer or 32/64-bit float, any channel count) and MP3
// (with github.com/hajimehoshi/go-mp3, trimming the encoder's delay and padding that LAME
// records), mixes the channels to mono, resamples to the network's rate with a windowed-sinc
// low-pass, picks the loudest clip of the network's length and computes the MFCCs of the
// MLPerf Tiny keyword-spotting benchmark (see Frontend). It knows nothing of networks.
//
// Every decoder is bounded: a file of more than MaxBytes, or of more than MaxSeconds of sound,
// is refused with an error that says so, before its samples are held in memory.
package audio

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"fourbit/internal/files"
)

// ErrAudio reports an unusable sound file.
var ErrAudio = errors.New("audio")

// Bounds on what Decode reads: the file's size and the sound's length.
const (
	MaxBytes   = 256 << 20
	MaxSeconds = 600
)

// Clip is a sound: mono samples in [−1, 1] at Rate samples per second.
type Clip struct {
	Rate    int
	Samples []float32
	// Format says what the sound was decoded from ("WAV 16-bit PCM 44100 Hz stereo",
	// "MP3 44100 Hz stereo"), for reports.
	Format string
}

// Seconds is the clip's length in seconds.
func (c *Clip) Seconds() float64 {
	if c.Rate <= 0 {
		return 0
	}
	return float64(len(c.Samples)) / float64(c.Rate)
}

// IsAudio reports whether path names a file Decode reads (by its extension: .wav, .mp3).
func IsAudio(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".wav", ".wave", ".mp3":
		return true
	}
	return false
}

// ReadFile decodes the sound file at path (bounded by MaxBytes).
func ReadFile(path string) (*Clip, error) {
	b, err := files.Read(path, MaxBytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrAudio, err)
	}
	c, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Decode decodes a WAV or MP3 file held in data, told apart by their content (a RIFF/WAVE
// header; an ID3 tag or an MPEG audio frame), not by a name.
func Decode(data []byte) (*Clip, error) {
	switch {
	case len(data) == 0:
		return nil, fmt.Errorf("%w: an empty file (0 bytes)", ErrAudio)
	case len(data) > MaxBytes:
		return nil, fmt.Errorf("%w: %d bytes is more than the %d fourbit reads", ErrAudio, len(data), MaxBytes)
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WAVE":
		return DecodeWAV(data)
	case len(data) >= 4 && (string(data[:4]) == "RIFF" || string(data[:4]) == "RIFX" || string(data[:4]) == "RF64"):
		return nil, fmt.Errorf("%w: a %s file that is not WAVE, or a WAV variant fourbit does not read (want RIFF/WAVE)", ErrAudio, data[:4])
	case bytes.HasPrefix(data, []byte("ID3")) || (len(data) >= 2 && data[0] == 0xFF && data[1]&0xE0 == 0xE0):
		return DecodeMP3(data)
	case bytes.HasPrefix(data, []byte("OggS")), bytes.HasPrefix(data, []byte("fLaC")), len(data) >= 8 && string(data[4:8]) == "ftyp":
		return nil, fmt.Errorf("%w: an Ogg, FLAC or MP4/M4A file: fourbit reads WAV and MP3 (convert it, e.g. with ffmpeg or lame)", ErrAudio)
	}
	return nil, fmt.Errorf("%w: not a WAV or MP3 file (no RIFF/WAVE header, ID3 tag or MPEG audio frame at its start)", ErrAudio)
}

// checkLength refuses a sound of more than MaxSeconds.
func checkLength(samples int64, rate int) error {
	if rate > 0 && samples > int64(MaxSeconds)*int64(rate) {
		return fmt.Errorf("%w: %s of sound is more than the %d s fourbit reads (cut the part you want)", ErrAudio, duration(float64(samples)/float64(rate)), MaxSeconds)
	}
	return nil
}

func duration(s float64) string {
	if s >= 3600 {
		return fmt.Sprintf("%.1f h", s/3600)
	}
	if s >= 60 {
		return fmt.Sprintf("%.1f min", s/60)
	}
	return fmt.Sprintf("%.2f s", s)
}
