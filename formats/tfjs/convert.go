package tfjs

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"fourbit/nn"
)

// layerConfig holds every config field the converted layers read.
type layerConfig struct {
	commonConfig
	Filters         int             `json:"filters"`
	KernelSize      json.RawMessage `json:"kernel_size"`
	Strides         json.RawMessage `json:"strides"`
	PoolSize        json.RawMessage `json:"pool_size"`
	DilationRate    json.RawMessage `json:"dilation_rate"`
	Padding         json.RawMessage `json:"padding"`
	UseBias         *bool           `json:"use_bias"`
	Groups          int             `json:"groups"`
	DepthMultiplier int             `json:"depth_multiplier"`
	Units           int             `json:"units"`
	Axis            json.RawMessage `json:"axis"`
	Epsilon         *float64        `json:"epsilon"`
	Center          *bool           `json:"center"`
	Scale           *bool           `json:"scale"`
	Alpha           *float64        `json:"alpha"`
	NegativeSlope   *float64        `json:"negative_slope"`
	MaxValue        *float64        `json:"max_value"`
	Threshold       *float64        `json:"threshold"`
	KeepDims        bool            `json:"keepdims"`
}

// pair reads an int or a list of two ints (Keras's kernel_size, strides, …); def when absent.
func pair(raw json.RawMessage, def int) ([2]int, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return [2]int{def, def}, nil
	}
	var one int
	if json.Unmarshal(raw, &one) == nil {
		return [2]int{one, one}, nil
	}
	var two []int
	if err := json.Unmarshal(raw, &two); err != nil || len(two) != 2 {
		return [2]int{}, fmt.Errorf("want an int or two ints, got %s", raw)
	}
	return [2]int{two[0], two[1]}, nil
}

// samePad is TensorFlow's "same" padding of one axis: out = ⌈in/s⌉, the total padding split
// with the extra one at the end.
func samePad(in, k, s, d int) (before, after int) {
	eff := (k-1)*d + 1
	out := (in + s - 1) / s
	total := max((out-1)*s+eff-in, 0)
	return total / 2, total - total/2
}

// pads returns the per-side padding of a window op on a C×H×W input.
func pads(padding json.RawMessage, in []int, k, s, d [2]int) (t, l, bo, r int, err error) {
	mode := "valid"
	if len(padding) > 0 {
		if err := json.Unmarshal(padding, &mode); err != nil {
			return 0, 0, 0, 0, fmt.Errorf("padding %s", padding)
		}
	}
	switch mode {
	case "valid":
		return 0, 0, 0, 0, nil
	case "same":
		t, bo = samePad(in[1], k[0], s[0], d[0])
		l, r = samePad(in[2], k[1], s[1], d[1])
		return t, l, bo, r, nil
	}
	return 0, 0, 0, 0, fmt.Errorf("padding %q (want same or valid)", mode)
}

// weight returns the weight param of layer (named "layer/param", possibly under a model
// prefix), checking its shape.
func (b *builder) weight(layer, param string, shape ...int) ([]float32, error) {
	key := layer + "/" + param
	w := b.weights[key]
	if w == nil {
		var found []string
		for name := range b.weights {
			if strings.HasSuffix(name, "/"+key) {
				found = append(found, name)
			}
		}
		if len(found) != 1 {
			return nil, fmt.Errorf("weight %s is not in the manifest (or is ambiguous: %v)", key, found)
		}
		key = found[0]
		w = b.weights[key]
	}
	if !slices.Equal(w.shape, shape) {
		return nil, fmt.Errorf("weight %s has shape %v, want %v", key, w.shape, shape)
	}
	b.used[key] = true
	return w.values, nil
}

func (b *builder) add(name string, op nn.Op, ins ...*nn.Node) (*tensor, error) {
	n, err := b.g.Add(name, op, ins...)
	if err != nil {
		return nil, err
	}
	return &tensor{node: n}, nil
}

// activate appends a layer's activation attribute.
func (b *builder) activate(t *tensor, layer, act string) (*tensor, error) {
	switch act {
	case "", "linear":
		return t, nil
	case "relu":
		return b.add(layer+"/relu", nn.ReLU{}, t.node)
	case "relu6":
		return b.add(layer+"/relu6", nn.Clip{Lo: 0, Hi: 6}, t.node)
	case "hard_sigmoid":
		return b.add(layer+"/hard_sigmoid", nn.HardSigmoid{Alpha: 0.2, Beta: 0.5}, t.node)
	case "softmax":
		return b.add(layer+"/softmax", nn.Softmax{}, t.node)
	}
	return nil, fmt.Errorf("activation %q", act)
}

