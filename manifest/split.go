package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	yaml2 "go.yaml.in/yaml/v2"
)

// utf8BOM is the byte order mark in UTF-8.
const utf8BOM = "\xEF\xBB\xBF"

// errOddUTF16 is the error for UTF-16 text cut in the middle of a unit.
var errOddUTF16 = errors.New("UTF-16 text with an odd number of bytes")

// normalize turns a file into the UTF-8 text, with \n or \r\n line
// breaks, that splitDocuments cuts: UTF-16 with a byte order mark (what
// Windows PowerShell 5 writes) is decoded, a lone \r (a YAML line break,
// written by classic Mac tools) becomes \n, and byte order marks at the
// start of any line (YAML allows one before every document) are dropped.
// Lines keep their numbers. Text that needs none of this is returned as
// it is, without a copy. cuts notes the "---" lines that kubectl does not
// cut where the normalized text is cut (nil when there are none): see
// kubectlCuts.
func normalize(data []byte) (text []byte, cuts map[int]cutNote, err error) {
	if len(data) >= 2 && (data[0] == 0xFF && data[1] == 0xFE || data[0] == 0xFE && data[1] == 0xFF) {
		if len(data)%2 != 0 {
			return nil, nil, errOddUTF16
		}
		units := make([]uint16, 0, len(data)/2-1)
		for i := 2; i+1 < len(data); i += 2 {
			if data[0] == 0xFF {
				units = append(units, uint16(data[i])|uint16(data[i+1])<<8)
			} else {
				units = append(units, uint16(data[i])<<8|uint16(data[i+1]))
			}
		}
		out := make([]byte, 0, len(units)+len(units)/2)
		for _, r := range utf16.Decode(units) {
			out = utf8.AppendRune(out, r)
		}
		data = out
	}
	i := bytes.IndexByte(data, '\r')
	cr := i >= 0 && lonelyCR(data[i:])
	nlBOM := lineBOM(data)
	if cr || nlBOM {
		cuts = kubectlCuts(data)
	}
	if cr {
		out := make([]byte, len(data))
		copy(out, data)
		for j := i; j < len(out); j++ {
			if out[j] == '\r' && (j+1 == len(out) || out[j+1] != '\n') {
				out[j] = '\n'
			}
		}
		data = out
	}
	// A "\r" before a byte order mark is a "\n" now.
	if bytes.HasPrefix(data, []byte(utf8BOM)) || nlBOM || cr && lineBOM(data) {
		out := make([]byte, 0, len(data))
		for line := range bytes.Lines(data) {
			out = append(out, bytes.TrimPrefix(line, []byte(utf8BOM))...)
		}
		data = out
	}
	return data, cuts, nil
}

// lineBOM reports whether a byte order mark follows a "\n" in data. It
// looks for the mark, whose first byte is rare in YAML, and then at the
// byte before it: looking for "\n" and the mark stops at every line and
// cost about 2% of loading a cluster dump.
func lineBOM(data []byte) bool {
	for off := 0; ; {
		i := bytes.Index(data[off:], []byte(utf8BOM))
		if i < 0 {
			return false
		}
		if i += off; i > 0 && data[i-1] == '\n' {
			return true
		}
		off = i + 1
	}
}

// A cutNote says why kubectl does not cut a stream at a "---" line as
// splitDocuments does. kubectl and helm (apimachinery's YAMLReader) break
// lines at "\n" only, take a line for a separator only when it starts
// with "---" followed by nothing but white space or a comment, and read
// the first YAML document of each piece between separators: the YAML
// parser then breaks lines at a lone "\r" too, but reads no further.
type cutNote uint8

const (
	// cutJoined: the "---" line follows a lone "\r", or a byte order mark
	// starts it, so kubectl does not cut there: what follows is a second
	// document of the piece before, which kubectl drops without a word.
	cutJoined cutNote = iota + 1
	// cutSwallowing: kubectl's line holds the "---" line and, after a lone
	// "\r", content: kubectl refuses the separator (invalid Yaml document
	// separator) or, after a comment, drops that content with it.
	cutSwallowing
)

