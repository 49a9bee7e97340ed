package onnx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"fourbit/internal/f16"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// The subset of onnx.proto fourbit reads and writes, decoded with protowire (field numbers
// from onnx/onnx.proto, IR version 3 and later).

// Data types of TensorProto.data_type.
const (
	typeFloat   = 1
	typeUint8   = 2
	typeInt8    = 3
	typeInt32   = 6
	typeInt64   = 7
	typeFloat16 = 10
	typeDouble  = 11
)

// Attribute types of AttributeProto.type.
const (
	attrTypeFloat  = 1
	attrTypeInt    = 2
	attrTypeString = 3
	attrTypeTensor = 4
	attrTypeFloats = 6
	attrTypeInts   = 7
)

// MaxElements bounds the elements of one tensor (and of all initializers together), so a
// hostile file cannot make the reader allocate without limit.
const MaxElements = 1 << 28

// errMalformed reports bytes that are not a well-formed ONNX protobuf.
var errMalformed = errors.New("onnx: malformed protobuf")

type model struct {
	irVersion int64
	opsets    map[string]int64
	producer  string
	graph     *graph
	metadata  map[string]string
}

type graph struct {
	name         string
	nodes        []*node
	initializers []*tensor
	inputs       []valueInfo
	outputs      []valueInfo
}

type node struct {
	name, opType, domain string
	inputs, outputs      []string
	attrs                map[string]*attribute
}

type attribute struct {
	name   string
	typ    int64
	f      float32
	i      int64
	s      []byte
	t      *tensor
	floats []float32
	ints   []int64
}

type tensor struct {
	name     string
	dims     []int64
	dataType int64
	// Decoded values: floats for float types, ints for integer types.
	floats []float32
	ints   []int64
	raw    []byte
	// external is set when the data lives in another file.
	external bool
	// typed-field values before conversion
	floatData  []float32
	int32Data  []int64
	int64Data  []int64
	doubleData []float64
}

type valueInfo struct {
	name     string
	elemType int64
	dims     []int64 // -1 for a symbolic or missing dimension
}

// fields calls fn for every field of a message, with its number, wire type and raw value
// bytes (for bytes fields the payload, for varints the value in v).
func fields(b []byte, fn func(num protowire.Number, typ protowire.Type, v uint64, payload []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errMalformed
		}
		b = b[n:]
		var v uint64
		var payload []byte
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var x uint32
			x, n = protowire.ConsumeFixed32(b)
			v = uint64(x)
		case protowire.Fixed64Type:
			v, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			payload, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return errMalformed
		}
		b = b[n:]
		if err := fn(num, typ, v, payload); err != nil {
			return err
		}
	}
	return nil
}

// ints appends the int64 values of a repeated varint field (packed or not).
func appendInts(dst []int64, typ protowire.Type, v uint64, payload []byte) ([]int64, error) {
	if typ == protowire.VarintType {
		return append(dst, int64(v)), nil
	}
	if typ != protowire.BytesType {
		return dst, errMalformed
	}
	for len(payload) > 0 {
		x, n := protowire.ConsumeVarint(payload)
		if n < 0 {
			return dst, errMalformed
		}
		dst = append(dst, int64(x))
		payload = payload[n:]
		if len(dst) > MaxElements {
			return dst, fmt.Errorf("onnx: more than %d values in a field", MaxElements)
		}
	}
	return dst, nil
}

// appendFloats appends the values of a repeated float field (packed or not).
func appendFloats(dst []float32, typ protowire.Type, v uint64, payload []byte) ([]float32, error) {
	if typ == protowire.Fixed32Type {
		return append(dst, math.Float32frombits(uint32(v))), nil
	}
	if typ != protowire.BytesType || len(payload)%4 != 0 {
		return dst, errMalformed
	}
	if len(dst)+len(payload)/4 > MaxElements {
		return dst, fmt.Errorf("onnx: more than %d values in a field", MaxElements)
	}
	for i := 0; i < len(payload); i += 4 {
		dst = append(dst, math.Float32frombits(binary.LittleEndian.Uint32(payload[i:])))
	}
	return dst, nil
}

