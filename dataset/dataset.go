// Package dataset reads labelled inputs from a class-per-folder tree ("image folder" layout:
// root/<class>/<file>): images, decoded with the standard library (PNG, JPEG), fitted to a
// model's input and normalised; sound clips (WAV, MP3), turned into the MFCCs of the keyword
// network's front end by package audio; or tensors in NumPy's .npy files (one sample per file,
// or N × the input's shape), for models that do not eat images. It serves them in
// deterministic batches.
package dataset

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // register JPEG
	_ "image/png"  // register PNG
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"fourbit/audio"
	"fourbit/internal/files"
	"fourbit/nn"
)

// Item is one labelled input: an image file, or sample Sample of a .npy file.
type Item struct {
	Path   string
	Label  int
	Sample int
}

// Folder is a labelled image set: its class names (sorted folder names, or the model's
// classes) and its items, interleaved class by class (the first image of every class, then
// the second, …) so that any prefix is balanced.
type Folder struct {
	Root    string
	Classes []string
	Items   []Item
}

// ErrData reports an unusable image set or image.
var ErrData = errors.New("dataset")

// MaxPixels bounds an image's width × height (64 megapixels), MaxImageBytes its file.
const (
	MaxPixels     = 1 << 26
	MaxImageBytes = 256 << 20
)

var imageExt = map[string]bool{".png": true, ".jpg": true, ".jpeg": true, ".npy": true, ".wav": true, ".wave": true, ".mp3": true}

func isNPY(path string) bool { return strings.EqualFold(filepath.Ext(path), ".npy") }

// isTensor reports whether an item is served from Source.tensors (a .npy file or a sound
// clip's features) rather than decoded as an image batch by batch.
func isTensor(path string) bool { return isNPY(path) || audio.IsAudio(path) }

// Open lists the images under root. Class index = position of the folder name in classes
// when classes is given (the model's class list; a folder it lacks is an error), else in the
// sorted list of folder names. Hidden files are skipped; any other non-image file is an error
// naming it. limit > 0 keeps the first limit items of the interleaved order.
//
// root may end in ":even" or ":odd" (when no such folder exists) to keep only the class
// folders at even or odd positions of the sorted folder list, counted from 0: two disjoint
// halves of one folder, to calibrate on one and score the other.
//
// root may also be one .npy file (N samples): its labels are those of a LABELS.npy beside
// it (x.npy, x.labels.npy) when there is one, else unknown (−1: calibration only).
func Open(root string, classes []string, limit int) (*Folder, error) {
	if isNPY(root) {
		return openNPY(root, classes, limit)
	}
	part := -1
	if _, err := os.Stat(root); err != nil {
		for i, suffix := range []string{":even", ":odd"} {
			if strings.HasSuffix(root, suffix) {
				root, part = strings.TrimSuffix(root, suffix), i
			}
		}
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrData, err)
	}
	var dirs []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		} else if imageExt[strings.ToLower(filepath.Ext(e.Name()))] {
			return nil, fmt.Errorf("%w: %s: images must be in one folder per class, found %s at the top", ErrData, root, e.Name())
		}
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("%w: %s has no class folders", ErrData, root)
	}
	sort.Strings(dirs)
	index := map[string]int{}
	if classes == nil {
		classes = dirs
	}
	for i, c := range classes {
		index[c] = i
	}
	f := &Folder{Root: root, Classes: classes}
	var perClass [][]Item
	for di, d := range dirs {
		if part >= 0 && di%2 != part {
			continue
		}
		label, ok := index[d]
		if !ok {
			return nil, fmt.Errorf("%w: %s: folder %q is not one of the model's classes", ErrData, root, d)
		}
		files, err := os.ReadDir(filepath.Join(root, d))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrData, err)
		}
		var items []Item
		for _, e := range files {
			name := e.Name()
			if strings.HasPrefix(name, ".") || e.IsDir() {
				continue
			}
			p := filepath.Join(root, d, name)
			if !imageExt[strings.ToLower(filepath.Ext(name))] {
				return nil, fmt.Errorf("%w: %s is not an image, a sound or a tensor (want .png, .jpg, .jpeg, .wav, .mp3 or .npy)", ErrData, p)
			}
			items = append(items, Item{Path: p, Label: label, Sample: -1})
		}
		perClass = append(perClass, items)
	}
	for i := 0; ; i++ {
		added := false
		for _, items := range perClass {
			if i < len(items) {
				f.Items = append(f.Items, items[i])
				added = true
			}
		}
		if !added {
			break
		}
	}
	if len(f.Items) == 0 {
		return nil, fmt.Errorf("%w: %s holds no images", ErrData, root)
	}
	if limit > 0 && limit < len(f.Items) {
		f.Items = f.Items[:limit]
	}
	return f, nil
}

