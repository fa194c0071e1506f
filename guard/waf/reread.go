package waf

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"mime"
	"strconv"
	"strings"
)

// jsonFields returns the keys and string values of a body that is a JSON
// document sent under another media type, as arguments named as Coraza's
// JSON processor names them ("json.a.b", "json.a.0"). Coraza picks its
// body processor by Content-Type, and a form-typed body that is JSON
// became arguments a split SQL injection hid in; an application reading
// the body as JSON whatever its type (Flask's get_json(force=True),
// express.json({type: "*/*"})) read the injection whole. Keys are
// arguments too (their value the key), as ARGS_NAMES holds them.
func jsonFields(contentType string, body []byte) []field {
	if mt, _, _ := mime.ParseMediaType(contentType); strings.Contains(mt, "json") {
		return nil // Coraza's JSON processor reads it
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || (trimmed[0] != '{' && trimmed[0] != '[') || !json.Valid(trimmed) {
		return nil
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	if dec.Decode(&doc) != nil {
		return nil
	}
	var out []field
	var walk func(name string, v any)
	walk = func(name string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				out = append(out, field{name: name + "." + k, value: k})
				walk(name+"."+k, e)
			}
		case []any:
			for i, e := range v {
				walk(name+"."+strconv.Itoa(i), e)
			}
		case string:
			out = append(out, field{name: name, value: v})
		}
	}
	walk("json", doc)
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
				out = append(out, field{name: "xml." + se.Name.Local + ".@" + a.Name.Local, value: a.Value})
			}
		}
	}
}
