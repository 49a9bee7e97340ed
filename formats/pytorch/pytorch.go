// Package pytorch reads PyTorch checkpoints — the legacy serialisation (a magic number, pickle
// protocol 2 and raw little-endian storages) and the zip layout of torch.save since 1.6 — into
// named float32 tensors, and builds networks it recognises from their state dicts.
//
// Unpickling uses github.com/nlpodyssey/gopickle, which builds plain Go values and never
// runs code from the file. fourbit supplies the pieces gopickle v0.2.0 lacks: the pre-v2
// torch._utils._rebuild_tensor, a reader from bytes (the browser has no files), storages
// bounded by the input's size, and a recover at the boundary so that a hostile file is an
// error, never a panic.
package pytorch

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"fourbit/internal/f16"
	"io"
	"math"
	"math/big"
	"os"
	"sort"
	"strings"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/types"
)

// Tensor is a dense float32 tensor in row-major order.
type Tensor struct {
	Shape []int
	Data  []float32
}

// ErrFormat reports a file that is not a checkpoint fourbit can read.
var ErrFormat = errors.New("pytorch: unreadable checkpoint")

// maxPickleBytes bounds the pickle of a zip checkpoint (its tensors live outside it).
const maxPickleBytes = 64 << 20

// MaxTensorValues bounds a single tensor (2^28 values, 1 GiB of float32).
const MaxTensorValues = 1 << 28

// ReadFile reads the state dict of the checkpoint at path.
func ReadFile(path string) (map[string]*Tensor, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sd, err := Read(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return sd, nil
}

// Read returns the state dict of a checkpoint held in memory: the top-level dict itself, or
// its "state_dict" (or "model") entry. Keys lose a "module." prefix (DataParallel training).
func Read(data []byte) (sd map[string]*Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			sd, err = nil, fmt.Errorf("%w: malformed pickle (%v)", ErrFormat, r)
		}
	}()
	var obj any
	if len(data) >= 4 && string(data[:4]) == "PK\x03\x04" {
		obj, err = readZip(data)
	} else {
		obj, err = readLegacy(data)
	}
	if err != nil {
		return nil, err
	}
	return stateDict(obj)
}

var magic = func() *big.Int { n, _ := new(big.Int).SetString("1950a86a20f9469cfc6c", 16); return n }()

// loader holds the storages and tensors of one checkpoint while it is unpickled.
type loader struct {
	storages map[string]*storage
	tensors  []*lazyTensor
	limit    int64 // bytes available for all storages
}

// storage is a typed run of raw little-endian values.
type storage struct {
	class *storageClass
	n     int64
	raw   []byte
}

// storageClass names a torch storage type and its element size.
type storageClass struct {
	name string
	elem int
}

var storageClasses = map[string]*storageClass{
	"FloatStorage": {"float32", 4}, "HalfStorage": {"float16", 2}, "DoubleStorage": {"float64", 8},
	"LongStorage": {"int64", 8}, "IntStorage": {"int32", 4}, "ShortStorage": {"int16", 2},
	"CharStorage": {"int8", 1}, "ByteStorage": {"uint8", 1}, "BoolStorage": {"bool", 1},
	"BFloat16Storage": {"bfloat16", 2},
}

// lazyTensor is a tensor whose storage is filled after unpickling.
type lazyTensor struct {
	st           *storage
	offset       int
	size, stride []int
	materialized *Tensor
}

func (l *loader) findClass(module, name string) (any, error) {
	switch module + "." + name {
	case "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2":
		return rebuildFunc{l}, nil
	case "torch._utils._rebuild_parameter":
		return callable(func(args ...any) (any, error) {
			if len(args) < 1 {
				return nil, fmt.Errorf("%w: _rebuild_parameter without data", ErrFormat)
			}
			return args[0], nil
		}), nil
	}
	if module == "torch" {
		if c, ok := storageClasses[name]; ok {
			return c, nil
		}
	}
	return types.NewGenericClass(module, name), nil
}

