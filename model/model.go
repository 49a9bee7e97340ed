// Package model opens model files of every format fourbit reads, recognising the format by
// content, and returns a float graph with batch norm folded.
package model

import (
	"fmt"
	"os"

	"fourbit/formats/onnx"
	"fourbit/formats/pytorch"
	"fourbit/nn"
)

// MaxFileBytes bounds a model file (1 GiB).
const MaxFileBytes = 1 << 30

// LoadFile reads the model at path.
func LoadFile(path string) (*nn.Graph, error) { return LoadFileWith(path, Options{}) }

// Options adjust loading.
type Options struct {
	// InputShape (C, H, W) fixes an input size the model leaves open (ONNX models with a
	// symbolic height and width).
	InputShape []int
}

// LoadFileWith is LoadFile with options.
func LoadFileWith(path string, opts Options) (*nn.Graph, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	if st.Size() > MaxFileBytes {
		return nil, fmt.Errorf("load model %s: %d bytes is more than the %d fourbit reads", path, st.Size(), MaxFileBytes)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	g, err := LoadWith(data, opts)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	return g, nil
}

// Load reads a model held in memory: a PyTorch checkpoint (legacy or zip) of a network
// fourbit recognises.
func Load(data []byte) (*nn.Graph, error) { return LoadWith(data, Options{}) }

// LoadWith is Load with options.
func LoadWith(data []byte, opts Options) (*nn.Graph, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("empty model file")
	}
	legacy := len(data) >= 2 && data[0] == 0x80 && data[1] <= 5 // a pickle stream
	zipped := len(data) >= 4 && string(data[:4]) == "PK\x03\x04"
	protobuf := data[0] == 0x08 // ONNX: ModelProto starts with ir_version (field 1, varint)
	var g *nn.Graph
	var err error
	switch {
	case legacy || zipped:
		g, err = pytorch.Load(data)
	case protobuf:
		g, err = onnx.ReadWith(data, onnx.Options{InputShape: opts.InputShape})
	default:
		return nil, fmt.Errorf("not a model file fourbit can read: expected a PyTorch checkpoint (.th, .pt, .pth) or an ONNX model (.onnx)")
	}
	if err != nil {
		return nil, err
	}
	if err := g.CheckFinite(); err != nil {
		return nil, err
	}
	return g, nil
}