func isMap(t *tensor) error {
	if len(t.node.Shape) != 3 {
		return fmt.Errorf("input of shape %v is not an H×W×C map", t.node.Shape)
	}
	return nil
}

// layer converts one Keras layer applied to ins.
func (b *builder) layer(l *layer, ins []*tensor) (*tensor, error) {
	var c layerConfig
	if err := json.Unmarshal(l.Config, &c); err != nil {
		return nil, fmt.Errorf("config: %v", err)
	}
	if slices.Contains(identity, l.ClassName) {
		return ins[0], nil
	}
	if len(ins) != 1 && l.ClassName != "Add" && l.ClassName != "Concatenate" {
		return nil, fmt.Errorf("%d inputs, want 1", len(ins))
	}
	x := ins[0]
	switch l.ClassName {
	case "Conv2D", "DepthwiseConv2D":
		if err := isMap(x); err != nil {
			return nil, err
		}
		k, err := pair(c.KernelSize, 1)
		if err != nil {
			return nil, fmt.Errorf("kernel_size: %v", err)
		}
		s, err := pair(c.Strides, 1)
		if err != nil {
			return nil, fmt.Errorf("strides: %v", err)
		}
		d, err := pair(c.DilationRate, 1)
		if err != nil {
			return nil, fmt.Errorf("dilation_rate: %v", err)
		}
		for _, v := range []int{k[0], k[1], s[0], s[1], d[0], d[1]} {
			if v <= 0 || v > maxDimension {
				return nil, fmt.Errorf("kernel %v, strides %v, dilation %v", k, s, d)
			}
		}
		inC := x.node.Shape[0]
		conv := &nn.Conv{KH: k[0], KW: k[1], StrideH: s[0], StrideW: s[1], DilH: d[0], DilW: d[1]}
		conv.PadT, conv.PadL, conv.PadB, conv.PadR, err = pads(c.Padding, x.node.Shape, k, s, d)
		if err != nil {
			return nil, err
		}
		var kernel []float32
		if l.ClassName == "Conv2D" {
			groups := max(c.Groups, 1)
			if c.Filters <= 0 || c.Filters > maxDimension || inC%groups != 0 || c.Filters%groups != 0 {
				return nil, fmt.Errorf("%d filters in %d groups on %d channels", c.Filters, groups, inC)
			}
			if kernel, err = b.weight(l.Name, "kernel", k[0], k[1], inC/groups, c.Filters); err != nil {
				return nil, err
			}
			conv.OutC, conv.Groups = c.Filters, groups
			conv.W = hwioToOIHW(kernel, k[0], k[1], inC/groups, c.Filters)
		} else {
			m := max(c.DepthMultiplier, 1)
			if m > maxDimension {
				return nil, fmt.Errorf("depth multiplier %d", m)
			}
			if kernel, err = b.weight(l.Name, "depthwise_kernel", k[0], k[1], inC, m); err != nil {
				return nil, err
			}
			// H×W×C×M: output channel c·M + m reads input channel c.
			conv.OutC, conv.Groups = inC*m, inC
			conv.W = hwioToOIHW(kernel, k[0], k[1], 1, inC*m)
		}
		if c.UseBias == nil || *c.UseBias {
			if conv.B, err = b.weight(l.Name, "bias", conv.OutC); err != nil {
				return nil, err
			}
		}
		t, err := b.add(l.Name, conv, x.node)
		if err != nil {
			return nil, err
		}
		return b.activate(t, l.Name, c.Activation)
	case "BatchNormalization":
		if _, err := channelAxis(c.Axis, len(x.node.Shape)); err != nil {
			return nil, err
		}
		var err error
		ch := x.node.Shape[0]
		bn := &nn.BatchNorm{Eps: 1e-3}
		if c.Epsilon != nil {
			bn.Eps = *c.Epsilon
		}
		if c.Scale == nil || *c.Scale {
			if bn.Gamma, err = b.weight(l.Name, "gamma", ch); err != nil {
				return nil, err
			}
		} else {
			bn.Gamma = filled(ch, 1)
		}
		if c.Center == nil || *c.Center {
			if bn.Beta, err = b.weight(l.Name, "beta", ch); err != nil {
				return nil, err
			}
		} else {
			bn.Beta = filled(ch, 0)
		}
		if bn.Mean, err = b.weight(l.Name, "moving_mean", ch); err != nil {
			return nil, err
		}
		if bn.Var, err = b.weight(l.Name, "moving_variance", ch); err != nil {
			return nil, err
		}
		for _, v := range bn.Var {
			if !(float64(v)+bn.Eps > 0) {
				return nil, fmt.Errorf("moving variance %g", v)
			}
		}
		return b.add(l.Name, bn, x.node)
	case "ReLU":
		slope := 0.0
		if c.NegativeSlope != nil {
			slope = *c.NegativeSlope
		}
		if c.Threshold != nil && *c.Threshold != 0 {
			return nil, fmt.Errorf("a thresholded ReLU (threshold %g) is not supported", *c.Threshold)
		}
		switch {
		case c.MaxValue != nil && slope == 0:
			return b.add(l.Name, nn.Clip{Lo: 0, Hi: float32(*c.MaxValue)}, x.node)
		case c.MaxValue != nil:
			return nil, fmt.Errorf("a ReLU with both max_value and negative_slope is not supported")
		case slope != 0:
			return b.add(l.Name, nn.LeakyReLU{Alpha: float32(slope)}, x.node)
		}
		return b.add(l.Name, nn.ReLU{}, x.node)
	case "LeakyReLU":
		alpha := defaultLeaky
		if c.Alpha != nil {
			alpha = *c.Alpha
		} else if c.NegativeSlope != nil {
			alpha = *c.NegativeSlope
		}
		return b.add(l.Name, nn.LeakyReLU{Alpha: float32(alpha)}, x.node)
	case "Activation":
		return b.activate(x, l.Name, c.Activation)
	case "Softmax":
		return b.add(l.Name, nn.Softmax{}, x.node)
	case "MaxPooling2D", "AveragePooling2D":
		if err := isMap(x); err != nil {
			return nil, err
		}
		k, err := pair(c.PoolSize, 2)
		if err != nil {
			return nil, fmt.Errorf("pool_size: %v", err)
		}
		s := k
		if len(c.Strides) > 0 && string(c.Strides) != "null" {
			if s, err = pair(c.Strides, 1); err != nil {
				return nil, fmt.Errorf("strides: %v", err)
			}
		}
		p := nn.Pool{Max: l.ClassName == "MaxPooling2D", KH: k[0], KW: k[1], StrideH: s[0], StrideW: s[1], ExcludePad: true}
		if p.PadT, p.PadL, p.PadB, p.PadR, err = pads(c.Padding, x.node.Shape, k, s, [2]int{1, 1}); err != nil {
			return nil, err
		}
		return b.add(l.Name, p, x.node)
	case "GlobalAveragePooling2D":
		if err := isMap(x); err != nil {
			return nil, err
		}
		return b.add(l.Name, nn.GlobalAvgPool{KeepDims: c.KeepDims}, x.node)
	case "GlobalMaxPooling2D":
		if err := isMap(x); err != nil {
			return nil, err
		}
		h, w := x.node.Shape[1], x.node.Shape[2]
		name := l.Name
		if !c.KeepDims {
			name += "/pool"
		}
		t, err := b.add(name, nn.Pool{Max: true, KH: h, KW: w, StrideH: 1, StrideW: 1}, x.node)
		if err != nil || c.KeepDims {
			return t, err
		}
		return b.add(l.Name, nn.Flatten{}, t.node)
	case "Flatten":
		if len(x.node.Shape) == 1 {
			return x, nil
		}
		t, err := b.add(l.Name, nn.Flatten{}, x.node)
		if err != nil {
			return nil, err
		}
		t.flat = slices.Clone(x.node.Shape)
		return t, nil
	case "Dense":
		if len(x.node.Shape) != 1 {
			return nil, fmt.Errorf("a Dense layer on a %v tensor (fourbit reads Dense layers on vectors: Flatten or pool first)", x.node.Shape)
		}
		in := x.node.Shape[0]
		if c.Units <= 0 || c.Units > 1<<20 {
			return nil, fmt.Errorf("%d units", c.Units)
		}
		kernel, err := b.weight(l.Name, "kernel", in, c.Units)
		if err != nil {
			return nil, err
		}
		lin := &nn.Linear{In: in, Out: c.Units, W: make([]float32, in*c.Units)}
		for r := 0; r < in; r++ {
			// Keras row r of a flattened C×H×W map is pixel r/C, channel r%C.
			dst := r
			if f := x.flat; f != nil {
				pix, ch := r/f[0], r%f[0]
				dst = ch*f[1]*f[2] + pix
			}
			for o := 0; o < c.Units; o++ {
				lin.W[o*in+dst] = kernel[r*c.Units+o]
			}
		}
		if c.UseBias == nil || *c.UseBias {
			if lin.B, err = b.weight(l.Name, "bias", c.Units); err != nil {
				return nil, err
			}
		}
		t, err := b.add(l.Name, lin, x.node)
		if err != nil {
			return nil, err
		}
		return b.activate(t, l.Name, c.Activation)
	case "Add":
		if len(ins) < 2 {
			return nil, fmt.Errorf("%d inputs, want 2 or more", len(ins))
		}
		acc := ins[0]
		for i, t := range ins[1:] {
			name := l.Name
			if i < len(ins)-2 {
				name = fmt.Sprintf("%s/%d", l.Name, i+1)
			}
			var err error
			if acc, err = b.add(name, nn.Add{}, acc.node, t.node); err != nil {
				return nil, err
			}
		}
		return acc, nil
	case "Concatenate":
		if _, err := channelAxis(c.Axis, len(x.node.Shape)); err != nil {
			return nil, err
		}
		nodes := make([]*nn.Node, len(ins))
		for i, t := range ins {
			nodes[i] = t.node
		}
		return b.add(l.Name, nn.Concat{}, nodes...)
	case "ZeroPadding2D":
		if err := isMap(x); err != nil {
			return nil, err
		}
		t, l2, bo, r, err := zeroPadding(c.Padding)
		if err != nil {
			return nil, err
		}
		return b.add(l.Name, nn.Pad{T: t, L: l2, B: bo, R: r}, x.node)
	}
	return nil, fmt.Errorf("not supported")
}

