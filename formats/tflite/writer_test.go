package tflite

import (
	"encoding/binary"
	"math"
	"math/rand/v2"

	"fourbit/internal/f16"
)

// A minimal FlatBuffers writer for the tests: it builds TFLite models with the operators the
// reader converts (for the referee and as fuzzing seeds) and crafted bad files. Objects are
// written front to back: a table's references are patched once the objects they point to
// (always written after it, so that the unsigned offsets point forward) have positions.

// fbObj is a table, a vector of scalars (raw little-endian bytes), a vector of objects, or a
// string.
type fbObj interface{}

type fbTable struct{ fields []fbField }

// fbField is one table field: a scalar of 1, 2, 4 or 8 bytes, or a reference.
type fbField struct {
	index  int
	scalar []byte
	ref    fbObj
}

type fbBytes struct {
	data []byte
	elem int // element size, for the length
}

type fbVec []fbObj

type fbString string

func (t *fbTable) u8(i int, v uint8) *fbTable { return t.add(i, []byte{v}) }
func (t *fbTable) i32(i int, v int32) *fbTable {
	return t.add(i, binary.LittleEndian.AppendUint32(nil, uint32(v)))
}
func (t *fbTable) f32(i int, v float32) *fbTable {
	return t.add(i, binary.LittleEndian.AppendUint32(nil, math.Float32bits(v)))
}
func (t *fbTable) add(i int, b []byte) *fbTable {
	t.fields = append(t.fields, fbField{index: i, scalar: b})
	return t
}
func (t *fbTable) obj(i int, o fbObj) *fbTable {
	t.fields = append(t.fields, fbField{index: i, ref: o})
	return t
}

func i32s(v ...int) fbBytes {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, uint32(int32(x)))
	}
	return fbBytes{b, 4}
}

func f32s(v ...float32) fbBytes {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return fbBytes{b, 4}
}

type fbWriter struct{ out []byte }

func (w *fbWriter) align(n int) {
	for len(w.out)%n != 0 {
		w.out = append(w.out, 0)
	}
}

// write appends o and returns its position (a table's: where its soffset is).
func (w *fbWriter) write(o fbObj) int {
	switch v := o.(type) {
	case *fbTable:
		maxIdx := -1
		for _, f := range v.fields {
			maxIdx = max(maxIdx, f.index)
		}
		// The table's inline layout: soffset, then each field aligned to its size.
		layout := make([]int, len(v.fields))
		size := 4
		for k, f := range v.fields {
			n := 4
			if f.ref == nil {
				n = len(f.scalar)
			}
			for size%n != 0 {
				size++
			}
			layout[k] = size
			size += n
		}
		for size%4 != 0 {
			size++
		}
		w.align(2)
		vt := len(w.out)
		vtLen := 4 + 2*(maxIdx+1)
		w.out = binary.LittleEndian.AppendUint16(w.out, uint16(vtLen))
		w.out = binary.LittleEndian.AppendUint16(w.out, uint16(size))
		slots := make([]uint16, maxIdx+1)
		for k, f := range v.fields {
			slots[f.index] = uint16(layout[k])
		}
		for _, s := range slots {
			w.out = binary.LittleEndian.AppendUint16(w.out, s)
		}
		w.align(8)
		pos := len(w.out)
		w.out = append(w.out, make([]byte, size)...)
		binary.LittleEndian.PutUint32(w.out[pos:], uint32(int32(pos-vt)))
		for k, f := range v.fields {
			if f.ref == nil {
				copy(w.out[pos+layout[k]:], f.scalar)
			}
		}
		for k, f := range v.fields {
			if f.ref != nil {
				at := pos + layout[k]
				to := w.write(f.ref)
				binary.LittleEndian.PutUint32(w.out[at:], uint32(to-at))
			}
		}
		return pos
	case fbBytes:
		w.align(16)
		pos := len(w.out)
		w.out = binary.LittleEndian.AppendUint32(w.out, uint32(len(v.data)/v.elem))
		w.out = append(w.out, v.data...)
		return pos
	case fbString:
		w.align(4)
		pos := len(w.out)
		w.out = binary.LittleEndian.AppendUint32(w.out, uint32(len(v)))
		w.out = append(w.out, v...)
		w.out = append(w.out, 0)
		return pos
	case fbVec:
		w.align(4)
		pos := len(w.out)
		w.out = binary.LittleEndian.AppendUint32(w.out, uint32(len(v)))
		w.out = append(w.out, make([]byte, 4*len(v))...)
		for k, e := range v {
			at := pos + 4 + 4*k
			to := w.write(e)
			binary.LittleEndian.PutUint32(w.out[at:], uint32(to-at))
		}
		return pos
	}
	panic("fbWriter: unknown object")
}

