package ptq

import (
	"errors"
	"fmt"
	"math"
	"time"

	"fourbit/kernels"
	"fourbit/nn"
)

// Source serves labelled images as input tensors, in batches by index range. A folder of
// files (package dataset) and pixels handed over by JavaScript both implement it.
type Source interface {
	Len() int
	Load(dst []float32, lo, hi int) (labels []int, err error)
}

// Progress is told how many of total items are done.
type Progress func(done, total int)

// DefaultBatch is the batch size of evaluation and calibration.
const DefaultBatch = 50

// EvalResult is the accuracy of a network on a labelled image set.
type EvalResult struct {
	Images   int     `json:"images"`
	Top1     float64 `json:"top1"`       // percent
	Top5     float64 `json:"top5"`       // percent
	Correct1 int     `json:"top1_count"` // images with the label first
	Correct5 int     `json:"top5_count"` // images with the label among the first five
	// Top1StdErr is the standard error of Top1 on this many images, √(p(1−p)/n), in points:
	// differences smaller than about twice it are not told apart by these images.
	Top1StdErr   float64 `json:"top1_stderr"`
	Seconds      float64 `json:"seconds"`
	ImagesPerSec float64 `json:"images_per_sec"`
	// Predicted holds each image's top-1 class, to compare two networks image by image.
	Predicted []int `json:"-"`
	Labels    []int `json:"-"`
}

// Evaluate runs g on every image of src (limit > 0: the first limit) and scores top-1 and
// top-5. Decoding is not counted in Seconds; only the forward passes are. Each batch is split
// over up to GOMAXPROCS goroutines, each running the whole graph on its images (a graph's ops
// are immutable, and an image's result does not depend on the split), so hook may be called
// from several goroutines at once, each time on different images: it must not keep state
// across calls (quantization hooks do not).
func Evaluate(g *nn.Graph, src Source, limit, batch int, hook nn.Hook, progress Progress) (*EvalResult, error) {
	per, classes := nn.Size(g.Input().Shape), nn.Size(g.Output().Shape)
	forward := func(x []float32, b int) ([]float32, error) {
		out := make([]float32, b*classes)
		errs := make([]error, b) // by each part's first image: joined in image order
		kernels.Parallel(b, func(lo, hi int) {
			y, err := g.Forward(x[lo*per:hi*per], hi-lo, hook)
			if err != nil {
				errs[lo] = err
				return
			}
			copy(out[lo*classes:hi*classes], y)
		})
		return out, errors.Join(errs...)
	}
	return EvaluateFunc(forward, per, classes, src, limit, batch, progress)
}

// ForwardFunc runs a network on batch images x and returns its batch × classes outputs.
type ForwardFunc func(x []float32, batch int) ([]float32, error)

// EvaluateFunc is Evaluate for any network given by its forward function (the integer engine,
// say), with per input values and classes outputs per image.
func EvaluateFunc(forward ForwardFunc, per, classes int, src Source, limit, batch int, progress Progress) (*EvalResult, error) {
	n := src.Len()
	if limit > 0 && limit < n {
		n = limit
	}
	if n == 0 {
		return nil, fmt.Errorf("evaluate: no images")
	}
	if batch <= 0 {
		batch = DefaultBatch
	}
	res := &EvalResult{Images: n, Predicted: make([]int, 0, n), Labels: make([]int, 0, n)}
	var top1, top5 int
	var busy time.Duration
	err := batches(src, n, batch, per, func(x []float32, labels []int, lo, hi int) error {
		start := time.Now()
		out, err := forward(x, hi-lo)
		if err != nil {
			return err
		}
		busy += time.Since(start)
		for i, label := range labels {
			if label < 0 {
				return fmt.Errorf("evaluate: image %d has no label", lo+i)
			}
			top := nn.TopK(out[i*classes:(i+1)*classes], 5)
			if len(top) > 0 && top[0] == label {
				top1++
			}
			for _, c := range top {
				if c == label {
					top5++
				}
			}
			pred := -1
			if len(top) > 0 {
				pred = top[0]
			}
			res.Predicted = append(res.Predicted, pred)
			res.Labels = append(res.Labels, label)
		}
		if progress != nil {
			progress(hi, n)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.Score(top1, top5)
	res.Seconds = busy.Seconds()
	if res.Seconds > 0 {
		res.ImagesPerSec = float64(n) / res.Seconds
	}
	return res, nil
}

// Score sets the result's counts of images with the label first (correct1) and among the
// first five (correct5), and the percentages and standard error that follow from them.
func (r *EvalResult) Score(correct1, correct5 int) {
	r.Correct1, r.Correct5 = correct1, correct5
	if r.Images <= 0 {
		return
	}
	n := float64(r.Images)
	r.Top1, r.Top5 = 100*float64(correct1)/n, 100*float64(correct5)/n
	p := float64(correct1) / n
	r.Top1StdErr = 100 * math.Sqrt(p*(1-p)/n)
}

// Collapsed reports whether a quantized network q has lost what the float network fp
// predicts: it keeps less than half of FP32's top-1 and gives FP32's class on fewer than half
// of the images (agreed of them).
func Collapsed(fp, q *EvalResult, agreed int) bool {
	return fp.Images > 0 && 2*q.Correct1 < fp.Correct1 && 2*agreed < fp.Images
}

// batches loads images [0, n) of src batch by batch into one reused buffer (per values an
// image) and hands each batch to fn; it is the loop of evaluation, calibration and debugging.
func batches(src Source, n, batch, per int, fn func(x []float32, labels []int, lo, hi int) error) error {
	buf := make([]float32, batch*per)
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		x := buf[:(hi-lo)*per]
		labels, err := src.Load(x, lo, hi)
		if err != nil {
			return err
		}
		if err := fn(x, labels, lo, hi); err != nil {
			return err
		}
	}
	return nil
}

// Agreement is the percentage of images on which two evaluations predict the same class.
func Agreement(a, b *EvalResult) float64 {
	same, n := Agreed(a, b)
	if n == 0 {
		return 0
	}
	return 100 * float64(same) / float64(n)
}

// Agreed counts the images (of n compared) on which two evaluations predict the same class.
func Agreed(a, b *EvalResult) (same, n int) {
	n = min(len(a.Predicted), len(b.Predicted))
	for i := 0; i < n; i++ {
		if a.Predicted[i] == b.Predicted[i] {
			same++
		}
	}
	return same, n
}