// Decode reads an image file, checking its size before decoding.
func Decode(path string) (image.Image, error) {
	b, err := files.Read(path, MaxImageBytes)
	if err != nil {
		return nil, err
	}
	img, err := DecodeReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return img, nil
}

// DecodeReader decodes a PNG or JPEG image from r (which must also be an io.Seeker for the
// size check to avoid a second read; otherwise it is buffered).
func DecodeReader(r io.ReadSeeker) (image.Image, error) {
	cfg, _, err := image.DecodeConfig(r)
	if err != nil {
		return nil, fmt.Errorf("%w: not a PNG or JPEG image (%v)", ErrData, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > MaxPixels {
		return nil, fmt.Errorf("%w: image of %dx%d pixels", ErrData, cfg.Width, cfg.Height)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	img, _, err := image.Decode(r)
	if err != nil {
		return nil, fmt.Errorf("%w: decoding: %v", ErrData, err)
	}
	return img, nil
}

// ToTensor writes img into dst (3×h×w values, CHW) normalised by p: (v/255 − mean)/std. An
// image of another size is fitted as p.Resize says: resized (bilinear) so that its short side
// is the target's and centre-cropped, or stretched whole with aligned corners.
func ToTensor(dst []float32, img image.Image, h, w int, p nn.Preprocess) {
	rgb := toRGB(img)
	b := img.Bounds()
	iw, ih := b.Dx(), b.Dy()
	plane := h * w
	if iw == w && ih == h && p.Resize != nn.ResizeCentral {
		for i := 0; i < plane; i++ {
			for c := 0; c < 3; c++ {
				dst[c*plane+i] = (float32(rgb[3*i+c])/255 - p.Mean[c]) / p.Std[c]
			}
		}
		return
	}
	if p.Resize == nn.ResizeStretch {
		// Align corners: output pixel 0 and the last sample input pixel 0 and the last.
		fy, fx := 0.0, 0.0
		if h > 1 {
			fy = float64(ih-1) / float64(h-1)
		}
		if w > 1 {
			fx = float64(iw-1) / float64(w-1)
		}
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				for c := 0; c < 3; c++ {
					v := bilinear(rgb, iw, ih, c, float64(x)*fx, float64(y)*fy)
					dst[c*plane+y*w+x] = (float32(v)/255 - p.Mean[c]) / p.Std[c]
				}
			}
		}
		return
	}
	if p.Resize == nn.ResizeCentral {
		// tf.image.central_crop, then tf.image.resize (bilinear, half-pixel centres).
		top := int((float64(ih) - float64(ih)*float64(p.Crop)) / 2)
		left := int((float64(iw) - float64(iw)*float64(p.Crop)) / 2)
		ch, cw := ih-2*top, iw-2*left
		inside := func(v float64, n int) float64 { return min(max(v, 0), float64(n-1)) }
		for y := 0; y < h; y++ {
			sy := inside((float64(y)+0.5)*float64(ch)/float64(h)-0.5, ch) + float64(top)
			for x := 0; x < w; x++ {
				sx := inside((float64(x)+0.5)*float64(cw)/float64(w)-0.5, cw) + float64(left)
				for c := 0; c < 3; c++ {
					v := bilinear(rgb, iw, ih, c, sx, sy)
					dst[c*plane+y*w+x] = (float32(v)/255 - p.Mean[c]) / p.Std[c]
				}
			}
		}
		return
	}
	// Scale so the short side fits, then crop the centre.
	scale := max(float64(h)/float64(ih), float64(w)/float64(iw))
	offY := (float64(ih)*scale - float64(h)) / 2
	offX := (float64(iw)*scale - float64(w)) / 2
	for y := 0; y < h; y++ {
		sy := (float64(y)+0.5+offY)/scale - 0.5
		for x := 0; x < w; x++ {
			sx := (float64(x)+0.5+offX)/scale - 0.5
			for c := 0; c < 3; c++ {
				v := bilinear(rgb, iw, ih, c, sx, sy)
				dst[c*plane+y*w+x] = (float32(v)/255 - p.Mean[c]) / p.Std[c]
			}
		}
	}
}

func bilinear(rgb []uint8, w, h, c int, x, y float64) float64 {
	x = min(max(x, 0), float64(w-1))
	y = min(max(y, 0), float64(h-1))
	x0, y0 := int(x), int(y)
	x1, y1 := min(x0+1, w-1), min(y0+1, h-1)
	fx, fy := x-float64(x0), y-float64(y0)
	at := func(xx, yy int) float64 { return float64(rgb[3*(yy*w+xx)+c]) }
	top := at(x0, y0)*(1-fx) + at(x1, y0)*fx
	bot := at(x0, y1)*(1-fx) + at(x1, y1)*fx
	return top*(1-fy) + bot*fy
}

// toRGB returns the image's pixels as packed 8-bit RGB, row-major.
func toRGB(img image.Image) []uint8 {
	b := img.Bounds()
	out := make([]uint8, 0, 3*b.Dx()*b.Dy())
	switch m := img.(type) {
	case *image.RGBA:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := m.Pix[(y-b.Min.Y)*m.Stride:]
			for x := 0; x < b.Dx(); x++ {
				out = append(out, row[4*x], row[4*x+1], row[4*x+2])
			}
		}
		return out
	case *image.NRGBA:
		if opaque(m) {
			for y := b.Min.Y; y < b.Max.Y; y++ {
				row := m.Pix[(y-b.Min.Y)*m.Stride:]
				for x := 0; x < b.Dx(); x++ {
					out = append(out, row[4*x], row[4*x+1], row[4*x+2])
				}
			}
			return out
		}
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			out = append(out, c.R, c.G, c.B)
		}
	}
	return out
}

