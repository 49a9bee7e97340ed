package model

import (
	"math"
	"os"
	"strings"
	"testing"

	"fourbit/formats/pytorch"
	"fourbit/internal/testenv"
	"fourbit/nn"
)

func TestLoad(t *testing.T) {
	g, err := LoadFile(testenv.ResNet20())
	if err != nil || g.Params() < 260000 {
		t.Fatalf("ResNet-20: %v", err)
	}
	for _, bad := range [][]byte{nil, []byte("hello"), []byte("PK\x03\x04junk"), {0x80, 0x02, '.'}} {
		if _, err := Load(bad); err == nil {
			t.Errorf("%q loaded", bad)
		}
	}
	if _, err := LoadFile("/nonexistent/model.th"); err == nil {
		t.Error("missing file loaded")
	}
}

func TestNaNWeightsRejected(t *testing.T) {
	data, _ := os.ReadFile(testenv.ResNet20())
	sd, err := pytorch.Read(data)
	if err != nil {
		t.Fatal(err)
	}
	sd["layer2.1.conv1.weight"].Data[7] = float32(math.NaN())
	g, err := pytorch.BuildCIFARResNet(sd)
	if err != nil {
		t.Fatal(err)
	}
	folded, err := nn.FoldBatchNorm(g)
	if err != nil {
		t.Fatal(err)
	}
	if err := folded.CheckFinite(); err == nil || !strings.Contains(err.Error(), "layer2.1.conv1") {
		t.Errorf("NaN weight: %v", err)
	}
}
