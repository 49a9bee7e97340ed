package nn

import (
	"fmt"
	"math"
	"slices"
)

// FoldBatchNorm returns a copy of g in which every BatchNorm that directly follows a
// convolution (and is that convolution's only consumer) is merged into it, as the paper does
// before quantizing: W'[o] = W[o]·γ_o/√(σ²_o+ε), b'[o] = (b[o] − μ_o)·γ_o/√(σ²_o+ε) + β_o.
// The folded convolution keeps the convolution's name; the BatchNorm node disappears.
// Other BatchNorms stay as they are.
func FoldBatchNorm(g *Graph) (*Graph, error) {
	consumers := g.Consumers()
	out := NewGraph(g.Input().Shape...)
	out.CopyMeta(g)
	mapped := make([]*Node, len(g.Nodes))
	mapped[0] = out.Input()
	skip := make([]bool, len(g.Nodes))
	for _, n := range g.Nodes[1:] {
		if skip[n.index] {
			continue
		}
		op := n.Op
		var foldedBN *Node
		if conv, ok := n.Op.(*Conv); ok && len(consumers[n.index]) == 1 {
			if bn, ok := consumers[n.index][0].Op.(*BatchNorm); ok {
				foldedBN = consumers[n.index][0]
				op = foldConv(conv, bn)
			}
		}
		ins := make([]*Node, len(n.Inputs))
		for i, p := range n.Inputs {
			ins[i] = mapped[p.index]
		}
		m, err := out.Add(n.Name, op, ins...)
		if err != nil {
			return nil, fmt.Errorf("fold batch norm: %w", err)
		}
		mapped[n.index] = m
		if foldedBN != nil {
			skip[foldedBN.index] = true
			mapped[foldedBN.index] = m
		}
	}
	return out, nil
}

func foldConv(c *Conv, bn *BatchNorm) *Conv {
	scale, shift := bn.ScaleShift()
	per := len(c.W) / c.OutC
	w := make([]float32, len(c.W))
	b := make([]float32, c.OutC)
	for o := 0; o < c.OutC; o++ {
		s := scale[o]
		for i := o * per; i < (o+1)*per; i++ {
			w[i] = float32(float64(c.W[i]) * s)
		}
		bias := 0.0
		if c.B != nil {
			bias = float64(c.B[o])
		}
		b[o] = float32(bias*s + shift[o])
	}
	out := c.withWeights(w, b)
	// A batch norm's output has mean β and standard deviation |γ| on its training data.
	prior := &ChannelPrior{Mean: make([]float64, c.OutC), Std: make([]float64, c.OutC)}
	for o := range prior.Mean {
		prior.Mean[o], prior.Std[o] = float64(bn.Beta[o]), math.Abs(float64(bn.Gamma[o]))
	}
	out.Prior = prior
	return out
}

// WithOps returns a copy of g in which the named nodes compute other ops (with the same
// output shapes); the simulated quantized network replaces weights this way.
func (g *Graph) WithOps(replace map[string]Op) (*Graph, error) {
	out := NewGraph(g.Input().Shape...)
	out.CopyMeta(g)
	mapped := make([]*Node, len(g.Nodes))
	mapped[0] = out.Input()
	for _, n := range g.Nodes[1:] {
		op := n.Op
		if r, ok := replace[n.Name]; ok {
			op = r
		}
		ins := make([]*Node, len(n.Inputs))
		for i, p := range n.Inputs {
			ins[i] = mapped[p.index]
		}
		m, err := out.Add(n.Name, op, ins...)
		if err != nil {
			return nil, err
		}
		if !slices.Equal(m.Shape, n.Shape) {
			return nil, fmt.Errorf("%w: replacing %s changes its shape %v to %v", ErrGraph, n.Name, n.Shape, m.Shape)
		}
		mapped[n.index] = m
	}
	for name := range replace {
		if g.Node(name) == nil {
			return nil, fmt.Errorf("%w: no node %q", ErrGraph, name)
		}
	}
	return out, nil
}