func opaque(m *image.NRGBA) bool {
	for i := 3; i < len(m.Pix); i += 4 {
		if m.Pix[i] != 255 {
			return false
		}
	}
	return true
}

// Batch decodes items into dst (len(items) × 3·h·w values) and returns their labels, decoding
// on up to GOMAXPROCS goroutines. The first failure is returned, naming the file.
func Batch(dst []float32, items []Item, h, w int, p nn.Preprocess) ([]int, error) {
	per := 3 * h * w
	if len(dst) != len(items)*per {
		return nil, fmt.Errorf("%w: batch buffer of %d values for %d images", ErrData, len(dst), len(items))
	}
	labels := make([]int, len(items))
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	next := make(chan int)
	for k := 0; k < runtime.GOMAXPROCS(0); k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				img, err := Decode(items[i].Path)
				if err != nil {
					errs[i] = err
					continue
				}
				ToTensor(dst[i*per:(i+1)*per], img, h, w, p)
				labels[i] = items[i].Label
			}
		}()
	}
	for i := range items {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return labels, nil
}

// Source is a folder's inputs fitted to a model's input: it serves batches by index range.
type Source struct {
	Folder *Folder
	H, W   int
	Pre    nn.Preprocess
	input  []int
	// tensors holds the samples of the .npy files, read once (bounded by MaxTensorValues
	// values in all).
	tensors map[string][][]float32
}

// NewSource fits the folder's inputs to the input of g: images to a 3×H×W input with g's
// preprocessing, .npy tensors to any input of their shape (their samples become items).
func NewSource(f *Folder, g *nn.Graph) (*Source, error) {
	in := g.Input().Shape
	src := &Source{Folder: f, Pre: g.Preprocess, input: in, tensors: map[string][][]float32{}}
	var items []Item
	total := 0
	for _, it := range f.Items {
		if audio.IsAudio(it.Path) {
			if _, ok := src.tensors[it.Path]; !ok {
				x, err := Features(it.Path, in)
				if err != nil {
					return nil, err
				}
				if total += len(x); total > MaxTensorValues {
					return nil, fmt.Errorf("%w: the sound clips' features hold more than %d values", ErrData, MaxTensorValues)
				}
				src.tensors[it.Path] = [][]float32{x}
			}
			items = append(items, Item{Path: it.Path, Label: it.Label, Sample: 0})
			continue
		}
		if !isNPY(it.Path) {
			if len(in) != 3 || in[0] != 3 {
				return nil, fmt.Errorf("%w: %s: the model's input %v is not a 3-channel image (give it .npy tensors)", ErrData, it.Path, in)
			}
			items = append(items, it)
			continue
		}
		samples, ok := src.tensors[it.Path]
		if !ok {
			b, err := files.Read(it.Path, 8*MaxTensorValues+1<<16)
			if err != nil {
				return nil, err
			}
			t, err := ReadNPY(b)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", it.Path, err)
			}
			if samples, err = t.Samples(in); err != nil {
				return nil, fmt.Errorf("%s: %w", it.Path, err)
			}
			if total += len(samples) * len(samples[0]); total > MaxTensorValues {
				return nil, fmt.Errorf("%w: the .npy files hold more than %d values", ErrData, MaxTensorValues)
			}
			src.tensors[it.Path] = samples
		}
		if it.Sample >= 0 {
			if it.Sample >= len(samples) {
				return nil, fmt.Errorf("%w: %s holds %d samples, its labels %d or more", ErrData, it.Path, len(samples), it.Sample+1)
			}
			items = append(items, it)
			continue
		}
		for k := range samples {
			items = append(items, Item{Path: it.Path, Label: it.Label, Sample: k})
		}
	}
	if len(in) == 3 {
		src.H, src.W = in[1], in[2]
	}
	src.Folder = &Folder{Root: f.Root, Classes: f.Classes, Items: items}
	return src, nil
}

