package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"time"

	"fourbit/kernels"
	"fourbit/ptq"
)

func init() {
	register("bench", "measure the fp32, int8 and packed int4 conv kernels (GOPS) and ResNet-20 images/s: float, simulated W4A4 and the integer engine", runBench)
}

type convBench struct {
	Shape string  `json:"shape"`
	GOPS  float64 `json:"gops"` // 2 operations per multiply-add, one goroutine
}

type benchOutput struct {
	GOOS, GOARCH   string      `json:"-"`
	Platform       string      `json:"platform"`
	Threads        int         `json:"threads"`
	Conv           []convBench `json:"conv_f32"`
	ConvInt8       []convBench `json:"conv_int8"`
	ConvInt4       []convBench `json:"conv_int4"`
	ConvFolded     []convBench `json:"conv_int32_folded"`
	ConvQ          []convBench `json:"conv_qconv"`
	SIMD           bool        `json:"simd"`
	RelaxedSIMD    bool        `json:"relaxed_simd"` // QConv on kernels/relaxed.wat's int8 dot products
	Native         bool        `json:"native_simd"`  // the AVX-512 kernels of a GOEXPERIMENT=simd build
	GemmF32        float64     `json:"gemm_f32_64x576x1024_gops"`
	GemmInt4       float64     `json:"gemm_int4_64x576x1024_gops"`
	FP32ImagesSec  float64     `json:"resnet20_fp32_images_per_sec"`
	W4A4ImagesSec  float64     `json:"resnet20_w4a4_simulated_images_per_sec"`
	EngineImgSec   float64     `json:"resnet20_w4a4_engine_images_per_sec"`
	EnginePTImgSec float64     `json:"resnet20_w4a4_per_tensor_engine_images_per_sec"`
	// The same at batch 1 (latency: one image at a time).
	FP32Batch1     float64 `json:"resnet20_fp32_batch1_images_per_sec"`
	EngineBatch1   float64 `json:"resnet20_w4a4_engine_batch1_images_per_sec"`
	EnginePTBatch1 float64 `json:"resnet20_w4a4_per_tensor_engine_batch1_images_per_sec"`
	PackedBytes    int     `json:"resnet20_w4_packed_bytes"`
	FloatBytes     int     `json:"resnet20_fp32_bytes"`
	CalibQuantSecs float64 `json:"calibrate_256_and_quantize_seconds"`
}

// timeIt runs fn until at least d has passed (after one warm-up call) and returns the mean
// seconds per call.
func timeIt(d time.Duration, fn func()) float64 {
	fn()
	n := 0
	start := time.Now()
	for time.Since(start) < d {
		fn()
		n++
	}
	return time.Since(start).Seconds() / float64(n)
}

