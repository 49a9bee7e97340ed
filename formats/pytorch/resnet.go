package pytorch

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"fourbit/nn"
)

// CIFAR10Classes is the class order of CIFAR-10 (and of the networks trained on it).
var CIFAR10Classes = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

// CIFARPreprocess is the normalisation the CIFAR ResNets of akamaster/pytorch_resnet_cifar10
// were trained with (ImageNet's mean and standard deviation).
var CIFARPreprocess = nn.Preprocess{Mean: [3]float32{0.485, 0.456, 0.406}, Std: [3]float32{0.229, 0.224, 0.225}}

// BNEpsilon is PyTorch's default batch-norm epsilon.
const BNEpsilon = 1e-5

var blockKey = regexp.MustCompile(`^layer(\d+)\.(\d+)\.`)

// LoadFile reads a checkpoint and builds the network it holds, with batch norm folded into
// the convolutions.
func LoadFile(path string) (*nn.Graph, error) {
	sd, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	g, err := BuildCIFARResNet(sd)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return nn.FoldBatchNorm(g)
}

// Load is LoadFile for a checkpoint held in memory.
func Load(data []byte) (*nn.Graph, error) {
	sd, err := Read(data)
	if err != nil {
		return nil, err
	}
	g, err := BuildCIFARResNet(sd)
	if err != nil {
		return nil, err
	}
	return nn.FoldBatchNorm(g)
}

