// Package session is fourbit's whole job behind one stateful object: load a model, calibrate,
// quantize with ptq.Options, evaluate, build and score the integer engine, infer one image
// with the float and the quantized network, export, and return the data the page draws. It is
// the one orchestration of both front ends: the wasm adapter exposes it to JavaScript (images
// as bytes or pixels) and the CLI drives it on files and folders.
//
// Every method recovers from panics and returns them as errors, so that a caller across a
// language boundary always gets an answer and the session stays usable.
package session

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"runtime/debug"
	"slices"

	"fourbit/dataset"
	"fourbit/engine"
	"fourbit/formats/onnx"
	"fourbit/kernels"
	"fourbit/model"
	"fourbit/nn"
	"fourbit/ptq"
)

// Image is one input handed over by a caller: decoded pixels (Width×Height, RGBA, 4 bytes
// per pixel, as a canvas gives them), the bytes of a PNG or JPEG file (Encoded) — any size,
// fitted to the model's input as its preprocessing says — or a .npy file holding one sample of
// the model's input shape (NPY), for models that do not eat images, or a WAV or MP3 file
// (Audio) for a keyword network whose input is the MFCCs of package audio's front end.
type Image struct {
	Width, Height int
	RGBA          []byte
	Encoded       []byte
	NPY           []byte
	Audio         []byte
}

// Session holds a model and what has been done with it.
type Session struct {
	g     *nn.Graph
	cal   *ptq.Calibration
	q     *ptq.Quantized
	fp32  *ptq.EvalResult
	batch int
	// lastQuant is the simulated network's last evaluation; net the integer engine.
	lastQuant *ptq.EvalResult
	net       *engine.Net
}

// New returns an empty session.
func New() *Session { return &Session{batch: ptq.DefaultBatch} }

// ErrState reports a call made before the step it needs (quantize before calibrate, …).
var ErrState = errors.New("session")

// guard turns a panic into an error.
func guard(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("internal error: %v\n%s", r, debug.Stack())
	}
}

// ModelInfo describes a loaded model.
type ModelInfo struct {
	Nodes   []nn.NodeInfo `json:"nodes"`
	Params  int           `json:"params"`
	MACs    int64         `json:"macs"`
	Input   []int         `json:"input"`
	Classes []string      `json:"classes"`
	Names   []string      `json:"names,omitempty"` // human-readable class names, when the model has them
}

// Load reads a model from the bytes of its file and forgets any previous model. On error the
// previous model stays loaded.
func (s *Session) Load(data []byte) (info ModelInfo, err error) {
	defer guard(&err)
	return s.use(model.Load(data))
}

// LoadFiles reads a model given as several named files: a TF.js layers model (model.json,
// its weight shards, optional labels.txt and names.txt), as a dropped folder gives them.
func (s *Session) LoadFiles(files map[string][]byte) (info ModelInfo, err error) {
	defer guard(&err)
	return s.use(model.LoadFiles(files, model.Options{}))
}

// LoadFile reads the model at path (a file, or a TF.js model's folder or model.json).
func (s *Session) LoadFile(path string, opts model.Options) (info ModelInfo, err error) {
	defer guard(&err)
	return s.use(model.LoadFileWith(path, opts))
}

// use makes g the session's model.
func (s *Session) use(g *nn.Graph, err error) (ModelInfo, error) {
	if err != nil {
		return ModelInfo{}, fmt.Errorf("load model: %w", err)
	}
	*s = Session{g: g, batch: s.batch}
	return s.Info()
}

// CalibrateDataFree calibrates without images, from the batch norms' statistics
// (ptq.CalibrateDataFree).
func (s *Session) CalibrateDataFree() (info CalibInfo, err error) {
	defer guard(&err)
	if err := need(s.g != nil, "load a model first"); err != nil {
		return CalibInfo{}, err
	}
	cal, err := ptq.CalibrateDataFree(s.g)
	if err != nil {
		return CalibInfo{}, err
	}
	s.cal, s.q, s.net, s.lastQuant = cal, nil, nil, nil
	return CalibInfo{Images: 0, Points: cal.Points}, nil
}

// Info describes the loaded model.
func (s *Session) Info() (ModelInfo, error) {
	if err := need(s.g != nil, "load a model first"); err != nil {
		return ModelInfo{}, err
	}
	return ModelInfo{Nodes: s.g.Describe(), Params: s.g.Params(), MACs: s.g.MACs(), Input: s.g.Input().Shape, Classes: s.g.Classes, Names: s.g.Names}, nil
}

