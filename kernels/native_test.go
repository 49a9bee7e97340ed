package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestNativeConvBits: the native vector convolution (GOEXPERIMENT=simd on an AVX-512 CPU)
// gives the portable kernel's bits on random weights and inputs, over shapes that exercise
// every edge: output channels not a multiple of 4 (or of 2), pixel counts not a multiple of
// 16 or 48, strides, dilations, asymmetric padding, groups, depthwise, 1×1 and 1-row images.
func TestNativeConvBits(t *testing.T) {
	if !NativeSIMD() {
		t.Skip("native vector kernels not in this build (GOEXPERIMENT=simd on an AVX-512 CPU); ./build.sh test runs the package both ways")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	shapes := []ConvParams{
		{InC: 16, InH: 32, InW: 32, OutC: 16, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 1},
		{InC: 16, InH: 32, InW: 32, OutC: 32, KH: 3, KW: 3, StrideH: 2, StrideW: 2, DilH: 1, DilW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 1},
		{InC: 64, InH: 8, InW: 8, OutC: 64, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 1},
		{InC: 3, InH: 7, InW: 5, OutC: 5, KH: 3, KW: 2, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadT: 0, PadL: 1, PadB: 2, PadR: 0, Groups: 1},
		{InC: 6, InH: 9, InW: 11, OutC: 7, KH: 3, KW: 3, StrideH: 2, StrideW: 3, DilH: 2, DilW: 1, PadT: 2, PadL: 1, PadB: 1, PadR: 2, Groups: 1},
		{InC: 8, InH: 10, InW: 10, OutC: 12, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 4},
		{InC: 10, InH: 13, InW: 6, OutC: 10, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 10},
		{InC: 9, InH: 1, InW: 50, OutC: 3, KH: 1, KW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, Groups: 1},
		{InC: 4, InH: 1, InW: 1, OutC: 1, KH: 1, KW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, Groups: 1},
		{InC: 2, InH: 5, InW: 5, OutC: 9, KH: 5, KW: 5, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadT: 4, PadL: 4, PadB: 4, PadR: 4, Groups: 1},
		{InC: 1, InH: 49, InW: 10, OutC: 64, KH: 10, KW: 4, StrideH: 2, StrideW: 2, DilH: 1, DilW: 1, PadT: 4, PadL: 1, PadB: 5, PadR: 1, Groups: 1},
		// The direct path (stride 1 along the width, rows of ≥ 16 pixels, output channels per
		// group even, rows of ≥ 16 pixels): a 20-pixel row (a group that overlaps), an odd number of
		// groups, exactly 16, 1×1, no padding, a height stride, dilation, groups, 5×5.
		{InC: 3, InH: 5, InW: 20, OutC: 8, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 1},
		{InC: 5, InH: 3, InW: 16, OutC: 4, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 1},
		{InC: 7, InH: 6, InW: 37, OutC: 12, KH: 1, KW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, Groups: 1},
		{InC: 4, InH: 9, InW: 21, OutC: 8, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, Groups: 1},
		{InC: 6, InH: 11, InW: 19, OutC: 8, KH: 3, KW: 3, StrideH: 2, StrideW: 1, DilH: 1, DilW: 1, PadT: 0, PadL: 2, PadB: 1, PadR: 1, Groups: 1},
		{InC: 4, InH: 8, InW: 24, OutC: 4, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilH: 2, DilW: 3, PadT: 2, PadL: 3, PadB: 2, PadR: 3, Groups: 1},
		{InC: 8, InH: 4, InW: 18, OutC: 16, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 2},
		{InC: 2, InH: 17, InW: 17, OutC: 4, KH: 5, KW: 5, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadT: 2, PadL: 2, PadB: 2, PadR: 2, Groups: 1},
		// Rows of 8 to 15 pixels: the direct convolution on kx-shifted planes.
		{InC: 5, InH: 4, InW: 11, OutC: 6, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 1},
		{InC: 3, InH: 3, InW: 8, OutC: 2, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 1},
		{InC: 8, InH: 6, InW: 6, OutC: 8, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilH: 2, DilW: 2, PadT: 2, PadL: 2, PadB: 2, PadR: 2, Groups: 2},
		{InC: 6, InH: 5, InW: 7, OutC: 4, KH: 2, KW: 3, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, Groups: 1},
		{InC: 3, InH: 8, InW: 16, OutC: 6, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 1}, // 8 groups: 3 + 3 + a triple moved back
	}
	direct, shifted := 0, 0
	for i, p := range shapes {
		w := make([]float32, p.OutC*p.InC/p.Groups*p.KH*p.KW)
		x := make([]float32, p.InC*p.InH*p.InW)
		bias := make([]float32, p.OutC)
		for _, s := range [][]float32{w, x, bias} {
			for j := range s {
				s[j] = float32(rng.NormFloat64())
			}
		}
		c, err := NewConv(p, w, bias)
		if err != nil {
			t.Fatal(err)
		}
		if c.direct != nil {
			direct++
			if c.directShifted {
				shifted++
			}
		}
		out := p.OutC * p.OutH() * p.OutW()
		got, want := make([]float32, out), make([]float32, out)
		scratch := make([]float32, c.ScratchLen())
		for j := range scratch {
			scratch[j] = float32(math.NaN()) // stale scratch must not leak into the result
		}
		c.Forward(got, x, scratch)
		forceGo = true
		c.Forward(want, x, scratch)
		forceGo = false
		for j := range got {
			if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
				t.Fatalf("shape %d %+v: output %d is %v natively, %v in the portable kernel", i, p, j, got[j], want[j])
			}
		}
	}
	t.Logf("%d shapes took the direct convolution, %d of them on shifted planes", direct, shifted)
	if direct-shifted < 9 || shifted < 5 {
		t.Errorf("%d shapes took the direct convolution (%d on shifted planes), want 9 on padded planes and 5 on shifted ones", direct, shifted)
	}
}