func decodeModel(b []byte) (*model, error) {
	m := &model{opsets: map[string]int64{}, metadata: map[string]string{}}
	err := fields(b, func(num protowire.Number, typ protowire.Type, v uint64, p []byte) error {
		switch num {
		case 1:
			m.irVersion = int64(v)
		case 2:
			m.producer = string(p)
		case 7:
			if typ != protowire.BytesType {
				return errMalformed
			}
			g, err := decodeGraph(p, 0)
			if err != nil {
				return err
			}
			m.graph = g
		case 8:
			var domain string
			var version int64
			if err := fields(p, func(num protowire.Number, _ protowire.Type, v uint64, p []byte) error {
				switch num {
				case 1:
					domain = string(p)
				case 2:
					version = int64(v)
				}
				return nil
			}); err != nil {
				return err
			}
			m.opsets[domain] = version
		case 14:
			var k, val string
			if err := fields(p, func(num protowire.Number, _ protowire.Type, _ uint64, p []byte) error {
				switch num {
				case 1:
					k = string(p)
				case 2:
					val = string(p)
				}
				return nil
			}); err != nil {
				return err
			}
			m.metadata[k] = val
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if m.graph == nil {
		return nil, errors.New("onnx: the model has no graph")
	}
	return m, nil
}

func decodeGraph(b []byte, depth int) (*graph, error) {
	if depth > 4 {
		return nil, errors.New("onnx: sub-graphs nested too deeply")
	}
	g := &graph{}
	err := fields(b, func(num protowire.Number, typ protowire.Type, v uint64, p []byte) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case 1:
			n, err := decodeNode(p, depth)
			if err != nil {
				return err
			}
			g.nodes = append(g.nodes, n)
		case 2:
			g.name = string(p)
		case 5:
			t, err := decodeTensor(p)
			if err != nil {
				return err
			}
			g.initializers = append(g.initializers, t)
		case 11, 12:
			vi, err := decodeValueInfo(p)
			if err != nil {
				return err
			}
			if num == 11 {
				g.inputs = append(g.inputs, vi)
			} else {
				g.outputs = append(g.outputs, vi)
			}
		}
		return nil
	})
	return g, err
}

func decodeNode(b []byte, depth int) (*node, error) {
	n := &node{attrs: map[string]*attribute{}}
	err := fields(b, func(num protowire.Number, typ protowire.Type, v uint64, p []byte) error {
		switch num {
		case 1:
			n.inputs = append(n.inputs, string(p))
		case 2:
			n.outputs = append(n.outputs, string(p))
		case 3:
			n.name = string(p)
		case 4:
			n.opType = string(p)
		case 7:
			n.domain = string(p)
		case 5:
			a, err := decodeAttribute(p, depth)
			if err != nil {
				return err
			}
			n.attrs[a.name] = a
		}
		return nil
	})
	return n, err
}

func decodeAttribute(b []byte, depth int) (*attribute, error) {
	a := &attribute{}
	err := fields(b, func(num protowire.Number, typ protowire.Type, v uint64, p []byte) error {
		var err error
		switch num {
		case 1:
			a.name = string(p)
		case 20:
			a.typ = int64(v)
		case 2:
			a.f = math.Float32frombits(uint32(v))
		case 3:
			a.i = int64(v)
		case 4:
			a.s = p
		case 5:
			a.t, err = decodeTensor(p)
		case 6:
			_, err = decodeGraph(p, depth+1) // checked, not used: fourbit runs no control flow
		case 7:
			a.floats, err = appendFloats(a.floats, typ, v, p)
		case 8:
			a.ints, err = appendInts(a.ints, typ, v, p)
		}
		return err
	})
	return a, err
}

func decodeValueInfo(b []byte) (valueInfo, error) {
	var vi valueInfo
	err := fields(b, func(num protowire.Number, _ protowire.Type, _ uint64, p []byte) error {
		switch num {
		case 1:
			vi.name = string(p)
		case 2: // TypeProto
			return fields(p, func(num protowire.Number, _ protowire.Type, _ uint64, p []byte) error {
				if num != 1 { // tensor_type
					return nil
				}
				return fields(p, func(num protowire.Number, _ protowire.Type, v uint64, p []byte) error {
					switch num {
					case 1:
						vi.elemType = int64(v)
					case 2: // TensorShapeProto
						return fields(p, func(num protowire.Number, _ protowire.Type, _ uint64, p []byte) error {
							if num != 1 {
								return nil
							}
							d := int64(-1)
							err := fields(p, func(num protowire.Number, _ protowire.Type, v uint64, _ []byte) error {
								if num == 1 {
									d = int64(v)
								}
								return nil
							})
							vi.dims = append(vi.dims, d)
							return err
						})
					}
					return nil
				})
			})
		}
		return nil
	})
	return vi, err
}

func decodeTensor(b []byte) (*tensor, error) {
	t := &tensor{}
	err := fields(b, func(num protowire.Number, typ protowire.Type, v uint64, p []byte) error {
		var err error
		switch num {
		case 1:
			t.dims, err = appendInts(t.dims, typ, v, p)
		case 2:
			t.dataType = int64(v)
		case 4:
			t.floatData, err = appendFloats(t.floatData, typ, v, p)
		case 5:
			t.int32Data, err = appendInts(t.int32Data, typ, v, p)
		case 7:
			t.int64Data, err = appendInts(t.int64Data, typ, v, p)
		case 8:
			t.name = string(p)
		case 9:
			t.raw = p
		case 10:
			if typ == protowire.BytesType && len(p)%8 == 0 {
				for i := 0; i < len(p); i += 8 {
					t.doubleData = append(t.doubleData, math.Float64frombits(binary.LittleEndian.Uint64(p[i:])))
				}
			} else if typ == protowire.Fixed64Type {
				t.doubleData = append(t.doubleData, math.Float64frombits(v))
			}
		case 13:
			t.external = true
		case 14:
			if v == 1 {
				t.external = true
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return t, t.decodeValues()
}

// numel returns the element count of dims, or an error for negative or too large shapes.
func numel(dims []int64) (int, error) {
	n := int64(1)
	for _, d := range dims {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension %d", d)
		}
		if d > 0 && n > MaxElements/d {
			return 0, fmt.Errorf("shape %v has more than %d elements", dims, MaxElements)
		}
		n *= d
	}
	if n > MaxElements {
		return 0, fmt.Errorf("shape %v has more than %d elements", dims, MaxElements)
	}
	return int(n), nil
}

// decodeValues turns the tensor's stored data into floats or ints, checking sizes.
func (t *tensor) decodeValues() error {
	if t.external {
		return fmt.Errorf("onnx: tensor %q keeps its data in an external file; fourbit reads self-contained .onnx files only (re-save the model with its data embedded)", t.name)
	}
	n, err := numel(t.dims)
	if err != nil {
		return fmt.Errorf("onnx: tensor %q: %w", t.name, err)
	}
	size := map[int64]int{typeFloat: 4, typeUint8: 1, typeInt8: 1, typeInt32: 4, typeInt64: 8, typeFloat16: 2, typeDouble: 8}[t.dataType]
	if size == 0 {
		return fmt.Errorf("onnx: tensor %q has data type %d; fourbit reads float32, float16, double and integer tensors", t.name, t.dataType)
	}
	if t.raw != nil {
		if len(t.raw) != n*size {
			return fmt.Errorf("onnx: tensor %q: %d bytes of data for shape %v (want %d)", t.name, len(t.raw), t.dims, n*size)
		}
		switch t.dataType {
		case typeFloat:
			t.floats = make([]float32, n)
			for i := range t.floats {
				t.floats[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.raw[4*i:]))
			}
		case typeFloat16:
			t.floats = make([]float32, n)
			for i := range t.floats {
				t.floats[i] = f16.ToFloat32(binary.LittleEndian.Uint16(t.raw[2*i:]))
			}
		case typeDouble:
			t.floats = make([]float32, n)
			for i := range t.floats {
				t.floats[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(t.raw[8*i:])))
			}
		case typeUint8:
			t.ints = make([]int64, n)
			for i := range t.ints {
				t.ints[i] = int64(t.raw[i])
			}
		case typeInt8:
			t.ints = make([]int64, n)
			for i := range t.ints {
				t.ints[i] = int64(int8(t.raw[i]))
			}
		case typeInt32:
			t.ints = make([]int64, n)
			for i := range t.ints {
				t.ints[i] = int64(int32(binary.LittleEndian.Uint32(t.raw[4*i:])))
			}
		case typeInt64:
			t.ints = make([]int64, n)
			for i := range t.ints {
				t.ints[i] = int64(binary.LittleEndian.Uint64(t.raw[8*i:]))
			}
		}
		t.raw = nil
		return nil
	}
	var got int
	switch t.dataType {
	case typeFloat:
		t.floats, got = t.floatData, len(t.floatData)
	case typeDouble:
		t.floats = make([]float32, len(t.doubleData))
		for i, v := range t.doubleData {
			t.floats[i] = float32(v)
		}
		got = len(t.doubleData)
	case typeFloat16:
		// float16 values are stored as uint16 bit patterns in int32_data.
		t.floats = make([]float32, len(t.int32Data))
		for i, v := range t.int32Data {
			t.floats[i] = f16.ToFloat32(uint16(v))
		}
		got = len(t.int32Data)
	case typeInt64:
		t.ints, got = t.int64Data, len(t.int64Data)
	default:
		t.ints, got = t.int32Data, len(t.int32Data)
	}
	if got != n {
		return fmt.Errorf("onnx: tensor %q: %d values for shape %v (want %d)", t.name, got, t.dims, n)
	}
	return nil
}
