package pytorch

import (
	"errors"
	"math"
	"os"
	"strings"
	"testing"

	"fourbit/internal/testenv"
	"fourbit/nn"
)

func readResNet20(t testing.TB) []byte {
	data, err := os.ReadFile(testenv.ResNet20())
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestReadResNet20(t *testing.T) {
	sd, err := Read(readResNet20(t))
	if err != nil {
		t.Fatal(err)
	}
	convs, params := 0, 0
	for k, v := range sd {
		if strings.HasSuffix(k, ".weight") && len(v.Shape) == 4 {
			convs++
		}
		if !strings.HasSuffix(k, "num_batches_tracked") && !strings.Contains(k, "running_") {
			params += len(v.Data)
		}
		for _, x := range v.Data {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				t.Fatalf("%s holds %v", k, x)
			}
		}
	}
	// ResNet-20: 19 convolutions, 0.27M trainable parameters (the published count).
	if convs != 19 || params < 269000 || params > 271000 {
		t.Errorf("%d convolutions, %d parameters", convs, params)
	}
	g, err := BuildCIFARResNet(sd)
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Output().Shape; len(got) != 1 || got[0] != 10 {
		t.Errorf("output shape %v", got)
	}
	kinds := map[string]int{}
	for _, n := range g.Nodes {
		kinds[n.Op.Kind()]++
	}
	if kinds["Conv"] != 19 || kinds["BatchNorm"] != 19 || kinds["ShortcutA"] != 2 || kinds["Add"] != 9 || kinds["Linear"] != 1 {
		t.Errorf("node kinds %v", kinds)
	}
}

// TestFoldBatchNormMatchesUnfolded runs ResNet-20 with explicit BatchNorm nodes and with BN
// folded into the convolutions on the same inputs.
func TestFoldBatchNormMatchesUnfolded(t *testing.T) {
	sd, err := Read(readResNet20(t))
	if err != nil {
		t.Fatal(err)
	}
	g, err := BuildCIFARResNet(sd)
	if err != nil {
		t.Fatal(err)
	}
	folded, err := nn.FoldBatchNorm(g)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range folded.Nodes {
		if n.Op.Kind() == "BatchNorm" {
			t.Fatalf("BatchNorm %s left after folding", n.Name)
		}
	}
	x := make([]float32, 4*3*32*32)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)*0.37)) * 2
	}
	a, err := g.Forward(x, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := folded.Forward(x, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-3*(1+math.Abs(float64(a[i]))) {
			t.Fatalf("logit %d: unfolded %v folded %v", i, a[i], b[i])
		}
	}
}

func TestBadCheckpoints(t *testing.T) {
	good := readResNet20(t)
	flipped := append([]byte(nil), good...)
	for i := 200; i < 260; i++ {
		flipped[i] ^= 0x5a
	}
	cases := map[string][]byte{
		"empty":           {},
		"garbage":         []byte("this is not a checkpoint at all"),
		"truncated 1%":    good[:len(good)/100],
		"truncated 50%":   good[:len(good)/2],
		"truncated -1":    good[:len(good)-1],
		"corrupt pickle":  flipped,
		"zip without pkl": []byte("PK\x03\x04garbage"),
	}
	for name, data := range cases {
		_, err := Load(data)
		if err == nil {
			t.Errorf("%s: loaded", name)
		} else if !errors.Is(err, ErrFormat) && !strings.Contains(err.Error(), "tensor") {
			t.Logf("%s: %v", name, err)
		}
	}
}

func TestBuildRejectsUnknownAndInconsistent(t *testing.T) {
	sd, err := Read(readResNet20(t))
	if err != nil {
		t.Fatal(err)
	}
	clone := func() map[string]*Tensor {
		c := map[string]*Tensor{}
		for k, v := range sd {
			c[k] = v
		}
		return c
	}
	unknown := clone()
	unknown["layer1.0.attention.weight"] = &Tensor{Shape: []int{4}, Data: make([]float32, 4)}
	if _, err := BuildCIFARResNet(unknown); err == nil || !strings.Contains(err.Error(), "layer1.0.attention.weight") {
		t.Errorf("unknown key: %v", err)
	}
	bad := clone()
	bad["layer2.1.bn1.running_var"] = &Tensor{Shape: []int{31}, Data: make([]float32, 31)}
	if _, err := BuildCIFARResNet(bad); err == nil || !strings.Contains(err.Error(), "layer2.1.bn1.running_var") {
		t.Errorf("inconsistent shape: %v", err)
	}
	missing := clone()
	delete(missing, "linear.weight")
	if _, err := BuildCIFARResNet(missing); err == nil || !strings.Contains(err.Error(), "linear.weight") {
		t.Errorf("missing key: %v", err)
	}
	other := map[string]*Tensor{"features.0.weight": {Shape: []int{1}, Data: []float32{1}}}
	if _, err := BuildCIFARResNet(other); err == nil || !strings.Contains(err.Error(), "not a CIFAR ResNet") {
		t.Errorf("other network: %v", err)
	}
}

// FuzzRead: no input makes the reader panic or allocate beyond the input's size.
func FuzzRead(f *testing.F) {
	good, err := os.ReadFile(testenv.ResNet20())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good[:4096])
	f.Add(good[:300])
	f.Add([]byte("PK\x03\x04"))
	f.Add([]byte{0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e})
	f.Fuzz(func(t *testing.T, data []byte) {
		sd, err := Read(data)
		if err != nil {
			return
		}
		var n int
		for _, v := range sd {
			n += len(v.Data)
		}
		if n > 8*len(data)+1024 {
			t.Fatalf("%d values from %d bytes", n, len(data))
		}
		_, _ = BuildCIFARResNet(sd)
	})
}
