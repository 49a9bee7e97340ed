package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"fourbit/ptq"
	"fourbit/session"
)

func init() {
	register("eval", "measure a float model's top-1/top-5 on a labelled image folder", runEval)
	register("info", "print a model's graph: layers, shapes, parameters, MACs", runInfo)
}

// open loads the model into a new session and, when dir is not empty, serves the first
// limit images of that labelled folder (nil otherwise).
func open(modelPath, dir string, limit int) (*session.Session, ptq.Source, error) {
	if modelPath == "" {
		return nil, nil, usageError{fmt.Errorf("--model is required")}
	}
	path, opts, err := zooModel(modelPath)
	if err != nil {
		return nil, nil, err
	}
	opts.InputShape = inputShape
	if err := modelFlags.apply(&opts); err != nil {
		return nil, nil, err
	}
	s := session.New()
	if _, err := s.LoadFile(path, opts); err != nil {
		return nil, nil, err
	}
	if dir == "" {
		return s, nil, nil
	}
	src, err := s.Folder(dir, limit)
	if err != nil {
		return nil, nil, err
	}
	return s, src, nil
}

// progressBar draws a one-line progress bar on w (stderr) when it is a terminal-ish writer.
func progressBar(w io.Writer, what string) ptq.Progress {
	if f, ok := w.(*os.File); !ok || !isTerminal(f) {
		return nil
	}
	return func(done, total int) {
		const width = 30
		n := done * width / max(total, 1)
		fmt.Fprintf(w, "\r%-12s [%s%s] %d/%d", what, repeat('#', n), repeat('.', width-n), done, total)
		if done == total {
			fmt.Fprint(w, "\r\033[K")
		}
	}
}

func repeat(c byte, n int) string {
	b := make([]byte, max(n, 0))
	for i := range b {
		b[i] = c
	}
	return string(b)
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

type evalOutput struct {
	Model string `json:"model"`
	Data  string `json:"data"`
	*ptq.EvalResult
}

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval", "--model FILE --data DIR [--limit N] [--json]", stderr)
	modelPath := fs.String("model", "", "model file")
	data := fs.String("data", "", "labelled image folder (one sub-folder per class)")
	limit := fs.Int("limit", 0, "evaluate only the first N images (classes interleaved)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *data == "" {
		return usageError{fmt.Errorf("--data is required")}
	}
	if *limit < 0 {
		return usageError{fmt.Errorf("--limit must be ≥ 0")}
	}
	s, src, err := open(*modelPath, *data, *limit)
	if err != nil {
		return err
	}
	rep, err := s.Evaluate(src, *limit, progressBar(stderr, "evaluate"), false)
	if err != nil {
		return err
	}
	res := rep.FP32
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(evalOutput{filepath.Base(*modelPath), *data, res})
	}
	fmt.Fprintf(stdout, "%s on %s: top-1 %.2f%%  top-5 %.2f%%  (%d images, %.1f images/s)\n",
		filepath.Base(*modelPath), *data, res.Top1, res.Top5, res.Images, res.ImagesPerSec)
	return nil
}

func runInfo(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("info", "--model FILE [--json]", stderr)
	modelPath := fs.String("model", "", "model file")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	s, _, err := open(*modelPath, "", 0)
	if err != nil {
		return err
	}
	info, err := s.Info()
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(info)
	}
	fmt.Fprintf(stdout, "%s: %d nodes, %d parameters, %.1f M MACs per image, input %v\n",
		filepath.Base(*modelPath), len(info.Nodes), info.Params, float64(info.MACs)/1e6, info.Input)
	fmt.Fprintf(stdout, "%-22s %-14s %-34s %-14s %9s %11s\n", "node", "kind", "inputs", "shape", "params", "MACs")
	for _, n := range info.Nodes {
		fmt.Fprintf(stdout, "%-22s %-14s %-34s %-14s %9d %11d\n", n.Name, n.Kind, strings.Join(n.Inputs, ","), fmt.Sprint(n.Shape), n.Params, n.MACs)
	}
	return nil
}
