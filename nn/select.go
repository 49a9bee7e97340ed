package nn

// The selection ops (Selector): where each output channel's values come from.

// SourceChannel implements Selector: channel c of the input.
func (ReLU) SourceChannel(c int, _ [][]int) (int, int, bool) { return 0, c, true }

// SourceChannel implements Selector for max pooling (an average pool does not select).
func (p Pool) SourceChannel(c int, _ [][]int) (int, int, bool) { return 0, c, p.Max }

// SourceChannel implements Selector: channel c of the input (the padding is zeros).
func (Pad) SourceChannel(c int, _ [][]int) (int, int, bool) { return 0, c, true }

// SourceChannel implements Selector: output value c comes from the input channel that holds
// the c-th value.
func (Flatten) SourceChannel(c int, in [][]int) (int, int, bool) {
	return 0, c / (Size(in[0]) / in[0][0]), true
}

// SourceChannel implements Selector: the channels of the inputs, one after the other.
func (Concat) SourceChannel(c int, in [][]int) (int, int, bool) {
	for i, s := range in {
		if c < s[0] {
			return i, c, true
		}
		c -= s[0]
	}
	return -1, 0, true
}

// SourceChannel implements Selector: the input's channels, PadC zero channels on each side.
func (s ShortcutA) SourceChannel(c int, in [][]int) (int, int, bool) {
	if c < s.PadC || c >= s.PadC+in[0][0] {
		return -1, 0, true
	}
	return 0, c - s.PadC, true
}
