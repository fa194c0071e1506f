package waf

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/textproto"
	"regexp"
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
//   - parts whose Content-Disposition names a file in a form PHP does
//     not read (phpFile): only with the RFC 2231 "filename*" parameter,
//     which Go decodes into the file name, or with a space before the
//     "=", which Go trims; PHP puts the part in $_POST.
//   - parts Coraza takes for files and Go's Request.ParseMultipartForm
//     reads as values (no file name once parsed): "filename" with an
//     empty "filename*", which Go decodes to no name at all while Coraza
//     keeps the plain one; r.FormValue returns their contents.
//   - the file name of a part that has one, as sent (with its path);
//   - the string literals of a part typed JSON, and the text and
//     attribute values of one typed XML (typedPart), decoded, file or
//     not: the application decodes it, Coraza hands the rules the text
//     as written, "\u0055NION" or "&#x55;NION" and all.
//
// ok is false when such a part cannot be read (a broken header block
// after the closing delimiter), when a part has a Content-Transfer-
// Encoding that changes its bytes (transferEncoded) or a charset that is
// not ASCII-compatible (ReadableCharsets), when an XML part that is no
// file declares a document type other than a bare one (see xmlFields),
// or the delimiter
// appears where Go does
// not take it for one and PHP or Rack may (strayDelimiter): refuse the
// body.
func hiddenFields(contentType string, body []byte) (fields []field, ok bool) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || !strings.HasPrefix(mt, "multipart/") || params["boundary"] == "" {
		return nil, true // Coraza's own checks refuse what does not parse
	}
	delim := []byte("--" + params["boundary"])
	if strayDelimiter(body, delim) {
		return nil, false
	}
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
		if transferEncoded(p.Header) || !ReadableCharsets(p.Header.Values("Content-Type")) {
			// A part in UTF-7 or UTF-16 (which Werkzeug 2 decodes
			// by the part's charset) is text no rule matches; CRS's
			// 922110 scores 5, under a raised threshold.
			return nil, false
		}
		// Go's Request.ParseMultipartForm reads a named part without a
		// file name as a value: "filename=\"x\"; filename*=utf-8''" has
		// none to Go (the empty filename* wins), one to Coraza and PHP.
		for _, fn := range submittedFileNames(p.Header) {
			// CRS inspects no upload's name (FILES) but for quotes
			// and ";" (920120), and Spring's getOriginalFilename,
			// Werkzeug's FileStorage.filename and Servlet's
			// getSubmittedFileName hand it as sent, path and all:
			// "<script>alert(1)</script>.png" scored nothing.
			fields = append(fields, field{name: p.FormName(), value: fn})
		}
		goValue := !all && p.FormName() != "" && p.FileName() == ""
		hidden := true
		switch {
		case all && phpFile(p.Header):
			hidden = false // a file to PHP; Go never reads past the close
		case !all && (!mentionsFilename(p.Header) || phpFile(p.Header) && !goValue):
			hidden = false // read as Coraza reads it
		}
		// A part typed JSON or XML is decoded by the application
		// (Spring's @RequestPart, a handler unmarshalling a "metadata"
		// part), a file or not; Coraza hands the rules its text as
		// written, where "\u0055NION SELECT" or "&#x55;NION SELECT" is
		// no injection.
		isJSON, isXML := typedPart(p.Header, "json"), typedPart(p.Header, "xml")
		if !hidden && !isJSON && !isXML {
			continue
		}
		v, err := io.ReadAll(p)
		if err != nil && all {
			return nil, false
		}
		if hidden {
			fields = append(fields, field{name: p.FormName(), value: string(v)})
		}
		if isJSON {
			fields = append(fields, jsonLiterals(v, true)...)
		}
		if isXML {
			// Coraza reads no part as XML: its entities and
			// character references ("&#x55;NION") stay as written.
			// A document type declaration refuses a field, as it
			// does a body, and so does a byte Go's reader stops at
			// (the rest went uninspected), a second DOCTYPE or an
			// entity referring to itself (XML parsers refuse both);
			// an upload (an SVG's DOCTYPE naming its DTD, a .docx
			// typed "...openxmlformats...") is inspected as far as
			// it reads and expands, never refused for these. Text
			// joined past the budget refuses an upload too: a comb
			// of nested elements, then the injection, left it
			// uninspected.
			xf, good, over, stopped := xmlText(v, 1)
			file := p.FileName() != "" || phpFile(p.Header)
			if over || !file && (!good || stopped) {
				return nil, false
			}
			fields = append(fields, xf...)
		}
	}
}