// Len is the number of inputs.
func (s *Source) Len() int { return len(s.Folder.Items) }

// Load decodes inputs [lo, hi) into dst and returns their labels.
func (s *Source) Load(dst []float32, lo, hi int) ([]int, error) {
	items := s.Folder.Items[lo:hi]
	if len(items) == 0 || !isTensor(items[0].Path) {
		for _, it := range items {
			if isTensor(it.Path) {
				return nil, fmt.Errorf("%w: images and .npy tensors or sounds mixed in one batch", ErrData)
			}
		}
		return Batch(dst, items, s.H, s.W, s.Pre)
	}
	per := nn.Size(s.input)
	if len(dst) != len(items)*per {
		return nil, fmt.Errorf("%w: batch buffer of %d values for %d inputs", ErrData, len(dst), len(items))
	}
	labels := make([]int, len(items))
	for i, it := range items {
		samples, ok := s.tensors[it.Path]
		if !ok || it.Sample < 0 || it.Sample >= len(samples) {
			return nil, fmt.Errorf("%w: %s: no sample %d", ErrData, it.Path, it.Sample)
		}
		copy(dst[i*per:(i+1)*per], samples[it.Sample])
		labels[i] = it.Label
	}
	return labels, nil
}

// openNPY lists the samples of one .npy file, labelled by the integers of x.labels.npy
// beside x.npy (one per sample) when it exists.
func openNPY(path string, classes []string, limit int) (*Folder, error) {
	f := &Folder{Root: path, Classes: classes, Items: []Item{{Path: path, Label: -1, Sample: -1}}}
	lp := strings.TrimSuffix(path, filepath.Ext(path)) + ".labels.npy"
	if _, err := os.Stat(lp); err == nil {
		b, err := files.Read(lp, 8*MaxTensorValues+1<<16)
		if err != nil {
			return nil, err
		}
		t, err := ReadNPY(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", lp, err)
		}
		f.Items = f.Items[:0]
		for k, v := range t.Values {
			if v != float32(int(v)) || v < 0 || (classes != nil && int(v) >= len(classes)) {
				return nil, fmt.Errorf("%w: %s: label %v of sample %d is not a class index", ErrData, lp, v, k)
			}
			f.Items = append(f.Items, Item{Path: path, Label: int(v), Sample: k})
		}
	}
	if limit > 0 && limit < len(f.Items) {
		f.Items = f.Items[:limit]
	}
	return f, nil
}

// Features decodes a sound file and computes the keyword front end's MFCCs for a model whose
// input is Frames × Coefficients of audio.KWS (49 × 10, leading 1s aside).
func Features(path string, input []int) ([]float32, error) {
	if err := FitsKWS(input); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c, err := audio.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := audio.KWS.Extract(c)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f.MFCC, nil
}

// SoundFeatures is Features for a sound file's bytes (a caller's upload).
func SoundFeatures(data []byte, input []int) (*audio.Clip, *audio.Features, error) {
	if err := FitsKWS(input); err != nil {
		return nil, nil, err
	}
	c, err := audio.Decode(data)
	if err != nil {
		return nil, nil, err
	}
	f, err := audio.KWS.Extract(c)
	if err != nil {
		return nil, nil, err
	}
	return c, f, nil
}

// FitsKWS reports (as an error saying why not) whether a model's input takes the keyword
// front end's features: frames × coefficients, with any leading 1s.
func FitsKWS(input []int) error {
	in := trim1(input)
	if len(in) != 2 || in[0] != audio.KWS.Frames() || in[1] != audio.KWS.Coefficients {
		return fmt.Errorf("%w: sound clips are turned into %d×%d MFCCs (the MLPerf Tiny keyword front end); this model's input is %v", ErrData, audio.KWS.Frames(), audio.KWS.Coefficients, input)
	}
	return nil
}
