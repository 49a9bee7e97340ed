package ptq

import (
	"errors"
	"fmt"

	"fourbit/nn"
)

// empiricalBias corrects the bias of every quantized conv/linear layer of q from the
// calibration images, as AIMET's empirical bias correction does: layer by layer in
// topological order, the mean per output channel of the quantized layer's output — its
// quantized weights applied to the already-quantized network's input — is compared with the
// float network's, and the difference is taken off the layer's bias. Where the paper's bias
// correction (§4.3) restores each weight row's mean from the weights alone, this one also
// absorbs the shift the quantized inputs cause.
func empiricalBias(g *nn.Graph, q *Quantized, cal *Calibration, opts Options) error {
	if cal.src == nil {
		return errors.New("empirical bias correction needs the calibration images (not a data-free or loaded calibration)")
	}
	images := fitImages(cal, opts)
	cons := g.Consumers()
	per := nn.Size(g.Input().Shape)
	for _, n := range g.Nodes {
		if _, ok := q.Weights(n.Name); !ok {
			continue
		}
		l, ok := newRoundingLayer(g, n, cons)
		if !ok {
			continue
		}
		qn := q.Graph.Node(n.Name)
		qop := qn.Op.(nn.Weighted)
		diff := make([]float64, l.out)
		count := 0
		err := batches(cal.src, images, DefaultBatch, per, func(x []float32, _ []int, lo, hi int) error {
			b := hi - lo
			in, y, err := layerIO(g, q, n, x, b)
			if err != nil {
				return err
			}
			yq := make([]float32, len(y))
			qn.Op.Forward(yq, [][]float32{in}, [][]int{qn.Inputs[0].Shape}, qn.Shape, b)
			// Channels are the leading axis of a conv's map and the trailing one of a
			// linear layer's rows.
			for i := range y {
				c := i / l.pos % l.out
				if l.conv == nil {
					c = i % l.out
				}
				diff[c] += float64(yq[i]) - float64(y[i])
			}
			count += b * l.pos
			return nil
		})
		if err != nil {
			return fmt.Errorf("empirical bias correction %s: %w", n.Name, err)
		}
		w, bias, _ := qop.Weights()
		nb := make([]float32, l.out)
		for c := range nb {
			if bias != nil {
				nb[c] = bias[c]
			}
			nb[c] -= float32(diff[c] / float64(count))
		}
		qg, err := q.Graph.WithOps(map[string]nn.Op{n.Name: qop.WithWeights(w, nb)})
		if err != nil {
			return fmt.Errorf("empirical bias correction %s: %w", n.Name, err)
		}
		q.Graph = qg
		q.index()
	}
	return nil
}
