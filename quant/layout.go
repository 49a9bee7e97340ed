package quant

import "fmt"

// Layout describes how a flat tensor is split into channels: the data is
// Outer × Channels × Inner in row-major order. OIHW convolution weights have
// Outer = 1, Channels = O, Inner = I·H·W; NCHW activations have Outer = N,
// Channels = C, Inner = H·W. A per-tensor view is Layout{1, 1, len(data)}.
type Layout struct {
	Outer, Channels, Inner int
}

// PerTensor returns the layout that treats all n values as one channel.
func PerTensor(n int) Layout { return Layout{Outer: 1, Channels: 1, Inner: n} }

// Len is the number of values the layout covers.
func (l Layout) Len() int { return l.Outer * l.Channels * l.Inner }

// Check reports an error unless the layout is well formed and covers exactly n values.
func (l Layout) Check(n int) error {
	if l.Outer < 0 || l.Channels <= 0 || l.Inner < 0 {
		return fmt.Errorf("quant: bad layout %d×%d×%d", l.Outer, l.Channels, l.Inner)
	}
	if l.Outer > n || l.Channels > n || l.Inner > n || int64(l.Outer)*int64(l.Channels)*int64(l.Inner) != int64(n) {
		return fmt.Errorf("quant: layout %d×%d×%d does not cover the tensor's %d values", l.Outer, l.Channels, l.Inner, n)
	}
	return nil
}

// Each calls fn for every contiguous run of channel c's values (Outer runs of Inner values).
func (l Layout) Each(data []float32, c int, fn func(run []float32)) {
	stride := l.Channels * l.Inner
	for o := 0; o < l.Outer; o++ {
		start := o*stride + c*l.Inner
		fn(data[start : start+l.Inner])
	}
}
