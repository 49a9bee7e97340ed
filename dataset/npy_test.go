package dataset

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fourbit/internal/testenv"
	"fourbit/nn"
)

func fixture(t *testing.T, name string) *NPY {
	t.Helper()
	b, err := os.ReadFile(testenv.Asset("npy/" + name))
	if err != nil {
		t.Fatal(err)
	}
	x, err := ReadNPY(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return x
}

// TestReadNPY reads files NumPy wrote (testdata/npy/make.py): float32 N×C×H×W, the same as
// float64 channels last, uint8, float16; and refuses Fortran order and big-endian floats.
func TestReadNPY(t *testing.T) {
	x := fixture(t, "nchw_f32.npy")
	if len(x.Shape) != 4 || x.Shape[0] != 2 || x.Values[7] != float32(7)/7 {
		t.Fatalf("nchw_f32: shape %v, value 7 = %v", x.Shape, x.Values[7])
	}
	samples, err := x.Samples([]int{3, 4, 5})
	if err != nil || len(samples) != 2 {
		t.Fatal(len(samples), err)
	}
	// Channels last, float64: transposed back to the same samples.
	y, err := fixture(t, "nhwc_f64.npy").Samples([]int{3, 4, 5})
	if err != nil {
		t.Fatal(err)
	}
	for k := range samples {
		for i := range samples[k] {
			if math.Abs(float64(samples[k][i]-y[k][i])) > 1e-6 {
				t.Fatalf("sample %d value %d: %v from NCHW float32, %v from NHWC float64", k, i, samples[k][i], y[k][i])
			}
		}
	}
	if u := fixture(t, "u8.npy"); u.Values[59] != 59 {
		t.Errorf("uint8: %v", u.Values[59])
	}
	if h := fixture(t, "f16.npy"); h.Values[0] != 0.5 || h.Values[1] != -2 || h.Values[2] != 65504 {
		t.Errorf("float16: %v", h.Values)
	}
	for name, msg := range map[string]string{"fortran.npy": "Fortran-order", "bigendian.npy": "big-endian"} {
		b, _ := os.ReadFile(testenv.Asset("npy/" + name))
		if _, err := ReadNPY(b); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v, want an error saying %q", name, err, msg)
		}
	}
	if _, err := x.Samples([]int{3, 5, 4}); err == nil {
		t.Error("a tensor of another shape fitted the input")
	}
}

// npyBytes writes a .npy file with the given header and body.
func npyBytes(header string, body []byte) []byte {
	b := []byte("\x93NUMPY\x01\x00")
	b = binary.LittleEndian.AppendUint16(b, uint16(len(header)))
	return append(append(b, header...), body...)
}

// TestReadNPYBad: a lying header, absurd shapes, truncation and object dtypes are errors.
func TestReadNPYBad(t *testing.T) {
	for name, data := range map[string][]byte{
		"empty":          nil,
		"not npy":        []byte("PK\x03\x04 zip"),
		"short body":     npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", make([]byte, 12)),
		"long body":      npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", make([]byte, 12)),
		"2^40 values":    npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1048576, 1048576), }", nil),
		"object dtype":   npyBytes("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", make([]byte, 8)),
		"negative dim":   npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", nil),
		"not a dict":     npyBytes("print('hello')", nil),
		"header too big": append([]byte("\x93NUMPY\x02\x00"), 0xff, 0xff, 0xff, 0x7f),
	} {
		if _, err := ReadNPY(data); err == nil || !errors.Is(err, ErrData) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestNPYSource: one .npy file with its labels beside it, and class folders of .npy files,
// served to a model of that input shape.
func TestNPYSource(t *testing.T) {
	g := nn.NewGraph(3, 4, 5)
	f, err := Open(testenv.Asset("npy/nchw_f32.npy"), []string{"a", "b"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	src, err := NewSource(f, g)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 2*60)
	labels, err := src.Load(x, 0, 2)
	if err != nil || src.Len() != 2 || labels[0] != 1 || labels[1] != 0 || x[60+7] != float32(67)/7 {
		t.Fatalf("len %d, labels %v, value %v, %v", src.Len(), labels, x[67], err)
	}
	dir := t.TempDir()
	for _, c := range []string{"cat", "dog"} {
		os.Mkdir(filepath.Join(dir, c), 0o755)
		b, _ := os.ReadFile(testenv.Asset("npy/nhwc_f64.npy"))
		os.WriteFile(filepath.Join(dir, c, "x.npy"), b, 0o644)
	}
	f, err = Open(dir, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if src, err = NewSource(f, g); err != nil || src.Len() != 4 {
		t.Fatalf("%d samples, %v", src.Len(), err)
	}
	if labels, err = src.Load(make([]float32, 4*60), 0, 4); err != nil || labels[0] != 0 || labels[3] != 1 {
		t.Errorf("labels %v, %v", labels, err)
	}
	if _, err := NewSource(f, nn.NewGraph(1, 49, 10)); err == nil {
		t.Error("tensors of another shape fitted the model")
	}
}

// FuzzReadNPY: whatever the bytes, ReadNPY returns a tensor whose values match its shape, or
// an error wrapping ErrData.
func FuzzReadNPY(f *testing.F) {
	for _, n := range []string{"nchw_f32.npy", "u8.npy", "f16.npy", "fortran.npy"} {
		b, _ := os.ReadFile(testenv.Asset("npy/" + n))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := ReadNPY(data)
		if err != nil {
			if !errors.Is(err, ErrData) {
				t.Fatalf("error %v does not wrap ErrData", err)
			}
			return
		}
		n := 1
		for _, d := range x.Shape {
			n *= d
		}
		if n != len(x.Values) {
			t.Fatalf("shape %v with %d values", x.Shape, len(x.Values))
		}
	})
}
