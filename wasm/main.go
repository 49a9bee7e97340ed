//go:build js && wasm

// Command wasm is fourbit's browser module: it registers one global object, fourbit, whose
// functions adapt JavaScript values to package session and back. No logic lives here that
// the native CLI cannot run: every call decodes its arguments, calls session, and encodes
// the answer as JSON.
//
// Each function returns {result: "<json>"}, {bytes: Uint8Array} (export) or
// {error: "<message>"}; a Go panic becomes an
// error, and the module stays usable. Byte arrays cross with js.CopyBytesToGo.
package main

import (
	"encoding/json"
	"fmt"
	"runtime/debug"
	"syscall/js"

	"fourbit/kernels"
	"fourbit/ptq"
	"fourbit/session"
)

func main() {
	s := session.New()
	api := map[string]func(args []js.Value) (any, error){
		"load":              func(a []js.Value) (any, error) { return load(s, a) },
		"loadFiles":         func(a []js.Value) (any, error) { return loadFiles(s, a) },
		"calibrateDataFree": func([]js.Value) (any, error) { return s.CalibrateDataFree() },
		"info":              func([]js.Value) (any, error) { return s.Info() },
		"calibrate":         func(a []js.Value) (any, error) { return calibrate(s, a) },
		"quantize":          func(a []js.Value) (any, error) { return quantize(s, a) },
		"evaluate":          func(a []js.Value) (any, error) { return evaluate(s, a) },
		"infer":             func(a []js.Value) (any, error) { return infer(s, a) },
		"listen":            func(a []js.Value) (any, error) { return listen(s, a) },
		"features": func([]js.Value) (any, error) {
			return map[string]bool{"simd": kernels.SIMD(), "relaxed_simd": kernels.RelaxedSIMD()}, nil
		},
		"buildEngine": func([]js.Value) (any, error) { return s.BuildEngine() },
		"evaluateEngine": func(a []js.Value) (any, error) {
			src, progress, err := labelled(s, a)
			if err != nil {
				return nil, err
			}
			return s.EvaluateEngine(src, 0, progressOf(progress))
		},
		"channel":  func(a []js.Value) (any, error) { return channel(s, a) },
		"defaults": func([]js.Value) (any, error) { return defaultOptions(), nil },
		"export":   func([]js.Value) (any, error) { return s.Export() },
		"exportONNX": func(a []js.Value) (any, error) {
			if len(a) > 1 && a[1].Type() == js.TypeBoolean && a[1].Bool() {
				return s.ExportONNXFused()
			}
			return s.ExportONNX(len(a) == 0 || a[0].Type() != js.TypeBoolean || a[0].Bool())
		},
		"rows": func(a []js.Value) (any, error) { return rows(s, a) },
		"questions": func(a []js.Value) (any, error) {
			opts := defaultOptions()
			if len(a) < 1 || a[0].Type() != js.TypeString {
				return nil, fmt.Errorf("questions takes the options as a JSON string (fourbit.js does this)")
			}
			if err := decodeOptions(a[0].String(), &opts); err != nil {
				return nil, err
			}
			src, progress, err := labelled(s, a[1:])
			if err != nil {
				return nil, err
			}
			return s.Questions(opts, src, 0, progressOf(progress))
		},
		"judge": func(a []js.Value) (any, error) {
			v, err := arg(a, 0, "report")
			if err != nil || v.Type() != js.TypeString {
				return nil, fmt.Errorf("judge takes a report as a JSON string (fourbit.js does this)")
			}
			var rep session.EvalReport
			if err := json.Unmarshal([]byte(v.String()), &rep); err != nil {
				return nil, fmt.Errorf("report: %w", err)
			}
			return session.Judge(rep), nil
		},
		"debug": func(a []js.Value) (any, error) {
			src, err := imagesArg(s, a, 0)
			if err != nil {
				return nil, err
			}
			return s.Debug(src, 0)
		},
	}
	obj := js.Global().Get("Object").New()
	for name, fn := range api {
		obj.Set(name, js.FuncOf(wrap(name, fn)))
	}
	js.Global().Set("fourbit", obj)
	if ready := js.Global().Get("fourbitReady"); ready.Type() == js.TypeFunction {
		ready.Invoke()
	}
	select {}
}

// wrap turns a Go function into a JS function answering {result} or {error}.
func wrap(name string, fn func([]js.Value) (any, error)) func(js.Value, []js.Value) any {
	return func(_ js.Value, args []js.Value) (ret any) {
		defer func() {
			if r := recover(); r != nil {
				ret = answer(nil, fmt.Errorf("%s: internal error: %v\n%s", name, r, debug.Stack()))
			}
		}()
		v, err := fn(args)
		if err != nil {
			err = fmt.Errorf("%s: %w", name, err)
		}
		return answer(v, err)
	}
}

