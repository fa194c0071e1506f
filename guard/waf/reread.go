package waf

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"encoding/xml"
	"io"
	"mime"
	"regexp"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// corazaJSON matches the Content-Types (lower case) for which Coraza's
// recommended configuration (rules 200001 and 200006) reads a body as
// JSON.
var corazaJSON = regexp.MustCompile(`^application/(?:json|[a-z0-9.-]+[+]json)`)

// jsonFields returns the string literals (keys and values) of a body
// that looks like a JSON document (its first byte after white space and
// a UTF-8 byte order mark is "{" or "[") sent under another media type,
// as arguments named "json". Coraza picks its body processor by
// Content-Type, and a form-typed body that is JSON became form arguments
// that split an SQL injection; an application reading the body as JSON
// whatever its type (Flask's get_json(force=True), express.json({type:
// "*/*"})) read the injection whole. The literals are taken as a lenient
// parser reads them, whether or not the document is valid JSON (Python's
// json accepts NaN, a byte order mark; others comments).
func jsonFields(contentType string, body []byte) []field {
	if corazaJSON.MatchString(strings.ToLower(contentType)) {
		return nil // Coraza's JSON processor reads it
	}
	b := bytes.TrimLeft(pythonJSONText(body), " \t\r\n")
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 || (b[0] != '{' && b[0] != '[') {
		return nil
	}
	var out []field
	for i := 0; i < len(b); i++ {
		if b[i] != '"' {
			continue
		}
		j := i + 1
		for j < len(b) && b[j] != '"' {
			if b[j] == '\\' {
				j++
			}
			j++
		}
		if j >= len(b) {
			j = len(b) - 1 // unterminated: the rest
		}
		lit := b[i : j+1]
		var v string
		if json.Unmarshal(lit, &v) != nil {
			v = string(lit[1:])
		}
		out = append(out, field{name: "json", value: v})
		i = j
	}
	return out
}

// pythonJSONText returns body as UTF-8 text the way Python's json.loads
// reads bytes (json.detect_encoding): UTF-32 or UTF-16 by their byte order
// marks, else by where the first four bytes hold NULs, else UTF-8 as is.
// Django views and Flask's get_json(force=True) hand request.body to it
// whatever the Content-Type, so a JSON document in UTF-16 or UTF-32 was
// an injection to them and, to the rules, NUL bytes: CRS 920270 scored
// 10, under a threshold raised to 15, and no rule saw the payload.
func pythonJSONText(body []byte) []byte {
	switch {
	case bytes.HasPrefix(body, []byte{0, 0, 0xfe, 0xff}):
		return utf32Text(body[4:], binary.BigEndian)
	case bytes.HasPrefix(body, []byte{0xff, 0xfe, 0, 0}):
		return utf32Text(body[4:], binary.LittleEndian)
	case bytes.HasPrefix(body, []byte{0xfe, 0xff}):
		return utf16Text(body[2:], binary.BigEndian)
	case bytes.HasPrefix(body, []byte{0xff, 0xfe}):
		return utf16Text(body[2:], binary.LittleEndian)
	case len(body) < 4:
		return body
	case body[0] == 0 && body[1] != 0:
		return utf16Text(body, binary.BigEndian)
	case body[0] == 0:
		return utf32Text(body, binary.BigEndian)
	case body[1] == 0 && (body[2] != 0 || body[3] != 0):
		return utf16Text(body, binary.LittleEndian)
	case body[1] == 0:
		return utf32Text(body, binary.LittleEndian)
	}
	return body
}

// utf16Text decodes UTF-16 in byte order o to UTF-8; a trailing odd
// byte is dropped, unpaired surrogates become U+FFFD.
func utf16Text(b []byte, o binary.ByteOrder) []byte {
	units := make([]uint16, len(b)/2)
	for i := range units {
		units[i] = o.Uint16(b[2*i:])
	}
	return []byte(string(utf16.Decode(units)))
}

// utf32Text decodes UTF-32 in byte order o to UTF-8; trailing bytes are
// dropped, invalid code points become U+FFFD.
func utf32Text(b []byte, o binary.ByteOrder) []byte {
	out := make([]byte, 0, len(b)/4)
	for i := 0; i+4 <= len(b); i += 4 {
		out = utf8.AppendRune(out, rune(o.Uint32(b[i:]))) // #nosec G115 -- a code point past U+10FFFF becomes U+FFFD
	}
	return out
}

// xmlAttributes returns the attribute values of an XML body, read as
// Coraza's XML processor reads the document. It puts them in
// XML://@*, which no CRS rule inspects (CRS reads XML:/*, the text), so
// `<item id="1' OR '1'='1"/>` passed; they are inspected as arguments.
func xmlAttributes(contentType string, body []byte) []field {
	if mt, _, _ := mime.ParseMediaType(contentType); !strings.Contains(mt, "xml") {
		return nil
	}
	dec := xml.NewDecoder(bytes.NewReader(body))
	dec.Strict = false
	dec.AutoClose = xml.HTMLAutoClose
	dec.Entity = xml.HTMLEntity
	var out []field
	for {
		tok, err := dec.Token()
		if tok == nil || (err != nil && err != io.EOF) {
			return out // Coraza refuses a body it cannot parse itself
		}
		if se, ok := tok.(xml.StartElement); ok {
			for _, a := range se.Attr {
				if !xmlStructure(a.Name) {
					out = append(out, field{name: "xml", value: a.Value})
				}
			}
		}
	}
}

// xmlStructure reports whether an attribute describes the document, not
// the data in it: namespace declarations, XML Schema instance attributes
// (xsi:schemaLocation, xsi:type) and SOAP's encodingStyle, whose URLs
// CRS would take for remote file inclusions at paranoia level 2.
func xmlStructure(n xml.Name) bool {
	switch {
	case n.Space == "xmlns", n.Space == "" && n.Local == "xmlns":
		return true
	case n.Space == "xsi", n.Space == "http://www.w3.org/2001/XMLSchema-instance":
		return true
	case n.Local == "encodingStyle":
		return true
	}
	return false
}