// kubectlCuts finds the "---" lines of UTF-8 text (numbered as the
// normalized text numbers them: a lone "\r" breaks a line) that kubectl
// does not cut as splitDocuments does. A byte order mark at the start of
// the text is no matter: kubectl drops it.
func kubectlCuts(data []byte) map[int]cutNote {
	var cuts map[int]cutNote
	note := func(line int, n cutNote) {
		if cuts == nil {
			cuts = map[int]cutNote{}
		}
		cuts[line] = n
	}
	line := 1
	for off := 0; off < len(data); {
		// One line of kubectl's: up to "\n", "\r\n" included.
		end, next := len(data), len(data)
		if i := bytes.IndexByte(data[off:], '\n'); i >= 0 {
			end, next = off+i, off+i+1
			if end > off && data[end-1] == '\r' {
				end--
			}
		}
		// Its lines of the normalized text: cut at every lone "\r".
		start, first, content := line, true, false
		sep := false // the first one is a "---" line
		for from := off; ; {
			to := end
			if i := bytes.IndexByte(data[from:end], '\r'); i >= 0 {
				to = from + i
			}
			l := data[from:to]
			t, bom := bytes.CutPrefix(l, []byte(utf8BOM))
			switch {
			case first:
				sep = marker(t, "---")
				if sep && bom && off > 0 {
					note(line, cutJoined)
					sep = false
				}
			case marker(t, "---"):
				note(line, cutJoined)
			case sep && !content:
				if t := bytes.TrimSpace(t); len(t) > 0 && t[0] != '#' {
					content = true
				}
			}
			first = false
			if to == end {
				break
			}
			from = to + 1
			line++
		}
		if content {
			note(start, cutSwallowing)
		}
		line++
		off = next
	}
	return cuts
}

// lonelyCR reports whether data holds a \r not followed by \n.
func lonelyCR(data []byte) bool {
	for i, c := range data {
		if c == '\r' && (i+1 == len(data) || data[i+1] != '\n') {
			return true
		}
	}
	return false
}

// splitJSONStream cuts a document holding JSON values one after another
// (concatenated JSON or JSON lines, as jq and API clients write) into one
// document per value. It returns false for any other document, which is
// then read as it is (and reported by the parser when it is broken).
func splitJSONStream(doc document) ([]document, bool) {
	sc := jsonScanner{data: doc.text, line: 1}
	if first, _, ok := bytes.Cut(doc.text, []byte("\n")); ok && marker(first, "---") && len(bytes.TrimSpace(first[3:])) == 0 {
		sc.off, sc.line = len(first)+1, 2
	}
	sc.space()
	// A YAML document does not start with a brace: most stop here, before
	// mayBeStream reads the whole text.
	if c := sc.peek(); c != '{' && c != '[' || !mayBeStream(doc.text) {
		return nil, false
	}
	var docs []document
	for sc.off < len(doc.text) {
		from, line := sc.off, sc.line
		if !sc.value() {
			if len(docs) == 0 {
				return nil, false
			}
			// A broken value after good ones: the parser reports it.
			return append(docs, document{text: doc.text[from:], line: doc.line + line - 1, origin: doc.origin}), true
		}
		docs = append(docs, document{text: doc.text[from:sc.off], line: doc.line + line - 1, origin: doc.origin})
		sc.space()
		if c := sc.peek(); sc.off < len(doc.text) && c != '{' && c != '[' {
			return nil, false // not a JSON stream
		}
	}
	return docs, len(docs) > 1
}

// mayBeStream is a cheap test run before splitJSONStream scans a document:
// in a JSON stream a closing brace or bracket is followed, after white
// space, by an opening one; inside one JSON value never (a comma comes
// between), outside strings.
func mayBeStream(text []byte) bool {
	for i := 0; i < len(text); i++ {
		if c := text[i]; c != '}' && c != ']' {
			continue
		}
		j := i + 1
		for j < len(text) && (text[j] == ' ' || text[j] == '\t' || text[j] == '\n' || text[j] == '\r') {
			j++
		}
		if j < len(text) && (text[j] == '{' || text[j] == '[') {
			return true
		}
	}
	return false
}

// A document is the text of one YAML document of a file, cut out without
// parsing. YAML forbids "---" and "..." at the start of a line inside a
// document's content, so cutting at those lines is exact.
type document struct {
	text   []byte
	line   int    // file line of text's first line
	origin string // path from a leading `# Source:` comment
	// unread says why kubectl would not read the document, which is
	// then an input error: it follows a document end marker ("...")
	// without a "---" line between them (kubectl and helm cut a stream
	// at "---" lines only and read the first YAML document of each piece,
	// so they drop it without a word), or its "---" line holds more than
	// a comment (kubectl refuses the stream there).
	unread string
}