// serialize writes root as a TFLite file (root offset, "TFL3").
func serialize(root *fbTable) []byte {
	w := &fbWriter{out: make([]byte, 8)}
	copy(w.out[4:], "TFL3")
	pos := w.write(root)
	binary.LittleEndian.PutUint32(w.out, uint32(pos))
	return w.out
}

// modelBuilder assembles a TFLite model of one subgraph.
type modelBuilder struct {
	stop    int // operators after the first stop are left out (and the last kept one's output is the model's)
	last    int
	tensors []*fbTable
	buffers []fbObj
	ops     []*fbTable
	codes   []int
	rng     *rand.Rand
}

func newModelBuilder(seed uint64) *modelBuilder {
	return &modelBuilder{buffers: fbVec{&fbTable{}}, rng: rand.New(rand.NewPCG(seed, seed+1))}
}

// tensor adds a tensor (data nil: computed) and returns its index.
func (m *modelBuilder) tensor(name string, typ int8, shape []int, data []byte) int {
	t := (&fbTable{}).obj(0, i32s(shape...)).u8(1, uint8(typ)).obj(3, fbString(name))
	if data != nil {
		m.buffers = append(m.buffers, (&fbTable{}).obj(0, fbBytes{data, 1}))
		t.i32(2, int32(len(m.buffers)-1))
	}
	m.tensors = append(m.tensors, t)
	return len(m.tensors) - 1
}

func (m *modelBuilder) computed(name string, shape ...int) int {
	return m.tensor(name, typeFloat32, shape, nil)
}

// weights adds a float32 constant of random values (scale s).
func (m *modelBuilder) weights(name string, s float64, shape ...int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	var b []byte
	for i := 0; i < n; i++ {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(m.rng.NormFloat64()*s)))
	}
	return m.tensor(name, typeFloat32, shape, b)
}

func (m *modelBuilder) ints(name string, v ...int) int {
	return m.tensor(name, typeInt32, []int{len(v)}, i32s(v...).data)
}

// op adds an operator with its builtin options table (optType: the BuiltinOptions union
// index; 0 and nil: none).
func (m *modelBuilder) op(code int, ins, outs []int, optType uint8, opts *fbTable) {
	ci := -1
	for i, c := range m.codes {
		if c == code {
			ci = i
		}
	}
	if ci < 0 {
		m.codes = append(m.codes, code)
		ci = len(m.codes) - 1
	}
	t := (&fbTable{}).i32(0, int32(ci)).obj(1, i32s(ins...)).obj(2, i32s(outs...))
	if opts != nil {
		t.u8(3, optType).obj(4, opts)
	}
	if m.stop == 0 || len(m.ops) < m.stop {
		m.ops = append(m.ops, t)
		m.last = outs[0]
	}
}

func (m *modelBuilder) build(in, out int) []byte {
	if m.stop > 0 && len(m.ops) <= m.stop {
		out = m.last
	}
	var codes fbVec
	for _, c := range m.codes {
		t := (&fbTable{}).i32(2, 1).i32(3, int32(c))
		if c < 127 {
			t.u8(0, uint8(c))
		}
		codes = append(codes, t)
	}
	var tensors, ops fbVec
	for _, t := range m.tensors {
		tensors = append(tensors, t)
	}
	for _, o := range m.ops {
		ops = append(ops, o)
	}
	sg := (&fbTable{}).obj(0, tensors).obj(1, i32s(in)).obj(2, i32s(out)).obj(3, ops).obj(4, fbString("main"))
	root := (&fbTable{}).i32(0, 3).obj(1, codes).obj(2, fbVec{sg}).obj(3, fbString("fourbit test model")).obj(4, fbVec(m.buffers))
	return serialize(root)
}

// The BuiltinOptions union indices of the options tables the test models use.
const (
	optConv2D        = 1
	optDepthwise     = 2
	optPool2D        = 5
	optFullyConn     = 8
	optSoftmax       = 9
	optConcatenation = 10
	optAdd           = 11
	optReshape       = 17
	optMul           = 21
	optPad           = 22
	optReducer       = 27
	optSub           = 28
	optSqueeze       = 30
	optLeakyRelu     = 75
	optHardSwish     = 91
	optMaxMin        = 39
)

// everyOperatorModel chains every operator the reader converts on an 8×8×3 input: convs with
// SAME and VALID padding, strides, a dilation, fused activations, a depthwise conv with a
// multiplier, element-wise ops (ADD, SUB, MUL, MAXIMUM, MINIMUM) of two computed tensors and
// of constants, pads, pools (SAME
// average pooling leaves the padding out of the mean), concatenation, a flatten into a
// fully connected layer (TFLite's H·W·C order), softmax.
func everyOperatorModel() []byte { return everyOperatorModelUpTo(1 << 30) }

