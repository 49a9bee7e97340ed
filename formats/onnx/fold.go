package onnx

import (
	"fmt"
	"math"
	"slices"
)

// allConst reports whether every input of n is known at import time.
func allConst(imp *importer, n *node) bool {
	any := false
	for i := range n.inputs {
		v := imp.in(n, i)
		if v == nil {
			continue
		}
		if v.konst == nil {
			return false
		}
		any = true
	}
	return any
}

// foldConst evaluates the shape arithmetic exporters emit (Shape → Gather → Unsqueeze →
// Concat → Reshape and friends) on constants. Ops it does not know give unsupportedError.
func foldConst(imp *importer, n *node) (*tensor, error) {
	in := func(i int) *tensor {
		if v := imp.in(n, i); v != nil {
			return v.konst
		}
		return nil
	}
	x := in(0)
	switch n.opType {
	case "Identity", "Dropout":
		return x, nil
	case "Cast":
		to := attrInt(n, "to", typeFloat)
		out := &tensor{dims: x.dims, dataType: to}
		switch to {
		case typeFloat, typeDouble, typeFloat16:
			out.floats = make([]float32, max(len(x.floats), len(x.ints)))
			for i := range out.floats {
				if x.floats != nil {
					out.floats[i] = x.floats[i]
				} else {
					out.floats[i] = float32(x.ints[i])
				}
			}
		default:
			out.ints = make([]int64, max(len(x.floats), len(x.ints)))
			for i := range out.ints {
				if x.ints != nil {
					out.ints[i] = x.ints[i]
				} else {
					out.ints[i] = int64(x.floats[i])
				}
			}
		}
		return out, nil
	case "Unsqueeze", "Squeeze", "Reshape", "Flatten":
		out := *x
		switch n.opType {
		case "Reshape":
			if s := in(1); s != nil && s.ints != nil {
				out.dims = slices.Clone(s.ints)
				// 0 copies the input dimension, -1 takes the rest.
				size := int64(max(len(x.floats), len(x.ints)))
				rest, at := size, -1
				for i, d := range out.dims {
					switch {
					case d == 0 && i < len(x.dims):
						out.dims[i] = x.dims[i]
					case d == -1:
						at = i
						continue
					}
					if out.dims[i] > 0 {
						rest /= out.dims[i]
					}
				}
				if at >= 0 {
					out.dims[at] = rest
				}
			}
		default:
			out.dims = nil // shape details of folded constants are only used as 1-D lists
			if n := max(len(x.floats), len(x.ints)); n > 1 {
				out.dims = []int64{int64(n)}
			}
		}
		return &out, nil
	case "Gather":
		idx := in(1)
		if idx == nil || idx.ints == nil || attrInt(n, "axis", 0) != 0 || len(x.dims) > 1 {
			return nil, unsupportedError("Gather")
		}
		out := &tensor{dims: idx.dims}
		size := max(len(x.floats), len(x.ints))
		for _, i := range idx.ints {
			if i < 0 {
				i += int64(size)
			}
			if i < 0 || i >= int64(size) {
				return nil, fmt.Errorf("gather index %d out of range %d", i, size)
			}
			if x.ints != nil {
				out.ints = append(out.ints, x.ints[i])
			} else {
				out.floats = append(out.floats, x.floats[i])
			}
		}
		return out, nil
	case "Concat":
		out := &tensor{}
		for i := range n.inputs {
			t := in(i)
			if t == nil {
				continue
			}
			if t.ints != nil {
				out.ints = append(out.ints, t.ints...)
			} else {
				out.floats = append(out.floats, t.floats...)
			}
			if len(out.ints)+len(out.floats) > MaxElements {
				return nil, fmt.Errorf("concatenation too large")
			}
		}
		if out.ints != nil && out.floats != nil {
			return nil, unsupportedError("Concat")
		}
		out.dims = []int64{int64(len(out.ints) + len(out.floats))}
		return out, nil
	case "Slice":
		starts, ends := in(1), in(2)
		if starts == nil && n.attrs["starts"] != nil { // opset < 10: attributes
			starts, ends = &tensor{ints: attrInts(n, "starts", nil)}, &tensor{ints: attrInts(n, "ends", nil)}
		}
		if starts == nil || ends == nil || len(starts.ints) != 1 || len(ends.ints) != 1 || len(x.dims) > 1 {
			return nil, unsupportedError("Slice")
		}
		size := int64(max(len(x.floats), len(x.ints)))
		clampIdx := func(v int64) int64 {
			if v < 0 {
				v += size
			}
			return max(0, min(size, v))
		}
		lo, hi := clampIdx(starts.ints[0]), clampIdx(ends.ints[0])
		out := &tensor{}
		if hi > lo {
			if x.ints != nil {
				out.ints = slices.Clone(x.ints[lo:hi])
			} else {
				out.floats = slices.Clone(x.floats[lo:hi])
			}
		}
		out.dims = []int64{int64(len(out.ints) + len(out.floats))}
		return out, nil
	case "Add", "Sub", "Mul", "Div":
		a, b := x, in(1)
		if a == nil || b == nil {
			return nil, unsupportedError(n.opType)
		}
		na, nb := max(len(a.floats), len(a.ints)), max(len(b.floats), len(b.ints))
		if na != nb && na != 1 && nb != 1 {
			return nil, unsupportedError(n.opType)
		}
		size := max(na, nb)
		dims := a.dims
		if nb > na {
			dims = b.dims
		}
		out := &tensor{dims: dims}
		if a.ints != nil && b.ints != nil {
			out.ints = make([]int64, size)
			for i := range out.ints {
				p, q := a.ints[min(i, na-1)], b.ints[min(i, nb-1)]
				switch n.opType {
				case "Add":
					out.ints[i] = p + q
				case "Sub":
					out.ints[i] = p - q
				case "Mul":
					out.ints[i] = p * q
				case "Div":
					if q == 0 {
						return nil, fmt.Errorf("integer division by zero")
					}
					out.ints[i] = p / q
				}
			}
			return out, nil
		}
		f := func(t *tensor, i int) float64 {
			if t.floats != nil {
				return float64(t.floats[i])
			}
			return float64(t.ints[i])
		}
		out.floats = make([]float32, size)
		for i := range out.floats {
			p, q := f(a, min(i, na-1)), f(b, min(i, nb-1))
			var r float64
			switch n.opType {
			case "Add":
				r = p + q
			case "Sub":
				r = p - q
			case "Mul":
				r = p * q
			case "Div":
				r = p / q
			}
			if math.IsNaN(r) || math.IsInf(r, 0) {
				return nil, fmt.Errorf("constant arithmetic gives %v", r)
			}
			out.floats[i] = float32(r)
		}
		return out, nil
	}
	return nil, unsupportedError(n.opType)
}
