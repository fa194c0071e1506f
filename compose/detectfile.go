package compose

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/wardsec/ward/manifest"
)

// IsComposeFile reports whether the file at path, of the given size (as
// os.Stat gives it), is a Compose file, by its name or its content
// (IsCompose), reading no more than maxSize bytes (0 means
// manifest.DefaultMaxFileSize): a file over maxSize, or one that cannot
// be read, is not a Compose file by content (the manifest loader reports
// it). Before the content is read whole, a cheap scan of the file through
// a small buffer looks for what every Compose file has, a top-level
// services key: a tree of YAML files or a cluster dump of gigabytes is
// read whole once, by the loader, not twice.
func IsComposeFile(path string, size, maxSize int64) bool {
	name := filepath.Base(path)
	if IsCompose(name, nil) {
		return true
	}
	if !maybeComposeFile(path, size, maxSize) {
		return false
	}
	src, err := manifest.ReadFile(path, maxSize)
	return err == nil && IsCompose(name, src)
}

// maybeComposeFile is a cheap test run before IsCompose reads a YAML or
// JSON file's content: a Compose file has a top-level services key, so
// "services" starts a line of it (after \n or a lone \r, or a byte order
// mark that may start any line; in quotes, as an explicit key "?
// services", or after the "{" of a flow mapping) and a colon follows it on
// that line (after a closing quote and blanks); in JSON (a name ending in
// .json), or a file whose first document is a flow mapping ({services:
// ...}, JSON in a .yaml file), "services" followed by a colon is enough,
// wherever it is. UTF-16 text (with its byte order mark, as the loader
// reads it) always passes the test, for IsCompose to decide. The file at
// path, of the given size, is read through a small buffer: a cluster dump
// of gigabytes is read whole once, by the loader, not twice. Files over
// maxSize are not Compose files (the loader reports them too large).
func maybeComposeFile(path string, size, maxSize int64) bool {
	anywhere := strings.EqualFold(filepath.Ext(path), ".json")
	if maxSize <= 0 {
		maxSize = manifest.DefaultMaxFileSize
	}
	if size > maxSize {
		return false
	}
	f, err := os.Open(path) // #nosec G304 -- reading the inputs the user named is the point
	if err != nil {
		return false
	}
	defer f.Close()
	// One scan for the key, then a look at what surrounds each match: a
	// dump of gigabytes is searched once, not once per line break.
	// buf keeps the last keepBytes of the previous chunk in front, so
	// that a key across two reads is found with what precedes and
	// follows it; it starts with a newline so that the key on the first
	// line is found too.
	const keepBytes = 64
	buf := make([]byte, 64<<10)
	buf[0] = '\n'
	kept := 1
	for read := int64(0); read <= maxSize; {
		n, err := f.Read(buf[kept:])
		if read == 0 && n >= 2 && (buf[1] == 0xFF && buf[2] == 0xFE || buf[1] == 0xFE && buf[2] == 0xFF) {
			return true
		}
		if read == 0 && flowRoot(buf[1:kept+n]) {
			anywhere = true
		}
		read += int64(n)
		data := buf[:kept+n]
		eof := err != nil
		for off := 0; ; {
			i := bytes.Index(data[off:], composeKey)
			if i < 0 {
				break
			}
			i += off
			if match, more := composeKeyAt(data, i, anywhere, eof); match {
				return true
			} else if more {
				break // looked at again with what follows
			}
			off = i + 1
		}
		if eof {
			return false
		}
		keep := min(keepBytes, kept+n)
		copy(buf, buf[kept+n-keep:kept+n])
		kept = keep
	}
	return false
}

var (
	composeKey = []byte("services")
	// keyPrefix is what may precede a top-level services key on its
	// line, keySuffix what must follow it (anySuffix, anywhere).
	keyPrefix = regexp.MustCompile(`^(?:\x{feff})?(?:\{[ \t]{0,8})?(\?[ \t]{1,8})?["']?$`)
	keySuffix = regexp.MustCompile(`^["']?[ \t]{0,8}:`)
	anySuffix = regexp.MustCompile(`^["']?\s{0,8}:`)
)

// composeKeyAt reports whether the "services" at data[i:] may be a
// Compose file's top-level key (see maybeComposeFile); more, when what
// follows it is not all in data yet (eof false) and decides.
func composeKeyAt(data []byte, i int, anywhere, eof bool) (match, more bool) {
	after := data[i+len(composeKey):]
	const window = 16
	if len(after) < window && !eof {
		return false, true
	}
	after = after[:min(window, len(after))]
	if anywhere {
		return anySuffix.Match(after), false
	}
	start := max(0, i-32)
	line := data[start:i]
	j := bytes.LastIndexAny(line, "\n\r")
	if j < 0 {
		return false, false // no line break close enough: not at a line's start
	}
	m := keyPrefix.FindSubmatchIndex(line[j+1:])
	switch {
	case m == nil:
		return false, false
	case m[2] >= 0: // "? services": the colon is on a line of its own
		return true, false
	}
	return keySuffix.Match(after), false
}

// flowRoot reports whether the first document of src (after a byte
// order mark, blank lines, comments, directives and "---") is a flow
// mapping.
func flowRoot(src []byte) bool {
	src = bytes.TrimPrefix(src, []byte("\ufeff"))
	for len(src) > 0 {
		line := src
		if k := bytes.IndexAny(src, "\n\r"); k >= 0 {
			line, src = src[:k], src[k+1:]
		} else {
			src = nil
		}
		t := bytes.TrimLeft(line, " \t")
		switch {
		case len(t) == 0, t[0] == '#', t[0] == '%', bytes.HasPrefix(t, []byte("---")) && len(bytes.TrimSpace(t[3:])) == 0:
			continue
		}
		return t[0] == '{'
	}
	return false
}
