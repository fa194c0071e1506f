package manifest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// WalkFunc is called by Walk for each file and directory. info describes
// what path leads to, through symbolic links (os.Stat); it is nil when err
// is set. For a directory, returning filepath.SkipDir skips it; any other
// error stops the walk.
type WalkFunc func(path string, info fs.FileInfo, err error) error

// Walk walks the tree at root in lexical order, as filepath.WalkDir does,
// but follows symbolic links to directories and files, so that a linked
// directory is read like any other. Hidden directories below root (names
// starting with ".") are skipped. A directory reached a second time (a link
// loop, or two links to one directory) is not walked again: fn gets an
// error matching ErrWalkedTwice for it. A link that leads nowhere gives fn
// its os.Stat error.
func Walk(root string, fn WalkFunc) error {
	info, err := os.Stat(root)
	if err != nil {
		return fn(root, nil, err)
	}
	w := walker{fn: fn, seen: map[fileID]string{}}
	return w.walk(root, info, true)
}

// fileID identifies a directory whatever the path to it.
type fileID struct{ dev, ino uint64 }

type walker struct {
	fn   WalkFunc
	seen map[fileID]string // directories walked, and the path they were walked as
}

func (w *walker) walk(path string, info fs.FileInfo, root bool) error {
	if !info.IsDir() {
		return w.fn(path, info, nil)
	}
	if !root && strings.HasPrefix(info.Name(), ".") {
		return nil
	}
	if id, ok := dirID(info); ok {
		if first, dup := w.seen[id]; dup {
			return w.fn(path, nil, fmt.Errorf("%w (it is %s)", ErrWalkedTwice, first))
		}
		w.seen[id] = path
	}
	if err := w.fn(path, info, nil); err != nil {
		if errors.Is(err, filepath.SkipDir) {
			return nil
		}
		return err
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		if err := w.fn(path, nil, err); err != nil && !errors.Is(err, filepath.SkipDir) {
			return err
		}
	}
	for _, e := range ents {
		p := filepath.Join(path, e.Name())
		var info fs.FileInfo
		var err error
		if e.Type()&fs.ModeSymlink != 0 {
			info, err = os.Stat(p)
		} else {
			info, err = e.Info()
		}
		if err != nil {
			if err := w.fn(p, nil, err); err != nil && !errors.Is(err, filepath.SkipDir) {
				return err
			}
			continue
		}
		if err := w.walk(p, info, false); err != nil {
			return err
		}
	}
	return nil
}

// dirID returns the device and inode of a directory, where the system has
// them.
func dirID(info fs.FileInfo) (fileID, bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{uint64(st.Dev), st.Ino}, true // #nosec G115 -- a device number is never negative
}

// ReadFile reads the file at path, which may also be a named pipe or a
// device, and refuses to read more than limit bytes (0 means
// DefaultMaxFileSize): the error then matches ErrTooLarge. Memory stays
// bounded by the limit whatever the file is.
func ReadFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path) // #nosec G304 -- reading the inputs the user named is the point
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size := int64(0)
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	return readAll(f, size, limit)
}

// ReadAll reads r to its end like io.ReadAll, but no more than limit bytes
// (0 means DefaultMaxFileSize): past it, the error matches ErrTooLarge.
func ReadAll(r io.Reader, limit int64) ([]byte, error) {
	return readAll(r, 0, limit)
}

func readAll(r io.Reader, size, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = DefaultMaxFileSize
	}
	if size > limit {
		return nil, tooLarge(limit)
	}
	// One byte more than the limit tells a file of exactly the limit from
	// a larger one.
	buf := make([]byte, 0, min(size, limit)+1)
	lr := io.LimitReader(r, limit+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return nil, tooLarge(limit)
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func tooLarge(limit int64) error {
	return fmt.Errorf("%w of %s", ErrTooLarge, FormatSize(limit))
}

// FormatSize writes a byte count as people read it: "2 GiB", "512 KiB",
// or bytes when no binary unit divides it.
func FormatSize(n int64) string {
	for _, u := range []struct {
		unit string
		size int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return fmt.Sprintf("%d %s", n/u.size, u.unit)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}