// imageSource serves caller images as model inputs.
type imageSource struct {
	imgs   []Image
	labels []int
	shape  []int
	h, w   int
	pre    nn.Preprocess
}

// Images serves caller images (labels: their classes, nil for calibration images) as the
// loaded model's inputs.
func (s *Session) Images(imgs []Image, labels []int) (ptq.Source, error) {
	if err := need(s.g != nil, "load a model first"); err != nil {
		return nil, err
	}
	if len(imgs) == 0 {
		return nil, fmt.Errorf("no images")
	}
	if labels != nil && len(labels) != len(imgs) {
		return nil, fmt.Errorf("%d labels for %d images", len(labels), len(imgs))
	}
	shape := s.g.Input().Shape
	for i, im := range imgs {
		if im.Audio != nil {
			if err := dataset.FitsKWS(shape); err != nil {
				return nil, fmt.Errorf("input %d: %w", i, err)
			}
			continue
		}
		if im.NPY == nil && (len(shape) != 3 || shape[0] != 3) {
			return nil, fmt.Errorf("input %d: the model's input %v is not a 3-channel image (give it .npy tensors)", i, shape)
		}
	}
	classes := nn.Size(s.g.Output().Shape)
	for i, l := range labels {
		if l < 0 || l >= classes {
			return nil, fmt.Errorf("image %d: label %d outside 0..%d", i, l, classes-1)
		}
	}
	src := &imageSource{imgs: imgs, labels: labels, shape: shape, pre: s.g.Preprocess}
	if len(shape) == 3 {
		src.h, src.w = shape[1], shape[2]
	}
	return src, nil
}

// Folder serves the labelled images of a class-per-folder tree (dataset.Open: DIR:even and
// DIR:odd keep half of the classes), the first limit of them (0: all), as the loaded model's
// inputs.
func (s *Session) Folder(dir string, limit int) (*dataset.Source, error) {
	if err := need(s.g != nil, "load a model first"); err != nil {
		return nil, err
	}
	f, err := dataset.Open(dir, s.g.Classes, limit)
	if err != nil {
		return nil, err
	}
	return dataset.NewSource(f, s.g)
}

// need reports ErrState with what to do first, unless done.
func need(done bool, what string) error {
	if done {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrState, what)
}

// Len is the number of images (ptq.Source).
func (src *imageSource) Len() int { return len(src.imgs) }

// Load decodes images [lo, hi) into dst (ptq.Source).
func (src *imageSource) Load(dst []float32, lo, hi int) ([]int, error) {
	per := nn.Size(src.shape)
	labels := make([]int, hi-lo)
	for i := lo; i < hi; i++ {
		labels[i-lo] = -1
		x := dst[(i-lo)*per : (i-lo+1)*per]
		if a := src.imgs[i].Audio; a != nil {
			_, f, err := dataset.SoundFeatures(a, src.shape)
			if err != nil {
				return nil, fmt.Errorf("sound %d: %w", i, err)
			}
			copy(x, f.MFCC)
		} else if t := src.imgs[i].NPY; t != nil {
			if err := oneSample(x, t, src.shape); err != nil {
				return nil, fmt.Errorf("input %d: %w", i, err)
			}
		} else {
			img, err := src.imgs[i].decode()
			if err != nil {
				return nil, fmt.Errorf("image %d: %w", i, err)
			}
			dataset.ToTensor(x, img, src.h, src.w, src.pre)
		}
		if src.labels != nil {
			labels[i-lo] = src.labels[i]
		}
	}
	return labels, nil
}

// oneSample decodes a .npy file holding one sample of the input shape into dst.
func oneSample(dst []float32, data []byte, shape []int) error {
	t, err := dataset.ReadNPY(data)
	if err != nil {
		return err
	}
	samples, err := t.Samples(shape)
	if err != nil {
		return err
	}
	if len(samples) != 1 {
		return fmt.Errorf("a .npy file of %d samples (the page takes one sample per file)", len(samples))
	}
	copy(dst, samples[0])
	return nil
}

// decode returns the image's pixels, checking their size.
func (im Image) decode() (image.Image, error) {
	if len(im.Encoded) > 0 {
		return dataset.DecodeReader(bytes.NewReader(im.Encoded))
	}
	if im.Width <= 0 || im.Height <= 0 || int64(im.Width)*int64(im.Height) > dataset.MaxPixels {
		return nil, fmt.Errorf("image of %dx%d pixels", im.Width, im.Height)
	}
	if len(im.RGBA) != 4*im.Width*im.Height {
		return nil, fmt.Errorf("%dx%d image needs %d RGBA bytes, got %d", im.Width, im.Height, 4*im.Width*im.Height, len(im.RGBA))
	}
	return &image.RGBA{Pix: im.RGBA, Stride: 4 * im.Width, Rect: image.Rect(0, 0, im.Width, im.Height)}, nil
}

