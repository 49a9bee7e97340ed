package pytorch

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"math"
	"testing"
)

// pickleStr emits a BINUNICODE string.
func pickleStr(b *bytes.Buffer, s string) {
	b.WriteByte('X')
	binary.Write(b, binary.LittleEndian, uint32(len(s)))
	b.WriteString(s)
}

// zipCheckpoint builds the torch.save zip layout of {"w": tensor} by hand: a 2×3 tensor that
// is the transpose view (stride (1, 2)) of a 6-value float32 storage.
func zipCheckpoint(t *testing.T, storage []float32) []byte {
	var p bytes.Buffer
	p.WriteString("\x80\x02}") // PROTO 2, EMPTY_DICT
	pickleStr(&p, "w")
	p.WriteString("ctorch._utils\n_rebuild_tensor_v2\n(")
	p.WriteString("(") // persistent id tuple
	pickleStr(&p, "storage")
	p.WriteString("ctorch\nFloatStorage\n")
	pickleStr(&p, "0")
	pickleStr(&p, "cpu")
	p.WriteString("K\x06tQ")        // numel 6, TUPLE, BINPERSID
	p.WriteString("K\x00")          // offset 0
	p.WriteString("K\x02K\x03\x86") // size (2, 3)
	p.WriteString("K\x01K\x02\x86") // stride (1, 2)
	p.WriteString("\x89}tR")        // requires_grad False, hooks {}, TUPLE, REDUCE
	p.WriteString("s.")             // SETITEM, STOP
	var z bytes.Buffer
	zw := zip.NewWriter(&z)
	for name, data := range map[string][]byte{"archive/data.pkl": p.Bytes(), "archive/data/0": floatBytes(storage)} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	zw.Close()
	return z.Bytes()
}

func floatBytes(xs []float32) []byte {
	b := make([]byte, 4*len(xs))
	for i, x := range xs {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func TestZipCheckpointWithStrides(t *testing.T) {
	sd, err := Read(zipCheckpoint(t, []float32{0, 1, 2, 3, 4, 5}))
	if err != nil {
		t.Fatal(err)
	}
	w := sd["w"]
	// Element (i, j) is storage[i·1 + j·2]: rows (0 2 4) and (1 3 5).
	want := []float32{0, 2, 4, 1, 3, 5}
	if w == nil || len(w.Shape) != 2 || w.Shape[0] != 2 || w.Shape[1] != 3 {
		t.Fatalf("tensor %+v", w)
	}
	for i := range want {
		if w.Data[i] != want[i] {
			t.Fatalf("data %v, want %v", w.Data, want)
		}
	}
	// A storage smaller than the view reaches is an error, not a read past the end.
	data := zipCheckpoint(t, []float32{0, 1, 2})
	if _, err := Read(data); err == nil {
		t.Error("short storage accepted")
	}
}
