package tflite

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// The few FlatBuffers accessors the reader needs, written by hand and bounded: every offset is
// checked against the buffer before it is followed, every vector length against the bytes
// left, so that a truncated or hostile file is an error, never a panic or an allocation
// larger than the file. (The FlatBuffers wire format: a table starts with a signed offset to
// its vtable; the vtable holds its own size, the table's size and one uint16 offset per field,
// 0 for an absent field; references to tables, vectors and strings are unsigned offsets from
// where they are stored; a vector is a uint32 length followed by its elements.)

// errFormat reports a malformed flatbuffer.
var errFormat = errors.New("malformed TFLite flatbuffer")

type buffer []byte

// table is a table at position pos of a buffer, with its vtable at vt.
type table struct {
	b       buffer
	pos, vt int
	vtLen   int
}

func (b buffer) u16(at int) (int, error) {
	if at < 0 || at+2 > len(b) {
		return 0, fmt.Errorf("%w: read at %d past the end (%d bytes)", errFormat, at, len(b))
	}
	return int(binary.LittleEndian.Uint16(b[at:])), nil
}

func (b buffer) u32(at int) (uint32, error) {
	if at < 0 || at+4 > len(b) {
		return 0, fmt.Errorf("%w: read at %d past the end (%d bytes)", errFormat, at, len(b))
	}
	return binary.LittleEndian.Uint32(b[at:]), nil
}

// ref follows the unsigned offset stored at at.
func (b buffer) ref(at int) (int, error) {
	o, err := b.u32(at)
	if err != nil {
		return 0, err
	}
	to := at + int(o)
	if int64(at)+int64(o) >= int64(len(b)) {
		return 0, fmt.Errorf("%w: offset at %d points past the end", errFormat, at)
	}
	return to, nil
}

// tableAt reads the table at pos.
func (b buffer) tableAt(pos int) (table, error) {
	so, err := b.u32(pos)
	if err != nil {
		return table{}, err
	}
	vt := int64(pos) - int64(int32(so))
	if vt < 0 || vt+4 > int64(len(b)) {
		return table{}, fmt.Errorf("%w: vtable of the table at %d is outside the file", errFormat, pos)
	}
	n, _ := b.u16(int(vt))
	if n < 4 || n%2 != 0 || int(vt)+n > len(b) {
		return table{}, fmt.Errorf("%w: vtable of %d bytes at %d", errFormat, n, vt)
	}
	return table{b: b, pos: pos, vt: int(vt), vtLen: n}, nil
}

// root returns the buffer's root table.
func (b buffer) root() (table, error) {
	pos, err := b.ref(0)
	if err != nil {
		return table{}, err
	}
	return b.tableAt(pos)
}

// field returns the position of field i, or false when it is absent.
func (t table) field(i int) (int, bool, error) {
	slot := 4 + 2*i
	if slot+2 > t.vtLen {
		return 0, false, nil
	}
	off, err := t.b.u16(t.vt + slot)
	if err != nil || off == 0 {
		return 0, false, err
	}
	return t.pos + off, true, nil
}

// scalar fields, with their defaults when absent.

func (t table) int32(i int, def int32) (int32, error) {
	at, ok, err := t.field(i)
	if !ok || err != nil {
		return def, err
	}
	v, err := t.b.u32(at)
	return int32(v), err
}

func (t table) uint32(i int, def uint32) (uint32, error) {
	at, ok, err := t.field(i)
	if !ok || err != nil {
		return def, err
	}
	return t.b.u32(at)
}

func (t table) uint8(i int, def uint8) (uint8, error) {
	at, ok, err := t.field(i)
	if !ok || err != nil {
		return def, err
	}
	if at >= len(t.b) {
		return 0, fmt.Errorf("%w: field past the end", errFormat)
	}
	return t.b[at], nil
}

func (t table) int8(i int, def int8) (int8, error) {
	v, err := t.uint8(i, uint8(def))
	return int8(v), err
}

func (t table) float32(i int, def float32) (float32, error) {
	at, ok, err := t.field(i)
	if !ok || err != nil {
		return def, err
	}
	v, err := t.b.u32(at)
	return math.Float32frombits(v), err
}

func (t table) bool(i int) (bool, error) {
	v, err := t.uint8(i, 0)
	return v != 0, err
}

func (t table) uint64(i int, def uint64) (uint64, error) {
	at, ok, err := t.field(i)
	if !ok || err != nil {
		return def, err
	}
	if at+8 > len(t.b) {
		return 0, fmt.Errorf("%w: field past the end", errFormat)
	}
	return binary.LittleEndian.Uint64(t.b[at:]), nil
}

// vector is a vector field: n elements of size bytes from start.
type vector struct {
	b        buffer
	start, n int
}

// vector returns field i as a vector of elements of size bytes (absent: empty).
func (t table) vector(i, size int) (vector, error) {
	at, ok, err := t.field(i)
	if !ok || err != nil {
		return vector{b: t.b}, err
	}
	pos, err := t.b.ref(at)
	if err != nil {
		return vector{}, err
	}
	n, err := t.b.u32(pos)
	if err != nil {
		return vector{}, err
	}
	if int64(n)*int64(size) > int64(len(t.b)-pos-4) {
		return vector{}, fmt.Errorf("%w: vector of %d elements at %d runs past the end", errFormat, n, pos)
	}
	return vector{b: t.b, start: pos + 4, n: int(n)}, nil
}

// table returns the table referenced by element i of a vector of tables.
func (v vector) table(i int) (table, error) {
	pos, err := v.b.ref(v.start + 4*i)
	if err != nil {
		return table{}, err
	}
	return v.b.tableAt(pos)
}

func (v vector) int32s() []int32 {
	out := make([]int32, v.n)
	for i := range out {
		out[i] = int32(binary.LittleEndian.Uint32(v.b[v.start+4*i:]))
	}
	return out
}

func (v vector) bytes() []byte { return v.b[v.start : v.start+v.n] }

// tableField returns the table in field i (false when absent).
func (t table) tableField(i int) (table, bool, error) {
	at, ok, err := t.field(i)
	if !ok || err != nil {
		return table{}, false, err
	}
	pos, err := t.b.ref(at)
	if err != nil {
		return table{}, false, err
	}
	tb, err := t.b.tableAt(pos)
	return tb, err == nil, err
}

// string returns field i as a string ("" when absent).
func (t table) string(i int) (string, error) {
	v, err := t.vector(i, 1)
	if err != nil {
		return "", err
	}
	return string(v.bytes()), nil
}
