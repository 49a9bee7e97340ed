package tfjs

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"fourbit/nn"
)

// layer is one Keras layer of the topology.
type layer struct {
	Name      string          `json:"name"`
	ClassName string          `json:"class_name"`
	Config    json.RawMessage `json:"config"`
	Inbound   json.RawMessage `json:"inbound_nodes"`
	inputs    []string
}

type topology struct {
	layers  []*layer
	inputs  []string
	outputs []string
}

// parseTopology reads a Keras model config: a functional Model (Keras 2 "Model", Keras 3
// "Functional") or a Sequential, bare or wrapped in "model_config".
func parseTopology(raw json.RawMessage) (*topology, error) {
	if len(raw) == 0 {
		return nil, fmt.Errorf("%w: model.json has no modelTopology", ErrFormat)
	}
	var top struct {
		ClassName   string          `json:"class_name"`
		Config      json.RawMessage `json:"config"`
		ModelConfig json.RawMessage `json:"model_config"`
	}
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, fmt.Errorf("%w: modelTopology: %v", ErrFormat, err)
	}
	if top.ModelConfig != nil {
		return parseTopology(top.ModelConfig)
	}
	t := &topology{}
	switch top.ClassName {
	case "Model", "Functional":
		var cfg struct {
			Layers  []*layer          `json:"layers"`
			Inputs  []json.RawMessage `json:"input_layers"`
			Outputs []json.RawMessage `json:"output_layers"`
		}
		if err := json.Unmarshal(top.Config, &cfg); err != nil {
			return nil, fmt.Errorf("%w: model config: %v", ErrFormat, err)
		}
		t.layers = cfg.Layers
		var err error
		if t.inputs, err = layerRefs(cfg.Inputs); err != nil {
			return nil, err
		}
		if t.outputs, err = layerRefs(cfg.Outputs); err != nil {
			return nil, err
		}
		for _, l := range t.layers {
			if l == nil {
				return nil, fmt.Errorf("%w: a null layer in the model config", ErrFormat)
			}
			if l.inputs, err = inboundNames(l.Inbound); err != nil {
				return nil, fmt.Errorf("%w: layer %s: %v", ErrFormat, l.Name, err)
			}
		}
	case "Sequential":
		var layers []*layer
		if err := json.Unmarshal(top.Config, &layers); err != nil {
			var cfg struct {
				Layers []*layer `json:"layers"`
			}
			if err := json.Unmarshal(top.Config, &cfg); err != nil {
				return nil, fmt.Errorf("%w: sequential config: %v", ErrFormat, err)
			}
			layers = cfg.Layers
		}
		if len(layers) == 0 || layers[0] == nil {
			return nil, fmt.Errorf("%w: a Sequential model with no layers", ErrFormat)
		}
		// The input is the first layer's batch_input_shape, or an explicit InputLayer.
		prev := "input"
		if layers[0].ClassName != "InputLayer" {
			in := &layer{Name: prev, ClassName: "InputLayer", Config: layers[0].Config}
			t.layers = append(t.layers, in)
		} else {
			prev = layers[0].Name
		}
		t.inputs = []string{prev}
		for i, l := range layers {
			if l == nil {
				return nil, fmt.Errorf("%w: a null layer in the model config", ErrFormat)
			}
			if l.Name == "" {
				var c struct {
					Name string `json:"name"`
				}
				_ = json.Unmarshal(l.Config, &c)
				l.Name = c.Name
			}
			if i > 0 || l.ClassName != "InputLayer" {
				l.inputs = []string{prev}
				t.layers = append(t.layers, l)
			} else {
				t.layers = append(t.layers, l)
			}
			prev = l.Name
		}
		t.outputs = []string{prev}
	case "":
		return nil, fmt.Errorf("%w: modelTopology has no class_name", ErrFormat)
	default:
		return nil, fmt.Errorf("%w: a %s model (fourbit reads Keras Model/Functional and Sequential models)", ErrFormat, top.ClassName)
	}
	if len(t.layers) > MaxLayers {
		return nil, fmt.Errorf("%w: %d layers (at most %d)", ErrFormat, len(t.layers), MaxLayers)
	}
	if len(t.inputs) != 1 || len(t.outputs) != 1 {
		return nil, fmt.Errorf("%w: the model has %d inputs and %d outputs; fourbit reads networks with one image input and one output", ErrFormat, len(t.inputs), len(t.outputs))
	}
	return t, nil
}

