package synth

import (
	"strconv"
	"strings"
)

// emitter writes one object at a time as block YAML (in the style kubectl
// prints: sequences at the indentation of their key) or as compact JSON. It
// appends to a byte slice with no reflection and no intermediate tree, which
// is what makes generating hundreds of megabytes take seconds.
//
// Callers describe the object as a sequence of calls: begin, then key followed
// by one value (str, int, bool, obj or list), obj/list contents, end for each
// obj or list, and finish. Inside a list, values are written without key.
type emitter struct {
	b    []byte
	json bool
	st   []frame
}

type frame struct {
	list bool
	ind  int // column of this map's keys or this list's dashes
	n    int // keys or items written so far
	// inline is true for a map whose first key goes on the current line:
	// the document's top-level map, or a map that is a list item ("- key").
	inline bool
}

// begin starts a document whose top level is a map.
func (e *emitter) begin() {
	e.st = append(e.st[:0], frame{inline: true})
	if e.json {
		e.b = append(e.b, '{')
	}
}

// finish ends the document begun by begin.
func (e *emitter) finish() {
	e.st = e.st[:0]
	if e.json {
		e.b = append(e.b, '}')
	} else {
		e.b = append(e.b, '\n')
	}
}

func (e *emitter) top() *frame { return &e.st[len(e.st)-1] }

func (e *emitter) newline(ind int) {
	e.b = append(e.b, '\n')
	for range ind {
		e.b = append(e.b, ' ')
	}
}

// key writes a map key; exactly one value call must follow.
func (e *emitter) key(k string) {
	f := e.top()
	if e.json {
		if f.n > 0 {
			e.b = append(e.b, ',')
		}
		e.b = strconv.AppendQuote(e.b, k)
		e.b = append(e.b, ':')
	} else {
		if f.n > 0 || !f.inline {
			e.newline(f.ind)
		}
		e.b = appendYAMLString(e.b, k)
		e.b = append(e.b, ':')
	}
	f.n++
}

// item writes what precedes a value: the list item marker when the value
// is a list item, the space after "key:" otherwise (YAML only). It reports
// whether the value is a list item.
func (e *emitter) item(scalar bool) bool {
	f := e.top()
	if !f.list {
		if scalar && !e.json {
			e.b = append(e.b, ' ')
		}
		return false
	}
	if e.json {
		if f.n > 0 {
			e.b = append(e.b, ',')
		}
	} else {
		e.newline(f.ind)
		e.b = append(e.b, '-', ' ')
	}
	f.n++
	return true
}

func (e *emitter) str(v string) {
	e.item(true)
	if e.json {
		e.b = strconv.AppendQuote(e.b, v)
	} else {
		e.b = appendYAMLString(e.b, v)
	}
}

func (e *emitter) int(v int) {
	e.item(true)
	e.b = strconv.AppendInt(e.b, int64(v), 10)
}

func (e *emitter) bool(v bool) {
	e.item(true)
	e.b = strconv.AppendBool(e.b, v)
}

// obj starts a map value; close it with end.
func (e *emitter) obj() {
	inList := e.item(false)
	ind := e.top().ind + 2
	if e.json {
		e.b = append(e.b, '{')
	}
	e.st = append(e.st, frame{ind: ind, inline: inList})
}

// list starts a sequence value; close it with end. Lists of lists are not
// supported (Kubernetes objects have none).
func (e *emitter) list() {
	if e.item(false) {
		panic("synth: list inside list")
	}
	ind := e.top().ind
	if e.json {
		e.b = append(e.b, '[')
	}
	e.st = append(e.st, frame{list: true, ind: ind})
}

// end closes the innermost obj or list.
func (e *emitter) end() {
	f := e.st[len(e.st)-1]
	e.st = e.st[:len(e.st)-1]
	switch {
	case e.json && f.list:
		e.b = append(e.b, ']')
	case e.json:
		e.b = append(e.b, '}')
	case f.n > 0:
	case f.list:
		e.b = append(e.b, " []"...)
	case f.inline:
		e.b = append(e.b, "{}"...)
	default:
		e.b = append(e.b, " {}"...)
	}
}

// rawKey writes a map key as it is, unquoted in YAML: the caller knows it
// reads back as itself in a block mapping (managedFields keys such as
// k:{"name":"app"}).
func (e *emitter) rawKey(k string) {
	if e.json {
		e.key(k)
		return
	}
	f := e.top()
	if f.n > 0 || !f.inline {
		e.newline(f.ind)
	}
	e.b = append(e.b, k...)
	e.b = append(e.b, ':')
	f.n++
}

// literal writes k: v with v, which must end in a line break and hold no
// line that is empty or starts with a blank, as a literal block scalar
// ("|") in YAML, as kubectl prints multi-line annotations.
func (e *emitter) literal(k, v string) {
	if e.json {
		e.kv(k, v)
		return
	}
	e.key(k)
	e.b = append(e.b, " |"...)
	ind := e.top().ind + 2
	for line := range strings.SplitSeq(strings.TrimSuffix(v, "\n"), "\n") {
		e.newline(ind)
		e.b = append(e.b, line...)
	}
}

func (e *emitter) kv(k, v string)          { e.key(k); e.str(v) }
func (e *emitter) kvInt(k string, v int)   { e.key(k); e.int(v) }
func (e *emitter) kvBool(k string, v bool) { e.key(k); e.bool(v) }

// labels writes key: {labels...} from a sorted slice of pairs.
func (e *emitter) labels(k string, ls []label) {
	e.key(k)
	e.obj()
	for _, l := range ls {
		e.kv(l.k, l.v)
	}
	e.end()
}

// appendYAMLString appends s as a plain YAML scalar when that reads back as
// the same string under both YAML 1.1 and 1.2, and double-quoted otherwise.
func appendYAMLString(b []byte, s string) []byte {
	if plainSafe(s) {
		return append(b, s...)
	}
	return strconv.AppendQuote(b, s)
}

func plainSafe(s string) bool {
	if s == "" || !plainFirst[s[0]] || s[len(s)-1] == ':' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !plainByte[s[i]] {
			return false
		}
	}
	if len(s) <= 5 {
		switch s {
		case "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
			"true", "True", "TRUE", "false", "False", "FALSE",
			"on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL":
			return false
		}
	}
	return true
}

// plainFirst and plainByte are the bytes a plain scalar may start with and
// contain. Digits may not start one: it could read back as a number or a
// timestamp.
var plainFirst, plainByte = func() (first, any [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		first[c], first[c-'a'+'A'] = true, true
	}
	first['/'] = true
	any = first
	for _, c := range "0123456789-_.:@" {
		any[c] = true
	}
	return first, any
}()
