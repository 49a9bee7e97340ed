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
	"fourbit/formats/tflite"
	"fourbit/internal/files"
	"fourbit/nn"
)

// MaxFileBytes bounds a model file (1 GiB).
const MaxFileBytes = 1 << 30

// LoadFile reads the model at path.
func LoadFile(path string) (*nn.Graph, error) { return LoadFileWith(path, Options{}) }

// Options adjust loading.
type Options struct {
	// InputShape fixes the input's sizes after the batch axis — (C, H, W), (T, F), … — where
	// the model leaves them open (ONNX models with a symbolic height and width).
	InputShape []int
	// Preprocess, Classes and Names, when set, replace what the file says (or does not say)
	// of the model's input preprocessing and of its outputs: the class labels a dataset's
	// folders are matched against, and the names predictions are shown with.
	Preprocess *nn.Preprocess
	Classes    []string
	Names      []string
}

// apply puts the options' overrides on g.
func (o Options) apply(g *nn.Graph) (*nn.Graph, error) {
	if o.Preprocess != nil {
		if err := o.Preprocess.Check(); err != nil {
			return nil, err
		}
		g.Preprocess = *o.Preprocess
	}
	out := nn.Size(g.Output().Shape)
	for what, l := range map[string][]string{"class labels": o.Classes, "class names": o.Names} {
		if l != nil && len(l) != out {
			return nil, fmt.Errorf("%d %s for a model with %d outputs", len(l), what, out)
		}
	}
	if o.Classes != nil {
		g.Classes = o.Classes
	}
	if o.Names != nil {
		g.Names = o.Names
	}
	return g, nil
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
	data, err := files.Read(path, MaxFileBytes)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
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
	byName := map[string][]byte{}
	var total int64
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		b, err := files.Read(filepath.Join(dir, e.Name()), MaxFileBytes-total)
		if err != nil {
			return nil, fmt.Errorf("%s: %w (the folder's files together are bounded by %d bytes)", e.Name(), err, int64(MaxFileBytes))
		}
		total += int64(len(b))
		byName[e.Name()] = b
	}
	return LoadFiles(byName, opts)
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
		// One model file, with the class labels and names beside it when given.
		rest := map[string][]byte{}
		for name, b := range files {
			switch filepath.Base(filepath.ToSlash(name)) {
			case "labels.txt":
				if opts.Classes == nil {
					opts.Classes = textLines(b)
				}
			case "names.txt":
				if opts.Names == nil {
					opts.Names = textLines(b)
				}
			default:
				rest[name] = b
			}
		}
		if len(rest) != 1 {
			return nil, fmt.Errorf("%d model files given without a model.json: give one model file (with labels.txt and names.txt if you like), or a TF.js model's model.json with its weight shards", len(rest))
		}
		for _, b := range rest {
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
	return opts.apply(g)
}

// textLines splits a list file into its trimmed lines, the last newline aside.
func textLines(b []byte) []string {
	lines := strings.Split(strings.TrimRight(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n"), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return lines
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
	protobuf := data[0] == 0x08                                 // ONNX: ModelProto starts with ir_version (field 1, varint)
	flatbuffer := len(data) >= 8 && string(data[4:8]) == "TFL3" // TFLite's file identifier
	if tfjs.IsManifest(data) {
		return nil, fmt.Errorf("a TF.js model.json alone: its weight shards are needed too (give the model's folder, or drop all its files together)")
	}
	var g *nn.Graph
	var err error
	switch {
	case flatbuffer:
		g, err = tflite.Read(data)
	case legacy || zipped:
		g, err = pytorch.Load(data)
	case protobuf:
		g, err = onnx.ReadWith(data, onnx.Options{InputShape: opts.InputShape})
	default:
		return nil, fmt.Errorf("not a model file fourbit can read: expected a PyTorch checkpoint (.th, .pt, .pth), an ONNX model (.onnx), a TFLite model (.tflite) or a TF.js layers model (model.json with its shards)")
	}
	if err != nil {
		return nil, err
	}
	if err := g.CheckFinite(); err != nil {
		return nil, err
	}
	return opts.apply(g)
}
