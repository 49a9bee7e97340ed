// Package files reads the files fourbit is given — models, images, tensors, lists — bounded:
// a FIFO, a device or a socket is refused before it is opened (a read would follow it for
// ever), and a file larger than the caller's limit is refused before and while it is read.
package files

import (
	"fmt"
	"io"
	"os"
)

// Read reads the regular file at path, refusing a FIFO, a device or a socket (which a
// plain read would follow for ever) and any file of more than limit bytes — checked on the
// open file and again while reading, so that a file that grows does not escape the bound.
func Read(path string, limit int64) ([]byte, error) {
	// Stat before opening: opening a FIFO would wait for a writer.
	if st, err := os.Stat(path); err != nil {
		return nil, err
	} else if err := Regular(path, st); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := Regular(path, st); err != nil {
		return nil, err
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s: %d bytes is more than the %d fourbit reads", path, st.Size(), limit)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s grew past the %d bytes fourbit reads", path, limit)
	}
	return data, nil
}

// Regular refuses anything but a regular file, saying what it is.
func Regular(path string, st os.FileInfo) error {
	m := st.Mode()
	what := ""
	switch {
	case m.IsRegular():
		return nil
	case m.IsDir():
		what = "a directory"
	case m&os.ModeNamedPipe != 0:
		what = "a FIFO (named pipe)"
	case m&os.ModeSocket != 0:
		what = "a socket"
	case m&os.ModeDevice != 0:
		what = "a device"
	default:
		what = "not a regular file"
	}
	return fmt.Errorf("%s is %s: fourbit reads models and data from regular files", path, what)
}
