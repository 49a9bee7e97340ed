package tflite

import (
	"math"

	"fourbit/nn"
)

// normalization reads the input normalisation of a model's TFLite metadata (the
// TFLITE_METADATA buffer, tensorflow/lite/schema metadata_schema.fbs): the first input
// tensor's NormalizationOptions, (pixel − mean)/std in pixel units, as fourbit's
// preprocessing. false when the model has none.
func normalization(data []byte) (nn.Preprocess, bool) {
	if len(data) < 8 || string(data[4:8]) != "M001" {
		return nn.Preprocess{}, false
	}
	b := buffer(data)
	root, err := b.root()
	if err != nil {
		return nn.Preprocess{}, false
	}
	// ModelMetadata: subgraph_metadata 3. SubGraphMetadata: input_tensor_metadata 2.
	// TensorMetadata: process_units 4. ProcessUnit: options_type 0, options 1.
	// NormalizationOptions (options type 1): mean 0, std 1.
	subs, err := root.vector(3, 4)
	if err != nil || subs.n == 0 {
		return nn.Preprocess{}, false
	}
	sg, err := subs.table(0)
	if err != nil {
		return nn.Preprocess{}, false
	}
	ins, err := sg.vector(2, 4)
	if err != nil || ins.n == 0 {
		return nn.Preprocess{}, false
	}
	tm, err := ins.table(0)
	if err != nil {
		return nn.Preprocess{}, false
	}
	units, err := tm.vector(4, 4)
	if err != nil {
		return nn.Preprocess{}, false
	}
	for i := 0; i < units.n; i++ {
		u, err := units.table(i)
		if err != nil {
			return nn.Preprocess{}, false
		}
		if typ, _ := u.uint8(0, 0); typ != 1 {
			continue
		}
		opts, ok, err := u.tableField(1)
		if err != nil || !ok {
			return nn.Preprocess{}, false
		}
		mean, err1 := opts.vector(0, 4)
		std, err2 := opts.vector(1, 4)
		if err1 != nil || err2 != nil || (mean.n != 1 && mean.n != 3) || (std.n != 1 && std.n != 3) {
			return nn.Preprocess{}, false
		}
		p := nn.Preprocess{}
		for c := 0; c < 3; c++ {
			p.Mean[c] = math.Float32frombits(uint32(mean.int32s()[min(c, mean.n-1)])) / 255
			p.Std[c] = math.Float32frombits(uint32(std.int32s()[min(c, std.n-1)])) / 255
		}
		if p.Check() != nil {
			return nn.Preprocess{}, false
		}
		return p, true
	}
	return nn.Preprocess{}, false
}