// splitDocuments cuts a YAML stream into documents. Documents with nothing
// but comments, blank lines and directives are dropped. cuts, from
// normalize, notes the "---" lines kubectl does not cut at: a document
// that kubectl drops or refuses there is unread.
func splitDocuments(data []byte, cuts map[int]cutNote) []document {
	var docs []document
	var cur document
	start, content := 0, false
	// piece: a document with content lies between the last "---" line
	// kubectl cuts at and this line (kubectl reads only the first).
	piece := false
	flush := func(end int) {
		if !content && !piece && cur.unread == "" {
			// Nothing to read, but kubectl parses it all the same.
			if line, msg := emptyPieceError(data[start:end], cur.line); msg != "" {
				docs = append(docs, document{line: line, unread: msg})
			}
		}
		piece = piece || content
		if content {
			cur.text = data[start:end]
			docs = append(docs, cur)
		}
	}
	begin := func(at, line int) {
		start, content = at, false
		cur = document{line: line}
	}
	begin(0, 1)
	line := 1
	for off := 0; off < len(data); line++ {
		end := bytes.IndexByte(data[off:], '\n')
		next := len(data)
		if end >= 0 {
			end += off
			next = end + 1
		} else {
			end = len(data)
		}
		l := data[off:end]
		switch {
		case marker(l, "---"):
			flush(off)
			begin(off, line)
			switch cuts[line] {
			case cutJoined:
				if piece {
					cur.unread = "kubectl and helm do not read this document: they break lines at \"\\n\" only, and its \"---\" line follows a lone \"\\r\" or starts with a byte order mark, so they do not cut the stream there and keep only the document before it; end the lines with \"\\n\""
				}
			case cutSwallowing:
				cur.unread = "kubectl and helm do not read this document: they break lines at \"\\n\" only, so its \"---\" line and what follows it after a lone \"\\r\" are one line to them, which they refuse as a document separator or drop as a comment; end the lines with \"\\n\""
				piece = false
			default:
				piece = false
			}
			if rest := bytes.TrimSpace(l[3:]); len(rest) > 0 && rest[0] != '#' {
				content = true
				cur.unread = "kubectl refuses a \"---\" line with more than a comment after it (invalid Yaml document separator): start the document on the next line"
			}
		case marker(l, "..."):
			if !piece && !content {
				cur.unread = "reported" // not again by flush
				// kubectl and helm parse the piece from the last "---"
				// line with yaml.v2, which fails on an end marker that
				// ends no document, and so on the whole stream.
				docs = append(docs, document{line: line, unread: "kubectl and helm fail on this file: this document end marker \"...\" ends no document in the piece of the stream they parse, which starts at the last \"---\" line; remove it"})
			}
			flush(next)
			begin(next, line+1)
			cur.unread = fmt.Sprintf("kubectl and helm do not read this document: it follows the document end marker \"...\" at line %d, and they start a document only at a \"---\" line", line)
		case !content:
			t := bytes.TrimSpace(l)
			switch {
			case len(t) == 0:
			case t[0] == '#':
				if s, ok := bytes.CutPrefix(t, []byte("# Source: ")); ok && cur.origin == "" {
					cur.origin = strings.TrimSpace(string(s))
				}
			case t[0] == '%' && l[0] == '%':
				// A directive belongs to the next document. kubectl
				// and helm cut the stream at the "---" line after it
				// and parse the directive alone, which fails on the
				// whole stream, unless it follows a document in the
				// piece they parse (of which they read only the first).
				if !piece {
					docs = append(docs, document{line: line, unread: "kubectl and helm fail on this file: they cut the stream at the \"---\" line after this YAML directive and parse the directive alone; remove it"})
				}
			default:
				content = true
			}
		}
		off = next
	}
	flush(len(data))
	return docs
}