type callable func(args ...any) (any, error)

// Call implements gopickle's types.Callable.
func (c callable) Call(args ...any) (any, error) { return c(args...) }

type rebuildFunc struct{ l *loader }

// Call builds a tensor from (storage, offset, size, stride, ...).
func (r rebuildFunc) Call(args ...any) (any, error) {
	if len(args) < 4 {
		return nil, fmt.Errorf("%w: tensor rebuilt from %d arguments", ErrFormat, len(args))
	}
	st, ok1 := args[0].(*storage)
	off, ok2 := args[1].(int)
	size, err1 := ints(args[2])
	stride, err2 := ints(args[3])
	if !ok1 || !ok2 || err1 != nil || err2 != nil || len(size) != len(stride) {
		return nil, fmt.Errorf("%w: bad tensor arguments", ErrFormat)
	}
	t := &lazyTensor{st: st, offset: off, size: size, stride: stride}
	r.l.tensors = append(r.l.tensors, t)
	return t, nil
}

func ints(v any) ([]int, error) {
	tu, ok := v.(*types.Tuple)
	if !ok {
		return nil, fmt.Errorf("%w: tuple expected", ErrFormat)
	}
	out := make([]int, tu.Len())
	for i := range out {
		n, ok := tu.Get(i).(int)
		if !ok {
			return nil, fmt.Errorf("%w: int expected in shape", ErrFormat)
		}
		out[i] = n
	}
	return out, nil
}

// persistentLoad resolves ('storage', class, key, location, numel[, view]).
func (l *loader) persistentLoad(id any) (any, error) {
	tu, ok := id.(*types.Tuple)
	if !ok || tu.Len() < 5 {
		return nil, fmt.Errorf("%w: bad persistent id", ErrFormat)
	}
	if kind, _ := tu.Get(0).(string); kind != "storage" {
		return nil, fmt.Errorf("%w: persistent id %v", ErrFormat, tu.Get(0))
	}
	class, ok1 := tu.Get(1).(*storageClass)
	key, ok2 := tu.Get(2).(string)
	n, ok3 := tu.Get(4).(int)
	if !ok1 || !ok2 || !ok3 || n < 0 {
		return nil, fmt.Errorf("%w: bad storage record", ErrFormat)
	}
	if tu.Len() > 5 && tu.Get(5) != nil {
		return nil, fmt.Errorf("%w: storage views are not supported", ErrFormat)
	}
	if st, ok := l.storages[key]; ok {
		return st, nil
	}
	if int64(n) > l.limit/int64(class.elem) {
		return nil, fmt.Errorf("%w: storage %s of %d values is larger than the file", ErrFormat, key, n)
	}
	st := &storage{class: class, n: int64(n)}
	l.storages[key] = st
	return st, nil
}

func (l *loader) unpickler(r io.Reader) pickle.Unpickler {
	u := pickle.NewUnpickler(r)
	u.FindClass = l.findClass
	u.PersistentLoad = l.persistentLoad
	return u
}

