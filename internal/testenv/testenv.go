// Package testenv locates fourbit's test assets: the small real ones committed under
// testdata/, and the full data set under $FOURBIT_DATA (default ../shared/data), whose
// absence skips only the tests that need it, with one clear line.
package testenv

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Root returns the repository's root directory.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Asset returns the path of a committed asset under testdata/.
func Asset(rel string) string { return filepath.Join(Root(), "testdata", rel) }

// ResNet20 is the committed ResNet-20 checkpoint.
func ResNet20() string { return Asset("cifar10-resnet/resnet20-12fca82f.th") }

// DataDir returns $FOURBIT_DATA, or ../shared/data beside the repository.
func DataDir() string {
	if d := os.Getenv("FOURBIT_DATA"); d != "" {
		return d
	}
	return filepath.Join(Root(), "..", "shared", "data")
}

// Data returns the path of rel under the full data set, or skips the test with one line
// saying what is missing.
func Data(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(DataDir(), rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("full data set not found: %s is absent (set FOURBIT_DATA to ../shared/data's location)", p)
	}
	return p
}