// emptyPieceError says why kubectl fails on text, a document without
// content (comments, blank lines) that begins a piece of the stream it
// parses (after a "---" line it cuts at, or at the start), and at which
// line, given that text starts at line: yaml.v2 parses the piece, and
// fails on the whole file for a byte it does not allow in a comment
// (invalid UTF-8, a control character) or a tab it cannot start a token
// with (a line of white space with a tab), which Ward, finding nothing to
// read, never parsed. msg is "" when kubectl reads it.
func emptyPieceError(text []byte, line int) (int, string) {
	at := -1
	for i, c := range text {
		if c == '\t' || c < 0x20 && c != '\n' && c != '\r' || c >= 0x7F {
			at = i
			break
		}
	}
	if at < 0 {
		return 0, ""
	}
	if first, rest, ok := bytes.Cut(text, []byte("\n")); ok && marker(first, "---") {
		text, line = rest, line+1 // kubectl cuts the "---" line out
		at -= len(first) + 1
	}
	var v any
	err := yaml2.Unmarshal(text, &v)
	if err == nil {
		return 0, ""
	}
	if at > 0 {
		line += bytes.Count(text[:at], []byte("\n"))
	}
	return line, "kubectl and helm fail on this file: they parse this piece of the stream, which holds nothing else, and fail (" +
		strings.TrimPrefix(err.Error(), "yaml: ") + "); remove the offending byte or tab"
}

// marker reports whether line is the document marker m ("---" or "...")
// alone or followed by white space.
func marker(line []byte, m string) bool {
	if len(line) < 3 || string(line[:3]) != m {
		return false
	}
	return len(line) == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r'
}

// splitMinBytes is the size from which a List document is cut into its
// items, so that they decode in parallel and no node tree for a whole
// cluster dump is ever built. Tests lower it.
var splitMinBytes = 64 << 10

// A listSplit is a List document cut into a header (the document without
// its items, for apiVersion and kind) and one text per item. A YAML item is
// its "- " line and what follows, so it parses as a one-element sequence; a
// JSON item is the element's text.
type listSplit struct {
	apiVersion, kind string // of the List
	header           []byte
	items            [][]byte
	itemLines        []int // document line of each item's first line
	json             bool
}

// splitList cuts a List document into items when it is large, or returns
// false. It relies on the layout kubectl and other tools write; whenever an
// item does not parse on its own, the loader decodes the whole document.
func splitList(text []byte) (listSplit, bool) {
	if len(text) < splitMinBytes {
		return listSplit{}, false
	}
	t := bytes.TrimLeft(text, " \t\r\n")
	if len(t) > 0 && t[0] == '{' {
		return splitJSONList(text)
	}
	return splitYAMLList(text)
}

// splitYAMLList cuts a block-style List: a top-level "items:" key followed
// by a block sequence, and a top-level "kind: ...List".
func splitYAMLList(text []byte) (listSplit, bool) {
	var s listSplit
	type span struct{ from, to int } // byte offsets
	var block span
	seqIndent := -1
	inItems, isList := false, false
	itemStart := -1
	line := 0
	closeItem := func(end int) {
		if itemStart >= 0 {
			s.items = append(s.items, text[itemStart:end])
			itemStart = -1
		}
	}
	for off := 0; off < len(text); {
		line++
		end := bytes.IndexByte(text[off:], '\n')
		next := len(text)
		if end >= 0 {
			end += off
			next = end + 1
		} else {
			end = len(text)
		}
		l := bytes.TrimRight(text[off:end], "\r")
		trimmed := bytes.TrimLeft(l, " ")
		indent := len(l) - len(trimmed)
		blank := len(bytes.TrimSpace(trimmed)) == 0 || trimmed[0] == '#'
		if inItems {
			if blank {
				off = next
				continue
			}
			dash := len(trimmed) > 0 && trimmed[0] == '-' && (len(trimmed) == 1 || trimmed[1] == ' ')
			if seqIndent < 0 {
				if !dash {
					return s, false // not a block sequence
				}
				seqIndent = indent
			}
			switch {
			case indent == seqIndent && dash:
				closeItem(off)
				itemStart = off
				s.itemLines = append(s.itemLines, line)
			case indent > seqIndent:
			case indent > 0:
				return s, false // neither in the sequence nor a top-level key
			default:
				closeItem(off)
				block.to = off
				inItems = false
			}
			if inItems {
				off = next
				continue
			}
		}
		if indent == 0 && !blank {
			key, val, ok := bytes.Cut(trimmed, []byte(":"))
			if !ok || !plainKey(key) {
				return s, false
			}
			val = bytes.TrimSpace(val)
			switch string(key) {
			case "items":
				if len(val) > 0 && val[0] != '#' || block.to != 0 || len(s.items) > 0 {
					return s, false
				}
				inItems = true
				block.from = next
			case "kind", "apiVersion":
				v, _, _ := strings.Cut(string(val), " #")
				v = strings.Trim(strings.TrimSpace(v), `"'`)
				if string(key) == "kind" {
					s.kind = v
					isList = strings.HasSuffix(v, "List")
				} else {
					s.apiVersion = v
				}
			}
		}
		off = next
	}
	if inItems {
		closeItem(len(text))
		block.to = len(text)
	}
	if !isList || len(s.items) == 0 {
		return s, false
	}
	s.header = make([]byte, 0, len(text)-(block.to-block.from))
	s.header = append(s.header, text[:block.from]...)
	s.header = append(s.header, text[block.to:]...)
	return s, true
}

