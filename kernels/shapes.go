package kernels

// ResNet20Convs are the distinct 3×3 convolution shapes of ResNet-20 on 32×32 CIFAR images
// (the benchmark shapes of `go test -bench` and `fourbit bench`).
var ResNet20Convs = []ConvParams{
	{InC: 16, InH: 32, InW: 32, OutC: 16, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 1},
	{InC: 32, InH: 16, InW: 16, OutC: 32, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 1},
	{InC: 64, InH: 8, InW: 8, OutC: 64, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 1},
}
