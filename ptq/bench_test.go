package ptq

import (
	"testing"

	"fourbit/internal/testenv"
)

// BenchmarkResNet20Forward reports ResNet-20 images/s of the float engine, batches of 50
// (all cores natively, one thread in wasm).
func BenchmarkResNet20Forward(b *testing.B) {
	g := loadResNet20(b)
	src := source(b, g, testenv.Asset("cifar10-png/test"), 50)
	x := make([]float32, 50*3*32*32)
	if _, err := src.Load(x, 0, 50); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := g.Forward(x, 50, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(50*float64(b.N)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkResNet20Simulated is the same with the W4A4 simulated network (fake-quantized
// weights and activations).
func BenchmarkResNet20Simulated(b *testing.B) {
	g := loadResNet20(b)
	cal, err := Calibrate(g, source(b, g, testenv.Asset("cifar10-png/calib"), 0), 64, 0, nil)
	if err != nil {
		b.Fatal(err)
	}
	q, err := Quantize(g, cal, DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	src := source(b, g, testenv.Asset("cifar10-png/test"), 50)
	x := make([]float32, 50*3*32*32)
	if _, err := src.Load(x, 0, 50); err != nil {
		b.Fatal(err)
	}
	hook := q.Hook()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := q.Graph.Forward(x, 50, hook); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(50*float64(b.N)/b.Elapsed().Seconds(), "images/s")
}