func runBench(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", "[--model FILE] [--calib DIR] [--seconds S] [--json]", stderr)
	modelPath := fs.String("model", "testdata/cifar10-resnet/resnet20-12fca82f.th", "ResNet-20 checkpoint")
	calibDir := fs.String("calib", "testdata/cifar10-png/calib", "calibration images (256 are used)")
	secs := fs.Float64("seconds", 2, "time per measurement")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	d := time.Duration(*secs * float64(time.Second))
	out := benchOutput{Platform: runtime.GOOS + "/" + runtime.GOARCH, Threads: runtime.GOMAXPROCS(0), SIMD: kernels.SIMD(), RelaxedSIMD: kernels.RelaxedSIMD(), Native: kernels.NativeSIMD()}
	r := rand.New(rand.NewPCG(1, 1))
	rnd := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(r.NormFloat64())
		}
		return s
	}
	for _, p := range kernels.ResNet20Convs {
		c, err := kernels.NewConv(p, rnd(p.OutC*p.InC*p.KH*p.KW), nil)
		if err != nil {
			return err
		}
		src, dst, scratch := rnd(p.InC*p.InH*p.InW), make([]float32, p.OutC*p.OutH()*p.OutW()), make([]float32, c.ScratchLen())
		t := timeIt(d, func() { c.Forward(dst, src, scratch) })
		ops := 2 * float64(p.OutC*p.OutH()*p.OutW()*p.InC*p.KH*p.KW)
		out.Conv = append(out.Conv, convBench{fmt.Sprintf("%dx%dx%d→%d", p.InC, p.InH, p.InW, p.OutC), ops / t / 1e9})
	}
	intConvs(&out, d, r)
	out.GemmF32, out.GemmInt4 = gemms(d, r)
	s, src, err := open(*modelPath, *calibDir, 256)
	if err != nil {
		return err
	}
	start := time.Now()
	if _, err := s.Calibrate(src, min(256, src.Len()), nil); err != nil {
		return err
	}
	if _, err := s.Quantize(ptq.DefaultOptions()); err != nil {
		return err
	}
	out.CalibQuantSecs = time.Since(start).Seconds()
	const batch = 50
	x := make([]float32, batch*3*32*32)
	if _, err := src.Load(x, 0, batch); err != nil {
		return err
	}
	g, q := s.Graph(), s.Quantized()
	t := timeIt(d, func() { g.Forward(x, batch, nil) })
	out.FP32ImagesSec = batch / t
	out.FP32Batch1 = 1 / timeIt(d, func() { g.Forward(x[:3*32*32], 1, nil) })
	hook := q.Hook()
	t = timeIt(d, func() { q.Graph.Forward(x, batch, hook) })
	out.W4A4ImagesSec = batch / t
	for _, perTensor := range []bool{false, true} {
		o := ptq.DefaultOptions()
		o.CarryBits = 8
		if perTensor {
			o.ActPerChannel, o.PCBAActs, o.PCBAWeights = false, false, false
		}
		if _, err := s.Quantize(o); err != nil {
			return err
		}
		if _, err := s.BuildEngine(); err != nil {
			return err
		}
		net := s.Engine()
		t := batch / timeIt(d, func() { net.Forward(x, batch) })
		one := 1 / timeIt(d, func() { net.Forward(x[:3*32*32], 1) })
		if perTensor {
			out.EnginePTImgSec, out.EnginePTBatch1 = t, one
			out.PackedBytes, out.FloatBytes = net.Sizes()
		} else {
			out.EngineImgSec, out.EngineBatch1 = t, one
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	kind := "portable Go kernels"
	if out.Native {
		kind = "native AVX-512 kernels (simd/archsimd) for the float conv and QConv"
	}
	fmt.Fprintf(stdout, "%s, %d threads, %s\n", out.Platform, out.Threads, kind)
	for _, c := range out.Conv {
		fmt.Fprintf(stdout, "fp32 conv %-14s %6.2f GOPS (one thread)\n", c.Shape, c.GOPS)
	}
	for i := range out.ConvInt8 {
		fmt.Fprintf(stdout, "int8 conv %-14s %6.2f GOPS, packed int4 %6.2f GOPS, int32-folded %6.2f GOPS, qconv %6.2f GOPS (one thread)\n",
			out.ConvInt8[i].Shape, out.ConvInt8[i].GOPS, out.ConvInt4[i].GOPS, out.ConvFolded[i].GOPS, out.ConvQ[i].GOPS)
	}
	if out.SIMD {
		fmt.Fprintln(stdout, "kernels on WebAssembly SIMD128 (integer and float GEMMs, QConv, AddCodes, QuantizeCodes)")
	}
	fmt.Fprintf(stdout, "GEMM 64x576x1024: fp32 %.2f GOPS, packed int4 %.2f GOPS (one thread)\n", out.GemmF32, out.GemmInt4)
	fmt.Fprintf(stdout, "ResNet-20 fp32           %6.1f images/s (batch 50), %6.1f (batch 1)\nResNet-20 W4A4 simulated %6.1f images/s\n", out.FP32ImagesSec, out.FP32Batch1, out.W4A4ImagesSec)
	fmt.Fprintf(stdout, "ResNet-20 W4A4 integer engine %6.1f images/s (per-channel activations), %6.1f (per-tensor activations, qconv); batch 1: %.1f, %.1f\n", out.EngineImgSec, out.EnginePTImgSec, out.EngineBatch1, out.EnginePTBatch1)
	fmt.Fprintf(stdout, "ResNet-20 W4 weights packed %d bytes, fp32 %d bytes (1/%.2f)\ncalibrate 256 + quantize %6.1f s\n",
		out.PackedBytes, out.FloatBytes, float64(out.FloatBytes)/float64(out.PackedBytes), out.CalibQuantSecs)
	return nil
}

// intConvs measures the int8 (int16 operands), packed 4-bit SWAR, int32-folded and QConv
// (codes in, requantized codes out) convolutions on ResNet-20's shapes, im2col included,
// one image on one goroutine.
func intConvs(out *benchOutput, d time.Duration, r *rand.Rand) {
	for _, p := range kernels.ResNet20Convs {
		k, n := p.InC*p.KH*p.KW, p.OutH()*p.OutW()
		shape := fmt.Sprintf("%dx%dx%d→%d", p.InC, p.InH, p.InW, p.OutC)
		ops := 2 * float64(p.OutC*n*k)
		w8, w4 := make([]int16, p.OutC*k), make([]uint8, p.OutC*k)
		for i := range w8 {
			w8[i], w4[i] = int16(r.IntN(255)-127), uint8(r.IntN(16))
		}
		src8, src4 := make([]uint8, p.InC*p.InH*p.InW), make([]uint8, p.InC*p.InH*p.InW)
		for i := range src8 {
			src8[i], src4[i] = uint8(r.IntN(256)), uint8(r.IntN(16))
		}
		zero := make([]int32, p.InC)
		pa8, pa4 := kernels.PackI16(w8, p.OutC, k, k), kernels.PackU4(w4, p.OutC, k, k)
		b8, b4, colSum := make([]int16, kernels.PackedBLen(k, n)), make([]uint64, kernels.PackedU4BLen(k, n)), make([]int32, n)
		acc := make([]int32, p.OutC*n)
		t := timeIt(d, func() {
			kernels.Im2colI16(b8, src8, zero, p.InC, p)
			kernels.GemmI16(acc, n, pa8, b8, n)
		})
		out.ConvInt8 = append(out.ConvInt8, convBench{shape, ops / t / 1e9})
		t = timeIt(d, func() {
			kernels.Im2colU4(b4, colSum, src4, 0, p.InC, p)
			kernels.GemmU4(acc, n, pa4, b4, n)
		})
		out.ConvInt4 = append(out.ConvInt4, convBench{shape, ops / t / 1e9})
		// The engine's per-channel path: 31-bit folded weights, int16 values, int64 sums.
		w32 := make([]int32, p.OutC*k)
		for i := range w32 {
			w32[i] = r.Int32() - 1<<30
		}
		pa32, acc64 := kernels.PackI32(w32, p.OutC, k, k), make([]int64, p.OutC*n)
		t = timeIt(d, func() {
			kernels.Im2colI16(b8, src8, zero, p.InC, p)
			kernels.GemmI32(acc64, n, pa32, b8, n)
		})
		out.ConvFolded = append(out.ConvFolded, convBench{shape, ops / t / 1e9})
		// The engine's per-tensor path: 4-bit codes in, requantized 4-bit codes out.
		zw := make([]int32, p.OutC)
		rq := make([]kernels.QRequant, p.OutC)
		for o := range rq {
			zw[o] = 8
			rq[o] = kernels.QRequant{Mul: 0.01, Off: 0.001, Add: 3, Hi: 15}
		}
		qc, err := kernels.NewQConv(p, w4, zw, 0, 15, rq)
		if err != nil {
			panic(err) // fixed, valid parameters
		}
		codes := make([]uint8, p.OutC*n)
		var qs kernels.QScratch
		t = timeIt(d, func() { qc.Forward(codes, src4, &qs) })
		out.ConvQ = append(out.ConvQ, convBench{shape, ops / t / 1e9})
	}
}

// gemms measures the packed fp32 and int4 GEMMs alone on 64×576×1024 (ResNet-20's widest
// reduction over a batch of 16 images' 8×8 maps).
func gemms(d time.Duration, r *rand.Rand) (f32, int4 float64) {
	const m, k, n = 64, 576, 1024
	a, b := make([]float32, m*k), make([]float32, k*n)
	a4, b4 := make([]uint8, m*k), make([]uint8, k*n)
	for i := range a {
		a[i], a4[i] = float32(r.NormFloat64()), uint8(r.IntN(16))
	}
	for i := range b {
		b[i], b4[i] = float32(r.NormFloat64()), uint8(r.IntN(16))
	}
	pa := kernels.PackA(a, m, k, k)
	bp := make([]float32, kernels.PackedBLen(k, n))
	kernels.PackB(bp, b, k, n, n)
	c := make([]float32, m*n)
	ops := 2.0 * m * k * n
	f32 = ops / timeIt(d, func() { kernels.SgemmPacked(c, n, pa, bp, n, nil) }) / 1e9
	pa4 := kernels.PackU4(a4, m, k, k)
	bp4 := make([]uint64, kernels.PackedU4BLen(k, n))
	kernels.PackBU4(bp4, make([]int32, n), b4, k, n, n)
	c4 := make([]int32, m*n)
	int4 = ops / timeIt(d, func() { kernels.GemmU4(c4, n, pa4, bp4, n) }) / 1e9
	return f32, int4
}