// layerRefs reads input_layers/output_layers: [["name", 0, 0], …] (Keras 3 may write one
// reference without the outer list).
func layerRefs(refs []json.RawMessage) ([]string, error) {
	var out []string
	for _, r := range refs {
		var ref []json.RawMessage
		if err := json.Unmarshal(r, &ref); err != nil || len(ref) == 0 {
			var name string
			if json.Unmarshal(r, &name) == nil {
				return []string{name}, nil // a single bare reference ["name", 0, 0]
			}
			return nil, fmt.Errorf("%w: bad layer reference %s", ErrFormat, r)
		}
		var name string
		if err := json.Unmarshal(ref[0], &name); err != nil {
			return nil, fmt.Errorf("%w: bad layer reference %s", ErrFormat, r)
		}
		out = append(out, name)
	}
	return out, nil
}

// inboundNames reads a layer's inbound_nodes in the Keras 2 form [[["name", 0, 0, {}], …]]
// or the Keras 3 form [{"args": [ {keras_history: ["name", 0, 0]} … ]}]. A layer called
// more than once (a shared layer) is refused.
func inboundNames(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var nodes []json.RawMessage
	if err := json.Unmarshal(raw, &nodes); err != nil {
		return nil, fmt.Errorf("inbound_nodes: %v", err)
	}
	if len(nodes) == 0 {
		return nil, nil
	}
	if len(nodes) > 1 {
		return nil, fmt.Errorf("the layer is called %d times (shared layers are not supported)", len(nodes))
	}
	var keras2 [][]json.RawMessage
	if err := json.Unmarshal(nodes[0], &keras2); err == nil {
		var names []string
		for _, ref := range keras2 {
			var name string
			if len(ref) == 0 || json.Unmarshal(ref[0], &name) != nil {
				return nil, fmt.Errorf("bad inbound reference")
			}
			names = append(names, name)
		}
		return names, nil
	}
	var keras3 struct {
		Args json.RawMessage `json:"args"`
	}
	if err := json.Unmarshal(nodes[0], &keras3); err != nil {
		return nil, fmt.Errorf("inbound_nodes: %v", err)
	}
	var names []string
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		if depth > 16 {
			return
		}
		switch x := v.(type) {
		case map[string]any:
			if h, ok := x["keras_history"].([]any); ok && len(h) > 0 {
				if s, ok := h[0].(string); ok {
					names = append(names, s)
				}
				return
			}
			for _, k := range []string{"config"} {
				if c, ok := x[k]; ok {
					walk(c, depth+1)
				}
			}
		case []any:
			for _, e := range x {
				walk(e, depth+1)
			}
		}
	}
	var args any
	if err := json.Unmarshal(keras3.Args, &args); err != nil {
		return nil, fmt.Errorf("inbound_nodes args: %v", err)
	}
	walk(args, 0)
	return names, nil
}

// tensor is a Keras tensor as the graph holds it; flat is the C×H×W shape of the map a
// Flatten made this vector from (Keras flattens H·W·C, fourbit C·H·W).
type tensor struct {
	node *nn.Node
	flat []int
}

type builder struct {
	g       *nn.Graph
	weights map[string]*weight
	used    map[string]bool
	tensors map[string]*tensor
}

// supported are the layer classes the reader converts; identity layers pass their input on.
var (
	supported = []string{"InputLayer", "Conv2D", "DepthwiseConv2D", "BatchNormalization", "ReLU", "LeakyReLU",
		"Activation", "Softmax", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D",
		"Dense", "Flatten", "Add", "Concatenate", "ZeroPadding2D", "Dropout", "SpatialDropout2D", "GaussianNoise",
		"GaussianDropout", "AlphaDropout", "ActivityRegularization"}
	identity = []string{"Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization"}
	// activations maps Keras activation names to what the graph computes.
	activations = map[string]bool{"linear": true, "relu": true, "relu6": true, "softmax": true, "hard_sigmoid": true}
)

// commonConfig are the config fields several layers share.
type commonConfig struct {
	BatchInputShape []*int `json:"batch_input_shape"`
	BatchShape      []*int `json:"batch_shape"`
	DataFormat      string `json:"data_format"`
	Activation      string `json:"activation"`
}