// BuildCIFARResNet recognises a CIFAR ResNet (He et al. 2016, §4.2: conv3×3 + BN + ReLU,
// stages of BasicBlocks, global average pooling, a linear classifier) from the keys and
// shapes of its state dict and returns it with explicit BatchNorm nodes. The depth, the
// number of stages and blocks, the widths and the number of classes come from the tensors; a
// block whose width or resolution changes has stride 2 and either the "option A" shortcut
// (every second pixel, channels zero-padded by planes/4 on each side) or, when the state dict
// has shortcut.0/shortcut.1 tensors, the "option B" 1×1 convolution + BN. Unknown keys and
// inconsistent shapes are errors that name them.
func BuildCIFARResNet(sd map[string]*Tensor) (*nn.Graph, error) {
	used := map[string]bool{}
	get := func(key string, shape ...int) (*Tensor, error) {
		t, ok := sd[key]
		if !ok {
			return nil, fmt.Errorf("missing tensor %s", key)
		}
		if shape != nil && !slices.Equal(t.Shape, shape) {
			return nil, fmt.Errorf("tensor %s has shape %v, want %v", key, t.Shape, shape)
		}
		used[key] = true
		return t, nil
	}
	conv := func(key string, cin int) (*nn.Conv, error) {
		t, ok := sd[key+".weight"]
		if !ok {
			return nil, fmt.Errorf("missing tensor %s.weight", key)
		}
		if len(t.Shape) != 4 || t.Shape[1] != cin || t.Shape[2] != t.Shape[3] || t.Shape[2]%2 == 0 || t.Shape[0] <= 0 {
			return nil, fmt.Errorf("tensor %s.weight has shape %v, want [out %d k k] with odd k", key, t.Shape, cin)
		}
		used[key+".weight"] = true
		k := t.Shape[2]
		return &nn.Conv{W: t.Data, OutC: t.Shape[0], KH: k, KW: k, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1,
			PadT: k / 2, PadL: k / 2, PadB: k / 2, PadR: k / 2, Groups: 1}, nil
	}
	bn := func(key string, c int) (*nn.BatchNorm, error) {
		var ts [4]*Tensor
		for i, name := range []string{"weight", "bias", "running_mean", "running_var"} {
			t, err := get(key+"."+name, c)
			if err != nil {
				return nil, err
			}
			ts[i] = t
		}
		used[key+".num_batches_tracked"] = true
		for i, v := range ts[3].Data {
			if !(v >= 0) {
				return nil, fmt.Errorf("tensor %s.running_var[%d] = %v", key, i, v)
			}
		}
		return &nn.BatchNorm{Gamma: ts[0].Data, Beta: ts[1].Data, Mean: ts[2].Data, Var: ts[3].Data, Eps: BNEpsilon}, nil
	}

	// Count stages and blocks from the keys.
	blocks := map[int]int{}
	for k := range sd {
		if m := blockKey.FindStringSubmatch(k); m != nil {
			s, _ := strconv.Atoi(m[1])
			b, _ := strconv.Atoi(m[2])
			if s > 64 || b > 1024 {
				return nil, fmt.Errorf("implausible block %s", k)
			}
			blocks[s] = max(blocks[s], b+1)
		}
	}
	if len(blocks) == 0 {
		return nil, fmt.Errorf("not a CIFAR ResNet: no layerN.M.* tensors (keys: %s)", strings.Join(firstKeys(sd, 8), ", "))
	}
	for s := 1; s <= len(blocks); s++ {
		if blocks[s] == 0 {
			return nil, fmt.Errorf("not a CIFAR ResNet: stage layer%d missing", s)
		}
	}

	g := nn.NewGraph(3, 32, 32)
	g.Preprocess = CIFARPreprocess
	add := func(name string, op nn.Op, in ...*nn.Node) (*nn.Node, error) { return g.Add(name, op, in...) }

	c1, err := conv("conv1", 3)
	if err != nil {
		return nil, err
	}
	x, err := add("conv1", c1, g.Input())
	if err != nil {
		return nil, err
	}
	b1, err := bn("bn1", c1.OutC)
	if err != nil {
		return nil, err
	}
	if x, err = add("bn1", b1, x); err != nil {
		return nil, err
	}
	if x, err = add("relu", nn.ReLU{}, x); err != nil {
		return nil, err
	}
	planes := c1.OutC
	for s := 1; s <= len(blocks); s++ {
		for b := 0; b < blocks[s]; b++ {
			p := fmt.Sprintf("layer%d.%d", s, b)
			ca, err := conv(p+".conv1", planes)
			if err != nil {
				return nil, err
			}
			out := ca.OutC
			stride := 1
			if out != planes {
				stride = 2
			}
			ca.StrideH, ca.StrideW = stride, stride
			h, err := add(p+".conv1", ca, x)
			if err != nil {
				return nil, err
			}
			bna, err := bn(p+".bn1", out)
			if err != nil {
				return nil, err
			}
			if h, err = add(p+".bn1", bna, h); err != nil {
				return nil, err
			}
			if h, err = add(p+".relu1", nn.ReLU{}, h); err != nil {
				return nil, err
			}
			cb, err := conv(p+".conv2", out)
			if err != nil {
				return nil, err
			}
			if cb.OutC != out {
				return nil, fmt.Errorf("%s.conv2 has %d outputs, block width %d", p, cb.OutC, out)
			}
			if h, err = add(p+".conv2", cb, h); err != nil {
				return nil, err
			}
			bnb, err := bn(p+".bn2", out)
			if err != nil {
				return nil, err
			}
			if h, err = add(p+".bn2", bnb, h); err != nil {
				return nil, err
			}
			short := x
			if stride != 1 {
				if _, ok := sd[p+".shortcut.0.weight"]; ok { // option B
					cs, err := conv(p+".shortcut.0", planes)
					if err != nil {
						return nil, err
					}
					cs.StrideH, cs.StrideW = stride, stride
					if short, err = add(p+".shortcut.0", cs, x); err != nil {
						return nil, err
					}
					bns, err := bn(p+".shortcut.1", out)
					if err != nil {
						return nil, err
					}
					if short, err = add(p+".shortcut.1", bns, short); err != nil {
						return nil, err
					}
				} else {
					if (out-planes)%2 != 0 || out < planes {
						return nil, fmt.Errorf("%s: option-A shortcut cannot pad %d channels to %d", p, planes, out)
					}
					if short, err = add(p+".shortcut", nn.ShortcutA{Stride: 2, PadC: (out - planes) / 2}, x); err != nil {
						return nil, err
					}
				}
			}
			if h, err = add(p+".add", nn.Add{}, h, short); err != nil {
				return nil, err
			}
			if x, err = add(p+".relu2", nn.ReLU{}, h); err != nil {
				return nil, err
			}
			planes = out
		}
	}
	if x, err = add("avgpool", nn.GlobalAvgPool{}, x); err != nil {
		return nil, err
	}
	lw, ok := sd["linear.weight"]
	if !ok {
		return nil, fmt.Errorf("missing tensor linear.weight")
	}
	if len(lw.Shape) != 2 || lw.Shape[1] != planes {
		return nil, fmt.Errorf("tensor linear.weight has shape %v, want [classes %d]", lw.Shape, planes)
	}
	used["linear.weight"] = true
	lb, err := get("linear.bias", lw.Shape[0])
	if err != nil {
		return nil, err
	}
	if _, err = add("linear", &nn.Linear{W: lw.Data, B: lb.Data, In: planes, Out: lw.Shape[0]}, x); err != nil {
		return nil, err
	}
	if lw.Shape[0] == len(CIFAR10Classes) {
		g.Classes = CIFAR10Classes
	}
	var unknown []string
	for k := range sd {
		if !used[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("unknown tensors in a CIFAR ResNet: %s", strings.Join(unknown, ", "))
	}
	return g, nil
}

func firstKeys(sd map[string]*Tensor, n int) []string {
	keys := Keys(sd)
	if len(keys) > n {
		keys = append(keys[:n], "…")
	}
	return keys
}