// CalibInfo summarises a calibration.
type CalibInfo struct {
	Images int         `json:"images"`
	Points []ptq.Point `json:"points"`
}

// Calibrate gathers activation statistics of the float model on the first n images of src
// (all for n ≤ 0; training images, not the ones you will score). It forgets any previous
// quantization.
func (s *Session) Calibrate(src ptq.Source, n int, progress ptq.Progress) (info CalibInfo, err error) {
	defer guard(&err)
	if err := need(s.g != nil, "load a model first"); err != nil {
		return CalibInfo{}, err
	}
	cal, err := ptq.Calibrate(s.g, src, n, s.batch, progress)
	if err != nil {
		return CalibInfo{}, err
	}
	s.cal, s.q, s.net, s.lastQuant = cal, nil, nil, nil
	return CalibInfo{Images: cal.Images, Points: cal.Points}, nil
}

// Quantize makes the quantized network from the calibration with the options (validated).
func (s *Session) Quantize(opts ptq.Options) (plan *ptq.Plan, err error) {
	return s.QuantizeProgress(opts, nil)
}

// QuantizeProgress is Quantize telling learned rounding's progress layer by layer.
func (s *Session) QuantizeProgress(opts ptq.Options, progress ptq.RoundingProgress) (plan *ptq.Plan, err error) {
	defer guard(&err)
	if err := need(s.cal != nil, "calibrate before quantizing"); err != nil {
		return nil, err
	}
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("quantize: %w", err)
	}
	q, err := ptq.QuantizeProgress(s.g, s.cal, opts, progress)
	if err != nil {
		return nil, err
	}
	s.q, s.net, s.lastQuant = q, nil, nil
	return q.Plan, nil
}

// EvalReport compares the float and the quantized network on labelled images.
type EvalReport struct {
	FP32      *ptq.EvalResult `json:"fp32"`
	Quantized *ptq.EvalResult `json:"quantized,omitempty"`
	Agreement float64         `json:"agreement"`
	// Agreed is how many images the two networks give the same class (Agreement in %).
	Agreed int `json:"agreed"`
	// CalibImages is how many images the quantization was calibrated on (0: data-free).
	CalibImages int `json:"calib_images"`
	// Collapsed says the quantized network has lost the float network's predictions
	// (ptq.Collapsed): less than half of FP32's top-1, FP32's class on fewer than half of the
	// images.
	Collapsed bool `json:"collapsed"`
}

// Judge fills a report's figures from its counts — each result's percentages and standard
// error, the agreement, whether the quantized network collapsed — and returns it.
// FourBitPool sends here the counts it merged from its workers, so that one rule makes every
// figure.
func Judge(rep EvalReport) EvalReport {
	for _, r := range []*ptq.EvalResult{rep.FP32, rep.Quantized} {
		if r != nil {
			r.Score(r.Correct1, r.Correct5)
		}
	}
	if rep.FP32 != nil && rep.Quantized != nil && rep.FP32.Images > 0 {
		rep.Agreement = 100 * float64(rep.Agreed) / float64(rep.FP32.Images)
		rep.Collapsed = ptq.Collapsed(rep.FP32, rep.Quantized, rep.Agreed)
	}
	return rep
}

// Evaluate scores the float network and, if one was made, the quantized network on the first
// limit images of src (all for limit ≤ 0). With skipFP32 the float pass is left out when as
// many images were scored before (compare mode re-scores one image set many times); the
// report keeps the earlier FP32 result.
func (s *Session) Evaluate(src ptq.Source, limit int, progress ptq.Progress, skipFP32 bool) (rep EvalReport, err error) {
	defer guard(&err)
	if err := need(s.g != nil, "load a model first"); err != nil {
		return EvalReport{}, err
	}
	n := src.Len()
	if limit > 0 {
		n = min(n, limit)
	}
	reuse := skipFP32 && s.fp32 != nil && s.fp32.Images == n
	total := n
	if s.q != nil && !reuse {
		total *= 2
	}
	step := func(offset int) ptq.Progress {
		if progress == nil {
			return nil
		}
		return func(done, _ int) { progress(offset+done, total) }
	}
	offset := 0
	if reuse {
		rep.FP32 = s.fp32
	} else {
		if rep.FP32, err = ptq.Evaluate(s.g, src, n, s.batch, nil, step(0)); err != nil {
			return EvalReport{}, err
		}
		s.fp32, offset = rep.FP32, n
	}
	if s.q != nil {
		if rep.Quantized, err = ptq.Evaluate(s.q.Graph, src, n, s.batch, s.q.Hook(), step(offset)); err != nil {
			return EvalReport{}, err
		}
		rep.Agreed, _ = ptq.Agreed(rep.FP32, rep.Quantized)
		rep.CalibImages = s.cal.Images
		s.lastQuant = rep.Quantized
	}
	return Judge(rep), nil
}

