// Package tfjs reads TensorFlow.js "layers" models — a model.json (a Keras model's topology
// and a manifest of its weights) and the binary weight shards it names — into fourbit's
// float graph. It is the web's most common format for small CNNs (ml5, tfjs-models, Keras
// models converted by tensorflowjs_converter).
//
// Keras networks are NHWC; fourbit's graph is NCHW. The reader maps every layer onto the
// graph's layout: HWIO kernels become OIHW, channel axes become axis 0 of the per-image
// shape, and a Dense layer that reads a flattened map has its rows reordered from Keras's
// H·W·C order to fourbit's C·H·W. Keras "same" padding is TensorFlow's: the total padding
// max((⌈in/s⌉−1)·s + k − in, 0) is split with the extra one at the end (bottom, right).
package tfjs

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path"
	"slices"
	"strings"

	"fourbit/internal/f16"
	"fourbit/nn"
)

// ErrFormat reports a file that is not a TF.js layers model fourbit can read.
var ErrFormat = errors.New("tfjs")

// Limits bounding what a hostile manifest can make the reader allocate.
const (
	MaxWeights    = 1 << 28 // values in all weights together
	MaxLayers     = 1 << 14
	MaxManifest   = 64 << 20 // bytes of model.json
	maxDimension  = 1 << 16
	maxInput      = 1 << 26 // values of one input image
	ManifestName  = "model.json"
	labelsName    = "labels.txt"
	namesName     = "names.txt"
	metadataKey   = "fourbit"
	defaultLeaky  = 0.3 // Keras's LeakyReLU default alpha
	channelsFirst = "channels_first"
)

// Options adjust reading.
type Options struct {
	// InputShape (C, H, W) fixes an input size the model leaves open.
	InputShape []int
}

// Read builds the graph (batch norms folded into their convolutions) of the model whose files are given by name: model.json, every shard
// its manifest names, and optionally labels.txt (one class label per line, in output order:
// what a dataset's folder names are matched against) and names.txt (human-readable names of
// the same classes). Names are matched by their last path element, so a folder's files can
// be passed as they are listed.
//
// The model carries its preprocessing in model.json's userDefinedMetadata.fourbit.preprocess
// (fourbit's nn.Preprocess as JSON) when it has one; otherwise TF.js image models' common
// convention applies: pixels / 255, the whole image resized bilinearly with aligned corners.
func Read(files map[string][]byte, opts Options) (g *nn.Graph, err error) {
	defer func() {
		if r := recover(); r != nil {
			g, err = nil, fmt.Errorf("%w: malformed model (%v)", ErrFormat, r)
		}
	}()
	byBase := map[string][]byte{}
	for name, b := range files {
		byBase[path.Base(strings.ReplaceAll(name, "\\", "/"))] = b
	}
	manifest, ok := byBase[ManifestName]
	if !ok {
		return nil, fmt.Errorf("%w: no %s among the files given", ErrFormat, ManifestName)
	}
	if len(manifest) > MaxManifest {
		return nil, fmt.Errorf("%w: %s of %d bytes is more than the %d fourbit reads", ErrFormat, ManifestName, len(manifest), MaxManifest)
	}
	var m modelJSON
	if err := json.Unmarshal(manifest, &m); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrFormat, ManifestName, err)
	}
	if m.Format == "graph-model" {
		return nil, fmt.Errorf("%w: this is a TF.js graph model (a converted SavedModel); fourbit reads the layers format (Keras models)", ErrFormat)
	}
	weights, err := readWeights(m.WeightsManifest, byBase)
	if err != nil {
		return nil, err
	}
	topo, err := parseTopology(m.ModelTopology)
	if err != nil {
		return nil, err
	}
	b := &builder{weights: weights, used: map[string]bool{}, tensors: map[string]*tensor{}}
	if g, err = b.build(topo, opts); err != nil {
		return nil, err
	}
	if err := setMeta(g, m.UserDefinedMetadata, byBase); err != nil {
		return nil, err
	}
	return nn.FoldBatchNorm(g)
}

// IsManifest reports whether data looks like a TF.js model.json.
func IsManifest(data []byte) bool {
	s := strings.TrimLeft(string(data[:min(len(data), 4096)]), " \t\r\n\ufeff")
	return strings.HasPrefix(s, "{") && strings.Contains(string(data[:min(len(data), 1<<20)]), `"modelTopology"`)
}

type modelJSON struct {
	Format              string                     `json:"format"`
	ModelTopology       json.RawMessage            `json:"modelTopology"`
	WeightsManifest     []weightGroup              `json:"weightsManifest"`
	UserDefinedMetadata map[string]json.RawMessage `json:"userDefinedMetadata"`
}

type weightGroup struct {
	Paths   []string     `json:"paths"`
	Weights []weightSpec `json:"weights"`
}

type weightSpec struct {
	Name         string `json:"name"`
	Shape        []int  `json:"shape"`
	DType        string `json:"dtype"`
	Quantization *struct {
		DType string  `json:"dtype"`
		Scale float64 `json:"scale"`
		Min   float64 `json:"min"`
	} `json:"quantization"`
}

// weight is one tensor of the manifest, as float32 values.
type weight struct {
	shape  []int
	values []float32
}

