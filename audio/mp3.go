package audio

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/hajimehoshi/go-mp3"
)

// mp3DecoderDelay is the delay of the MPEG audio synthesis filterbank every decoder adds
// (529 samples), which LAME's recorded encoder delay does not include.
const mp3DecoderDelay = 529

// DecodeMP3 decodes an MPEG-1/2/2.5 Layer III file with go-mp3 (which puts out 16-bit stereo
// at the file's rate; mono files come out with both channels equal) and mixes it to mono.
// When the first frame is a Xing/Info frame with a LAME tag, the encoder's delay and padding
// it records are cut (and the Info frame's own silent frame), so that the samples line up with
// the sound that was encoded. Decoding stops with an error past MaxSeconds.
func DecodeMP3(data []byte) (clip *Clip, err error) {
	defer func() {
		if r := recover(); r != nil { // a decoder bug on a hostile file must not escape
			clip, err = nil, fmt.Errorf("%w: the MP3 decoder failed on this file (%v)", ErrAudio, r)
		}
	}()
	gap := readGapless(data)
	if err := checkFrames(data); err != nil {
		return nil, err
	}
	// A plain reader (no Seek): go-mp3 would otherwise scan the whole file for its length first.
	d, err := mp3.NewDecoder(struct{ io.Reader }{bytes.NewReader(data)})
	if err != nil {
		return nil, fmt.Errorf("%w: not a readable MP3 file (%v)", ErrAudio, err)
	}
	rate := d.SampleRate()
	if rate <= 0 {
		return nil, fmt.Errorf("%w: an MP3 sample rate of %d Hz", ErrAudio, rate)
	}
	limit := int64(MaxSeconds)*int64(rate) + 1
	var out []float32
	buf := make([]byte, 4*4096)
	pending := 0 // bytes of buf not yet consumed (a read may end mid-sample)
	for {
		n, rerr := d.Read(buf[pending:])
		n += pending
		whole := n / 4 * 4
		for i := 0; i < whole; i += 4 {
			l := int16(binary.LittleEndian.Uint16(buf[i:]))
			r := int16(binary.LittleEndian.Uint16(buf[i+2:]))
			out = append(out, (float32(l)+float32(r))/(2<<15))
		}
		pending = copy(buf, buf[whole:n])
		if int64(len(out)) >= limit {
			return nil, fmt.Errorf("%w: more than %d s of sound is more than fourbit reads (cut the part you want)", ErrAudio, MaxSeconds)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return nil, fmt.Errorf("%w: MP3 decoding: %v", ErrAudio, rerr)
		}
	}
	if gap.ok {
		skip := gap.frame + gap.delay + mp3DecoderDelay
		end := len(out) - max(gap.padding-mp3DecoderDelay, 0)
		if skip < end {
			out = out[skip:end]
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: an MP3 file with no decodable frames", ErrAudio)
	}
	mode := "stereo"
	if gap.mono {
		mode = "mono"
	}
	return &Clip{Rate: rate, Samples: out, Format: fmt.Sprintf("MP3 %d Hz %s", rate, mode)}, nil
}

// gapless is what a LAME tag says about the samples to cut.
type gapless struct {
	ok             bool
	frame          int // samples of the Info frame itself, which decoders put out as silence
	delay, padding int
	mono           bool
}

// readGapless parses the first MPEG audio frame after any ID3v2 tag; when it is a Xing or
// Info frame carrying a LAME tag, it returns the encoder delay and padding recorded there.
func readGapless(data []byte) gapless {
	var g gapless
	pos := id3Size(data)
	if pos+4 > len(data) || data[pos] != 0xFF || data[pos+1]&0xE0 != 0xE0 {
		return g
	}
	h := data[pos:]
	version := (h[1] >> 3) & 3 // 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5
	layer := (h[1] >> 1) & 3   // 1: Layer III
	if layer != 1 || version == 1 {
		return g
	}
	g.mono = h[3]>>6 == 3
	side := 32
	switch {
	case version == 3 && g.mono:
		side = 17
	case version != 3 && !g.mono:
		side = 17
	case version != 3:
		side = 9
	}
	samples := 1152
	if version != 3 {
		samples = 576
	}
	x := 4 + side
	if len(h) < x+8 {
		return g
	}
	if tag := string(h[x : x+4]); tag != "Xing" && tag != "Info" {
		return g
	}
	flags := binary.BigEndian.Uint32(h[x+4:])
	p := x + 8
	for bit, size := range []int{4, 4, 100, 4} { // frames, bytes, TOC, quality
		if flags&(1<<bit) != 0 {
			p += size
		}
	}
	// The LAME tag: 9 bytes of encoder version, then revision, low-pass, replay gain (8),
	// flags, bitrate, and 12 + 12 bits of delay and padding.
	if len(h) < p+24 || string(h[p:p+4]) != "LAME" && string(h[p:p+4]) != "Lavf" && string(h[p:p+4]) != "Lavc" {
		return g
	}
	d := h[p+21:]
	g.delay = int(d[0])<<4 | int(d[1])>>4
	g.padding = int(d[1]&0x0F)<<8 | int(d[2])
	g.frame = samples
	g.ok = true
	return g
}

// Layer III bitrates in kb/s by index, for MPEG-1 and for MPEG-2/2.5.
var (
	bitrates1 = [16]int{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0}
	bitrates2 = [16]int{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0}
	rates     = [4][3]int{{11025, 12000, 8000}, {}, {22050, 24000, 16000}, {44100, 48000, 32000}} // by version
)

// checkFrames walks the file's Layer III frames by their headers (after any ID3v2 tag, up to
// an ID3v1 tag or anything that is not a frame) and reports a file whose last frame is cut
// short — a truncated download — rather than decoding it silently shorter, and a file of more
// than MaxSeconds, before anything is decoded.
func checkFrames(data []byte) error {
	pos := id3Size(data)
	frames := 0
	var samples int64
	rate := 0
	for pos+4 <= len(data) {
		h := data[pos:]
		if h[0] != 0xFF || h[1]&0xE0 != 0xE0 {
			break
		}
		version, layer := (h[1]>>3)&3, (h[1]>>1)&3
		bi, ri, pad := h[2]>>4, (h[2]>>2)&3, int(h[2]>>1)&1
		if version == 1 || layer != 1 || ri == 3 || bi == 0 || bi == 15 {
			break // not a Layer III frame we can size (free format, reserved values)
		}
		rate = rates[version][ri]
		var size int
		if version == 3 {
			size = 144000*bitrates1[bi]/rate + pad
			samples += 1152
		} else {
			size = 72000*bitrates2[bi]/rate + pad
			samples += 576
		}
		if pos+size > len(data) {
			return fmt.Errorf("%w: a truncated MP3: frame %d needs %d bytes, the file ends after %d", ErrAudio, frames+1, size, len(data)-pos)
		}
		pos += size
		frames++
	}
	if err := checkLength(samples, rate); err != nil {
		return err
	}
	if frames == 0 {
		return fmt.Errorf("%w: not a readable MP3: no MPEG Layer III audio frame at its start (after any ID3 tag)", ErrAudio)
	}
	return nil
}

// id3Size is the length of the ID3v2 tag at the start of data (0 if none).
func id3Size(data []byte) int {
	if len(data) < 10 || string(data[:3]) != "ID3" {
		return 0
	}
	size := 10 + (int(data[6]&0x7F)<<21 | int(data[7]&0x7F)<<14 | int(data[8]&0x7F)<<7 | int(data[9]&0x7F))
	if data[5]&0x10 != 0 {
		size += 10 // footer
	}
	return size
}