func answer(v any, err error) js.Value {
	out := js.Global().Get("Object").New()
	if err != nil {
		out.Set("error", err.Error())
		return out
	}
	if raw, ok := v.([]byte); ok {
		arr := js.Global().Get("Uint8Array").New(len(raw))
		js.CopyBytesToJS(arr, raw)
		out.Set("bytes", arr)
		return out
	}
	b, err := json.Marshal(v)
	if err != nil {
		out.Set("error", "encoding the answer: "+err.Error())
		return out
	}
	out.Set("result", string(b))
	return out
}

// bytesOf copies a Uint8Array or Uint8ClampedArray into Go.
func bytesOf(v js.Value, what string) ([]byte, error) {
	if v.Type() != js.TypeObject {
		return nil, fmt.Errorf("%s must be a Uint8Array, got %s", what, v.Type())
	}
	ctor := v.Get("constructor").Get("name").String()
	if ctor != "Uint8Array" && ctor != "Uint8ClampedArray" {
		return nil, fmt.Errorf("%s must be a Uint8Array, got %s", what, ctor)
	}
	b := make([]byte, v.Get("length").Int())
	js.CopyBytesToGo(b, v)
	return b, nil
}

func arg(args []js.Value, i int, what string) (js.Value, error) {
	if i >= len(args) || args[i].IsUndefined() || args[i].IsNull() {
		return js.Undefined(), fmt.Errorf("missing argument %s", what)
	}
	return args[i], nil
}

func load(s *session.Session, args []js.Value) (any, error) {
	v, err := arg(args, 0, "model bytes")
	if err != nil {
		return nil, err
	}
	b, err := bytesOf(v, "model bytes")
	if err != nil {
		return nil, err
	}
	return s.Load(b)
}

// loadFiles reads {name: Uint8Array, …}: a model given as several files.
func loadFiles(s *session.Session, args []js.Value) (any, error) {
	v, err := arg(args, 0, "model files")
	if err != nil {
		return nil, err
	}
	if v.Type() != js.TypeObject {
		return nil, fmt.Errorf("model files must be an object of name → Uint8Array")
	}
	keys := js.Global().Get("Object").Call("keys", v)
	files := map[string][]byte{}
	for i := 0; i < keys.Length(); i++ {
		name := keys.Index(i).String()
		b, err := bytesOf(v.Get(name), "model file "+name)
		if err != nil {
			return nil, err
		}
		files[name] = b
	}
	return s.LoadFiles(files)
}

// images reads an array of {width, height, data} (RGBA pixels) or {bytes} (a PNG/JPEG file).
func images(v js.Value) ([]session.Image, error) {
	if v.Type() != js.TypeObject || !js.Global().Get("Array").Call("isArray", v).Bool() {
		return nil, fmt.Errorf("images must be an array")
	}
	n := v.Length()
	out := make([]session.Image, n)
	for i := 0; i < n; i++ {
		it := v.Index(i)
		if it.Type() != js.TypeObject {
			return nil, fmt.Errorf("image %d is not an object", i)
		}
		if t := it.Get("audio"); !t.IsUndefined() {
			b, err := bytesOf(t, fmt.Sprintf("input %d audio", i))
			if err != nil {
				return nil, err
			}
			out[i].Audio = b
			continue
		}
		if t := it.Get("npy"); !t.IsUndefined() {
			b, err := bytesOf(t, fmt.Sprintf("input %d npy", i))
			if err != nil {
				return nil, err
			}
			out[i].NPY = b
			continue
		}
		if enc := it.Get("bytes"); !enc.IsUndefined() {
			b, err := bytesOf(enc, fmt.Sprintf("image %d bytes", i))
			if err != nil {
				return nil, err
			}
			out[i].Encoded = b
			continue
		}
		w, h := it.Get("width"), it.Get("height")
		if w.Type() != js.TypeNumber || h.Type() != js.TypeNumber {
			return nil, fmt.Errorf("image %d needs numeric width and height, or bytes", i)
		}
		b, err := bytesOf(it.Get("data"), fmt.Sprintf("image %d data", i))
		if err != nil {
			return nil, err
		}
		out[i] = session.Image{Width: w.Int(), Height: h.Int(), RGBA: b}
	}
	return out, nil
}

