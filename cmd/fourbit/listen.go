package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"fourbit/audio"
	"fourbit/internal/files"
	"fourbit/ptq"
	"fourbit/session"
)

func init() {
	register("listen", "hear WAV or MP3 files with a keyword-spotting network (MFCC front end): the top-3 keywords of the float and the 4-bit network", runListen)
}

type listenOutput struct {
	File  string        `json:"file"`
	Sound session.Sound `json:"sound"`
}

func runListen(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("listen", "--model FILE [--calib DIR] [options] FILE.mp3|FILE.wav...", stderr)
	opts := ptq.DefaultOptions()
	opts.ActBits = 8 // W4A8 by default: 4-bit weights, 8-bit activations
	of := bindOptions(fs, &opts)
	modelPath := fs.String("model", "kws", "keyword-spotting model (default: the MLPerf Tiny DS-CNN of $FOURBIT_DATA)")
	calibDir := fs.String("calib", "", "calibration folder of sound clips (one folder per class) or .npy features; default: the files given")
	top := fs.Int("top", 3, "keywords to print")
	asJSON := fs.Bool("json", false, "print JSON (with the MFCCs and the envelope)")
	if err := parseFiles(fs, args); err != nil {
		return err
	}
	if err := of.finish(); err != nil {
		return err
	}
	paths := fs.Args()
	if len(paths) == 0 {
		return usageError{fmt.Errorf("give one or more .wav or .mp3 files")}
	}
	s, _, err := open(*modelPath, "", 0)
	if err != nil {
		return err
	}
	sounds := make([][]byte, len(paths))
	for i, p := range paths {
		if sounds[i], err = files.Read(p, audio.MaxBytes); err != nil {
			return err
		}
	}
	if *calibDir != "" {
		src, err := s.Folder(*calibDir, 0)
		if err != nil {
			return err
		}
		if _, err := s.Calibrate(src, min(opts.CalibImages, src.Len()), progressBar(stderr, "calibrate")); err != nil {
			return err
		}
	} else {
		imgs := make([]session.Image, len(sounds))
		for i, b := range sounds {
			imgs[i] = session.Image{Audio: b}
		}
		src, err := s.Images(imgs, nil)
		if err != nil {
			return err
		}
		if _, err := s.Calibrate(src, 0, nil); err != nil {
			return fmt.Errorf("calibrate on the files given: %w", err)
		}
	}
	if _, err := s.Quantize(opts); err != nil {
		return err
	}
	var outs []listenOutput
	for i, b := range sounds {
		snd, err := s.Listen(b, *top)
		if err != nil {
			return fmt.Errorf("%s: %w", paths[i], err)
		}
		outs = append(outs, listenOutput{paths[i], snd})
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(outs)
	}
	calib := *calibDir
	if calib == "" {
		calib = fmt.Sprintf("the %d file(s) given", len(paths))
	}
	fmt.Fprintf(stdout, "%s, W%dA%d calibrated on %s\n", *modelPath, opts.WeightBits, opts.ActBits, calib)
	for _, o := range outs {
		snd := o.Sound
		fmt.Fprintf(stdout, "%s: %s, %.2f s; heard %.2f–%.2f s\n", o.File, snd.Format, snd.Seconds, snd.Start, snd.Start+snd.Length)
		fmt.Fprintf(stdout, "  %-9s %s\n", "FP32", classes(snd.FP32))
		fmt.Fprintf(stdout, "  %-9s %s\n", fmt.Sprintf("W%dA%d", opts.WeightBits, opts.ActBits), classes(snd.Quantized))
	}
	return nil
}

func classes(cs []session.Class) string {
	var parts []string
	for _, c := range cs {
		parts = append(parts, fmt.Sprintf("%-8s %5.1f%%", c.Name, 100*c.Probability))
	}
	return strings.Join(parts, "   ")
}
