// Package kernels holds fourbit's compute kernels on flat buffers: float32 GEMM and
// convolution (im2col into packed panels + a register-tiled micro-kernel), and the integer
// kernels of the quantized engine — bit packing, QConv (codes in, requantized codes out; its
// Go path runs the packed 4-bit SWAR GEMM or the int16 GEMM), the int32-folded GEMM with
// int64 sums, AddCodes and QuantizeCodes — with the WebAssembly SIMD128 versions of the
// engine's kernels (simd.wat) bound in the browser. It knows nothing about graphs or layers
// (pooling and the other element-wise ops live in package nn).
//
// Every fast kernel has a plain reference twin in the tests.
package kernels