// EngineInfo describes the integer engine built from the quantized network.
type EngineInfo struct {
	Layers []engine.LayerInfo `json:"layers"`
	// Kernels counts the layers by the kernel that runs them (engine.LayerInfo.Kernel).
	Kernels     map[string]int `json:"kernels"`
	PackedBytes int            `json:"packed_bytes"`
	FloatBytes  int            `json:"float_bytes"`
	// SIMD tells whether its integer GEMMs run on the WebAssembly SIMD128 kernels.
	SIMD bool `json:"simd"`
	// RelaxedSIMD tells whether QConv's layers with weights of up to 7 bits run on the
	// relaxed-SIMD int8 dot-product kernels (kernels/relaxed.wat) where the browser has them.
	RelaxedSIMD bool `json:"relaxed_simd"`
}

// EngineReport is the integer engine's result on labelled images.
type EngineReport struct {
	Engine *ptq.EvalResult `json:"engine"`
	// AgreementSimulated is the share of images (AgreedSimulated: how many) where the engine
	// predicts the class the simulated quantized network predicts.
	AgreementSimulated float64 `json:"agreement_simulated"`
	AgreedSimulated    int     `json:"agreed_simulated"`
	Predicted          []int   `json:"predicted"`
}

// BuildEngine builds the integer engine (package engine) of the quantized network from its
// plan: packed weights and integer kernels. The plan must carry every tensor as codes
// (ptq.Options.CarryBits).
func (s *Session) BuildEngine() (info EngineInfo, err error) {
	defer guard(&err)
	if err := need(s.q != nil, "quantize first"); err != nil {
		return EngineInfo{}, err
	}
	net, err := engine.Build(s.q)
	if err != nil {
		return EngineInfo{}, err
	}
	s.net = net
	info = EngineInfo{Layers: net.Layers(), Kernels: net.KernelCounts(), SIMD: kernels.SIMD(), RelaxedSIMD: kernels.RelaxedSIMD()}
	info.PackedBytes, info.FloatBytes = net.Sizes()
	return info, nil
}

// EvaluateEngine runs the integer engine on the first limit labelled images of src (all for
// limit ≤ 0), on one thread.
func (s *Session) EvaluateEngine(src ptq.Source, limit int, progress ptq.Progress) (rep EngineReport, err error) {
	defer guard(&err)
	if err := need(s.net != nil, "build the integer engine first"); err != nil {
		return EngineReport{}, err
	}
	in, out := nn.Size(s.g.Input().Shape), nn.Size(s.g.Output().Shape)
	if rep.Engine, err = ptq.EvaluateFunc(s.net.Forward, in, out, src, limit, s.batch, progress); err != nil {
		return EngineReport{}, err
	}
	rep.Predicted = rep.Engine.Predicted
	sim := s.lastQuant
	if sim == nil || sim.Images != rep.Engine.Images || !slices.Equal(sim.Labels, rep.Engine.Labels) {
		// Not the images the simulation last ran on (a pool evaluates in parts): run it here.
		if sim, err = ptq.Evaluate(s.q.Graph, src, limit, s.batch, s.q.Hook(), nil); err != nil {
			return EngineReport{}, err
		}
	}
	rep.AgreementSimulated = ptq.Agreement(sim, rep.Engine)
	rep.AgreedSimulated, _ = ptq.Agreed(sim, rep.Engine)
	return rep, nil
}

// Class is one ranked prediction.
type Class struct {
	Index       int     `json:"index"`
	Name        string  `json:"name"`
	Probability float64 `json:"probability"`
}

// Prediction is the top-k of one image by the float and the quantized network.
type Prediction struct {
	FP32      []Class `json:"fp32"`
	Quantized []Class `json:"quantized,omitempty"`
}