// submittedFileNames returns the file names a part's Content-Disposition
// gives, as sent, without the path cut off that Go's Part.FileName does:
// "filename*" decoded and the plain "filename" both, when both are sent.
// Go's mime takes the first, PHP (which reads no "filename*") the
// second; ParseMediaType returns only the first, and a plain name
// "<script>...</script>.png" beside an extended "a.png" went
// uninspected. nil for none.
func submittedFileNames(h textproto.MIMEHeader) []string {
	cd := h.Get("Content-Disposition")
	if cd == "" || !strings.Contains(strings.ToLower(cd), "filename") {
		return nil
	}
	_, params, err := mime.ParseMediaType(cd)
	if err != nil {
		return nil
	}
	var names []string
	if fn := params["filename"]; fn != "" {
		names = append(names, fn)
	}
	if extendedFileName.MatchString(cd) {
		// The plain one, with the extended parameter renamed.
		if _, plain, err := mime.ParseMediaType(extendedFileName.ReplaceAllString(cd, "ward-extended*")); err == nil {
			if fn := plain["filename"]; fn != "" && (len(names) == 0 || fn != names[0]) {
				names = append(names, fn)
			}
		}
	}
	return names
}

// extendedFileName matches the name of an RFC 2231 "filename*"
// parameter, continued or not, in any case.
var extendedFileName = regexp.MustCompile(`(?i)filename\*`)

// typedPart reports whether a part's Content-Type mentions kind ("json":
// application/json, application/*+json; "xml": application/xml,
// text/xml, application/soap+xml), as Laravel's isJson reads a request's
// type, in any case.
func typedPart(h textproto.MIMEHeader, kind string) bool {
	for _, ct := range h.Values("Content-Type") {
		if strings.Contains(strings.ToLower(ct), kind) {
			return true
		}
	}
	return false
}

// transferEncoded reports whether a part has a Content-Transfer-Encoding
// that changes its bytes (anything but 7bit, 8bit or binary). Readers
// decode it or not: python-multipart (Starlette's and FastAPI's forms)
// decodes base64 and quoted-printable, Go's reader (Coraza's)
// quoted-printable only, PHP, Rack and Werkzeug neither. A base64 part
// was text no rule matched, scored 5 by CRS 922120 (which Go's reader
// hides quoted-printable from) under a raised threshold, and an
// injection to FastAPI; a quoted-printable one was inspected decoded
// and read raw by PHP. RFC 7578 4.7 deprecates the header and no
// browser sends it: such a body is refused.
func transferEncoded(h textproto.MIMEHeader) bool {
	for _, v := range h.Values("Content-Transfer-Encoding") {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "7bit", "8bit", "binary":
		default:
			return true
		}
	}
	return false
}

// phpFile reports whether PHP takes a part for a file: its
// Content-Disposition has a parameter whose name, from its first
// non-space character to the "=", is "filename" in any case. Go trims
// the spaces around the "=" and decodes "filename*" (and Coraza reads
// further forms): "filename =" and "filename*=" are files to them and
// fields, uninspected, to PHP.
func phpFile(h textproto.MIMEHeader) bool {
	for _, cd := range h.Values("Content-Disposition") {
		for _, param := range strings.Split(cd, ";") {
			k, _, found := strings.Cut(strings.TrimLeft(param, " \t\r\n"), "=")
			if found && strings.EqualFold(k, "filename") {
				return true
			}
		}
	}
	return false
}

// mentionsFilename reports whether a part's headers mention a file name
// in any form a reader may take for one.
func mentionsFilename(h textproto.MIMEHeader) bool {
	for _, cd := range h.Values("Content-Disposition") {
		if strings.Contains(strings.ToLower(cd), "filename") {
			return true
		}
	}
	return false
}

// strayDelimiter reports whether delim occurs in b other than as a
// delimiter line Go's reader takes: at the start of b or after a line
// end, followed by "--" or not, optional spaces and tabs, and a line end
// (or the end of what was read). Go's reader reads such an occurrence as
// part of a value or a file, which CRS does not inspect; PHP (which
// finds delimiters anywhere in a preamble it reads in pieces, and at
// line ends its buffer makes) and Rack 2 (which strips lines, and ends
// one at each read) may start a field there that the WAF never saw.
// Clients choose a boundary their content does not hold: they never
// send such a body. The line end is the one the first delimiter line
// has, as Go reads it: CR LF, or a bare LF throughout.
func strayDelimiter(b, delim []byte) bool {
	nl := []byte("\r\n")
	first := true
	for off := 0; ; {
		i := bytes.Index(b[off:], delim)
		if i < 0 {
			return false
		}
		at := off + i
		rest := bytes.TrimPrefix(b[at+len(delim):], []byte("--"))
		rest = bytes.TrimLeft(rest, " \t")
		if first {
			if bytes.HasPrefix(rest, []byte("\n")) {
				nl = nl[1:]
			}
			first = false
		}
		lineStart := at == 0 || bytes.HasSuffix(b[:at], nl)
		lineEnd := len(rest) == 0 || bytes.HasPrefix(rest, nl) || (len(nl) == 2 && len(rest) == 1 && rest[0] == '\r')
		if !lineStart || !lineEnd {
			return true
		}
		off = at + len(delim)
	}
}
