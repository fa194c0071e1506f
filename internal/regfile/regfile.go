// Package regfile reads the files a long-running server (ward proxy, the
// guard libraries) loads and reloads: configuration, policies,
// certificates, trust bundles, keys. Such a file must be a regular file
// of bounded size. os.ReadFile blocks forever opening a named pipe that
// no one writes (a reload then never returns, holding whatever lock it
// runs under, and no later change ever applies) and reads a character
// device such as /dev/zero, or a file that keeps growing, until memory
// runs out. A file replaced by such a thing, by a symbolic link to it, or
// by a huge file, is refused with an error naming it instead.
package regfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// MaxSize is the default limit of Read: far above any configuration,
// policy set or trust bundle, far below what would strain a sidecar.
const MaxSize = 16 << 20

// Errors of Read, wrapped with the file's path.
var (
	ErrNotRegular = errors.New("not a regular file")
	ErrTooLarge   = errors.New("file too large")
)

// Read returns the contents of the regular file at path (symbolic links
// followed), of at most limit bytes (MaxSize when limit <= 0). It never
// blocks opening a named pipe and never reads more than limit+1 bytes,
// whatever the file is or becomes while it is read.
func Read(path string, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = MaxSize
	}
	// O_NONBLOCK: opening a FIFO for reading otherwise waits for a
	// writer. It changes nothing for a regular file.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0) // #nosec G304 -- the files the operator's configuration names
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat() // of what was opened, after any symbolic link
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w (%s)", path, ErrNotRegular, kind(st.Mode()))
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s: %w: %d bytes, at most %d", path, ErrTooLarge, st.Size(), limit)
	}
	// The file may grow while it is read: read one byte more than the
	// limit to tell.
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: %w: more than %d bytes", path, ErrTooLarge, limit)
	}
	return data, nil
}

// kind names a file mode that is not regular.
func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return m.Type().String()
}
