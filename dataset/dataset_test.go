package dataset

import (
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fourbit/internal/testenv"
	"fourbit/nn"
)

func writePNG(t *testing.T, path string, w, h int) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 255 / max(w-1, 1)), uint8(y * 255 / max(h-1, 1)), 128, 255})
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

func TestOpenCommittedCIFAR(t *testing.T) {
	f, err := Open(testenv.Asset("cifar10-png/test"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Classes) != 10 || f.Classes[0] != "airplane" || f.Classes[9] != "truck" || len(f.Items) != 300 {
		t.Fatalf("classes %v, %d items", f.Classes, len(f.Items))
	}
	// Interleaved: the first ten items are one of each class.
	for i := 0; i < 10; i++ {
		if f.Items[i].Label != i {
			t.Errorf("item %d has label %d", i, f.Items[i].Label)
		}
	}
	limited, _ := Open(testenv.Asset("cifar10-png/test"), nil, 25)
	if len(limited.Items) != 25 {
		t.Errorf("limit 25 gave %d items", len(limited.Items))
	}
	x := make([]float32, 2*3*32*32)
	pre := nn.Preprocess{Mean: [3]float32{0.5, 0.5, 0.5}, Std: [3]float32{0.5, 0.5, 0.5}}
	labels, err := Batch(x, f.Items[:2], 32, 32, pre)
	if err != nil || labels[0] != 0 || labels[1] != 1 {
		t.Fatalf("labels %v, %v", labels, err)
	}
	for _, v := range x {
		if v < -1 || v > 1 {
			t.Fatalf("normalised value %v outside [-1, 1]", v)
		}
	}
}

func TestBadFolders(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.MkdirAll(empty, 0o755)
	if _, err := Open(empty, nil, 0); err == nil || !strings.Contains(err.Error(), "no class folders") {
		t.Errorf("empty folder: %v", err)
	}
	emptyClass := filepath.Join(dir, "emptyclass")
	os.MkdirAll(filepath.Join(emptyClass, "cat"), 0o755)
	if _, err := Open(emptyClass, nil, 0); err == nil || !strings.Contains(err.Error(), "no images") {
		t.Errorf("class folder without images: %v", err)
	}
	stray := filepath.Join(dir, "stray")
	writePNG(t, filepath.Join(stray, "cat", "a.png"), 4, 4)
	os.WriteFile(filepath.Join(stray, "cat", "notes.txt"), []byte("hello"), 0o644)
	if _, err := Open(stray, nil, 0); err == nil || !strings.Contains(err.Error(), "notes.txt") {
		t.Errorf("non-image file: %v", err)
	}
	unknown := filepath.Join(dir, "unknown")
	writePNG(t, filepath.Join(unknown, "zebra", "a.png"), 4, 4)
	if _, err := Open(unknown, []string{"cat", "dog"}, 0); err == nil || !strings.Contains(err.Error(), "zebra") {
		t.Errorf("folder outside the model's classes: %v", err)
	}
	corrupt := filepath.Join(dir, "corrupt")
	os.MkdirAll(filepath.Join(corrupt, "cat"), 0o755)
	os.WriteFile(filepath.Join(corrupt, "cat", "broken.png"), []byte("\x89PNG\r\n\x1a\nnot really"), 0o644)
	f, err := Open(corrupt, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Batch(make([]float32, 3*32*32), f.Items, 32, 32, nn.Preprocess{Std: [3]float32{1, 1, 1}}); err == nil || !strings.Contains(err.Error(), "broken.png") {
		t.Errorf("corrupt image: %v", err)
	}
}

// An image of another size is resized and centre-cropped to the model's input.
func TestOddSizedImages(t *testing.T) {
	dir := t.TempDir()
	for i, size := range [][2]int{{64, 48}, {1, 1}, {7, 300}} {
		p := filepath.Join(dir, "c", string(rune('a'+i))+".png")
		writePNG(t, p, size[0], size[1])
		img, err := Decode(p)
		if err != nil {
			t.Fatal(err)
		}
		x := make([]float32, 3*32*32)
		ToTensor(x, img, 32, 32, nn.Preprocess{Std: [3]float32{1, 1, 1}})
		for _, v := range x {
			if v < 0 || v > 1 || v != v {
				t.Fatalf("%v image: value %v", size, v)
			}
		}
	}
}

// TestOpenParts splits a folder into the classes at even and odd positions: disjoint halves
// that together are the whole.
func TestOpenParts(t *testing.T) {
	root := testenv.Asset("cifar10-png/test")
	all, err := Open(root, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	even, err := Open(root+":even", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	odd, err := Open(root+":odd", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(even.Items)+len(odd.Items) != len(all.Items) || len(even.Items) == 0 || len(odd.Items) == 0 {
		t.Fatalf("%d + %d images of %d", len(even.Items), len(odd.Items), len(all.Items))
	}
	for _, it := range even.Items {
		if it.Label%2 != 0 {
			t.Fatalf("even part holds %s (class %d)", it.Path, it.Label)
		}
	}
	for _, it := range odd.Items {
		if it.Label%2 != 1 {
			t.Fatalf("odd part holds %s (class %d)", it.Path, it.Label)
		}
	}
}

// TestToTensorStretch checks the align-corners resize: corners land on corners, and the
// sample between two pixels is their mean.
func TestToTensorStretch(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 2, 1))
	img.Set(0, 0, color.RGBA{0, 0, 0, 255})
	img.Set(1, 0, color.RGBA{255, 102, 51, 255})
	dst := make([]float32, 3*1*3)
	ToTensor(dst, img, 1, 3, nn.Preprocess{Std: [3]float32{1, 1, 1}, Resize: nn.ResizeStretch})
	want := []float32{0, 0.5, 1, 0, 0.2, 0.4, 0, 0.1, 0.2}
	for i := range want {
		if math.Abs(float64(dst[i]-want[i])) > 1e-6 {
			t.Fatalf("stretched %v, want %v", dst, want)
		}
	}
}
