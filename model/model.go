// Package model opens model files of every format fourbit reads, recognising the format by
// content, and returns a float graph with batch norm folded.
package model

import (
	"fmt"
	"os"

	"fourbit/formats/pytorch"
	"fourbit/nn"
)

// MaxFileBytes bounds a model file (1 GiB).
const MaxFileBytes = 1 << 30

// LoadFile reads the model at path.
func LoadFile(path string) (*nn.Graph, error) {
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
	g, err := Load(data)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	return g, nil
}

// Load reads a model held in memory: a PyTorch checkpoint (legacy or zip) of a network
// fourbit recognises.
func Load(data []byte) (*nn.Graph, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("empty model file")
	}
	legacy := len(data) >= 2 && data[0] == 0x80 && data[1] <= 5 // a pickle stream
	zipped := len(data) >= 4 && string(data[:4]) == "PK\x03\x04"
	if !legacy && !zipped {
		return nil, fmt.Errorf("not a model file fourbit can read: expected a PyTorch checkpoint (.th, .pt, .pth)")
	}
	g, err := pytorch.Load(data)
	if err != nil {
		return nil, err
	}
	if err := g.CheckFinite(); err != nil {
		return nil, err
	}
	return g, nil
}
