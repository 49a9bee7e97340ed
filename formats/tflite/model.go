package tflite

import (
	"encoding/binary"
	"fmt"
	"math"

	"fourbit/internal/f16"
)

// Limits that bound what a hostile file can make the reader do.
const (
	maxTensors   = 1 << 16
	maxOperators = 1 << 14
	maxRank      = 8
	maxValues    = 1 << 28 // values of one tensor
)

// The TFLite schema (tensorflow/lite/schema/schema.fbs) as the reader needs it: field indices
// of the tables it reads, and the enum values it knows.
const (
	typeFloat32 = 0
	typeFloat16 = 1
	typeInt32   = 2
	typeUint8   = 3
	typeInt64   = 4
	typeInt8    = 9
)

// tensor is one tensor of the main subgraph.
type tensor struct {
	index int
	name  string
	shape []int
	typ   int8
	// data holds the values of a constant tensor (float32, from float32, float16 or integer
	// buffers); nil for a computed one.
	data      []float32
	ints      []int64 // a constant INT32/INT64 tensor's values (shapes, axes, paddings)
	quantized bool    // the tensor has quantization parameters (an int8/uint8 model)
}

// operator is one operator of the main subgraph, in execution order.
type operator struct {
	code    int
	custom  string
	version int
	inputs  []int
	outputs []int
	options table // builtin options (zero table when absent)
	hasOpts bool
}

// model is the parsed main subgraph.
type model struct {
	tensors   []*tensor
	inputs    []int
	outputs   []int
	operators []operator
	// description and metadata of the model (TFLite metadata: the normalisation of inputs).
	description string
	metadata    map[string][]byte
}

