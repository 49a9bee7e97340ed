package tfjs

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fourbit/dataset"
	"fourbit/internal/testenv"
	"fourbit/nn"
	"fourbit/ptq"
)

// tiny returns a small Keras functional model (conv → BN → LeakyReLU → max-pool "same" →
// global average pool → dense) as model.json and its one shard.
func tiny() (manifest, shard []byte) {
	layers := []string{
		`{"name":"in","class_name":"InputLayer","config":{"batch_input_shape":[null,6,7,2]},"inbound_nodes":[]}`,
		`{"name":"c","class_name":"Conv2D","config":{"filters":3,"kernel_size":[3,3],"strides":[2,2],"padding":"same","use_bias":false,"activation":"linear"},"inbound_nodes":[[["in",0,0,{}]]]}`,
		`{"name":"bn","class_name":"BatchNormalization","config":{"axis":-1,"epsilon":0.001},"inbound_nodes":[[["c",0,0,{}]]]}`,
		`{"name":"lr","class_name":"LeakyReLU","config":{"alpha":0.1},"inbound_nodes":[[["bn",0,0,{}]]]}`,
		`{"name":"mp","class_name":"MaxPooling2D","config":{"pool_size":[2,2],"strides":[1,1],"padding":"same"},"inbound_nodes":[[["lr",0,0,{}]]]}`,
		`{"name":"gap","class_name":"GlobalAveragePooling2D","config":{},"inbound_nodes":[[["mp",0,0,{}]]]}`,
		`{"name":"d","class_name":"Dense","config":{"units":4,"activation":"softmax"},"inbound_nodes":[[["gap",0,0,{}]]]}`,
	}
	topo := fmt.Sprintf(`{"class_name":"Model","config":{"name":"m","layers":[%s],"input_layers":[["in",0,0]],"output_layers":[["d",0,0]]}}`, strings.Join(layers, ","))
	type spec struct {
		Name  string `json:"name"`
		Shape []int  `json:"shape"`
		DType string `json:"dtype"`
	}
	specs := []spec{{"c/kernel", []int{3, 3, 2, 3}, "float32"}, {"bn/gamma", []int{3}, "float32"}, {"bn/beta", []int{3}, "float32"},
		{"bn/moving_mean", []int{3}, "float32"}, {"bn/moving_variance", []int{3}, "float32"}, {"d/kernel", []int{3, 4}, "float32"}, {"d/bias", []int{4}, "float32"}}
	for i, s := range specs {
		n := 1
		for _, d := range s.Shape {
			n *= d
		}
		for j := 0; j < n; j++ {
			v := float32(math.Sin(float64(7*i+j))) * 0.5
			if strings.HasSuffix(s.Name, "variance") {
				v = 0.5 + v*v
			}
			shard = binary.LittleEndian.AppendUint32(shard, math.Float32bits(v))
		}
	}
	sb, _ := json.Marshal(specs)
	manifest = []byte(fmt.Sprintf(`{"format":"layers-model","modelTopology":%s,"weightsManifest":[{"paths":["group1-shard1of1"],"weights":%s}]}`, topo, sb))
	return manifest, shard
}

