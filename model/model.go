// Package model opens model files of every format fourbit reads, recognising the format by
// content, and returns a float graph with batch norm folded.
package model

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"fourbit/formats/onnx"
	"fourbit/formats/pytorch"
	"fourbit/formats/tfjs"
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

// LoadFileWith is LoadFile with options. A TF.js layers model is given by its folder or its
// model.json: the shards it names and, when present, labels.txt and names.txt are read from
// the same folder.
func LoadFileWith(path string, opts Options) (*nn.Graph, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	if st.IsDir() || filepath.Ext(path) == ".json" {
		dir := path
		if !st.IsDir() {
			dir = filepath.Dir(path)
		}
		g, err := loadTFJSDir(dir, opts)
		if err != nil {
			return nil, fmt.Errorf("load model %s: %w", path, err)
		}
		return g, nil
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

// loadTFJSDir reads a TF.js layers model from its folder.
func loadTFJSDir(dir string, opts Options) (*nn.Graph, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	var total int64
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, err
		}
		if total += info.Size(); total > MaxFileBytes {
			return nil, fmt.Errorf("the folder holds more than the %d bytes fourbit reads", int64(MaxFileBytes))
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		files[e.Name()] = b
	}
	return LoadFiles(files, opts)
}

// LoadFiles reads a model given as several named files — a TF.js layers model (model.json,
// its weight shards, optional labels.txt and names.txt), as a browser receives a dropped
// folder — or as one file of another format.
func LoadFiles(files map[string][]byte, opts Options) (*nn.Graph, error) {
	var manifest bool
	for name := range files {
		if filepath.Base(filepath.ToSlash(name)) == tfjs.ManifestName {
			manifest = true
		}
	}
	if !manifest {
		if len(files) != 1 {
			return nil, fmt.Errorf("%d files given without a model.json: give one model file, or a TF.js model's model.json with its weight shards", len(files))
		}
		for _, b := range files {
			return LoadWith(b, opts)
		}
	}
	g, err := tfjs.Read(files, tfjs.Options{InputShape: opts.InputShape})
	if err != nil {
		return nil, err
	}
	if err := g.CheckFinite(); err != nil {
		return nil, err
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
	if tfjs.IsManifest(data) {
		return nil, fmt.Errorf("a TF.js model.json alone: its weight shards are needed too (give the model's folder, or drop all its files together)")
	}
	var g *nn.Graph
	var err error
	switch {
	case legacy || zipped:
		g, err = pytorch.Load(data)
	case protobuf:
		g, err = onnx.ReadWith(data, onnx.Options{InputShape: opts.InputShape})
	default:
		return nil, fmt.Errorf("not a model file fourbit can read: expected a PyTorch checkpoint (.th, .pt, .pth), an ONNX model (.onnx) or a TF.js layers model (model.json with its shards)")
	}
	if err != nil {
		return nil, err
	}
	if err := g.CheckFinite(); err != nil {
		return nil, err
	}
	return g, nil
}