// everyOperatorModelUpTo is everyOperatorModel with its output after the first n operators.
func everyOperatorModelUpTo(n int) []byte {
	m := newModelBuilder(7)
	m.stop = n
	in := m.computed("input", 1, 8, 8, 3)
	c1 := m.computed("conv", 1, 8, 8, 4)
	m.op(opConv2D, []int{in, m.weights("conv/w", 0.4, 4, 3, 3, 3), m.weights("conv/b", 0.1, 4)}, []int{c1},
		optConv2D, (&fbTable{}).u8(0, 0).i32(1, 1).i32(2, 1).u8(3, 3)) // SAME, ReLU6
	d1 := m.computed("dw", 1, 3, 2, 8)
	m.op(opDepthwiseConv2D, []int{c1, m.weights("dw/w", 0.5, 1, 3, 3, 8), m.weights("dw/b", 0.1, 8)}, []int{d1},
		optDepthwise, (&fbTable{}).u8(0, 1).i32(1, 3).i32(2, 2).i32(3, 2).u8(4, 0).i32(5, 1).i32(6, 1)) // VALID, strides 3×2
	hs := m.computed("hswish", 1, 3, 2, 8)
	m.op(opHardSwish, []int{d1}, []int{hs}, optHardSwish, &fbTable{})
	sg := m.computed("sigmoid", 1, 3, 2, 8)
	m.op(opLogistic, []int{hs}, []int{sg}, 0, nil)
	mu := m.computed("mul", 1, 3, 2, 8)
	m.op(opMul, []int{hs, sg}, []int{mu}, optMul, (&fbTable{}).u8(0, 0))
	ad := m.computed("add_const", 1, 3, 2, 8)
	m.op(opAdd, []int{mu, m.weights("shift", 0.3, 8)}, []int{ad}, optAdd, (&fbTable{}).u8(0, 0))
	pd := m.computed("pad", 1, 5, 4, 8)
	m.op(opPad, []int{ad, m.tensor("paddings", typeInt32, []int{4, 2}, i32s(0, 0, 1, 1, 1, 1, 0, 0).data)}, []int{pd}, optPad, &fbTable{})
	ap := m.computed("avgpool", 1, 3, 2, 8)
	m.op(opAveragePool, []int{pd}, []int{ap}, optPool2D, (&fbTable{}).u8(0, 0).i32(1, 2).i32(2, 2).i32(3, 3).i32(4, 3).u8(5, 0))
	c2 := m.computed("conv2", 1, 3, 2, 6)
	m.op(opConv2D, []int{ap, m.weights("conv2/w", 0.3, 6, 2, 2, 8), m.weights("conv2/b", 0.1, 6)}, []int{c2},
		optConv2D, (&fbTable{}).u8(0, 0).i32(1, 1).i32(2, 1).u8(3, 1).i32(4, 2).i32(5, 1)) // SAME, ReLU, dilation 1×2
	mp := m.computed("maxpool", 1, 2, 1, 6)
	m.op(opMaxPool, []int{c2}, []int{mp}, optPool2D, (&fbTable{}).u8(0, 1).i32(1, 1).i32(2, 1).i32(3, 2).i32(4, 2).u8(5, 0))
	th := m.computed("tanh", 1, 2, 1, 6)
	m.op(opTanh, []int{mp}, []int{th}, 0, nil)
	lr := m.computed("leaky", 1, 2, 1, 6)
	m.op(opLeakyRelu, []int{th}, []int{lr}, optLeakyRelu, (&fbTable{}).f32(0, 0.15))
	cc := m.computed("concat", 1, 2, 1, 12)
	m.op(opConcatenation, []int{lr, mp}, []int{cc}, optConcatenation, (&fbTable{}).i32(0, 3).u8(1, 0))
	sb := m.computed("sub", 1, 2, 1, 12)
	m.op(opSub, []int{cc, m.weights("scalar", 0.5, 1)}, []int{sb}, optSub, (&fbTable{}).u8(0, 3)) // fused RELU6
	ad2 := m.computed("add", 1, 2, 1, 12)
	m.op(opAdd, []int{sb, cc}, []int{ad2}, optAdd, (&fbTable{}).u8(0, 1))
	mx := m.computed("maximum", 1, 2, 1, 12)
	m.op(opMaximum, []int{ad2, m.weights("floor", 0.3, 1)}, []int{mx}, optMaxMin, &fbTable{})
	mn := m.computed("minimum", 1, 2, 1, 12)
	m.op(opMinimum, []int{mx, sb}, []int{mn}, optMaxMin, &fbTable{})
	sb2 := m.computed("sub2", 1, 2, 1, 12)
	m.op(opSub, []int{cc, mn}, []int{sb2}, optSub, (&fbTable{}).u8(0, 0))
	r6 := m.computed("relu6", 1, 2, 1, 12)
	m.op(opRelu6, []int{sb2}, []int{r6}, 0, nil)
	fl := m.computed("flatten", 1, 24)
	m.op(opReshape, []int{r6, m.ints("shape", 1, 24)}, []int{fl}, optReshape, (&fbTable{}).obj(0, i32s(1, 24)))
	fc := m.computed("fc", 1, 10)
	m.op(opFullyConnected, []int{fl, m.weights("fc/w", 0.4, 10, 24), m.weights("fc/b", 0.1, 10)}, []int{fc}, optFullyConn, (&fbTable{}).u8(0, 0))
	out := m.computed("softmax", 1, 10)
	m.op(opSoftmax, []int{fc}, []int{out}, optSoftmax, (&fbTable{}).f32(0, 1))
	return m.build(in, out)
}

