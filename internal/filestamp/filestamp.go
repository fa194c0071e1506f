package filestamp

import (
	"io/fs"
	"os"
)

// Stamp identifies a version of a file. Two stamps of the same path are
// equal (==) only when the file was not replaced, written, or had its
// times or mode changed in between (on systems with inodes and change
// times; see the package doc). The zero Stamp is that of a missing file.
type Stamp struct {
	dev, ino uint64
	ctime    int64 // inode change time, ns
	mtime    int64 // modification time, ns
	size     int64
	mode     fs.FileMode
	ok       bool
}

// Of returns the stamp of the file at path, following symbolic links (a
// Kubernetes volume's files are links through ..data, which an update
// points elsewhere: the file they reach is what counts).
func Of(path string) (Stamp, error) {
	fi, err := os.Stat(path) // #nosec G304 G703 -- the files the operator's configuration names, never request data
	if err != nil {
		return Stamp{}, err
	}
	return fromInfo(fi), nil
}

// fromInfo returns the stamp of the file fi describes (as returned by
// os.Stat or File.Stat).
func fromInfo(fi fs.FileInfo) Stamp {
	s := Stamp{mtime: fi.ModTime().UnixNano(), size: fi.Size(), mode: fi.Mode(), ok: true}
	s.dev, s.ino, s.ctime = sysStamp(fi)
	return s
}

// Exists reports whether s is the stamp of an existing file (not the zero
// Stamp).
func (s Stamp) Exists() bool { return s.ok }