// parse reads the flatbuffer's main subgraph, bounded.
func parse(data []byte) (*model, error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("%w: %d bytes", errFormat, len(data))
	}
	if string(data[4:8]) != "TFL3" {
		return nil, fmt.Errorf("%w: no TFL3 identifier", errFormat)
	}
	b := buffer(data)
	root, err := b.root()
	if err != nil {
		return nil, err
	}
	// Model: version 0, operator_codes 1, subgraphs 2, description 3, buffers 4,
	// metadata_buffer 5, metadata 6.
	m := &model{metadata: map[string][]byte{}}
	m.description, _ = root.string(3)
	codesV, err := root.vector(1, 4)
	if err != nil {
		return nil, err
	}
	type opcode struct {
		code, version int
		custom        string
	}
	codes := make([]opcode, codesV.n)
	for i := range codes {
		t, err := codesV.table(i)
		if err != nil {
			return nil, err
		}
		// OperatorCode: deprecated_builtin_code 0 (byte), custom_code 1, version 2,
		// builtin_code 3 (int32).
		dep, err := t.int8(0, 0)
		if err != nil {
			return nil, err
		}
		code, err := t.int32(3, 0)
		if err != nil {
			return nil, err
		}
		ver, _ := t.int32(2, 1)
		custom, _ := t.string(1)
		codes[i] = opcode{code: int(max(int32(dep), code)), version: int(ver), custom: custom}
	}
	buffersV, err := root.vector(4, 4)
	if err != nil {
		return nil, err
	}
	bufferData := func(i int) ([]byte, error) {
		if i < 0 || i >= buffersV.n {
			return nil, fmt.Errorf("%w: buffer %d of %d", errFormat, i, buffersV.n)
		}
		t, err := buffersV.table(i)
		if err != nil {
			return nil, err
		}
		// Buffer: data 0, offset 1, size 2 (data outside the flatbuffer, models > 2 GB).
		v, err := t.vector(0, 1)
		if err != nil {
			return nil, err
		}
		if v.n > 0 {
			return v.bytes(), nil
		}
		off, _ := t.uint64(1, 0)
		size, _ := t.uint64(2, 0)
		if off > 1 {
			if off > uint64(len(data)) || size > uint64(len(data))-off {
				return nil, fmt.Errorf("%w: buffer %d at %d+%d is outside the file", errFormat, i, off, size)
			}
			return data[off : off+size], nil
		}
		return nil, nil
	}
	// Metadata: name 0, buffer 1.
	if mv, err := root.vector(6, 4); err == nil {
		for i := 0; i < mv.n && i < 64; i++ {
			t, err := mv.table(i)
			if err != nil {
				return nil, err
			}
			name, _ := t.string(0)
			bi, _ := t.uint32(1, 0)
			if d, err := bufferData(int(bi)); err == nil {
				m.metadata[name] = d
			}
		}
	}
	subs, err := root.vector(2, 4)
	if err != nil {
		return nil, err
	}
	if subs.n == 0 {
		return nil, fmt.Errorf("%w: no subgraph", errFormat)
	}
	sg, err := subs.table(0)
	if err != nil {
		return nil, err
	}
	// SubGraph: tensors 0, inputs 1, outputs 2, operators 3, name 4.
	tv, err := sg.vector(0, 4)
	if err != nil {
		return nil, err
	}
	if tv.n > maxTensors {
		return nil, fmt.Errorf("%w: %d tensors (at most %d)", errFormat, tv.n, maxTensors)
	}
	for i := 0; i < tv.n; i++ {
		tt, err := tv.table(i)
		if err != nil {
			return nil, err
		}
		t, err := readTensor(tt, i, bufferData)
		if err != nil {
			return nil, fmt.Errorf("tensor %d: %w", i, err)
		}
		m.tensors = append(m.tensors, t)
	}
	index := func(v vector) ([]int, error) {
		var out []int
		for _, x := range v.int32s() {
			if x < -1 || int(x) >= len(m.tensors) {
				return nil, fmt.Errorf("%w: tensor index %d of %d", errFormat, x, len(m.tensors))
			}
			out = append(out, int(x))
		}
		return out, nil
	}
	for f, dst := range map[int]*[]int{1: &m.inputs, 2: &m.outputs} {
		v, err := sg.vector(f, 4)
		if err != nil {
			return nil, err
		}
		if *dst, err = index(v); err != nil {
			return nil, err
		}
	}
	ov, err := sg.vector(3, 4)
	if err != nil {
		return nil, err
	}
	if ov.n > maxOperators {
		return nil, fmt.Errorf("%w: %d operators (at most %d)", errFormat, ov.n, maxOperators)
	}
	for i := 0; i < ov.n; i++ {
		ot, err := ov.table(i)
		if err != nil {
			return nil, err
		}
		// Operator: opcode_index 0, inputs 1, outputs 2, builtin_options_type 3,
		// builtin_options 4.
		ci, err := ot.uint32(0, 0)
		if err != nil {
			return nil, err
		}
		if int(ci) >= len(codes) {
			return nil, fmt.Errorf("%w: operator %d has opcode %d of %d", errFormat, i, ci, len(codes))
		}
		op := operator{code: codes[ci].code, version: codes[ci].version, custom: codes[ci].custom}
		for f, dst := range map[int]*[]int{1: &op.inputs, 2: &op.outputs} {
			v, err := ot.vector(f, 4)
			if err != nil {
				return nil, err
			}
			if *dst, err = index(v); err != nil {
				return nil, fmt.Errorf("operator %d: %w", i, err)
			}
		}
		if op.options, op.hasOpts, err = ot.tableField(4); err != nil {
			return nil, fmt.Errorf("operator %d options: %w", i, err)
		}
		m.operators = append(m.operators, op)
	}
	return m, nil
}

