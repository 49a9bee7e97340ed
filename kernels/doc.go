// Package kernels holds fourbit's compute kernels on flat buffers: float32 GEMM and
// convolution (im2col into packed panels + a register-tiled micro-kernel), pooling, and the
// integer kernels of the quantized engine. It knows nothing about graphs or layers.
//
// Every fast kernel has a plain reference twin in the tests.
package kernels
