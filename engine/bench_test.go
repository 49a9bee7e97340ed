package engine

import (
	"testing"

	"fourbit/internal/testenv"
)

// benchmarkEngine reports ResNet-20 images/s of the integer engine, batches of 50 (or 1).
func benchmarkEngine(b *testing.B, perTensor bool, batch ...int) {
	n := 50
	if len(batch) > 0 {
		n = batch[0]
	}
	opts := engineOptions()
	if perTensor {
		opts.ActPerChannel, opts.PCBAActs, opts.PCBAWeights = false, false, false
	}
	q := quantized(b, testenv.ResNet20(), testenv.Asset("cifar10-png/calib"), opts)
	net, err := Build(q)
	if err != nil {
		b.Fatal(err)
	}
	src := source(b, q.Graph, testenv.Asset("cifar10-png/test"), n)
	x := make([]float32, n*3*32*32)
	if _, err := src.Load(x, 0, n); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := net.Forward(x, n); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkResNet20Engine is the paper's W4A4 ACIQ+PCBA+BC network (per-channel activations,
// the folded int32 path).
func BenchmarkResNet20Engine(b *testing.B) { benchmarkEngine(b, false) }

// BenchmarkResNet20EnginePerTensor is W4A4 with per-tensor activations (kernels.QConv for
// every conv but the first, which reads the float image).
func BenchmarkResNet20EnginePerTensor(b *testing.B) { benchmarkEngine(b, true) }

// BenchmarkResNet20EnginePerTensorBatch1 is the same network one image at a time (latency).
func BenchmarkResNet20EnginePerTensorBatch1(b *testing.B) { benchmarkEngine(b, true, 1) }
