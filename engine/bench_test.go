package engine

import (
	"testing"

	"fourbit/internal/testenv"
)

// benchmarkEngine reports ResNet-20 images/s of the integer engine, batches of 50.
func benchmarkEngine(b *testing.B, perTensor bool) {
	opts := engineOptions()
	if perTensor {
		opts.ActPerChannel, opts.PCBAActs, opts.PCBAWeights = false, false, false
	}
	q := quantized(b, testenv.ResNet20(), testenv.Asset("cifar10-png/calib"), opts)
	net, err := Build(q)
	if err != nil {
		b.Fatal(err)
	}
	src := source(b, q.Graph, testenv.Asset("cifar10-png/test"), 50)
	x := make([]float32, 50*3*32*32)
	if _, err := src.Load(x, 0, 50); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := net.Forward(x, 50); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(50*float64(b.N)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkResNet20Engine is the paper's W4A4 ACIQ+PCBA+BC network (per-channel activations,
// the folded int32 path).
func BenchmarkResNet20Engine(b *testing.B) { benchmarkEngine(b, false) }

// BenchmarkResNet20EnginePerTensor is W4A4 with per-tensor activations (kernels.QConv for
// every conv but the first, which reads the float image).
func BenchmarkResNet20EnginePerTensor(b *testing.B) { benchmarkEngine(b, true) }
