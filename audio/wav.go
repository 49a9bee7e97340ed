package audio

import (
	"encoding/binary"
	"fmt"
	"math"
)

// WAV format tags (the fmt chunk's first field).
const (
	wavPCM        = 1
	wavFloat      = 3
	wavExtensible = 0xFFFE
)

// DecodeWAV decodes a RIFF/WAVE file: integer PCM of 8 (unsigned), 16, 24 or 32 bits or IEEE
// float of 32 or 64 bits, in the plain or the extensible fmt chunk, any number of channels
// (mixed to mono by their mean). A header that claims more bytes than the file holds, a
// sample rate or channel count out of range, or a compressed format is an error; chunks it does
// not need (LIST, fact, cue, …) are skipped. The standard library's encoding/binary suffices:
// the format is a few little-endian fields.
func DecodeWAV(data []byte) (*Clip, error) {
	if len(data) < 12 || string(data[:4]) != "RIFF" || string(data[8:12]) != "WAVE" {
		return nil, fmt.Errorf("%w: no RIFF/WAVE header", ErrAudio)
	}
	var (
		haveFmt           bool
		format, channels  int
		rate, bits, align int
		body              []byte
		haveData          bool
	)
	for pos := 12; pos+8 <= len(data); {
		id := string(data[pos : pos+4])
		size := int64(binary.LittleEndian.Uint32(data[pos+4:]))
		start := int64(pos + 8)
		if start+size > int64(len(data)) {
			if id == "data" {
				return nil, fmt.Errorf("%w: the WAV header says %d bytes of samples, the file holds %d after it (a truncated file or a lying header)", ErrAudio, size, int64(len(data))-start)
			}
			return nil, fmt.Errorf("%w: WAV chunk %q of %d bytes runs past the end of the file", ErrAudio, id, size)
		}
		chunk := data[start : start+size]
		switch id {
		case "fmt ":
			if size < 16 {
				return nil, fmt.Errorf("%w: a WAV fmt chunk of %d bytes (want ≥ 16)", ErrAudio, size)
			}
			format = int(binary.LittleEndian.Uint16(chunk))
			channels = int(binary.LittleEndian.Uint16(chunk[2:]))
			rate = int(binary.LittleEndian.Uint32(chunk[4:]))
			align = int(binary.LittleEndian.Uint16(chunk[12:]))
			bits = int(binary.LittleEndian.Uint16(chunk[14:]))
			if format == wavExtensible {
				if size < 40 {
					return nil, fmt.Errorf("%w: an extensible WAV fmt chunk of %d bytes (want 40)", ErrAudio, size)
				}
				format = int(binary.LittleEndian.Uint16(chunk[24:])) // the sub-format GUID's first field
			}
			haveFmt = true
		case "data":
			body, haveData = chunk, true
		}
		pos = int(start + size + size&1) // chunks are padded to even sizes
		if haveData && haveFmt {
			break
		}
	}
	if !haveFmt {
		return nil, fmt.Errorf("%w: a WAV file without a fmt chunk", ErrAudio)
	}
	if !haveData {
		return nil, fmt.Errorf("%w: a WAV file without a data chunk", ErrAudio)
	}
	if channels < 1 || channels > 64 {
		return nil, fmt.Errorf("%w: a WAV file of %d channels", ErrAudio, channels)
	}
	if rate < 1000 || rate > 768000 {
		return nil, fmt.Errorf("%w: a WAV sample rate of %d Hz (want 1,000–768,000)", ErrAudio, rate)
	}
	var name string
	switch {
	case format == wavPCM && (bits == 8 || bits == 16 || bits == 24 || bits == 32):
		name = fmt.Sprintf("%d-bit PCM", bits)
	case format == wavFloat && (bits == 32 || bits == 64):
		name = fmt.Sprintf("%d-bit float", bits)
	case format == wavPCM || format == wavFloat:
		return nil, fmt.Errorf("%w: WAV samples of %d bits (want PCM 8/16/24/32 or float 32/64)", ErrAudio, bits)
	default:
		return nil, fmt.Errorf("%w: WAV format %#x is compressed (ADPCM, µ-law, …); fourbit reads PCM and float WAV and MP3", ErrAudio, format)
	}
	width := bits / 8
	if align != width*channels {
		return nil, fmt.Errorf("%w: WAV block align %d for %d channels of %d bytes", ErrAudio, align, channels, width)
	}
	frames := len(body) / align
	if err := checkLength(int64(frames), rate); err != nil {
		return nil, err
	}
	if frames == 0 {
		return nil, fmt.Errorf("%w: a WAV file with no samples", ErrAudio)
	}
	out := make([]float32, frames)
	inv := 1 / float64(channels)
	for i := range out {
		var sum float64
		for c := 0; c < channels; c++ {
			b := body[i*align+c*width:]
			sum += wavSample(b, format, bits)
		}
		out[i] = float32(sum * inv)
	}
	layout := map[int]string{1: "mono", 2: "stereo"}[channels]
	if layout == "" {
		layout = fmt.Sprintf("%d channels", channels)
	}
	return &Clip{Rate: rate, Samples: out, Format: fmt.Sprintf("WAV %s %d Hz %s", name, rate, layout)}, nil
}

// wavSample is one sample scaled to [−1, 1].
func wavSample(b []byte, format, bits int) float64 {
	if format == wavFloat {
		if bits == 64 {
			return sanitize(math.Float64frombits(binary.LittleEndian.Uint64(b)))
		}
		return sanitize(float64(math.Float32frombits(binary.LittleEndian.Uint32(b))))
	}
	switch bits {
	case 8:
		return (float64(b[0]) - 128) / 128
	case 16:
		return float64(int16(binary.LittleEndian.Uint16(b))) / (1 << 15)
	case 24:
		v := int32(uint32(b[0])<<8|uint32(b[1])<<16|uint32(b[2])<<24) >> 8
		return float64(v) / (1 << 23)
	default:
		return float64(int32(binary.LittleEndian.Uint32(b))) / (1 << 31)
	}
}

// sanitize maps a float sample's NaN to 0 and clips ±Inf and values beyond ±1 (a float WAV
// may hold anything).
func sanitize(v float64) float64 {
	switch {
	case v != v:
		return 0
	case v > 1:
		return 1
	case v < -1:
		return -1
	}
	return v
}

// EncodeWAV writes mono samples as a 16-bit PCM WAV file (for tests and the page's demo).
func EncodeWAV(samples []float32, rate int) []byte {
	b := make([]byte, 44+2*len(samples))
	copy(b, "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+2*len(samples)))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], wavPCM)
	binary.LittleEndian.PutUint16(b[22:], 1)
	binary.LittleEndian.PutUint32(b[24:], uint32(rate))
	binary.LittleEndian.PutUint32(b[28:], uint32(2*rate))
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(2*len(samples)))
	for i, s := range samples {
		v := math.Round(float64(s) * (1 << 15))
		v = math.Max(-32768, math.Min(32767, v))
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(int16(v)))
	}
	return b
}