func progressOf(v js.Value) func(done, total int) {
	if v.Type() != js.TypeFunction {
		return nil
	}
	return func(done, total int) { v.Invoke(done, total) }
}

// imagesArg reads argument i as an array of (unlabelled) images for the session's model.
func imagesArg(s *session.Session, args []js.Value, i int) (ptq.Source, error) {
	v, err := arg(args, i, "images")
	if err != nil {
		return nil, err
	}
	imgs, err := images(v)
	if err != nil {
		return nil, err
	}
	return s.Images(imgs, nil)
}

func calibrate(s *session.Session, args []js.Value) (any, error) {
	src, err := imagesArg(s, args, 0)
	if err != nil {
		return nil, err
	}
	var progress js.Value
	if len(args) > 1 {
		progress = args[1]
	}
	return s.Calibrate(src, 0, progressOf(progress))
}

func quantize(s *session.Session, args []js.Value) (any, error) {
	opts := defaultOptions()
	if len(args) > 0 && !args[0].IsUndefined() && !args[0].IsNull() {
		if args[0].Type() != js.TypeString {
			return nil, fmt.Errorf("options must be passed as a JSON string (fourbit.js does this)")
		}
		if err := decodeOptions(args[0].String(), &opts); err != nil {
			return nil, err
		}
	}
	var progress ptq.RoundingProgress
	if len(args) > 1 && args[1].Type() == js.TypeFunction {
		f := args[1]
		progress = func(layer string, done, total int, r ptq.RoundingReport) {
			b, _ := json.Marshal(r)
			f.Invoke(done, total, string(b))
		}
	}
	return s.QuantizeProgress(opts, progress)
}

// labelled reads (images, labels, progress) arguments as a labelled source.
func labelled(s *session.Session, args []js.Value) (src ptq.Source, progress js.Value, err error) {
	v, err := arg(args, 0, "images")
	if err != nil {
		return nil, progress, err
	}
	imgs, err := images(v)
	if err != nil {
		return nil, progress, err
	}
	lv, err := arg(args, 1, "labels")
	if err != nil {
		return nil, progress, err
	}
	if lv.Type() != js.TypeObject || lv.Get("length").Type() != js.TypeNumber {
		return nil, progress, fmt.Errorf("labels must be an array of class indices")
	}
	labels := make([]int, lv.Length())
	for i := range labels {
		x := lv.Index(i)
		if x.Type() != js.TypeNumber {
			return nil, progress, fmt.Errorf("label %d is not a number", i)
		}
		labels[i] = x.Int()
	}
	if len(args) > 2 {
		progress = args[2]
	}
	src, err = s.Images(imgs, labels)
	return src, progress, err
}

func evaluate(s *session.Session, args []js.Value) (any, error) {
	src, progress, err := labelled(s, args)
	if err != nil {
		return nil, err
	}
	skip := len(args) > 3 && args[3].Type() == js.TypeBoolean && args[3].Bool()
	return s.Evaluate(src, 0, progressOf(progress), skip)
}

func infer(s *session.Session, args []js.Value) (any, error) {
	v, err := arg(args, 0, "image")
	if err != nil {
		return nil, err
	}
	imgs, err := images(js.Global().Get("Array").Call("of", v))
	if err != nil {
		return nil, err
	}
	k := 3
	if len(args) > 1 && args[1].Type() == js.TypeNumber {
		k = args[1].Int()
	}
	return s.Infer(imgs[0], k)
}

// listen hears one WAV or MP3 file (bytes) with the loaded keyword network: session.Sound.
func listen(s *session.Session, args []js.Value) (any, error) {
	v, err := arg(args, 0, "sound file bytes")
	if err != nil {
		return nil, err
	}
	b, err := bytesOf(v, "sound")
	if err != nil {
		return nil, err
	}
	k := 3
	if len(args) > 1 && args[1].Type() == js.TypeNumber {
		k = args[1].Int()
	}
	return s.Listen(b, k)
}

func channel(s *session.Session, args []js.Value) (any, error) {
	layer, err := arg(args, 0, "layer name")
	if err != nil {
		return nil, err
	}
	if layer.Type() != js.TypeString {
		return nil, fmt.Errorf("layer name must be a string")
	}
	c := 0
	if len(args) > 1 && args[1].Type() == js.TypeNumber {
		c = args[1].Int()
	}
	return s.Channel(layer.String(), c)
}

func rows(s *session.Session, args []js.Value) (any, error) {
	bits := "W4A4"
	if len(args) > 0 && args[0].Type() == js.TypeString {
		bits = args[0].String()
	}
	return s.Rows(bits)
}