// meanModel: a conv (its weights float16 through DEQUANTIZE when half is set), a ReLU, the
// mean over height and width, a squeeze and a fully connected layer read straight off a 2×2
// map (TFLite flattens it in H·W·C order).
func meanModel(half bool) []byte {
	m := newModelBuilder(11)
	in := m.computed("input", 1, 6, 6, 2)
	var h, f []byte
	for i := 0; i < 5*3*3*2; i++ {
		v := f16bits(float32(m.rng.NormFloat64() * 0.5))
		h = binary.LittleEndian.AppendUint16(h, v)
		f = binary.LittleEndian.AppendUint32(f, math.Float32bits(f16.ToFloat32(v)))
	}
	w := m.tensor("conv/w", typeFloat32, []int{5, 3, 3, 2}, f)
	if half {
		wq := m.tensor("conv/w16", typeFloat16, []int{5, 3, 3, 2}, h)
		w = m.computed("conv/w", 5, 3, 3, 2)
		m.op(opDequantize, []int{wq}, []int{w}, 0, nil)
	}
	c := m.computed("conv", 1, 3, 3, 5)
	m.op(opConv2D, []int{in, w, m.weights("conv/b", 0.2, 5)}, []int{c}, optConv2D, (&fbTable{}).u8(0, 0).i32(1, 2).i32(2, 2).u8(3, 0))
	r := m.computed("relu", 1, 3, 3, 5)
	m.op(opRelu, []int{c}, []int{r}, 0, nil)
	mp := m.computed("pool", 1, 2, 2, 5)
	m.op(opMaxPool, []int{r}, []int{mp}, optPool2D, (&fbTable{}).u8(0, 0).i32(1, 2).i32(2, 2).i32(3, 2).i32(4, 2))
	fc := m.computed("fc", 1, 4)
	m.op(opFullyConnected, []int{mp, m.weights("fc/w", 0.4, 4, 20), m.weights("fc/b", 0.1, 4)}, []int{fc}, optFullyConn, (&fbTable{}).u8(0, 0))
	mn := m.computed("mean", 1, 1, 1, 5)
	m.op(opMean, []int{r, m.ints("axes", 1, 2)}, []int{mn}, optReducer, (&fbTable{}).u8(0, 1))
	sq := m.computed("squeeze", 1, 5)
	m.op(opSqueeze, []int{mn}, []int{sq}, optSqueeze, (&fbTable{}).obj(0, i32s(1, 2)))
	fc2 := m.computed("fc2", 1, 4)
	m.op(opFullyConnected, []int{sq, m.weights("fc2/w", 0.4, 4, 5), m.weights("fc2/b", 0.1, 4)}, []int{fc2}, optFullyConn, (&fbTable{}).u8(0, 0))
	out := m.computed("sum", 1, 4)
	m.op(opAdd, []int{fc, fc2}, []int{out}, optAdd, (&fbTable{}).u8(0, 0))
	return m.build(in, out)
}

// f16bits rounds x to binary16 (round to nearest even, no subnormals needed here).
func f16bits(x float32) uint16 {
	b := math.Float32bits(x)
	sign := uint16(b>>16) & 0x8000
	exp := int((b>>23)&0xff) - 127 + 15
	mant := b & 0x7fffff
	if exp <= 0 {
		return sign
	}
	if exp >= 31 {
		return sign | 0x7c00
	}
	h := uint32(exp)<<10 | mant>>13
	if rem := mant & 0x1fff; rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++
	}
	return sign | uint16(h)
}
