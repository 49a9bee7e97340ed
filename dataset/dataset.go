// Package dataset reads labelled images from a class-per-folder tree ("image folder" layout:
// root/<class>/<image>), decodes them with the standard library (PNG, JPEG), fits them to a
// model's input and normalises them, in deterministic batches.
package dataset

import (
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

	"fourbit/nn"
)

// Item is one labelled image file.
type Item struct {
	Path  string
	Label int
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

// MaxPixels bounds an image's width × height (64 megapixels).
const MaxPixels = 1 << 26

var imageExt = map[string]bool{".png": true, ".jpg": true, ".jpeg": true}

// Open lists the images under root. Class index = position of the folder name in classes
// when classes is given (the model's class list; a folder it lacks is an error), else in the
// sorted list of folder names. Hidden files are skipped; any other non-image file is an error
// naming it. limit > 0 keeps the first limit items of the interleaved order.
//
// root may end in ":even" or ":odd" (when no such folder exists) to keep only the class
// folders at even or odd positions of the sorted folder list, counted from 0: two disjoint
// halves of one folder, to calibrate on one and score the other.
func Open(root string, classes []string, limit int) (*Folder, error) {
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
				return nil, fmt.Errorf("%w: %s is not an image (want .png, .jpg or .jpeg)", ErrData, p)
			}
			items = append(items, Item{Path: p, Label: label})
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
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	img, err := DecodeReader(fh)
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
	if iw == w && ih == h {
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

// Source is a folder's images fitted to a model's input: it serves batches by index range.
type Source struct {
	Folder *Folder
	H, W   int
	Pre    nn.Preprocess
}

// NewSource fits the folder's images to the input of g (3×H×W) with g's preprocessing.
func NewSource(f *Folder, g *nn.Graph) (*Source, error) {
	s := g.Input().Shape
	if len(s) != 3 || s[0] != 3 {
		return nil, fmt.Errorf("%w: model input %v is not a 3-channel image", ErrData, s)
	}
	return &Source{Folder: f, H: s[1], W: s[2], Pre: g.Preprocess}, nil
}

// Len is the number of images.
func (s *Source) Len() int { return len(s.Folder.Items) }

// Load decodes images [lo, hi) into dst and returns their labels.
func (s *Source) Load(dst []float32, lo, hi int) ([]int, error) {
	return Batch(dst, s.Folder.Items[lo:hi], s.H, s.W, s.Pre)
}