func TestReadTiny(t *testing.T) {
	m, s := tiny()
	g, err := Read(map[string][]byte{"x/model.json": m, "x/group1-shard1of1": s, "labels.txt": []byte("a\nb\nc\nd\n")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// BN folded into the conv, which carries its β and |γ| as the data-free prior.
	var kinds []string
	for _, n := range g.Nodes {
		kinds = append(kinds, n.Op.Kind())
	}
	if got := strings.Join(kinds, " "); got != "Input Conv LeakyReLU MaxPool GlobalAvgPool Linear Softmax" {
		t.Fatalf("nodes %s", got)
	}
	conv := g.Node("c").Op.(*nn.Conv)
	if conv.Prior == nil || len(conv.Prior.Mean) != 3 || conv.PadT != 0 || conv.PadB != 1 || conv.PadL != 1 || conv.PadR != 1 || g.Node("c").Shape[1] != 3 {
		t.Fatalf("conv %+v", conv)
	}
	if mp := g.Node("mp").Op.(nn.Pool); mp.PadT != 0 || mp.PadB != 1 || mp.PadL != 0 || mp.PadR != 1 {
		t.Fatalf("same max-pool padding %+v, want the extra row and column at the end", mp)
	}
	if want := []int{2, 6, 7}; fmt.Sprint(g.Input().Shape) != fmt.Sprint(want) {
		t.Fatalf("input %v, want %v (NHWC 6×7×2 → C×H×W)", g.Input().Shape, want)
	}
	if g.Classes[3] != "d" || g.Preprocess.Resize != nn.ResizeStretch || g.ClassName(1) != "b" {
		t.Fatalf("classes %v, preprocess %+v", g.Classes, g.Preprocess)
	}
	y, err := g.Forward(make([]float32, 2*2*6*7), 2, nil)
	if err != nil || len(y) != 8 {
		t.Fatalf("forward: %v, %d values", err, len(y))
	}
}

func TestBadModels(t *testing.T) {
	m, s := tiny()
	edit := func(old, new string) []byte { return []byte(strings.Replace(string(m), old, new, 1)) }
	cases := []struct {
		name  string
		files map[string][]byte
		want  string
	}{
		{"no manifest", map[string][]byte{"group1-shard1of1": s}, "no model.json"},
		{"missing shard", map[string][]byte{"model.json": m}, `shard "group1-shard1of1"`},
		{"short shard", map[string][]byte{"model.json": m, "group1-shard1of1": s[:len(s)-4]}, "disagree with the shards"},
		{"long shard", map[string][]byte{"model.json": m, "group1-shard1of1": append(append([]byte{}, s...), 0, 0, 0, 0)}, "disagree with the shards"},
		{"shape disagrees", map[string][]byte{"model.json": edit(`"shape":[3,4]`, `"shape":[3,5]`), "group1-shard1of1": s}, "disagree with the shards"},
		{"huge shape", map[string][]byte{"model.json": edit(`"shape":[3,4]`, `"shape":[1099511627776,4]`), "group1-shard1of1": s}, "dimension"},
		{"negative", map[string][]byte{"model.json": edit(`"shape":[3,4]`, `"shape":[-3,4]`), "group1-shard1of1": s}, "dimension"},
		{"unknown layers", map[string][]byte{"model.json": edit(`"class_name":"LeakyReLU"`, `"class_name":"PReLU"`), "group1-shard1of1": s}, "unsupported layers: lr (PReLU)"},
		{"two unsupported", map[string][]byte{"model.json": []byte(strings.Replace(string(edit(`"class_name":"LeakyReLU"`, `"class_name":"PReLU"`)), `"activation":"softmax"`, `"activation":"tanh"`, 1)), "group1-shard1of1": s}, `lr (PReLU), d (Dense with activation "tanh")`},
		{"cycle", map[string][]byte{"model.json": edit(`[[["in",0,0,{}]]]`, `[[["mp",0,0,{}]]]`), "group1-shard1of1": s}, "cycle"},
		{"missing input", map[string][]byte{"model.json": edit(`[[["lr",0,0,{}]]]`, `[[["nope",0,0,{}]]]`), "group1-shard1of1": s}, `no layer named "nope"`},
		{"graph model", map[string][]byte{"model.json": []byte(`{"format":"graph-model","modelTopology":{}}`)}, "graph model"},
		{"not json", map[string][]byte{"model.json": []byte("{")}, "model.json"},
		{"open size", map[string][]byte{"model.json": edit(`[null,6,7,2]`, `[null,null,null,2]`), "group1-shard1of1": s}, "--input-shape"},
		{"labels", map[string][]byte{"model.json": m, "group1-shard1of1": s, "labels.txt": []byte("a\nb\n")}, "labels.txt has 2 lines"},
		{"nan", map[string][]byte{"model.json": m, "group1-shard1of1": append(binary.LittleEndian.AppendUint32(nil, 0x7fc00000), s[4:]...)}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Read(c.files, Options{})
			if c.want == "" { // the reader keeps NaN weights; model.Load refuses them
				return
			}
			if err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func FuzzRead(f *testing.F) {
	m, s := tiny()
	f.Add(m, s)
	f.Add([]byte(`{"modelTopology":{"class_name":"Sequential","config":[{"class_name":"Dense","config":{"units":2,"batch_input_shape":[null,4]}}]},"weightsManifest":[]}`), []byte{})
	f.Fuzz(func(t *testing.T, manifest, shard []byte) {
		g, err := Read(map[string][]byte{"model.json": manifest, "group1-shard1of1": shard}, Options{})
		if err == nil && g == nil {
			t.Fatal("no graph and no error")
		}
	})
}

// darknet loads Darknet Tiny (committed under testdata/, a copy of the data set's).
func darknet(t *testing.T) *nn.Graph {
	dir := testenv.Asset("imagenet-darknet-tiny")
	files := map[string][]byte{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = b
	}
	g, err := Read(files, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestDarknet(t *testing.T) {
	g := darknet(t)
	if g.Params() != 1039912 || len(g.Classes) != 1000 || g.Classes[0] != "n02119789" || g.ClassName(0) != "kit fox" {
		t.Fatalf("%d params, classes %d (%q, %q)", g.Params(), len(g.Classes), g.Classes[0], g.ClassName(0))
	}
}

// TestDarknetImageNetSamples is the FP32 check of the ImageNet network: on the data set's
// 1,000 ImageNet images (one per class), ONNX Runtime gives top-1 59.3% and top-5 83.1%
// (data README); fourbit must be within 0.5 points.
func TestDarknetImageNetSamples(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 ImageNet images at 0.5 GMAC each: not in -short")
	}
	g := darknet(t)
	f, err := dataset.Open(testenv.Data(t, "imagenet-samples"), g.Classes, 0)
	if err != nil {
		t.Fatal(err)
	}
	src, err := dataset.NewSource(f, g)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ptq.Evaluate(g, src, 0, 16, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Darknet Tiny FP32 on %d ImageNet images: top-1 %.2f%%, top-5 %.2f%%", res.Images, res.Top1, res.Top5)
	if res.Images != 1000 || math.Abs(res.Top1-59.3) > 0.5 || math.Abs(res.Top5-83.1) > 0.5 {
		t.Fatalf("top-1 %.2f%%, top-5 %.2f%% on %d images; ONNX Runtime gives 59.3%% and 83.1%% on 1,000", res.Top1, res.Top5, res.Images)
	}
}