func readLegacy(data []byte) (any, error) {
	// Five pickles follow one another: magic number, protocol, system info, the object, the
	// storage keys; then the storages' raw bytes. Each is scanned before it is unpickled.
	pos := 0
	next := func(what string) (*bytes.Reader, error) {
		end, err := scanPickle(data, pos)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", what, err)
		}
		r := bytes.NewReader(data[pos:end])
		pos = end
		return r, nil
	}
	for i, what := range []string{"magic number", "protocol version", "system info"} {
		r, err := next(what)
		if err != nil {
			return nil, err
		}
		u := pickle.NewUnpickler(r)
		v, err := u.Load()
		if err != nil {
			return nil, fmt.Errorf("%w: reading %s: %v", ErrFormat, what, err)
		}
		switch i {
		case 0:
			if n, ok := v.(*big.Int); !ok || n.Cmp(magic) != 0 {
				return nil, fmt.Errorf("%w: not a PyTorch file (bad magic number)", ErrFormat)
			}
		case 1:
			if n, ok := v.(int); !ok || n != 1001 {
				return nil, fmt.Errorf("%w: unsupported protocol version %v", ErrFormat, v)
			}
		}
	}
	l := &loader{storages: map[string]*storage{}, limit: int64(len(data))}
	r, err := next("model")
	if err != nil {
		return nil, err
	}
	u := l.unpickler(r)
	obj, err := u.Load()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if r, err = next("storage keys"); err != nil {
		return nil, err
	}
	ku := pickle.NewUnpickler(r)
	keysObj, err := ku.Load()
	r = bytes.NewReader(data[pos:])
	if err != nil {
		return nil, fmt.Errorf("%w: reading storage keys: %v", ErrFormat, err)
	}
	keys, ok := keysObj.(*types.List)
	if !ok {
		return nil, fmt.Errorf("%w: storage keys are not a list", ErrFormat)
	}
	for _, k := range *keys {
		key, _ := k.(string)
		st, ok := l.storages[key]
		if !ok {
			return nil, fmt.Errorf("%w: data for unknown storage %q", ErrFormat, key)
		}
		var n int64
		if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
			return nil, fmt.Errorf("%w: storage %s truncated", ErrFormat, key)
		}
		if n != st.n {
			return nil, fmt.Errorf("%w: storage %s holds %d values, declared %d", ErrFormat, key, n, st.n)
		}
		need := n * int64(st.class.elem)
		if need > int64(r.Len()) {
			return nil, fmt.Errorf("%w: storage %s truncated (%d bytes left, %d needed)", ErrFormat, key, r.Len(), need)
		}
		st.raw = make([]byte, need)
		if _, err := io.ReadFull(r, st.raw); err != nil {
			return nil, fmt.Errorf("%w: storage %s: %v", ErrFormat, key, err)
		}
	}
	return l.finish(obj)
}

func readZip(data []byte) (any, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	files := map[string]*zip.File{}
	var pkl *zip.File
	for _, f := range zr.File {
		parts := strings.Split(f.Name, "/")
		switch {
		case len(parts) == 2 && parts[1] == "data.pkl":
			pkl = f
		case len(parts) == 3 && parts[1] == "data":
			files[parts[2]] = f
		}
	}
	if pkl == nil {
		return nil, fmt.Errorf("%w: zip without data.pkl", ErrFormat)
	}
	l := &loader{storages: map[string]*storage{}, limit: int64(len(data))}
	if pkl.UncompressedSize64 > maxPickleBytes {
		return nil, fmt.Errorf("%w: data.pkl of %d bytes", ErrFormat, pkl.UncompressedSize64)
	}
	rc, err := pkl.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	pdata, err := io.ReadAll(io.LimitReader(rc, maxPickleBytes))
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("%w: data.pkl: %v", ErrFormat, err)
	}
	end, err := scanPickle(pdata, 0)
	if err != nil {
		return nil, err
	}
	u := l.unpickler(bytes.NewReader(pdata[:end]))
	obj, err := u.Load()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	for key, st := range l.storages {
		f, ok := files[key]
		if !ok {
			return nil, fmt.Errorf("%w: no data for storage %s", ErrFormat, key)
		}
		need := st.n * int64(st.class.elem)
		if f.UncompressedSize64 != uint64(need) || need > MaxTensorValues*8 {
			return nil, fmt.Errorf("%w: storage %s has %d bytes, declared %d", ErrFormat, key, f.UncompressedSize64, need)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrFormat, err)
		}
		st.raw = make([]byte, need)
		_, err = io.ReadFull(rc, st.raw)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("%w: storage %s: %v", ErrFormat, key, err)
		}
	}
	return l.finish(obj)
}

// finish materialises every tensor now that the storages hold their bytes.
func (l *loader) finish(obj any) (any, error) {
	for _, t := range l.tensors {
		if err := t.materialize(); err != nil {
			return nil, err
		}
	}
	return obj, nil
}