// BenchmarkConvNative runs ResNet-20's three 3×3 conv shapes on the kernel the build picks
// (native AVX-512 with GOEXPERIMENT=simd) and on the portable one.
func BenchmarkConvNative(b *testing.B) {
	for _, s := range []struct {
		name string
		p    ConvParams
	}{
		{"16x32x32", ConvParams{InC: 16, InH: 32, InW: 32, OutC: 16, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 1}},
		{"32x16x16", ConvParams{InC: 32, InH: 16, InW: 16, OutC: 32, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 1}},
		{"64x8x8", ConvParams{InC: 64, InH: 8, InW: 8, OutC: 64, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 1}},
	} {
		p := s.p
		w := make([]float32, p.OutC*p.InC*p.KH*p.KW)
		x := make([]float32, p.InC*p.InH*p.InW)
		c, _ := NewConv(p, w, nil)
		dst := make([]float32, p.OutC*p.OutH()*p.OutW())
		scratch := make([]float32, c.ScratchLen())
		macs := float64(len(w) * p.OutH() * p.OutW())
		for _, portable := range []bool{false, true} {
			name := s.name + "/build"
			if portable {
				name = s.name + "/portable"
			}
			b.Run(name, func(b *testing.B) {
				forceGo = portable
				defer func() { forceGo = false }()
				for b.Loop() {
					c.Forward(dst, x, scratch)
				}
				b.ReportMetric(macs*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
			})
		}
	}
}

// TestNativeQConvBits: the native QConv (AVX-512BW) gives the portable kernels' codes — the
// packed 4-bit SWAR path for 4-bit codes, the int16 GEMM otherwise — on random codes, zero
// points and requantizations over edge shapes, at 4, 7 and 8 bits.
func TestNativeQConvBits(t *testing.T) {
	if !NativeSIMD() {
		t.Skip("native vector kernels not in this build (GOEXPERIMENT=simd on an AVX-512 CPU); ./build.sh test runs the package both ways")
	}
	rng := rand.New(rand.NewPCG(9, 10))
	shapes := []ConvParams{
		{InC: 16, InH: 32, InW: 32, OutC: 16, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 1},
		{InC: 16, InH: 32, InW: 32, OutC: 32, KH: 3, KW: 3, StrideH: 2, StrideW: 2, DilH: 1, DilW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 1},
		{InC: 64, InH: 8, InW: 8, OutC: 64, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 1},
		{InC: 3, InH: 7, InW: 5, OutC: 5, KH: 3, KW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadT: 0, PadL: 1, PadB: 2, PadR: 0, Groups: 1},
		{InC: 5, InH: 9, InW: 11, OutC: 7, KH: 3, KW: 3, StrideH: 2, StrideW: 3, DilH: 2, DilW: 1, PadT: 2, PadL: 1, PadB: 1, PadR: 2, Groups: 1},
		{InC: 9, InH: 1, InW: 50, OutC: 6, KH: 1, KW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, Groups: 1},
		{InC: 1, InH: 1, InW: 1, OutC: 1, KH: 1, KW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, Groups: 1},
	}
	for _, bits := range []int{4, 7, 8} {
		top := 1<<bits - 1
		for i, p := range shapes {
			m, k := p.OutC, p.InC*p.KH*p.KW
			w := make([]uint8, m*k)
			for j := range w {
				w[j] = uint8(rng.IntN(top + 1))
			}
			wz := make([]int32, m)
			rq := make([]QRequant, m)
			for o := range wz {
				wz[o] = int32(rng.IntN(top + 1))
				rq[o] = QRequant{Mul: float32(rng.Float64() * 0.01), Off: float32(rng.NormFloat64() * 0.01), Add: float32(rng.Float64() * float64(top)), Lo: 0, Hi: float32(top)}
			}
			zero := uint8(rng.IntN(top + 1))
			c, err := NewQConv(p, w, wz, zero, uint8(top), rq)
			if err != nil {
				t.Fatal(err)
			}
			x := make([]uint8, p.InC*p.InH*p.InW)
			for j := range x {
				x[j] = uint8(rng.IntN(top + 1))
			}
			n := m * p.OutH() * p.OutW()
			got, want := make([]uint8, n), make([]uint8, n)
			var s QScratch
			c.Forward(got, x, &s)
			forceGo = true
			c.Forward(want, x, &s)
			forceGo = false
			for j := range got {
				if got[j] != want[j] {
					t.Fatalf("%d bits, shape %d %+v: code %d is %d natively, %d in the portable kernel", bits, i, p, j, got[j], want[j])
				}
			}
		}
	}
}

// TestNativeConvI32: the native int32-folded convolution gives Im2colI16 + GemmI32's int64
// sums exactly, with per-channel zero points, 31-bit weights, groups and edge shapes.
func TestNativeConvI32(t *testing.T) {
	if !NativeSIMD() {
		t.Skip("native vector kernels not in this build (GOEXPERIMENT=simd on an AVX-512 CPU); ./build.sh test runs the package both ways")
	}
	rng := rand.New(rand.NewPCG(11, 12))
	shapes := []ConvParams{
		{InC: 16, InH: 32, InW: 32, OutC: 16, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 1},
		{InC: 16, InH: 32, InW: 32, OutC: 32, KH: 3, KW: 3, StrideH: 2, StrideW: 2, DilH: 1, DilW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 1},
		{InC: 64, InH: 8, InW: 8, OutC: 63, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 1},
		{InC: 6, InH: 9, InW: 11, OutC: 5, KH: 3, KW: 3, StrideH: 2, StrideW: 3, DilH: 2, DilW: 1, PadT: 2, PadL: 1, PadB: 1, PadR: 2, Groups: 1},
		{InC: 8, InH: 10, InW: 7, OutC: 12, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 4},
		{InC: 3, InH: 1, InW: 1, OutC: 1, KH: 1, KW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, Groups: 1},
	}
	for i, p := range shapes {
		icg, ocg := p.InC/p.Groups, p.OutC/p.Groups
		k, n := icg*p.KH*p.KW, p.OutH()*p.OutW()
		src := make([]uint8, p.InC*p.InH*p.InW)
		for j := range src {
			src[j] = uint8(rng.IntN(256))
		}
		zero := make([]int32, p.InC)
		for j := range zero {
			zero[j] = int32(rng.IntN(256))
		}
		var scratch, pad []int16
		for g := 0; g < p.Groups; g++ {
			w := make([]int32, ocg*k)
			for j := range w {
				w[j] = int32(rng.Uint32())
			}
			a := PackI32(w, ocg, k, k)
			got, want := make([]int64, ocg*n), make([]int64, ocg*n)
			in := src[g*icg*p.InH*p.InW:]
			if !ConvI32(got, n, a, &scratch, &pad, in, zero[g*icg:], icg, p) {
				t.Fatal("ConvI32 did not run natively")
			}
			b := make([]int16, PackedBLen(k, n))
			Im2colI16(b, in, zero[g*icg:], icg, p)
			forceGo = true
			GemmI32(want, n, a, b, n)
			forceGo = false
			for j := range got {
				if got[j] != want[j] {
					t.Fatalf("shape %d %+v group %d: sum %d is %d natively, %d in GemmI32", i, p, g, j, got[j], want[j])
				}
			}
		}
	}
}

// TestReLUBits: ReLU (native where it runs) gives Go's max(v, 0) bit for bit — NaN stays NaN,
// −0 becomes +0 — on every tail length, in place and not.
func TestReLUBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 1e-45, -1e-45}
	for n := 0; n <= 70; n++ {
		src := make([]float32, n)
		for i := range src {
			if rng.IntN(3) == 0 {
				src[i] = special[rng.IntN(len(special))]
			} else {
				src[i] = float32(rng.NormFloat64())
			}
		}
		got := make([]float32, n+1)
		got[n] = 42
		ReLU(got[:n], src)
		if got[n] != 42 {
			t.Fatalf("n=%d: wrote past the end", n)
		}
		inPlace := append([]float32(nil), src...)
		ReLU(inPlace, inPlace)
		for i, v := range src {
			want := math.Float32bits(max(v, 0))
			if math.Float32bits(got[i]) != want || math.Float32bits(inPlace[i]) != want {
				t.Fatalf("n=%d, value %d = %v: got %v (in place %v), want %v", n, i, v, got[i], inPlace[i], max(v, 0))
			}
		}
	}
}