// plainKey reports whether a top-level key is a plain word, as in the
// Lists tools write; anything else makes splitYAMLList give up.
func plainKey(k []byte) bool {
	if len(k) == 0 || k[0] == '-' {
		return false
	}
	for _, c := range k {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '/') {
			return false
		}
	}
	return true
}

// splitJSONList cuts a JSON object with a top-level "items" array and a
// top-level "kind" ending in "List".
func splitJSONList(text []byte) (listSplit, bool) {
	s := listSplit{json: true}
	sc := jsonScanner{data: text, line: 1}
	sc.space()
	if !sc.byte('{') {
		return s, false
	}
	isList := false
	open, closing := -1, -1
	for {
		sc.space()
		if sc.byte('}') {
			break
		}
		key, ok := sc.str()
		if !ok {
			return s, false
		}
		sc.space()
		if !sc.byte(':') {
			return s, false
		}
		sc.space()
		switch {
		case key == "kind" || key == "apiVersion":
			v, ok := sc.str()
			if !ok {
				return s, false
			}
			if key == "kind" {
				s.kind = v
				isList = strings.HasSuffix(v, "List")
			} else {
				s.apiVersion = v
			}
		case key == "items" && sc.peek() == '[' && open < 0:
			open = sc.off
			sc.off++
			for first := true; ; first = false {
				sc.space()
				if sc.byte(']') {
					break
				}
				if !first && !(sc.byte(',') && sc.space()) {
					return s, false
				}
				from, line := sc.off, sc.line
				if !sc.value() {
					return s, false
				}
				s.items = append(s.items, text[from:sc.off])
				s.itemLines = append(s.itemLines, line)
			}
			closing = sc.off - 1
		default:
			if !sc.value() {
				return s, false
			}
		}
		sc.space()
		if !sc.byte(',') && sc.peek() != '}' {
			return s, false
		}
	}
	if !isList || open < 0 || len(s.items) == 0 {
		return s, false
	}
	s.header = make([]byte, 0, open+1+len(text)-closing)
	s.header = append(s.header, text[:open+1]...)
	s.header = append(s.header, text[closing:]...)
	return s, true
}

// jsonScanner skips over JSON values, counting lines. It checks structure
// only as far as cutting needs; the parser checks the rest.
type jsonScanner struct {
	data []byte
	off  int
	line int
}

func (s *jsonScanner) peek() byte {
	if s.off < len(s.data) {
		return s.data[s.off]
	}
	return 0
}

func (s *jsonScanner) byte(b byte) bool {
	if s.peek() == b && s.off < len(s.data) {
		s.off++
		return true
	}
	return false
}

// space skips white space; it returns true to chain in conditions.
func (s *jsonScanner) space() bool {
	for s.off < len(s.data) {
		switch s.data[s.off] {
		case '\n':
			s.line++
		case ' ', '\t', '\r':
		default:
			return true
		}
		s.off++
	}
	return true
}

// str reads a string; it returns the raw contents, escapes untouched,
// which is enough to recognize "kind" and "items".
func (s *jsonScanner) str() (string, bool) {
	if !s.byte('"') {
		return "", false
	}
	from := s.off
	for s.off < len(s.data) {
		switch s.data[s.off] {
		case '\\':
			s.off++
		case '"':
			v := string(s.data[from:s.off])
			s.off++
			return v, true
		case '\n':
			return "", false
		}
		s.off++
	}
	return "", false
}

// value skips one value.
func (s *jsonScanner) value() bool {
	switch s.peek() {
	case '"':
		_, ok := s.str()
		return ok
	case '{', '[':
	default:
		from := s.off
		for s.off < len(s.data) && strings.IndexByte(",}] \t\r\n:", s.data[s.off]) < 0 {
			s.off++
		}
		return s.off > from
	}
	depth := 0
	for s.off < len(s.data) {
		switch s.data[s.off] {
		case '"':
			if _, ok := s.str(); !ok {
				return false
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				s.off++
				return true
			}
		case '\n':
			s.line++
		}
		s.off++
	}
	return false
}