func (t *lazyTensor) materialize() error {
	if t.st.raw == nil {
		return fmt.Errorf("%w: tensor without storage data", ErrFormat)
	}
	n := 1
	maxIdx := int64(t.offset)
	for i, s := range t.size {
		if s < 0 || t.stride[i] < 0 {
			return fmt.Errorf("%w: negative size or stride", ErrFormat)
		}
		if s > 0 && n > MaxTensorValues/s {
			return fmt.Errorf("%w: tensor of shape %v is too large", ErrFormat, t.size)
		}
		n *= s
		if s > 0 {
			maxIdx += int64(s-1) * int64(t.stride[i])
		}
	}
	if t.offset < 0 || (n > 0 && maxIdx >= t.st.n) {
		return fmt.Errorf("%w: tensor of shape %v reaches past its storage of %d values", ErrFormat, t.size, t.st.n)
	}
	out := &Tensor{Shape: append([]int(nil), t.size...), Data: make([]float32, n)}
	idx := make([]int, len(t.size))
	for i := 0; i < n; i++ {
		pos := t.offset
		for d := range idx {
			pos += idx[d] * t.stride[d]
		}
		out.Data[i] = t.st.value(pos)
		for d := len(idx) - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < t.size[d] {
				break
			}
			idx[d] = 0
		}
	}
	t.materialized = out
	return nil
}

// value returns element i of the storage as float32.
func (s *storage) value(i int) float32 {
	b := s.raw[i*s.class.elem:]
	switch s.class.name {
	case "float32":
		return math.Float32frombits(binary.LittleEndian.Uint32(b))
	case "float64":
		return float32(math.Float64frombits(binary.LittleEndian.Uint64(b)))
	case "float16":
		return f16.ToFloat32(binary.LittleEndian.Uint16(b))
	case "bfloat16":
		return math.Float32frombits(uint32(binary.LittleEndian.Uint16(b)) << 16)
	case "int64":
		return float32(int64(binary.LittleEndian.Uint64(b)))
	case "int32":
		return float32(int32(binary.LittleEndian.Uint32(b)))
	case "int16":
		return float32(int16(binary.LittleEndian.Uint16(b)))
	case "int8":
		return float32(int8(b[0]))
	default:
		return float32(b[0])
	}
}

// stateDict finds the tensors of a checkpoint's top-level object.
func stateDict(obj any) (map[string]*Tensor, error) {
	entries, ok := dictEntries(obj)
	if !ok {
		return nil, fmt.Errorf("%w: top level is %T, not a dict", ErrFormat, obj)
	}
	for _, name := range []string{"state_dict", "model", "model_state_dict"} {
		for _, e := range entries {
			if k, _ := e[0].(string); k == name {
				if inner, ok := dictEntries(e[1]); ok {
					entries = inner
				}
			}
		}
	}
	sd := map[string]*Tensor{}
	for _, e := range entries {
		k, ok := e[0].(string)
		if !ok {
			continue
		}
		if t, ok := e[1].(*lazyTensor); ok {
			sd[strings.TrimPrefix(k, "module.")] = t.materialized
		}
	}
	if len(sd) == 0 {
		return nil, fmt.Errorf("%w: no tensors in the checkpoint", ErrFormat)
	}
	return sd, nil
}

func dictEntries(obj any) ([][2]any, bool) {
	switch d := obj.(type) {
	case *types.Dict:
		out := make([][2]any, 0, len(*d))
		for _, e := range *d {
			out = append(out, [2]any{e.Key, e.Value})
		}
		return out, true
	case *types.OrderedDict:
		out := make([][2]any, 0, d.Len())
		for el := d.List.Front(); el != nil; el = el.Next() {
			e := el.Value.(*types.OrderedDictEntry)
			out = append(out, [2]any{e.Key, e.Value})
		}
		return out, true
	}
	return nil, false
}

// Keys returns the state dict's keys in sorted order.
func Keys(sd map[string]*Tensor) []string {
	keys := make([]string, 0, len(sd))
	for k := range sd {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
