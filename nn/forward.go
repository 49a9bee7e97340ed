package nn

import (
	"fmt"
	"math"
)

// Hook observes — and may rewrite in place — the output of every node of a forward pass,
// in topological order: out holds batch images of n.Shape. Calibration uses it to gather
// statistics, the simulated quantized network to fake-quantize activations. An error stops
// the pass. out is only valid during the call: Forward reuses the buffers of values it no
// longer needs, so a hook that keeps values copies them.
type Hook func(n *Node, out []float32, batch int) error

// MaxBatchValues bounds the values one node's output may hold in a forward pass (1 GiB of
// float32), so that absurd shapes fail instead of exhausting memory.
const MaxBatchValues = 1 << 28

// Forward runs the graph on batch images x (batch × Size(input shape) values, NCHW) and
// returns the output node's values. An intermediate buffer is released after its last use and
// reused (cleared) for a later output of the same length, which spares the allocator and the
// garbage collector most of a pass's memory traffic.
func (g *Graph) Forward(x []float32, batch int, hook Hook) ([]float32, error) {
	in := g.Input()
	if batch <= 0 || len(x) != batch*Size(in.Shape) {
		return nil, fmt.Errorf("nn: input of %d values for %d images of shape %v", len(x), batch, in.Shape)
	}
	lastUse := make([]int, len(g.Nodes))
	for _, n := range g.Nodes {
		for _, p := range n.Inputs {
			lastUse[p.index] = n.index
		}
	}
	lastUse[len(g.Nodes)-1] = len(g.Nodes)
	bufs := make([][]float32, len(g.Nodes))
	spare := map[int][][]float32{} // released buffers by length
	bufs[0] = x
	if hook != nil {
		// The hook may rewrite the input; never touch the caller's slice.
		bufs[0] = append([]float32(nil), x...)
		if err := hook(in, bufs[0], batch); err != nil {
			return nil, err
		}
	}
	for _, n := range g.Nodes[1:] {
		size := Size(n.Shape)
		if size <= 0 || size > MaxBatchValues/batch {
			return nil, fmt.Errorf("nn: node %s: output of %d×%d values is too large", n.Name, batch, size)
		}
		var out []float32
		if free := spare[batch*size]; len(free) > 0 {
			out = free[len(free)-1]
			spare[batch*size] = free[:len(free)-1]
			clear(out)
		} else {
			out = make([]float32, batch*size)
		}
		ins := make([][]float32, len(n.Inputs))
		shapes := make([][]int, len(n.Inputs))
		for i, p := range n.Inputs {
			ins[i], shapes[i] = bufs[p.index], p.Shape
		}
		n.Op.Forward(out, ins, shapes, n.Shape, batch)
		bufs[n.index] = out
		if hook != nil {
			if err := hook(n, out, batch); err != nil {
				return nil, fmt.Errorf("node %s: %w", n.Name, err)
			}
		}
		for _, p := range n.Inputs {
			if lastUse[p.index] == n.index && bufs[p.index] != nil {
				if p.index != 0 { // the input may be the caller's slice
					spare[len(bufs[p.index])] = append(spare[len(bufs[p.index])], bufs[p.index])
				}
				bufs[p.index] = nil
			}
		}
	}
	return bufs[len(g.Nodes)-1], nil
}

// TopK returns the indices of the k largest logits, largest first (NaN never ranks).
func TopK(logits []float32, k int) []int {
	k = min(k, len(logits))
	idx := make([]int, 0, k)
	used := make([]bool, len(logits))
	for len(idx) < k {
		best := -1
		for i, v := range logits {
			if used[i] || math.IsNaN(float64(v)) {
				continue
			}
			if best < 0 || v > logits[best] {
				best = i
			}
		}
		if best < 0 {
			break
		}
		used[best] = true
		idx = append(idx, best)
	}
	return idx
}