// Infer classifies one image with both networks.
func (s *Session) Infer(img Image, k int) (pred Prediction, err error) {
	defer guard(&err)
	src, err := s.Images([]Image{img}, nil)
	if err != nil {
		return Prediction{}, fmt.Errorf("infer: %w", err)
	}
	if k <= 0 {
		k = 3
	}
	x := make([]float32, nn.Size(s.g.Input().Shape))
	if _, err := src.Load(x, 0, 1); err != nil {
		return Prediction{}, fmt.Errorf("infer: %w", err)
	}
	return s.classify(x, k)
}

// classify runs one input through the float network and, once quantized, the quantized one.
func (s *Session) classify(x []float32, k int) (pred Prediction, err error) {
	if k <= 0 {
		k = 3
	}
	out, err := s.g.Forward(x, 1, nil)
	if err != nil {
		return Prediction{}, err
	}
	pred.FP32 = s.ranked(out, k)
	if s.q != nil {
		out, err := s.q.Graph.Forward(x, 1, s.q.Hook())
		if err != nil {
			return Prediction{}, err
		}
		pred.Quantized = s.ranked(out, k)
	}
	return pred, nil
}

// ranked returns the top k classes of logits with softmax probabilities (the outputs
// themselves when the network ends in a softmax).
func (s *Session) ranked(logits []float32, k int) []Class {
	var probs []float64
	if _, ok := s.g.Output().Op.(nn.Softmax); ok {
		probs = make([]float64, len(logits))
		for i, v := range logits {
			probs[i] = float64(v)
		}
	} else {
		probs = softmax(logits)
	}
	var out []Class
	for _, i := range nn.TopK(logits, k) {
		c := Class{Index: i, Probability: probs[i], Name: s.g.ClassName(i)}
		out = append(out, c)
	}
	return out
}

// Export returns the quantized model in fourbit's JSON export format (ptq.ExportFormat).
func (s *Session) Export() (b []byte, err error) {
	defer guard(&err)
	if err := need(s.q != nil, "quantize first"); err != nil {
		return nil, err
	}
	return s.q.Export().Marshal()
}

// ExportONNX returns the network as ONNX: the quantized network as a QDQ model when
// quantized is set (after Quantize), else the float network.
func (s *Session) ExportONNX(quantized bool) (b []byte, err error) {
	defer guard(&err)
	if err := need(s.g != nil, "load a model first"); err != nil {
		return nil, err
	}
	if !quantized {
		return onnx.Export(s.g)
	}
	if err := need(s.q != nil, "quantize first"); err != nil {
		return nil, err
	}
	return onnx.ExportQDQ(s.q)
}

// ExportONNXFused returns the quantized network as a QDQ model in the form ONNX Runtime fuses
// into its integer kernels (onnx.ExportQDQFused).
func (s *Session) ExportONNXFused() (b []byte, err error) {
	defer guard(&err)
	if err := need(s.q != nil, "quantize first"); err != nil {
		return nil, err
	}
	return onnx.ExportQDQFused(s.q)
}

// RowOptions is one row of the paper's table as options.
type RowOptions struct {
	Name    string      `json:"name"`
	Options ptq.Options `json:"options"`
}

// Rows returns the rows of the paper's results table (ptq.PaperRows) at a bit setting such as
// "W4A4", as options to pass to Quantize.
func (s *Session) Rows(bits string) ([]RowOptions, error) {
	w, a, err := ptq.ParseBits(bits)
	if err != nil {
		return nil, err
	}
	var out []RowOptions
	for _, r := range ptq.PaperRows {
		o := ptq.DefaultOptions().Naive()
		o.WeightBits, o.ActBits = w, a
		out = append(out, RowOptions{r.Name, r.Apply(o)})
	}
	return out, nil
}

// Debug compares every quantized activation of the current quantization with the float
// network on the first n images of src (all for n ≤ 0; ptq.Debug): SQNR, cosine, relative
// MSE, worst injector first.
func (s *Session) Debug(src ptq.Source, n int) (errs []ptq.LayerError, err error) {
	defer guard(&err)
	if err := need(s.q != nil, "quantize first"); err != nil {
		return nil, err
	}
	return ptq.Debug(s.g, s.cal, src, s.q.Plan.Options, n, s.batch)
}

// Graph returns the loaded float network (nil before Load).
func (s *Session) Graph() *nn.Graph { return s.g }

// Calibration returns the current calibration (nil before Calibrate).
func (s *Session) Calibration() *ptq.Calibration { return s.cal }

// Quantized returns the current quantized network (nil before Quantize).
func (s *Session) Quantized() *ptq.Quantized { return s.q }

// Engine returns the integer engine (nil before BuildEngine).
func (s *Session) Engine() *engine.Net { return s.net }
