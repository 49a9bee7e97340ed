// Package ptq is fourbit's post-training quantization pipeline over nn graphs: evaluation,
// calibration (streaming activation statistics into quant's accumulators), the quantization
// plan (ranges, bits per channel, corrections) and the simulated quantized network.
package ptq
