package ptq

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	"fourbit/nn"
)

// ExportFormat names fourbit's quantized-model format (JSON), version 1.
const ExportFormat = "fourbit-quantized/1"

// Export is a quantized network as data: every quantized weight as an integer code, with per
// output channel the affine map back to the simulated weight, w = Scale·(code − Zero) + Offset
// (Offset carries bias correction: Scale = ξ·step, Offset = μ_shift + (1 − ξ)·E[Q]), the
// float biases, and every activation's quantizers. Codes are stored one per byte (base64):
// the container is not packed; the bits field says how many of each byte's bits are used.
type Export struct {
	Format      string          `json:"format"`
	Options     Options         `json:"options"`
	Input       []int           `json:"input"`
	Preprocess  nn.Preprocess   `json:"preprocess"`
	Classes     []string        `json:"classes,omitempty"`
	Graph       []nn.NodeInfo   `json:"graph"`
	Weights     []ExportWeights `json:"weights"`
	Activations []ExportActs    `json:"activations"`
}

// ExportWeights is one layer's quantized weights.
type ExportWeights struct {
	Layer  string    `json:"layer"`
	Rows   int       `json:"rows"` // output channels; each row holds len(codes)/rows codes
	Bits   []int     `json:"bits"` // per row
	Scale  []float64 `json:"scale"`
	Zero   []float64 `json:"zero"`
	Offset []float64 `json:"offset"`
	Codes  string    `json:"codes"` // base64, one byte per code (signed codes are offset by 128)
	Bias   []float32 `json:"bias,omitempty"`
}

// ExportActs is one activation's quantizers: code = clamp(round(x/scale + zero), 0, 2^bits − 1).
type ExportActs struct {
	Node     string    `json:"node"`
	OneSided bool      `json:"one_sided"`
	Bits     []int     `json:"bits"` // per channel, or one value
	Scale    []float64 `json:"scale"`
	Zero     []float64 `json:"zero"`
}

// Export describes q, made from g, as an Export.
func (q *Quantized) Export(g *nn.Graph) (*Export, error) {
	e := &Export{Format: ExportFormat, Options: q.Plan.Options, Input: g.Input().Shape, Preprocess: g.Preprocess, Classes: g.Classes}
	e.Graph = g.Describe()
	for _, wp := range q.Plan.Weights {
		var w, bias []float32
		switch op := g.Node(wp.Layer).Op.(type) {
		case *nn.Conv:
			w, bias = op.W, op.B
		case *nn.Linear:
			w, bias = op.W, op.B
		default:
			return nil, fmt.Errorf("export: %s is not a conv or linear layer", wp.Layer)
		}
		rows := len(wp.Shift)
		per := len(w) / rows
		ew := ExportWeights{Layer: wp.Layer, Rows: rows, Bias: bias}
		codes := make([]byte, len(w))
		for r := 0; r < rows; r++ {
			qz := wp.quantizers[0]
			bits := wp.Bits[0]
			if wp.PerChannel {
				qz, bits = wp.quantizers[r], wp.Bits[r]
			}
			for i := r * per; i < (r+1)*per; i++ {
				c := qz.Quantize(w[i])
				if qz.QMin < 0 {
					c += 128
				}
				codes[i] = byte(c)
			}
			xi := wp.Scale[r]
			ew.Bits = append(ew.Bits, bits)
			ew.Scale = append(ew.Scale, xi*qz.Scale)
			ew.Zero = append(ew.Zero, qz.Zero)
			ew.Offset = append(ew.Offset, wp.Shift[r]+(1-xi)*wp.MeanQuant[r])
		}
		ew.Codes = base64.StdEncoding.EncodeToString(codes)
		e.Weights = append(e.Weights, ew)
	}
	for _, ap := range q.Plan.Acts {
		ea := ExportActs{Node: ap.Quantized, OneSided: ap.OneSided, Bits: ap.Bits}
		for _, qz := range ap.quantizers {
			ea.Scale, ea.Zero = append(ea.Scale, qz.Scale), append(ea.Zero, qz.Zero)
		}
		e.Activations = append(e.Activations, ea)
	}
	return e, nil
}

// Marshal encodes the export as JSON bytes.
func (e *Export) Marshal() ([]byte, error) { return json.Marshal(e) }

// DequantizeWeights returns the weights of one exported layer as the simulated network uses
// them (before float32 rounding of intermediate steps, within 1e-6 of them).
func (ew *ExportWeights) DequantizeWeights() ([]float32, error) {
	codes, err := base64.StdEncoding.DecodeString(ew.Codes)
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", ew.Layer, err)
	}
	if ew.Rows <= 0 || len(codes)%ew.Rows != 0 || len(ew.Scale) != ew.Rows || len(ew.Zero) != ew.Rows || len(ew.Offset) != ew.Rows {
		return nil, fmt.Errorf("layer %s: inconsistent export", ew.Layer)
	}
	per := len(codes) / ew.Rows
	out := make([]float32, len(codes))
	for i, c := range codes {
		r := i / per
		out[i] = float32(ew.Scale[r]*(float64(c)-ew.Zero[r]) + ew.Offset[r])
	}
	return out, nil
}
