package waf

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"encoding/xml"
	"io"
	"mime"
	"regexp"
	"strconv"
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
	return jsonLiterals(body, false)
}

// jsonLiterals returns the string literals of body read as a JSON
// document (see jsonFields), decoded, as arguments named "json". Unless
// declared (the body's own type says JSON), a body that does not start
// with "{" or "[" is no JSON document and has none.
func jsonLiterals(body []byte, declared bool) []field {
	b := bytes.TrimLeft(pythonJSONText(body), " \t\r\n")
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 || (!declared && b[0] != '{' && b[0] != '[') {
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

// corazaXML matches the Content-Types (lower case) for which Coraza's
// recommended configuration (rule 200000) reads a body as XML, and hands
// the rules each run of text (XML:/*).
var corazaXML = regexp.MustCompile(`^(?:application(?:/soap\+|/)|text/)xml`)

// xmlFields returns what the rules do not see of an XML body (any type
// naming "xml") as Coraza's XML processor reads it, but applications do:
//
//   - attribute values, which Coraza puts in XML://@*, where no CRS rule
//     looks (CRS reads XML:/*, the text): `<item id="1' OR '1'='1"/>`
//     passed;
//   - the text of an element as DOM and ElementTree readers take it
//     (Java's getTextContent, .NET's InnerText, lxml and ElementTree's
//     text and itertext): one string across comments, processing
//     instructions, CDATA sections and child elements. Coraza hands the
//     rules each run of text apart, so `1 UNI<!-- -->ON SELECT` or
//     `1 UNI<![CDATA[]]>ON SELECT` was no injection to them. An
//     element's text is given when it joins more than one run (and
//     every text, under a type Coraza does not read as XML).
//
// ok is false for a document type declaration other than a bare
// `<!DOCTYPE name>`, or for text joined past 8 times the body's size
// plus 4096 bytes (a comb of nested mixed content): an internal subset
// declares entities that Java's, Python's and libxml2's parsers expand
// (`<!ENTITY x "1 UNION SELECT ...">` then `&x;` scored nothing: Go's
// reader, Coraza's, keeps "&x;"), an external one loads them. SOAP
// forbids declarations and APIs send none: refuse the body. (The
// internal entities are expanded all the same, for detect mode and for
// uploads, which are not refused for them.)
func xmlFields(contentType string, body []byte) (out []field, ok bool) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil && mt == "" {
		// A type Go cannot parse ("application/xml x",
		// "application/xml,text/plain") that Coraza's rule 200000, a
		// regular expression on its start, still reads as XML: its
		// attributes went uninspected.
		mt, _, _ = strings.Cut(strings.ToLower(contentType), ";")
	}
	if !strings.Contains(mt, "xml") {
		return nil, true
	}
	minRuns := 2
	if !corazaXML.MatchString(strings.ToLower(contentType)) {
		minRuns = 1 // the rules see no text of it
	}
	out, ok, _, _ = xmlText(body, minRuns)
	return out, ok
}

// xmlText returns the attribute values of an XML document and the text
// of its elements that join at least minRuns runs of text (1: every
// text), decoded as XML readers decode them; ok as for xmlFields. over
// reports text left out for the budget (ok is then false too), stopped
// a document Go's reader could not read to its end (ok stays true:
// Coraza refuses a body it cannot parse, but reads no part).
func xmlText(body []byte, minRuns int) (out []field, ok, over, stopped bool) {
	dec := xml.NewDecoder(bytes.NewReader(body)) // #nosec G709 -- tokens read, nothing deserialized: Go's decoder loads no DTD and expands no declared entity
	dec.Strict = false
	dec.AutoClose = xml.HTMLAutoClose
	dec.Entity = xml.HTMLEntity
	// text is every run of text in document order: an element's text
	// is text[start:] when it ends.
	type open struct{ start, runs int }
	var text []byte
	var stack []open
	budget := 8*len(body) + 4096
	doctypes := 0
	ok = true
	end := func() {
		e := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		t := text[e.start:]
		blank := e.runs == 0 // no run or child with more than white space
		if e.runs >= minRuns {
			if budget -= len(t); budget < 0 {
				ok, over = false, true
			} else {
				out = append(out, field{name: "xml", value: string(t)})
			}
		}
		if len(stack) > 0 && !blank {
			stack[len(stack)-1].runs++
		}
	}
	for {
		tok, err := dec.Token()
		if tok == nil || (err != nil && err != io.EOF) {
			// Coraza refuses a body it cannot parse itself.
			// Stopped short of the end, that is: an element left
			// open at the end is read whole.
			stopped = stopped || err != nil && err != io.EOF && dec.InputOffset() < int64(len(body))
			break
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			for _, a := range tok.Attr {
				if !xmlStructure(a.Name) {
					out = append(out, field{name: "xml", value: a.Value})
				}
			}
			stack = append(stack, open{start: len(text)})
		case xml.EndElement:
			if len(stack) > 0 {
				end()
			}
		case xml.CharData:
			if len(stack) > 0 {
				text = append(text, tok...)
				if len(bytes.TrimSpace(tok)) > 0 {
					stack[len(stack)-1].runs++
				}
			}
		case xml.Directive:
			doctype := strings.HasPrefix(string(tok), "DOCTYPE")
			if doctype && doctypes > 0 {
				// XML allows one: a second is malformed, as
				// unreadable as a byte Go's reader stops at
				// (lxml, Java's and .NET's parsers refuse the
				// document). Its entities are not read: read
				// each time, 1 MiB of them took a second.
				ok, stopped = false, true
				continue
			}
			if doctype {
				doctypes++
			}
			if bareDoctype(tok) {
				continue
			}
			ok = false
			if !doctype {
				continue
			}
			// Expanded as the application's parser expands
			// them (lxml, Java's and .NET's do by default):
			// an upload's `<!ENTITY x "&#x55;NION SELECT">`
			// then `1 &x; ...` was no injection to the rules.
			ents, fine, cyclic := internalEntities(tok, body, &budget)
			if !fine {
				over = true
				continue
			}
			if cyclic {
				// Those parsers refuse a document that uses an
				// entity referring to itself (through others or
				// not), and one that does not use it reads as
				// inspected here: unreadable, what expands
				// inspected. The cycle hides nothing a parser
				// delivers, and refuses all but uploads.
				stopped = true
			}
			if len(ents) > 0 {
				m := make(map[string]string, len(xml.HTMLEntity)+len(ents))
				for k, v := range dec.Entity {
					m[k] = v
				}
				for _, e := range ents {
					m[e.name] = e.value
					out = append(out, field{name: "xml", value: e.value})
				}
				dec.Entity = m
			}
		}
	}
	for len(stack) > 0 {
		end() // unclosed at the end, which Coraza accepts
	}
	return out, ok, over, stopped
}

// maxEntities bounds the general entities an internal subset may
// declare (an SVG from Illustrator declares about ten).
const maxEntities = 256

// internalEntities returns the general entities a document type
// declaration's internal subset declares with a literal value (`<!ENTITY
// x "value">` or 'value'), the value decoded as XML parsers decode it
// where the entity is used: character references and references to
// entities declared before or after it replaced, recursively. Parameter
// entities ("%") and external ones (SYSTEM, PUBLIC) are left out: no
// parser expands the latter by default, and the former only within the
// subset. cyclic reports an entity that refers to itself (through
// others or not): that reference is kept as written. Go's decoder
// substitutes a value where the document refers to it, without reading
// it again: each value, and each of its references in body (counted in
// one pass), are charged to budget, at least 1 each; fine is false past
// it or past maxEntities declarations.
func internalEntities(d xml.Directive, body []byte, budget *int) (ents []field, fine, cyclic bool) {
	s := string(d)
	var names []string
	raw := make(map[string]string)
	longest := 0
scan:
	for i := 0; i < len(s); {
		switch {
		case s[i] == '"' || s[i] == '\'':
			j := strings.IndexByte(s[i+1:], s[i])
			if j < 0 {
				break scan
			}
			i += j + 2
		case strings.HasPrefix(s[i:], "<!--"):
			j := strings.Index(s[i+4:], "-->")
			if j < 0 {
				break scan
			}
			i += j + 7
		case strings.HasPrefix(s[i:], "<!ENTITY"):
			i += len("<!ENTITY")
			rest := strings.TrimLeft(s[i:], " \t\r\n")
			if rest == s[i:] || strings.HasPrefix(rest, "%") {
				continue // a parameter entity, or no declaration
			}
			name := rest
			if j := strings.IndexAny(rest, " \t\r\n"); j >= 0 {
				name = rest[:j]
			}
			rest = strings.TrimLeft(rest[len(name):], " \t\r\n")
			i = len(s) - len(rest)
			if rest == "" || rest[0] != '"' && rest[0] != '\'' {
				continue // external: SYSTEM or PUBLIC
			}
			j := strings.IndexByte(rest[1:], rest[0])
			if j < 0 {
				break scan
			}
			i += j + 2
			if _, dup := raw[name]; dup {
				continue // the first declaration binds
			}
			if len(names) >= maxEntities {
				return nil, false, false
			}
			names = append(names, name)
			raw[name] = rest[1 : j+1]
			longest = max(longest, len(name))
		default:
			i++
		}
	}
	if len(names) == 0 {
		return nil, true, false
	}
	x := expander{raw: raw, done: make(map[string]string, len(names)), open: make(map[string]bool), budget: budget}
	for _, name := range names {
		v, fine := x.expand(name, 0)
		if !fine {
			return nil, false, false
		}
		ents = append(ents, field{name: name, value: v})
	}
	// Each reference in body, in one pass: counted per entity, it
	// read the body once for each.
	over := false
	entityRefs(body, longest, func(name []byte) bool {
		if v, ok := x.done[string(name)]; ok {
			if *budget -= max(1, len(v)); *budget < 0 {
				over = true
				return false
			}
		}
		return true
	})
	if over {
		return nil, false, false
	}
	return ents, true, x.cyclic
}

// entityRefs calls fn with the name of each reference `&name;` in body
// whose name is at most longest bytes, until fn returns false, and
// returns the bytes it looked at: each once. A window that looked for
// the `;` past the next `&` read up to longest bytes again for every
// `&` of a body of ampersands after a long entity name (quadratic:
// 0.8 s for 512 KiB).
func entityRefs(body []byte, longest int, fn func(name []byte) bool) (scanned int) {
	for i := 0; i < len(body); {
		j := bytes.IndexByte(body[i:], '&')
		if j < 0 {
			return scanned + len(body) - i
		}
		scanned += j + 1
		i += j + 1
		win := body[i:min(len(body), i+longest+1)]
		k := bytes.IndexAny(win, ";&")
		if k < 0 {
			// No ; nor & within longest+1 bytes: no name; the next &
			// is past them.
			scanned += len(win)
			continue
		}
		scanned += k + 1
		if body[i+k] == '&' {
			continue // the next reference starts there
		}
		if !fn(body[i : i+k]) {
			return scanned
		}
		i += k + 1
	}
	return scanned
}

// expander expands entities' raw values, each once.
type expander struct {
	raw, done map[string]string
	open      map[string]bool // being expanded: a reference to one is a cycle
	budget    *int
	cyclic    bool
}

// expand returns the entity name's value decoded: character references,
// the predefined entities and the declared ones replaced, anything else
// (and a reference back to an entity being expanded) kept as written.
// fine is false past the budget, the value charged to it.
func (x *expander) expand(name string, depth int) (string, bool) {
	if v, ok := x.done[name]; ok {
		return v, true
	}
	v := x.raw[name]
	if strings.Contains(v, "&") {
		if depth > maxEntities {
			// Unreachable without a cycle: a chain of distinct
			// entities is at most maxEntities long.
			x.cyclic = true
			return "&" + name + ";", true
		}
		x.open[name] = true
		var b strings.Builder
		for len(v) > 0 {
			i := strings.IndexByte(v, '&')
			if i < 0 {
				b.WriteString(v)
				break
			}
			b.WriteString(v[:i])
			v = v[i:]
			j := strings.IndexByte(v, ';')
			if j < 0 {
				b.WriteString(v)
				break
			}
			ref := v[1:j]
			if r, isChar := charRef(ref); isChar {
				b.WriteRune(r)
			} else if _, declared := x.raw[ref]; declared && x.open[ref] {
				x.cyclic = true
				b.WriteString(v[:j+1])
			} else if declared {
				d, fine := x.expand(ref, depth+1)
				if !fine {
					return "", false
				}
				b.WriteString(d)
			} else if p, ok := xmlPredefined[ref]; ok {
				b.WriteString(p)
			} else {
				b.WriteString(v[:j+1])
			}
			v = v[j+1:]
			if b.Len() > *x.budget {
				return "", false
			}
		}
		delete(x.open, name)
		v = b.String()
	}
	if *x.budget -= max(1, len(v)); *x.budget < 0 {
		return "", false
	}
	x.done[name] = v
	return v, true
}

// xmlPredefined are XML's five predefined entities.
var xmlPredefined = map[string]string{"lt": "<", "gt": ">", "amp": "&", "apos": "'", "quot": `"`}

// charRef decodes the reference "#65" or "#x41" (between "&" and ";").
func charRef(ref string) (rune, bool) {
	if !strings.HasPrefix(ref, "#") {
		return 0, false
	}
	base, digits := 10, ref[1:]
	if strings.HasPrefix(digits, "x") {
		base, digits = 16, digits[1:]
	}
	n, err := strconv.ParseUint(digits, base, 32)
	if err != nil || n > utf8.MaxRune {
		return 0, false
	}
	r := rune(n)
	return r, utf8.ValidRune(r)
}

// bareDoctype reports whether a directive (the text between "<!" and
// ">") is a document type declaration naming the root element only,
// without an external identifier or an internal subset.
func bareDoctype(d xml.Directive) bool {
	f := strings.Fields(string(d))
	return len(f) == 2 && f[0] == "DOCTYPE" && !strings.ContainsAny(f[1], "[]\"'")
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