// channelAxis accepts the last axis (Keras's channels in NHWC), as -1 or its index.
func channelAxis(raw json.RawMessage, rank int) (int, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return -1, nil
	}
	var a int
	if err := json.Unmarshal(raw, &a); err != nil {
		var list []int
		if err := json.Unmarshal(raw, &list); err != nil || len(list) != 1 {
			return 0, fmt.Errorf("axis %s", raw)
		}
		a = list[0]
	}
	if a == -1 || a == rank { // rank counts the batch axis out: NHWC's channel axis is 3 for a map
		return a, nil
	}
	return 0, fmt.Errorf("axis %d: fourbit reads layers over the channel (last) axis", a)
}

func zeroPadding(raw json.RawMessage) (t, l, b, r int, err error) {
	var one int
	var two []int
	var four [][]int
	switch {
	case json.Unmarshal(raw, &one) == nil:
		t, l, b, r = one, one, one, one
	case json.Unmarshal(raw, &two) == nil && len(two) == 2:
		t, b, l, r = two[0], two[0], two[1], two[1]
	case json.Unmarshal(raw, &four) == nil && len(four) == 2 && len(four[0]) == 2 && len(four[1]) == 2:
		t, b, l, r = four[0][0], four[0][1], four[1][0], four[1][1]
	default:
		return 0, 0, 0, 0, fmt.Errorf("padding %s", raw)
	}
	for _, v := range []int{t, l, b, r} {
		if v < 0 || v > maxDimension {
			return 0, 0, 0, 0, fmt.Errorf("padding %s", raw)
		}
	}
	return t, l, b, r, nil
}

// hwioToOIHW transposes a Keras kernel (H×W×I×O) into fourbit's O×I×H×W.
func hwioToOIHW(k []float32, h, w, in, out int) []float32 {
	dst := make([]float32, len(k))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for i := 0; i < in; i++ {
				for o := 0; o < out; o++ {
					dst[((o*in+i)*h+y)*w+x] = k[((y*w+x)*in+i)*out+o]
				}
			}
		}
	}
	return dst
}

func filled(n int, v float32) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = v
	}
	return s
}
