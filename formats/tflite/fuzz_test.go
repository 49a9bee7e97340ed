package tflite

import (
	"errors"
	"testing"
)

// FuzzRead: whatever the bytes, Read returns a graph or an error wrapping ErrFormat, within
// the limits the reader sets — never a panic.
func FuzzRead(f *testing.F) {
	f.Add(everyOperatorModel())
	f.Add(meanModel(true))
	f.Add(cycleModel())
	f.Add([]byte("\x08\x00\x00\x00TFL3"))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := Read(data)
		if err != nil && !errors.Is(err, ErrFormat) {
			t.Fatalf("error %v does not wrap ErrFormat", err)
		}
		if err == nil && g == nil {
			t.Fatal("no graph and no error")
		}
	})
}
