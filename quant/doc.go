// Package quant implements the post-training quantization math of Banner, Nahshan & Soudry,
// "Post-training 4-bit quantization of convolutional networks for rapid-deployment"
// (NeurIPS 2019, arXiv 1810.05723), on plain float32 slices.
//
// It knows nothing about networks. It provides:
//
//   - uniform quantizers (gemmlowp asymmetric with an exact integer zero point, symmetric
//     signed, one-sided unsigned, and a free grid for analysis), per tensor or per channel;
//   - streaming statistics accumulators (min, max, mean, b = mean|x−μ|, σ, histogram);
//   - clipping methods behind one interface: min-max, ACIQ (Laplace, Gauss, one-sided),
//     k·σ, percentile, KL divergence and an MSE search;
//   - the ACIQ analytics: expected MSE (paper eq. 5 and its Gaussian and one-sided forms) and
//     the optimal clipping value α*(M) for any bit width, including fractional ones;
//   - per-channel bit allocation, PCBA (paper eq. 11–12);
//   - bias correction of quantized weights (paper eq. 13, in the authors' code form).
//
// Data that holds several channels is addressed through a Layout: Outer × Channels × Inner,
// which covers OIHW weights (Outer = 1) and NCHW activations (Outer = N).
package quant
