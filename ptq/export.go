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
// (quant.WeightRow with bias correction folded in: Scale is the quantizer's step times the
// gain ξ, Offset the row's β), the float biases, and every activation's quantizers. Codes are
// stored one per byte (base64): the container is not packed; the bits field says how many of
// each byte's bits are used.
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
	Codes  string    `json:"codes"` // base64, one byte per code
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

// Export describes q as an Export.
func (q *Quantized) Export() *Export {
	g := q.Graph
	e := &Export{Format: ExportFormat, Options: q.Plan.Options, Input: g.Input().Shape, Preprocess: g.Preprocess, Classes: g.Classes}
	e.Graph = g.Describe()
	for _, wp := range q.Plan.Weights {
		_, bias, _ := g.Node(wp.Layer).Op.(nn.Weighted).Weights()
		ew := ExportWeights{Layer: wp.Layer, Rows: len(wp.rows), Bias: bias}
		var codes []byte
		for _, r := range wp.rows {
			codes = append(codes, r.Codes...)
			ew.Bits = append(ew.Bits, r.Q.Bits())
			ew.Scale = append(ew.Scale, r.Gain*r.Q.Scale)
			ew.Zero = append(ew.Zero, r.Q.Zero)
			ew.Offset = append(ew.Offset, r.Offset)
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
	return e
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
