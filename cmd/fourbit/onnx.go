package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"

	"fourbit/nn"
	"fourbit/ptq"
	"fourbit/session"
)

func init() {
	register("export", "write a model as ONNX: float, or quantized (QDQ) when --calib is given", runExport)
	register("logits", "write the preprocessed images and a network's logits (float, simulated or integer engine) as raw float32 files, for checks against other runtimes", runLogits)
}

func runExport(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("export", "--model FILE --out FILE.onnx [--calib DIR [quantization options]]", stderr)
	opts := ptq.DefaultOptions()
	of := bindOptions(fs, &opts)
	modelPath := fs.String("model", "", "model file")
	out := fs.String("out", "", "ONNX file to write")
	calibDir := fs.String("calib", "", "calibration folder: export the quantized network as a QDQ model")
	fuse := fs.Bool("fuse", false, "with --calib: the QDQ model in the form ONNX Runtime fuses into its integer kernels (int8 weights, int32 biases, no clamps before 8-bit QuantizeLinear); layers that cannot take it stay as without")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *fuse && *calibDir == "" {
		return usageError{fmt.Errorf("--fuse needs --calib (it writes the quantized network)")}
	}
	if err := of.finish(); err != nil {
		return err
	}
	if *out == "" {
		return usageError{fmt.Errorf("--out is required")}
	}
	s, _, err := open(*modelPath, "", 0)
	if err != nil {
		return err
	}
	if *calibDir != "" {
		if err := quantizeWith(s, *calibDir, opts, stderr); err != nil {
			return err
		}
	}
	var data []byte
	if *fuse {
		data, err = s.ExportONNXFused()
	} else {
		data, err = s.ExportONNX(*calibDir != "")
	}
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, data, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (%d bytes)\n", *out, len(data))
	return nil
}

// quantizeWith calibrates s on calibDir and quantizes it with opts.
func quantizeWith(s *session.Session, calibDir string, opts ptq.Options, stderr io.Writer) error {
	if err := calibrate(s, calibDir, opts.CalibImages, stderr); err != nil {
		return err
	}
	_, err := s.Quantize(opts)
	return err
}

type logitsOutput struct {
	Images  int    `json:"images"`
	Classes int    `json:"classes"`
	Shape   []int  `json:"input_shape"`
	Labels  []int  `json:"labels"`
	Network string `json:"network"`
}

func runLogits(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("logits", "--model FILE (--data DIR [--limit N] | --tensors FILE) --out FILE [--inputs FILE] [--calib DIR [options] [--engine]]", stderr)
	opts := ptq.DefaultOptions()
	of := bindOptions(fs, &opts)
	modelPath := fs.String("model", "", "model file")
	dir := fs.String("data", "", "labelled image folder")
	limit := fs.Int("limit", 0, "only the first N images")
	inputs := fs.String("inputs", "", "write the preprocessed input tensors here (float32, N×C×H×W)")
	outFile := fs.String("out", "", "write the logits here (float32, N×classes)")
	tensors := fs.String("tensors", "", "read the input tensors from this file (float32, N×C×H×W, little-endian) instead of --data's images")
	calibDir := fs.String("calib", "", "calibration folder: the simulated quantized network's logits")
	useEngine := fs.Bool("engine", false, "with --calib: the integer engine's logits")
	if err := parse(fs, args); err != nil {
		return err
	}
	of.engine = *useEngine
	if err := of.finish(); err != nil {
		return err
	}
	if (*dir == "") == (*tensors == "") || *outFile == "" {
		return usageError{fmt.Errorf("--out and one of --data and --tensors are required")}
	}
	s, src, err := open(*modelPath, *dir, *limit)
	if err != nil {
		return err
	}
	g := s.Graph()
	if *tensors != "" {
		if src, err = readTensors(*tensors, nn.Size(g.Input().Shape)); err != nil {
			return err
		}
	}
	forward := func(x []float32, b int) ([]float32, error) { return g.Forward(x, b, nil) }
	network := "float"
	if *calibDir != "" {
		if err := quantizeWith(s, *calibDir, opts, stderr); err != nil {
			return err
		}
		q := s.Quantized()
		hook := q.Hook()
		forward, network = func(x []float32, b int) ([]float32, error) { return q.Graph.Forward(x, b, hook) }, "simulated"
		if *useEngine {
			if _, err := s.BuildEngine(); err != nil {
				return err
			}
			forward, network = s.Engine().Forward, "engine"
		}
	}
	var inW *bufio.Writer
	if *inputs != "" {
		f, err := os.Create(*inputs)
		if err != nil {
			return err
		}
		defer f.Close()
		inW = bufio.NewWriter(f)
		defer inW.Flush()
	}
	of2, err := os.Create(*outFile)
	if err != nil {
		return err
	}
	defer of2.Close()
	outW := bufio.NewWriter(of2)
	defer outW.Flush()
	per := nn.Size(g.Input().Shape)
	res := logitsOutput{Classes: nn.Size(g.Output().Shape), Shape: g.Input().Shape, Network: network}
	const batch = ptq.DefaultBatch
	x := make([]float32, batch*per)
	for lo := 0; lo < src.Len(); lo += batch {
		hi := min(lo+batch, src.Len())
		labels, err := src.Load(x[:(hi-lo)*per], lo, hi)
		if err != nil {
			return err
		}
		y, err := forward(x[:(hi-lo)*per], hi-lo)
		if err != nil {
			return err
		}
		if inW != nil {
			if err := writeF32(inW, x[:(hi-lo)*per]); err != nil {
				return err
			}
		}
		if err := writeF32(outW, y); err != nil {
			return err
		}
		res.Labels = append(res.Labels, labels...)
		res.Images = hi
	}
	return json.NewEncoder(stdout).Encode(res)
}

// tensorSource serves input tensors read from a float32 file; its labels are -1.
type tensorSource struct {
	x   []float32
	per int
}

// readTensors reads a file of float32 input tensors of per values each.
func readTensors(path string, per int) (*tensorSource, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > 1<<31 || st.Size()%int64(4*per) != 0 || st.Size() == 0 {
		return nil, fmt.Errorf("%s: %d bytes is not a whole number of float32 inputs of %d values", path, st.Size(), per)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	x := make([]float32, len(b)/4)
	for i := range x {
		x[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return &tensorSource{x: x, per: per}, nil
}

func (t *tensorSource) Len() int { return len(t.x) / t.per }

func (t *tensorSource) Load(dst []float32, lo, hi int) ([]int, error) {
	copy(dst, t.x[lo*t.per:hi*t.per])
	labels := make([]int, hi-lo)
	for i := range labels {
		labels[i] = -1
	}
	return labels, nil
}

func writeF32(w io.Writer, v []float32) error {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	_, err := w.Write(b)
	return err
}
