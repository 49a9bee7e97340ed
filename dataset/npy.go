package dataset

import (
	"encoding/binary"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"fourbit/internal/f16"
)

// MaxTensorValues bounds the values of one .npy file (1 GiB of float32).
const MaxTensorValues = 1 << 28

// NPY is a tensor read from a .npy file (NumPy's format: a magic string, a version, a header
// that is a Python dict literal naming the dtype, the order and the shape, then the data).
type NPY struct {
	Shape  []int
	Values []float32 // converted from the file's dtype
}

var npyHeader = regexp.MustCompile(`^\{\s*'descr'\s*:\s*'([^']*)'\s*,\s*'fortran_order'\s*:\s*(True|False)\s*,\s*'shape'\s*:\s*\(([^)]*)\)\s*,?\s*\}\s*$`)

// ReadNPY decodes a .npy file: little-endian (or byte-sized) floats, signed and unsigned
// integers and booleans, in C order, converted to float32; a Fortran-order array, a big-endian
// or object dtype, a header that lies about the data's size or a tensor of more than
// MaxTensorValues values is an error.
func ReadNPY(data []byte) (*NPY, error) {
	if len(data) < 10 || string(data[:6]) != "\x93NUMPY" {
		return nil, fmt.Errorf("%w: not a .npy file (no \\x93NUMPY magic)", ErrData)
	}
	major := data[6]
	var hlen, start int
	switch major {
	case 1:
		hlen, start = int(binary.LittleEndian.Uint16(data[8:])), 10
	case 2, 3:
		if len(data) < 12 {
			return nil, fmt.Errorf("%w: .npy file of %d bytes", ErrData, len(data))
		}
		hlen, start = int(binary.LittleEndian.Uint32(data[8:])), 12
	default:
		return nil, fmt.Errorf("%w: .npy format version %d", ErrData, major)
	}
	if hlen > 1<<16 || start+hlen > len(data) {
		return nil, fmt.Errorf("%w: .npy header of %d bytes in a file of %d", ErrData, hlen, len(data))
	}
	m := npyHeader.FindStringSubmatch(strings.TrimSpace(string(data[start : start+hlen])))
	if m == nil {
		return nil, fmt.Errorf("%w: .npy header %q is not a dict of descr, fortran_order and shape", ErrData, strings.TrimSpace(string(data[start:start+hlen])))
	}
	if m[2] == "True" {
		return nil, fmt.Errorf("%w: a Fortran-order .npy array (save it in C order: numpy.ascontiguousarray)", ErrData)
	}
	t := &NPY{}
	count := int64(1)
	for _, s := range strings.Split(m[3], ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		d, err := strconv.Atoi(s)
		if err != nil || d < 0 || d > MaxTensorValues {
			return nil, fmt.Errorf("%w: .npy shape (%s)", ErrData, m[3])
		}
		t.Shape = append(t.Shape, d)
		if count *= int64(d); count > MaxTensorValues {
			return nil, fmt.Errorf("%w: .npy shape (%s) has more than %d values", ErrData, m[3], MaxTensorValues)
		}
	}
	descr := m[1]
	order, kind := descr[0], descr[1:]
	if order == '>' && kind != "u1" && kind != "i1" && kind != "b1" {
		return nil, fmt.Errorf("%w: big-endian .npy dtype %q", ErrData, descr)
	}
	size := map[string]int{"f2": 2, "f4": 4, "f8": 8, "i1": 1, "u1": 1, "b1": 1, "i2": 2, "u2": 2, "i4": 4, "u4": 4, "i8": 8, "u8": 8}[kind]
	if size == 0 || !slices.Contains([]byte("<>|="), order) {
		return nil, fmt.Errorf("%w: .npy dtype %q (fourbit reads floats, integers and booleans)", ErrData, descr)
	}
	body := data[start+hlen:]
	if int64(len(body)) != count*int64(size) {
		return nil, fmt.Errorf("%w: .npy header says %v × %s (%d bytes), the file holds %d", ErrData, t.Shape, descr, count*int64(size), len(body))
	}
	t.Values = make([]float32, count)
	le := binary.LittleEndian
	for i := range t.Values {
		p := body[i*size:]
		var v float64
		switch kind {
		case "f2":
			v = float64(f16.ToFloat32(le.Uint16(p)))
		case "f4":
			v = float64(math.Float32frombits(le.Uint32(p)))
		case "f8":
			v = math.Float64frombits(le.Uint64(p))
		case "i1":
			v = float64(int8(p[0]))
		case "u1", "b1":
			v = float64(p[0])
		case "i2":
			v = float64(int16(le.Uint16(p)))
		case "u2":
			v = float64(le.Uint16(p))
		case "i4":
			v = float64(int32(le.Uint32(p)))
		case "u4":
			v = float64(le.Uint32(p))
		case "i8":
			v = float64(int64(le.Uint64(p)))
		case "u8":
			v = float64(le.Uint64(p))
		}
		t.Values[i] = float32(v)
	}
	return t, nil
}

// Samples splits t into samples of a model input's per-sample shape (fourbit's C×H×W, or a
// vector): t is one sample (that shape, or 1 × that shape), N samples (N × that shape), or the
// same in channels-last order (H×W×C, as NHWC frameworks save images), which is transposed.
func (t *NPY) Samples(input []int) ([][]float32, error) {
	per := 1
	for _, d := range input {
		per *= d
	}
	shape := t.Shape
	n := 1
	switch {
	case fits(shape, input):
	case len(shape) == len(input)+1 && fits(shape[1:], input):
		n, shape = shape[0], shape[1:]
	default:
		return nil, fmt.Errorf("%w: a .npy tensor of shape %v for a model whose input is %v (want %v, N×%v or channels last)", ErrData, t.Shape, input, input, input)
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: a .npy tensor of shape %v holds no samples", ErrData, t.Shape)
	}
	lastC := len(input) == 3 && !slices.Equal(trim1(shape), trim1(input)) // H×W×C
	out := make([][]float32, n)
	for i := range out {
		s := t.Values[i*per : (i+1)*per]
		if lastC {
			c, h, w := input[0], input[1], input[2]
			x := make([]float32, per)
			for y := 0; y < h*w; y++ {
				for ch := 0; ch < c; ch++ {
					x[ch*h*w+y] = s[y*c+ch]
				}
			}
			s = x
		}
		out[i] = s
	}
	return out, nil
}

// fits reports whether shape is input, or input in channels-last order, leading 1s aside.
func fits(shape, input []int) bool {
	s, in := trim1(shape), trim1(input)
	if slices.Equal(s, in) {
		return true
	}
	return len(input) == 3 && slices.Equal(trim1(shape), trim1([]int{input[1], input[2], input[0]}))
}

func trim1(s []int) []int {
	for len(s) > 1 && s[0] == 1 {
		s = s[1:]
	}
	return s
}