// TestAddFloatsBits: AddFloats (native where it runs) gives Go's float32 additions bit for
// bit — NaN, ±Inf, −0 + −0, subnormals — on every tail length, in place and not.
func TestAddFloatsBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), 1e-45, -1e-45, math.MaxFloat32}
	pick := func() float32 {
		if rng.IntN(3) == 0 {
			return special[rng.IntN(len(special))]
		}
		return float32(rng.NormFloat64())
	}
	for n := 0; n <= 70; n++ {
		a, b := make([]float32, n), make([]float32, n)
		for i := range a {
			a[i], b[i] = pick(), pick()
		}
		got := make([]float32, n+1)
		got[n] = 42
		AddFloats(got[:n], a, b)
		if got[n] != 42 {
			t.Fatalf("n=%d: wrote past the end", n)
		}
		inPlace := append([]float32(nil), a...)
		AddFloats(inPlace, inPlace, b)
		for i := range a {
			want := a[i] + b[i]
			if want != want { // Inf − Inf: any NaN
				if got[i] == got[i] || inPlace[i] == inPlace[i] {
					t.Fatalf("n=%d, %d: %v + %v gave %v, want NaN", n, i, a[i], b[i], got[i])
				}
				continue
			}
			if math.Float32bits(got[i]) != math.Float32bits(want) || math.Float32bits(inPlace[i]) != math.Float32bits(want) {
				t.Fatalf("n=%d, %d: %v + %v gave %v (in place %v), want %v", n, i, a[i], b[i], got[i], inPlace[i], want)
			}
		}
	}
}