func (b *builder) build(t *topology, opts Options) (*nn.Graph, error) {
	byName := map[string]*layer{}
	for _, l := range t.layers {
		if l.Name == "" {
			return nil, fmt.Errorf("%w: a layer without a name", ErrFormat)
		}
		if byName[l.Name] != nil {
			return nil, fmt.Errorf("%w: two layers are named %q", ErrFormat, l.Name)
		}
		byName[l.Name] = l
	}
	// The layers the output needs, in an order where inputs come first.
	var order []*layer
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name string, depth int) error
	visit = func(name string, depth int) error {
		l := byName[name]
		if l == nil {
			return fmt.Errorf("%w: no layer named %q (an input of another layer)", ErrFormat, name)
		}
		switch state[name] {
		case 1:
			return fmt.Errorf("%w: the layers form a cycle through %q", ErrFormat, name)
		case 2:
			return nil
		}
		if depth > MaxLayers {
			return fmt.Errorf("%w: the layer graph is too deep", ErrFormat)
		}
		state[name] = 1
		for _, in := range l.inputs {
			if err := visit(in, depth+1); err != nil {
				return err
			}
		}
		state[name] = 2
		order = append(order, l)
		return nil
	}
	if err := visit(t.outputs[0], 0); err != nil {
		return nil, err
	}
	// Every unsupported layer, listed at once.
	var bad []string
	for _, l := range order {
		var c commonConfig
		_ = json.Unmarshal(l.Config, &c)
		switch {
		case !slices.Contains(supported, l.ClassName):
			bad = append(bad, fmt.Sprintf("%s (%s)", l.Name, l.ClassName))
		case c.Activation != "" && !activations[c.Activation]:
			bad = append(bad, fmt.Sprintf("%s (%s with activation %q)", l.Name, l.ClassName, c.Activation))
		case c.DataFormat == channelsFirst:
			bad = append(bad, fmt.Sprintf("%s (%s, channels_first)", l.Name, l.ClassName))
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%w: unsupported layers: %s (fourbit reads %s; activations %s)", ErrFormat,
			strings.Join(bad, ", "), strings.Join(supported, ", "), strings.Join(sortedKeys(activations), ", "))
	}
	if order[0].ClassName != "InputLayer" || order[0].Name != t.inputs[0] {
		return nil, fmt.Errorf("%w: the output does not depend on the input layer %q alone", ErrFormat, t.inputs[0])
	}
	for _, l := range order {
		if l.ClassName == "InputLayer" {
			if l != order[0] {
				return nil, fmt.Errorf("%w: a second input layer %q", ErrFormat, l.Name)
			}
			if err := b.input(l, opts); err != nil {
				return nil, err
			}
			continue
		}
		ins := make([]*tensor, len(l.inputs))
		for i, name := range l.inputs {
			ins[i] = b.tensors[name]
		}
		if len(ins) == 0 {
			return nil, fmt.Errorf("%w: layer %s has no input", ErrFormat, l.Name)
		}
		out, err := b.layer(l, ins)
		if err != nil {
			return nil, fmt.Errorf("%w: layer %s (%s): %v", ErrFormat, l.Name, l.ClassName, err)
		}
		b.tensors[l.Name] = out
	}
	// The layers are added in dependency order from the output, so the output's node is the
	// graph's last (a trailing identity layer maps to the node before it).
	if len(b.g.Nodes) == 1 {
		return nil, fmt.Errorf("%w: the model computes nothing", ErrFormat)
	}
	return b.g, nil
}

func sortedKeys(m map[string]bool) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	slices.Sort(k)
	return k
}

func (b *builder) input(l *layer, opts Options) error {
	var c commonConfig
	if err := json.Unmarshal(l.Config, &c); err != nil {
		return fmt.Errorf("%w: input layer %s: %v", ErrFormat, l.Name, err)
	}
	shape := c.BatchInputShape
	if shape == nil {
		shape = c.BatchShape
	}
	if len(shape) != 4 {
		return fmt.Errorf("%w: input %s has shape %s; fourbit reads CNNs with an N×H×W×C image input", ErrFormat, l.Name, fmtShape(shape))
	}
	hwc := make([]int, 3)
	for i, d := range shape[1:] {
		if d != nil {
			hwc[i] = *d
		}
	}
	if len(opts.InputShape) == 3 {
		want := []int{opts.InputShape[1], opts.InputShape[2], opts.InputShape[0]}
		for i := range hwc {
			if hwc[i] != 0 && hwc[i] != want[i] {
				return fmt.Errorf("%w: input %s is %s; the input shape given (%v, C×H×W) disagrees", ErrFormat, l.Name, fmtShape(shape), opts.InputShape)
			}
			hwc[i] = want[i]
		}
	}
	for _, d := range hwc {
		if d <= 0 || d > maxDimension {
			return fmt.Errorf("%w: input %s has shape %s; give its size (e.g. --input-shape 3x224x224)", ErrFormat, l.Name, fmtShape(shape))
		}
	}
	if hwc[0]*hwc[1]*hwc[2] > maxInput {
		return fmt.Errorf("%w: input %s of %d×%d×%d values is larger than the %d fourbit takes", ErrFormat, l.Name, hwc[0], hwc[1], hwc[2], maxInput)
	}
	b.g = nn.NewGraph(hwc[2], hwc[0], hwc[1])
	b.tensors[l.Name] = &tensor{node: b.g.Input()}
	return nil
}

func fmtShape(s []*int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		if d == nil {
			parts[i] = "?"
		} else {
			parts[i] = fmt.Sprint(*d)
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
