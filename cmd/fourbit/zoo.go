package main

import (
	"os"
	"path/filepath"
	"strings"

	"fourbit/internal/files"
	"fourbit/model"
	"fourbit/nn"
)

// apply puts --labels, --names and --preprocess on the model's load options.
func (f modelFlagValues) apply(o *model.Options) error {
	var err error
	if f.labels != "" {
		if o.Classes, err = readLines(f.labels); err != nil {
			return err
		}
	}
	if f.names != "" {
		if o.Names, err = readLines(f.names); err != nil {
			return err
		}
	}
	if f.preprocess != "" {
		base := nn.Preprocess{Std: [3]float32{1, 1, 1}}
		if o.Preprocess != nil {
			base = *o.Preprocess
		}
		p, err := nn.ParsePreprocess(f.preprocess, base)
		if err != nil {
			return usageError{err}
		}
		o.Preprocess = &p
	}
	return nil
}

// readLines reads a list file: one entry per line, bounded.
func readLines(path string) ([]string, error) {
	b, err := files.Read(path, 16<<20)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimRight(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n"), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return lines, nil
}

// cifar10 are CIFAR-10's classes in the order of its labels (and of the data folders).
var cifar10 = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

// zooModel resolves the names of the real networks of $FOURBIT_DATA (resnet20, …,
// darknet-tiny, mobilenet-v1-0.25, resnet8, kws) to their files with what the files do not
// say themselves: the class labels and the preprocessing of their data's published protocol.
// Any other name is a path, loaded as it is.
func zooModel(name string) (string, model.Options, error) {
	d := dataDir()
	switch name {
	case "mobilenet-v1-0.25":
		// TensorFlow's ImageNet protocol: x/127.5 − 1 on the central 87.5%, bilinear to 224.
		dir := filepath.Join(d, "imagenet-mobilenet-v1")
		classes, err := readLines(filepath.Join(dir, "labels-synsets.txt"))
		if err != nil {
			return "", model.Options{}, err
		}
		names, err := readLines(filepath.Join(dir, "labels.txt"))
		if err != nil {
			return "", model.Options{}, err
		}
		p := nn.Preprocess{Mean: [3]float32{0.5, 0.5, 0.5}, Std: [3]float32{0.5, 0.5, 0.5}, Resize: nn.ResizeCentral, Crop: 0.875}
		return filepath.Join(dir, "mobilenet_v1_0.25_224.tflite"), model.Options{Classes: classes, Names: names, Preprocess: &p}, nil
	case "resnet8":
		// MLPerf Tiny's image classification: raw pixel values 0..255, CIFAR-10's classes.
		p := nn.Preprocess{Std: [3]float32{1.0 / 255, 1.0 / 255, 1.0 / 255}}
		return filepath.Join(d, "mlperf-tiny", "resnet8_cifar10_float32.tflite"), model.Options{Classes: cifar10, Preprocess: &p}, nil
	case "kws":
		// The keyword DS-CNN is also committed (43 KB): from a checkout, listen works without the data.
		p := filepath.Join(d, "mlperf-tiny", "kws_ref_model_float32.tflite")
		if _, err := os.Stat(p); err != nil {
			p = filepath.Join("testdata", "mlperf-tiny", "kws_ref_model_float32.tflite")
		}
		return p, model.Options{Classes: kwsClasses}, nil
	}
	if strings.ContainsRune(name, filepath.Separator) || filepath.Ext(name) != "" {
		return name, model.Options{}, nil // a path: the loader says what is wrong with it
	}
	path, err := resolveModel(name)
	return path, model.Options{}, err
}

// kwsClasses are the keyword-spotting DS-CNN's outputs, in order.
var kwsClasses = []string{"down", "go", "left", "no", "off", "on", "right", "stop", "up", "yes", "silence", "unknown"}
