package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"time"

	"fourbit/dataset"
	"fourbit/kernels"
	"fourbit/model"
	"fourbit/ptq"
)

func init() {
	register("bench", "measure the float conv kernel (GOPS) and ResNet-20 images/s, float and simulated W4A4", runBench)
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
	FP32ImagesSec  float64     `json:"resnet20_fp32_images_per_sec"`
	W4A4ImagesSec  float64     `json:"resnet20_w4a4_simulated_images_per_sec"`
	CalibQuantSecs float64     `json:"calibrate_256_and_quantize_seconds"`
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
	out := benchOutput{Platform: runtime.GOOS + "/" + runtime.GOARCH, Threads: runtime.GOMAXPROCS(0)}
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
	g, err := model.LoadFile(*modelPath)
	if err != nil {
		return err
	}
	f, err := dataset.Open(*calibDir, g.Classes, 256)
	if err != nil {
		return err
	}
	src, err := dataset.NewSource(f, g)
	if err != nil {
		return err
	}
	start := time.Now()
	cal, err := ptq.Calibrate(g, src, min(256, src.Len()), 0, nil)
	if err != nil {
		return err
	}
	q, err := ptq.Quantize(g, cal, ptq.DefaultOptions())
	if err != nil {
		return err
	}
	out.CalibQuantSecs = time.Since(start).Seconds()
	const batch = 50
	x := make([]float32, batch*3*32*32)
	if _, err := src.Load(x, 0, batch); err != nil {
		return err
	}
	t := timeIt(d, func() { g.Forward(x, batch, nil) })
	out.FP32ImagesSec = batch / t
	hook := q.Hook()
	t = timeIt(d, func() { q.Graph.Forward(x, batch, hook) })
	out.W4A4ImagesSec = batch / t
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	fmt.Fprintf(stdout, "%s, %d threads\n", out.Platform, out.Threads)
	for _, c := range out.Conv {
		fmt.Fprintf(stdout, "fp32 conv %-14s %6.2f GOPS (one thread)\n", c.Shape, c.GOPS)
	}
	fmt.Fprintf(stdout, "ResNet-20 fp32           %6.1f images/s\nResNet-20 W4A4 simulated %6.1f images/s\ncalibrate 256 + quantize %6.1f s\n",
		out.FP32ImagesSec, out.W4A4ImagesSec, out.CalibQuantSecs)
	return nil
}