// readWeights decodes every weight group from its shards, checking that the manifest's
// shapes and dtypes account for the shard bytes exactly.
func readWeights(groups []weightGroup, files map[string][]byte) (map[string]*weight, error) {
	out := map[string]*weight{}
	total := 0
	for gi, grp := range groups {
		var data []byte
		for _, p := range grp.Paths {
			b, ok := files[path.Base(p)]
			if !ok {
				return nil, fmt.Errorf("%w: weight shard %q (group %d) is missing: give every file the manifest names", ErrFormat, p, gi+1)
			}
			data = append(data, b...)
		}
		off := 0
		for _, ws := range grp.Weights {
			n, err := elements(ws.Shape)
			if err != nil {
				return nil, fmt.Errorf("%w: weight %s: %v", ErrFormat, ws.Name, err)
			}
			if total += n; total > MaxWeights {
				return nil, fmt.Errorf("%w: the manifest declares more than %d weight values", ErrFormat, MaxWeights)
			}
			dtype, size := ws.DType, 4
			if ws.Quantization != nil {
				dtype = ws.Quantization.DType
			}
			switch dtype {
			case "float32", "int32":
			case "float16", "uint16":
				size = 2
			case "uint8":
				size = 1
			default:
				return nil, fmt.Errorf("%w: weight %s has dtype %q (fourbit reads float32, and float16, uint8, uint16 quantized weights)", ErrFormat, ws.Name, dtype)
			}
			if ws.DType != "" && ws.DType != "float32" && ws.DType != "int32" {
				return nil, fmt.Errorf("%w: weight %s has dtype %q", ErrFormat, ws.Name, ws.DType)
			}
			end := off + n*size
			if end > len(data) {
				return nil, fmt.Errorf("%w: weight %s (shape %v, %s) needs bytes %d..%d but group %d's shards hold %d: the manifest's shapes disagree with the shards", ErrFormat, ws.Name, ws.Shape, dtype, off, end, gi+1, len(data))
			}
			raw := data[off:end]
			off = end
			v := make([]float32, n)
			for i := range v {
				switch dtype {
				case "float32":
					v[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
				case "int32":
					v[i] = float32(int32(binary.LittleEndian.Uint32(raw[4*i:])))
				case "float16":
					v[i] = f16.ToFloat32(binary.LittleEndian.Uint16(raw[2*i:]))
				case "uint16":
					v[i] = float32(float64(binary.LittleEndian.Uint16(raw[2*i:]))*ws.Quantization.Scale + ws.Quantization.Min)
				case "uint8":
					v[i] = float32(float64(raw[i])*ws.Quantization.Scale + ws.Quantization.Min)
				}
			}
			name := strings.TrimSuffix(ws.Name, ":0")
			if out[name] != nil {
				return nil, fmt.Errorf("%w: weight %s appears twice in the manifest", ErrFormat, name)
			}
			out[name] = &weight{shape: slices.Clone(ws.Shape), values: v}
		}
		if off != len(data) {
			return nil, fmt.Errorf("%w: group %d's shards hold %d bytes but its weights' shapes account for %d: the manifest's shapes disagree with the shards", ErrFormat, gi+1, len(data), off)
		}
	}
	return out, nil
}

func elements(shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 || d > MaxWeights {
			return 0, fmt.Errorf("dimension %d in shape %v", d, shape)
		}
		if n *= d; n > MaxWeights {
			return 0, fmt.Errorf("shape %v has more than %d values", shape, MaxWeights)
		}
	}
	return n, nil
}

// setMeta gives g its preprocessing and class lists.
func setMeta(g *nn.Graph, meta map[string]json.RawMessage, files map[string][]byte) error {
	g.Preprocess = nn.Preprocess{Std: [3]float32{1, 1, 1}, Resize: nn.ResizeStretch}
	if raw, ok := meta[metadataKey]; ok {
		var fm struct {
			Preprocess *nn.Preprocess `json:"preprocess"`
			Classes    []string       `json:"classes"`
			Names      []string       `json:"names"`
		}
		if err := json.Unmarshal(raw, &fm); err != nil {
			return fmt.Errorf("%w: userDefinedMetadata.%s: %v", ErrFormat, metadataKey, err)
		}
		if fm.Preprocess != nil {
			if err := fm.Preprocess.Check(); err != nil {
				return fmt.Errorf("%w: userDefinedMetadata.%s.preprocess: %v", ErrFormat, metadataKey, err)
			}
			g.Preprocess = *fm.Preprocess
		}
		g.Classes, g.Names = fm.Classes, fm.Names
	}
	outputs := nn.Size(g.Output().Shape)
	for _, f := range []struct {
		name string
		dst  *[]string
	}{{labelsName, &g.Classes}, {namesName, &g.Names}} {
		b, ok := files[f.name]
		if !ok {
			continue
		}
		lines := ReadLines(b)
		if len(lines) != outputs {
			return fmt.Errorf("%w: %s has %d lines but the model has %d outputs", ErrFormat, f.name, len(lines), outputs)
		}
		*f.dst = lines
	}
	if len(g.Classes) != 0 && len(g.Classes) != outputs || len(g.Names) != 0 && len(g.Names) != outputs {
		return fmt.Errorf("%w: the model's class list does not match its %d outputs", ErrFormat, outputs)
	}
	return nil
}

// ReadLines splits a label file into its lines, trimmed, dropping a final empty line.
func ReadLines(b []byte) []string {
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	lines := strings.Split(s, "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return lines
}
