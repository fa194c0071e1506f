package waf

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"mime"
	"regexp"
	"strings"
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
	b := bytes.TrimLeft(body, " \t\r\n")
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