// readTensor reads a Tensor table: shape 0, type 1, buffer 2, name 3, quantization 4.
func readTensor(tt table, i int, bufferData func(int) ([]byte, error)) (*tensor, error) {
	t := &tensor{index: i}
	var err error
	if t.name, err = tt.string(3); err != nil {
		return nil, err
	}
	sv, err := tt.vector(0, 4)
	if err != nil {
		return nil, err
	}
	if sv.n > maxRank {
		return nil, fmt.Errorf("%w: rank %d", errFormat, sv.n)
	}
	count := int64(1)
	for _, d := range sv.int32s() {
		if d < 0 || int64(d) > maxValues {
			return nil, fmt.Errorf("%w: dimension %d", errFormat, d)
		}
		t.shape = append(t.shape, int(d))
		count *= int64(d)
		if count > maxValues {
			return nil, fmt.Errorf("%w: shape %v has more than %d values", errFormat, t.shape, maxValues)
		}
	}
	if t.typ, err = tt.int8(1, 0); err != nil {
		return nil, err
	}
	var scales []float32
	var zeros []int64
	axis := 0
	if q, ok, err := tt.tableField(4); err != nil {
		return nil, err
	} else if ok {
		// QuantizationParameters: min 0, max 1, scale 2, zero_point 3, details_type 4,
		// details 5, quantized_dimension 6.
		sc, err := q.vector(2, 4)
		if err != nil {
			return nil, err
		}
		zp, err := q.vector(3, 8)
		if err != nil {
			return nil, err
		}
		for _, u := range sc.int32s() {
			scales = append(scales, math.Float32frombits(uint32(u)))
		}
		for i := 0; i < zp.n; i++ {
			zeros = append(zeros, int64(binary.LittleEndian.Uint64(zp.b[zp.start+8*i:])))
		}
		qd, err := q.int32(6, 0)
		if err != nil {
			return nil, err
		}
		axis = int(qd)
		t.quantized = len(scales) > 0
	}
	bi, err := tt.uint32(2, 0)
	if err != nil {
		return nil, err
	}
	raw, err := bufferData(int(bi))
	if err != nil || len(raw) == 0 {
		return t, err
	}
	n := int(count)
	switch t.typ {
	case typeFloat32:
		if len(raw) != 4*n {
			return nil, fmt.Errorf("%w: %s: %d bytes for %v float32 values", errFormat, t.name, len(raw), t.shape)
		}
		t.data = make([]float32, n)
		for j := range t.data {
			t.data[j] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*j:]))
		}
	case typeFloat16:
		if len(raw) != 2*n {
			return nil, fmt.Errorf("%w: %s: %d bytes for %v float16 values", errFormat, t.name, len(raw), t.shape)
		}
		t.data = make([]float32, n)
		for j := range t.data {
			t.data[j] = f16.ToFloat32(binary.LittleEndian.Uint16(raw[2*j:]))
		}
	case typeInt32, typeInt64:
		size := 4
		if t.typ == typeInt64 {
			size = 8
		}
		if len(raw) != size*n {
			return nil, fmt.Errorf("%w: %s: %d bytes for %v integers", errFormat, t.name, len(raw), t.shape)
		}
		t.ints = make([]int64, n)
		t.data = make([]float32, n)
		for j := range t.ints {
			if size == 4 {
				t.ints[j] = int64(int32(binary.LittleEndian.Uint32(raw[4*j:])))
			} else {
				t.ints[j] = int64(binary.LittleEndian.Uint64(raw[8*j:]))
			}
			t.data[j] = float32(t.ints[j])
		}
	case typeInt8, typeUint8:
		// Weights stored as 8-bit codes with their scales (a dynamic-range model): decoded
		// to float32, w = scale·(code − zero point), per tensor or per channel of one axis.
		if len(raw) != n || len(scales) == 0 {
			return nil, fmt.Errorf("%w: %s: %d bytes of %s codes for %v values with %d scales", errFormat, t.name, len(raw), typeName(t.typ), t.shape, len(scales))
		}
		if len(zeros) != 0 && len(zeros) != len(scales) {
			return nil, fmt.Errorf("%w: %s: %d zero points for %d scales", errFormat, t.name, len(zeros), len(scales))
		}
		inner, channels := 1, 1
		if len(scales) > 1 {
			if axis < 0 || axis >= len(t.shape) || t.shape[axis] != len(scales) {
				return nil, fmt.Errorf("%w: %s: %d scales along axis %d of %v", errFormat, t.name, len(scales), axis, t.shape)
			}
			channels = len(scales)
			for _, d := range t.shape[axis+1:] {
				inner *= d
			}
		}
		t.data = make([]float32, n)
		for j, c := range raw {
			ch := (j / inner) % channels
			code := int64(int8(c))
			if t.typ == typeUint8 {
				code = int64(c)
			}
			if len(zeros) > 0 {
				code -= zeros[ch]
			}
			t.data[j] = scales[ch] * float32(code)
		}
	default:
		return nil, fmt.Errorf("%w: %s: tensor type %d is not read", errFormat, t.name, t.typ)
	}
	return t, nil
}
