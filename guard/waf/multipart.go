package waf

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/textproto"
	"strings"
)

// field is a form field that Coraza's multipart reader does not hand the
// rules as one, but that a server behind the WAF reads as one.
type field struct{ name, value string }

// hiddenFields returns the fields of a multipart body that Coraza, which
// reads it with Go's mime/multipart, skips or takes for files (whose
// contents CRS does not inspect), and that PHP reads as fields:
//
//   - parts after the closing delimiter: Go stops there, PHP reads any
//     line that starts with the delimiter as the start of a part;
//   - parts whose Content-Disposition names a file only with the
//     RFC 2231 "filename*" parameter: Go decodes it into the file name,
//     PHP knows "filename" only and puts the part in $_POST.
//
// ok is false when such a part cannot be read (a broken header block
// after the closing delimiter): refuse the body.
func hiddenFields(contentType string, body []byte) (fields []field, ok bool) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || !strings.HasPrefix(mt, "multipart/") || params["boundary"] == "" {
		return nil, true // Coraza's own checks refuse what does not parse
	}
	delim := []byte("--" + params["boundary"])
	for seg, rest := 0, body; ; seg++ {
		end := closeDelimiter(rest, delim)
		part := rest
		if end >= 0 {
			part = rest[:end+len(delim)+2] // the closing delimiter ends Go's reader
		}
		if seg > 0 {
			// Go's reader skips the preamble up to the first delimiter.
			i := bytes.Index(part, delim)
			if i < 0 {
				part = nil
			} else {
				part = part[i:]
			}
		}
		if part != nil {
			fs, good := segmentFields(part, params["boundary"], seg > 0)
			if !good {
				return nil, false
			}
			fields = append(fields, fs...)
		}
		if end < 0 {
			return fields, true
		}
		rest = rest[end+len(delim)+2:]
		if !bytes.Contains(rest, delim) {
			return fields, true
		}
	}
}

// closeDelimiter returns the offset of the first line of b that starts
// with the closing delimiter (delim followed by "--"), or -1.
func closeDelimiter(b, delim []byte) int {
	closing := append(append([]byte(nil), delim...), '-', '-')
	for off := 0; ; {
		i := bytes.Index(b[off:], closing)
		if i < 0 {
			return -1
		}
		if at := off + i; at == 0 || b[at-1] == '\n' {
			return at
		}
		off += i + 1
	}
}

// segmentFields reads the parts of one multipart segment (a body up to
// its closing delimiter). With all, every part that is no plain file is
// a hidden field; otherwise only the parts named as files by filename*
// alone.
func segmentFields(b []byte, boundary string, all bool) (fields []field, ok bool) {
	r := multipart.NewReader(bytes.NewReader(b), boundary)
	for {
		p, err := r.NextRawPart()
		if err == io.EOF {
			return fields, true
		}
		if err != nil {
			// Coraza refuses a malformed first segment itself (400);
			// a later one it never reads.
			return fields, !all
		}
		plain := plainFilename(p.Header)
		if plain || (!all && p.FileName() == "") {
			continue
		}
		v, err := io.ReadAll(p)
		if err != nil && all {
			return nil, false
		}
		fields = append(fields, field{name: p.FormName(), value: string(v)})
	}
}

// plainFilename reports whether a part's Content-Disposition has a
// "filename" parameter (not only "filename*"), as PHP looks for it.
func plainFilename(h textproto.MIMEHeader) bool {
	for _, cd := range h.Values("Content-Disposition") {
		for _, param := range strings.Split(cd, ";") {
			k, _, found := strings.Cut(param, "=")
			if found && strings.EqualFold(strings.TrimSpace(k), "filename") {
				return true
			}
		}
	}
	return false
}
