package quant_test

import (
	"fmt"

	"fourbit/quant"
)

// ACIQ's optimal clipping value for 4-bit quantization of a Laplace-distributed tensor, and
// the range it gives a channel with mean 0.1 and b = 0.5.
func ExampleOptimalAlpha() {
	k, _ := quant.OptimalAlpha(quant.Laplace, 4, false)
	fmt.Printf("α*/b at 4 bits: %.4f\n", k)

	s := quant.Summary{Count: 1000, Min: -6, Max: 9, Mean: 0.1, B: 0.5, Sigma: 0.7, Hist: &quant.Histogram{}}
	lo, hi, _ := quant.ACIQ{Prior: quant.Laplace}.Range(s, 4, false)
	fmt.Printf("clip to [%.3f, %.3f]\n", lo, hi)
	// Output:
	// α*/b at 4 bits: 5.0286
	// clip to [-2.414, 2.614]
}

// PCBA gives wide channels more bits and narrow ones fewer, keeping the mean at 4.
func ExampleAllocateBits() {
	alphas := []float64{0.05, 0.2, 1, 4}
	bits, _ := quant.AllocateBits(alphas, 4, 0, 8)
	fmt.Println(bits)
	// Output: [2 3 5 6]
}

// Bias correction restores each output channel's weight mean after quantization.
func ExampleCorrectBias() {
	w := []float32{0.11, 0.12, 0.13, 0.50, -0.40, 0.02}
	qz, _ := quant.NewAffine(-0.4, 0.5, 4) // 2 bits for both channels
	rows := []quant.WeightRow{quant.QuantizeRow(w[:3], qz), quant.QuantizeRow(w[3:], qz)}
	q := make([]float32, len(w))
	rows[0].Weights(q[:3])
	rows[1].Weights(q[3:])
	fmt.Printf("quantized %.3f\n", q)
	_ = quant.CorrectBias(w, rows, quant.BiasMean)
	fmt.Printf("offset    [%.3f %.3f]\n", rows[0].Offset, rows[1].Offset)
	rows[0].Weights(q[:3])
	rows[1].Weights(q[3:])
	fmt.Printf("corrected %.3f\n", q)
	// Output:
	// quantized [0.000 0.000 0.000 0.600 -0.300 0.000]
	// offset    [0.120 -0.060]
	// corrected [0.120 0.120 0.120 0.540 -0.360 -0.060]
}
