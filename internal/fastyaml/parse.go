package fastyaml

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"

	yaml "go.yaml.in/yaml/v3"
)

// ErrUnsupported means the document uses YAML this parser does not handle;
// parse it with yaml.v3 instead.
var ErrUnsupported = errors.New("fastyaml: unsupported construct")

// maxDepth bounds the nesting of collections. yaml.v3 allows 10000; deeper
// documents than this one are left to it.
const maxDepth = 512

// maxKeyBytes bounds the length of a mapping key, from its first byte to
// its ':'. libyaml drops a simple key candidate that spans more than 1024
// characters; staying far below that keeps this parser on the safe side.
const maxKeyBytes = 512

// unsupported is panicked inside the parser and recovered in Parse, so
// the hot paths need not thread error returns.
type unsupported struct{}

// Parse parses ONE YAML document (no '---' separators inside; a leading
// '---' line is allowed) and returns a DocumentNode like
// yaml.Unmarshal(data, &node) gives. On any syntax error or unsupported
// construct it returns ErrUnsupported (never its own syntax errors: the
// fallback yaml.v3 produces the error message with line numbers).
//
// A document with nothing but blank lines and comments yields the zero
// Node, as yaml.Unmarshal leaves it. Comment fields (HeadComment,
// LineComment, FootComment) are always empty.
//
// The nodes of a document are allocated together, in one or a few
// blocks, so that holding any of them keeps them all; their values are
// substrings of one copy of data, or new strings where escapes were
// decoded. Parse neither keeps nor modifies data. It is safe for
// concurrent use.
func Parse(data []byte) (doc *yaml.Node, err error) {
	return parse(data, false, nil)
}

// ParseObject is Parse for a Kubernetes object, or a sequence of them,
// for callers that never read metadata.managedFields (large in cluster
// dumps): where the root mapping, or a mapping entry of a root sequence,
// has a metadata mapping whose managedFields value is a collection on
// the lines after the key, that value is checked exactly as Parse checks it, so that ParseObject
// accepts the same documents, but not built: it is an empty !!null
// scalar at the line and column of the collection. Everything else is as
// Parse gives it.
func ParseObject(data []byte) (doc *yaml.Node, err error) {
	return parse(data, true, nil)
}

// An Arena is memory for the nodes of one parsed document at a time,
// reused by the next: a caller that parses documents one after another
// and drops each tree before parsing the next (a loader decoding a
// cluster dump) then allocates almost nothing per document, where each
// tree used to be garbage for the collector. The zero Arena is ready to
// use; an Arena is not safe for concurrent use.
type Arena struct {
	nodes []yaml.Node
	ptrs  []*yaml.Node
	// dirtyNodes and dirtyPtrs are the prefixes the last tree used,
	// cleared before reuse so that no string of it stays reachable.
	dirtyNodes, dirtyPtrs int
}

// arenaMax bounds the nodes an Arena keeps between documents (about
// 10 MB): a huge document gets memory of its own, not kept after it.
const arenaMax = 1 << 16

// ParseObjectIn is ParseObject with the nodes in a, and without copying
// data: the tree is valid until the next call with a, and its strings are
// substrings of data, which must not be modified while the tree or any
// string taken from it without copying is in use. Callers keep what they
// need of the tree by copying it (strings.Clone).
func ParseObjectIn(a *Arena, data []byte) (doc *yaml.Node, err error) {
	clear(a.nodes[:a.dirtyNodes])
	clear(a.ptrs[:a.dirtyPtrs])
	a.dirtyNodes, a.dirtyPtrs = 0, 0
	return parse(data, true, a)
}

func parse(data []byte, skipManaged bool, a *Arena) (doc *yaml.Node, err error) {
	lines, ascii, ok := scan(data)
	if !ok {
		return nil, ErrUnsupported
	}
	// The parser lives on the goroutine stack: updating its fields needs
	// no write barriers while the garbage collector runs.
	var p parser
	sp := stackPool.Get().(*[]*yaml.Node)
	p.stack = (*sp)[:0]
	defer func() {
		r := recover()
		// Drop the pointers into this document before the stack is
		// reused, so that the pool does not keep the document alive.
		if r != nil {
			p.stackTop = cap(p.stack)
		}
		clear(p.stack[:p.stackTop])
		*sp = p.stack[:0]
		stackPool.Put(sp)
		if a != nil {
			// What this tree used of the arena's memory (all of it when
			// it went on to memory of its own).
			a.dirtyNodes, a.dirtyPtrs = len(a.nodes), len(a.ptrs)
			if p.inArena {
				a.dirtyNodes, a.dirtyPtrs = p.nslab, p.nptrs
			}
		}
		if r != nil {
			if _, ok := r.(unsupported); !ok && strict {
				panic(r)
			}
			// A bug of this parser (an index out of range, say) must not
			// take the caller down: yaml.v3 gets the document.
			doc, err = nil, ErrUnsupported
		}
	}()
	if skipManaged {
		lines -= managedLines(data)
	}
	p.init(data, lines, ascii, a)
	p.skipManaged = skipManaged
	return p.document(), nil
}

// managedLines estimates how many lines of data a top-level object's
// metadata.managedFields takes, as kubectl prints it ("  managedFields:"
// then lines indented deeper, or "  - " items), so that the node slab is
// sized for the lines that are built: in cluster dumps managedFields is
// often half of a Pod. Only the slab's size depends on it.
func managedLines(data []byte) int {
	const key = "\n  managedFields:\n"
	i := bytes.Index(data, []byte(key))
	if i < 0 {
		return 0
	}
	n := 0
	for rest := data[i+len(key):]; len(rest) > 3 && rest[0] == ' ' && rest[1] == ' ' && (rest[2] == ' ' || rest[2] == '-'); n++ {
		j := bytes.IndexByte(rest, '\n')
		if j < 0 {
			break
		}
		rest = rest[j+1:]
	}
	return n
}

// stackPool holds the parsers' stacks of children (see parser.stack).
var stackPool = sync.Pool{New: func() any {
	s := make([]*yaml.Node, 0, 128)
	return &s
}}

// strict makes Parse re-panic on panics of its own bugs rather than
// report ErrUnsupported, so that tests and fuzzing see them.
var strict = false

// fail abandons the parse: the input is outside the supported subset (or
// is not YAML at all).
func fail() { panic(unsupported{}) }

// scan checks that data holds only characters that libyaml reads as
// themselves: printable Unicode without tabs, BOMs and the Unicode line
// breaks NEL, LS and PS, and with "\r" only as part of "\r\n". It returns
// the number of lines and whether data is pure ASCII.
func scan(data []byte) (lines int, ascii, ok bool) {
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
	)
	ascii = true
	lines = 1
	for i := 0; i < len(data); i++ {
		// Skip eight bytes at a time while all are in ' '..'~': no
		// byte below 0x20, none above 0x7e.
		for i+8 <= len(data) {
			w := binary.LittleEndian.Uint64(data[i:])
			if ((w-ones*0x20)&^w|(w+ones)|w)&high != 0 {
				break
			}
			i += 8
		}
		if i == len(data) {
			break
		}
		c := data[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != 0x7f {
				continue
			}
			if c == '\n' {
				lines++
				continue
			}
			if c == '\r' && i+1 < len(data) && data[i+1] == '\n' {
				continue
			}
			return 0, false, false
		}
		ascii = false
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return 0, false, false
		case r < 0xa0, r == 0x2028, r == 0x2029, r == 0xfeff, r > 0xfffd && r < 0x10000:
			return 0, false, false
		}
		i += size - 1
	}
	return lines, ascii, true
}

type parser struct {
	src   string // the document, converted once
	ascii bool   // src has no multi-byte characters: columns are byte offsets

	// The current line: src[ls:le] without its line break; next is the
	// offset of the following line; line is its 1-based number and ind
	// its indentation. pos is the parse position within the line.
	ls, le, next int
	line, ind    int
	pos          int
	eof          bool
	marker       bool // the line starts with "---" or "..." as a document marker

	depth int

	slab  []yaml.Node  // nodes; slab[nslab:] are free
	ptrs  []*yaml.Node // Content slices; ptrs[nptrs:] are free
	nslab int
	nptrs int
	chunk int // size of further slabs
	// stack holds the children of the collections being parsed until
	// each is complete; stackTop is its high-water mark.
	stack    []*yaml.Node
	stackTop int

	// With skipManaged, metaDepth is the depth of the object's metadata
	// mapping while it is parsed, and discard is set while its
	// managedFields value is: nodes are then all the one scratch node,
	// and collections get no Content.
	skipManaged bool
	rootSeq     bool
	metaDepth   int
	discard     bool
	scratch     yaml.Node

	// inArena says slab and ptrs are still the Arena's (the tree has not
	// gone on to memory of its own).
	inArena bool
}

func (p *parser) init(data []byte, lines int, ascii bool, a *Arena) {
	p.ascii = ascii
	// Manifests have two nodes per line on average (a key and a scalar,
	// or a key and a collection): slightly more avoids a second slab.
	n := 2*lines + lines/8 + 8
	p.chunk = max(32, lines/4)
	if a == nil {
		p.src = string(data)
		p.slab = make([]yaml.Node, n)
		p.ptrs = make([]*yaml.Node, n)
		return
	}
	// The caller keeps data unchanged while the tree is in use
	// (ParseObjectIn), so the strings may share its bytes.
	p.src = unsafe.String(unsafe.SliceData(data), len(data)) // #nosec G103 -- data is not modified while the tree lives (ParseObjectIn's contract)
	if len(a.nodes) < n && n <= arenaMax {
		a.nodes, a.ptrs = make([]yaml.Node, n), make([]*yaml.Node, n)
	}
	if len(a.nodes) >= n {
		p.slab, p.ptrs, p.inArena = a.nodes, a.ptrs, true
		return
	}
	p.slab = make([]yaml.Node, n)
	p.ptrs = make([]*yaml.Node, n)
}

func (p *parser) node(kind yaml.Kind, tag string, line, col int) *yaml.Node {
	if p.discard {
		n := &p.scratch
		n.Kind, n.Tag, n.Line, n.Column = kind, tag, line, col
		return n
	}
	if p.nslab == len(p.slab) {
		p.slab, p.nslab, p.inArena = make([]yaml.Node, p.chunk), 0, false
	}
	n := &p.slab[p.nslab]
	p.nslab++
	n.Kind, n.Tag, n.Line, n.Column = kind, tag, line, col
	return n
}

// content gives n the children pushed on the stack since base.
func (p *parser) content(n *yaml.Node, base int) {
	p.stackTop = max(p.stackTop, len(p.stack))
	if p.discard {
		p.stack = p.stack[:base]
		return
	}
	kids := p.stack[base:]
	if k := len(kids); k > 0 {
		if len(p.ptrs)-p.nptrs < k {
			p.ptrs, p.nptrs, p.inArena = make([]*yaml.Node, max(p.chunk, k)), 0, false
		}
		c := p.ptrs[p.nptrs : p.nptrs+k : p.nptrs+k]
		p.nptrs += k
		copy(c, kids)
		n.Content = c
	}
	p.stack = p.stack[:base]
}

// col is the 1-based column of offset off in the current line, counted in
// characters as libyaml counts them.
func (p *parser) col(off int) int {
	if p.ascii {
		return off - p.ls + 1
	}
	return utf8.RuneCountInString(p.src[p.ls:off]) + 1
}

// advance moves to the next line that holds more than blanks and a
// comment, or to the end of the document.
func (p *parser) advance() {
	src := p.src
	for {
		off := p.next
		if off >= len(src) {
			p.eof = true
			p.ls, p.le, p.pos, p.ind = len(src), len(src), len(src), 0
			return
		}
		p.line++
		end := len(src)
		if i := strings.IndexByte(src[off:], '\n'); i >= 0 {
			end = off + i
			p.next = end + 1
		} else {
			p.next = len(src)
		}
		if end > off && src[end-1] == '\r' {
			end--
		}
		i := off
		for i < end && src[i] == ' ' {
			i++
		}
		if i == end || src[i] == '#' {
			continue
		}
		p.ls, p.le, p.pos, p.ind = off, end, i, i-off
		p.marker = false
		if i == off && end-off >= 3 && (src[off:off+3] == "---" || src[off:off+3] == "...") &&
			(end-off == 3 || src[off+3] == ' ') {
			p.marker = true
		}
		return
	}
}

// eofLine is the line of the position libyaml gives the end of the
// stream, at column 1: the line after the last line break, or the one
// after that if the last line is not empty (libyaml forces a line break
// at the end).
func (p *parser) eofLine() int {
	src := p.src
	line := 1 + strings.Count(src, "\n")
	if len(src) > 0 && src[len(src)-1] != '\n' {
		line++
	}
	return line
}

func (p *parser) document() *yaml.Node {
	p.advance()
	if p.eof {
		return &yaml.Node{}
	}
	src := p.src
	var doc *yaml.Node
	if p.marker {
		if src[p.ls] != '-' {
			fail() // "..."
		}
		doc = p.node(yaml.DocumentNode, "", p.line, 1)
		p.pos = p.ls + 3
		p.endLine()
		p.advance()
		if p.eof {
			// "---" alone: the root is an empty scalar at the end.
			root := p.node(yaml.ScalarNode, "!!null", p.eofLine(), 1)
			p.stack = append(p.stack, root)
			p.content(doc, 0)
			return doc
		}
		if p.marker {
			fail()
		}
	} else {
		doc = p.node(yaml.DocumentNode, "", p.line, p.col(p.pos))
	}
	root := p.block(-1)
	if !p.eof {
		fail()
	}
	p.stack = append(p.stack, root)
	p.content(doc, 0)
	return doc
}

// endLine checks that the rest of the current line is blank or a comment
// that follows a blank.
func (p *parser) endLine() {
	src := p.src
	i := p.pos
	if i < p.le && src[i] != ' ' {
		fail()
	}
	for i < p.le && src[i] == ' ' {
		i++
	}
	if i < p.le && src[i] != '#' {
		fail()
	}
}

// isEntry reports whether src[i] is a block sequence entry indicator:
// "-" followed by a blank or the end of the line.
func (p *parser) isEntry(i int) bool {
	return p.src[i] == '-' && (i+1 == p.le || p.src[i+1] == ' ')
}

// block parses the node that starts a line (p.pos is at its first
// non-blank) below a collection indented by parent: the root, or a value
// or entry left empty on its key's or dash's line. It returns at the
// first line that is indented by no more than the node, or at the end.
func (p *parser) block(parent int) *yaml.Node {
	src := p.src
	ind := p.pos - p.ls
	if ind <= parent {
		fail()
	}
	switch c := src[p.pos]; {
	case p.isEntry(p.pos):
		return p.sequence(ind, false)
	case c == '{' || c == '[':
		n := p.flow()
		p.endLine()
		p.advance()
		p.checkDedent(ind)
		return n
	}
	return p.mapping(ind)
}

// checkDedent fails unless the current line ends the node indented by ind
// that was just parsed: any further content must be indented less, or by
// as much for a sibling.
func (p *parser) checkDedent(ind int) {
	if !p.eof && p.ind > ind {
		fail()
	}
	if p.marker {
		fail()
	}
}

func (p *parser) enter() {
	p.depth++
	if p.depth > maxDepth {
		fail()
	}
}

// sequence parses a block sequence whose entries start at column ind
// (0-based). An indentless sequence (the value of a mapping key, at the
// key's column) ends at the first line of that column that is not an
// entry.
func (p *parser) sequence(ind int, indentless bool) *yaml.Node {
	p.enter()
	if p.depth == 1 {
		p.rootSeq = true
	}
	src := p.src
	n := p.node(yaml.SequenceNode, "!!seq", p.line, p.col(p.pos))
	base := len(p.stack)
	for {
		// p.pos is at the "-" of an entry.
		dash := p.pos
		p.pos++
		for p.pos < p.le && src[p.pos] == ' ' {
			p.pos++
		}
		var item *yaml.Node
		if p.pos == p.le || src[p.pos] == '#' {
			line, col := p.line, p.col(dash)+1
			p.advance()
			if !p.eof && !p.marker && p.ind > ind {
				item = p.block(ind)
			} else {
				item = p.node(yaml.ScalarNode, "!!null", line, col)
			}
		} else if src[p.pos] == '|' {
			item = p.literal(ind)
		} else {
			item = p.inline()
		}
		p.stack = append(p.stack, item)
		if p.marker {
			fail()
		}
		if p.eof || p.ind < ind {
			break
		}
		if p.ind > ind {
			fail()
		}
		if !p.isEntry(p.pos) {
			if indentless {
				break
			}
			fail()
		}
	}
	p.content(n, base)
	p.depth--
	return n
}

// inline parses the node that starts at p.pos after a "- " on the same
// line: a compact nested sequence, a compact mapping, or a scalar or flow
// collection that ends the line.
func (p *parser) inline() *yaml.Node {
	if p.isEntry(p.pos) {
		return p.sequence(p.pos-p.ls, false)
	}
	if p.isKey() {
		return p.mapping(p.pos - p.ls)
	}
	n := p.value()
	p.endLine()
	p.advance()
	return n
}

// isKey reports whether the line from p.pos holds a mapping key: a quoted
// scalar followed by ':', or a plain scalar ending in ': ' or ':' at the
// end of the line.
func (p *parser) isKey() bool {
	src := p.src
	i := p.pos
	switch src[i] {
	case '"', '\'':
		end := p.quotedEnd(i)
		for end < p.le && src[end] == ' ' {
			end++
		}
		return end < p.le && src[end] == ':'
	case '{', '[':
		return false
	}
	_, stop := p.plainEnd(i)
	return stop == stopColon
}

const (
	stopEOL     = iota // the end of the line (trailing blanks excluded)
	stopComment        // " #"
	stopColon          // ": " or ":" at the end of the line
)

// plainEnd scans a block-context plain scalar from i and returns where its
// text ends and what stopped it.
func (p *parser) plainEnd(i int) (end, stop int) {
	src := p.src
	le := p.le
	for i < le {
		switch src[i] {
		case ':':
			if i+1 == le || src[i+1] == ' ' {
				return i, stopColon
			}
		case ' ':
			j := i + 1
			for j < le && src[j] == ' ' {
				j++
			}
			if j == le {
				return i, stopEOL
			}
			if src[j] == '#' {
				return i, stopComment
			}
			if src[j] == ':' && (j+1 == le || src[j+1] == ' ') {
				return i, stopColon
			}
			i = j
			continue
		}
		i++
	}
	return i, stopEOL
}

// quotedEnd returns the offset just past the closing quote of the quoted
// scalar that starts at i, failing if it does not close on this line.
func (p *parser) quotedEnd(i int) int {
	src := p.src
	q := src[i]
	for j := i + 1; j < p.le; j++ {
		switch src[j] {
		case q:
			if q == '\'' && j+1 < p.le && src[j+1] == '\'' {
				j++
				continue
			}
			return j + 1
		case '\\':
			if q == '"' {
				j++
			}
		}
	}
	fail()
	return 0
}

// plainStart reports whether a plain scalar may start at i. It is
// stricter than libyaml: '?' and ':' never start one, and '-' only before
// a character that cannot end it in either context.
func (p *parser) plainStart(i int) bool {
	switch p.src[i] {
	case '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`', ' ':
		return false
	case '-':
		if i+1 == p.le {
			return false
		}
		switch p.src[i+1] {
		case ' ', ',', '[', ']', '{', '}', '?', ':', '#':
			return false
		}
	}
	return true
}

// mapping parses a block mapping whose keys start at column ind (0-based);
// p.pos is at its first key, possibly after a "- " on the same line.
func (p *parser) mapping(ind int) *yaml.Node {
	p.enter()
	src := p.src
	n := p.node(yaml.MappingNode, "!!map", p.line, p.col(p.pos))
	base := len(p.stack)
	for {
		// p.pos is at a key.
		start := p.pos
		var key *yaml.Node
		switch src[start] {
		case '"', '\'':
			key = p.quoted()
			for p.pos < p.le && src[p.pos] == ' ' {
				p.pos++
			}
			if p.pos == p.le || src[p.pos] != ':' {
				fail()
			}
		default:
			if !p.plainStart(start) {
				fail()
			}
			end, stop := p.plainEnd(start)
			if stop != stopColon {
				fail()
			}
			key = p.plainKey(start, end)
			p.pos = end
			for src[p.pos] == ' ' {
				p.pos++
			}
		}
		// p.pos is at the ':'.
		if p.pos-start > maxKeyBytes {
			fail()
		}
		colon := p.pos
		p.pos++
		if p.pos < p.le && src[p.pos] != ' ' {
			fail()
		}
		for p.pos < p.le && src[p.pos] == ' ' {
			p.pos++
		}
		var val *yaml.Node
		if p.pos == p.le || src[p.pos] == '#' {
			line, col := p.line, p.col(colon)+1
			p.advance()
			skip, meta := false, false
			if p.skipManaged && !p.eof && !p.marker && !p.discard &&
				(p.ind > ind || p.ind == ind && p.isEntry(p.pos)) {
				switch {
				case p.depth == p.metaDepth && key.Value == "managedFields":
					skip = true
					line, col = p.line, p.col(p.pos)
					p.discard = true
				case (p.depth == 1 || p.depth == 2 && p.rootSeq) && key.Value == "metadata":
					meta = true
					p.metaDepth = p.depth + 1
				}
			}
			switch {
			case p.eof || p.marker:
			case p.ind > ind:
				val = p.block(ind)
			case p.ind == ind && p.isEntry(p.pos):
				val = p.sequence(ind, true)
			}
			if skip {
				p.discard = false
				val = nil
			}
			if meta {
				p.metaDepth = 0
			}
			if val == nil {
				val = p.node(yaml.ScalarNode, "!!null", line, col)
			}
		} else if src[p.pos] == '|' {
			val = p.literal(ind)
		} else {
			val = p.value()
			p.endLine()
			p.advance()
		}
		p.stack = append(p.stack, key, val)
		if p.marker {
			fail()
		}
		if p.eof || p.ind < ind {
			break
		}
		if p.ind > ind {
			fail()
		}
	}
	p.content(n, base)
	p.depth--
	return n
}

// value parses a scalar or flow collection that starts at p.pos in the
// block context and must end on this line.
func (p *parser) value() *yaml.Node {
	src := p.src
	switch src[p.pos] {
	case '"', '\'':
		return p.quoted()
	case '{', '[':
		return p.flow()
	}
	start := p.pos
	if !p.plainStart(start) {
		fail()
	}
	end, stop := p.plainEnd(start)
	if stop == stopColon {
		fail()
	}
	p.pos = end
	return p.plain(start, end)
}

// plain makes the plain scalar src[start:end].
func (p *parser) plain(start, end int) *yaml.Node {
	v := p.src[start:end]
	if p.discard {
		// Only what fails matters of a scalar that is not built: the
		// merge key, which this parser leaves to yaml.v3.
		if v == "<<" || InfNaN(v) {
			fail()
		}
		return p.node(yaml.ScalarNode, strTag, p.line, 0)
	}
	tag := resolve(v)
	if tag == "" || tag == floatTag && InfNaN(v) {
		fail()
	}
	n := p.node(yaml.ScalarNode, tag, p.line, p.col(start))
	n.Value = v
	return n
}

// InfNaN reports whether the plain scalar v is an infinity or NaN, which
// kubectl's YAML reader cannot write as JSON: it fails on the whole file,
// so the caller must see them, in a discarded collection too, on the
// fallback's tree. These are the spellings that yaml.v2 (kubectl's
// reader, through sigs.k8s.io/yaml) and yaml.v3 resolve as such: no
// other case, and no sign before .nan.
func InfNaN(v string) bool {
	switch v {
	case ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF",
		"+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF":
		return true
	}
	return false
}

// plainKey makes the plain mapping key src[start:end].
func (p *parser) plainKey(start, end int) *yaml.Node {
	n := p.plain(start, end)
	p.checkKey(n, start, end)
	return n
}

// checkKey refuses the plain key n, src[start:end], unless it is a string
// to every YAML reader: one that resolves to a boolean, number or null,
// or that YAML 1.1 reads as a boolean (on:, yes:, y:...), is refused.
// kubectl's YAML 1.1 reader turns such keys into other strings (on: into
// "true", 0x1: into "1"), and yaml.v3 keeps them as written: the caller
// resolves them as its reader does, on the fallback's tree. Keys of a
// discarded collection are checked too, so that ParseObject accepts what
// Parse accepts.
func (p *parser) checkKey(n *yaml.Node, start, end int) {
	v := n.Value
	if p.discard {
		// managedFields has a "." key in most mappings: a string, which
		// resolve would learn from a failed ParseFloat, an allocation.
		v = p.src[start:end]
		if v != "." && resolve(v) != strTag {
			fail()
		}
	} else if n.Tag != strTag {
		fail()
	}
	if len(v) <= 3 && yaml11Bool(v) {
		fail()
	}
}

// yaml11Bool reports whether s is a plain scalar that YAML 1.1 reads as
// a boolean and yaml.v3 as a string.
func yaml11Bool(s string) bool {
	switch s {
	case "y", "Y", "yes", "Yes", "YES", "on", "On", "ON",
		"n", "N", "no", "No", "NO", "off", "Off", "OFF":
		return true
	}
	return false
}

// quoted parses the quoted scalar at p.pos, which must end on this line.
func (p *parser) quoted() *yaml.Node {
	src := p.src
	start := p.pos
	n := p.node(yaml.ScalarNode, "!!str", p.line, p.col(start))
	if src[start] == '\'' {
		n.Style = yaml.SingleQuotedStyle
		n.Value, p.pos = p.singleQuoted(start)
	} else {
		n.Style = yaml.DoubleQuotedStyle
		n.Value, p.pos = p.doubleQuoted(start)
	}
	return n
}

func (p *parser) singleQuoted(start int) (string, int) {
	src := p.src
	i := start + 1
	for i < p.le {
		if src[i] == '\'' {
			if i+1 < p.le && src[i+1] == '\'' {
				break // escaped quote: take the slow path
			}
			return src[start+1 : i], i + 1
		}
		i++
	}
	var b []byte
	b = append(b, src[start+1:i]...)
	for i < p.le {
		c := src[i]
		if c == '\'' {
			if i+1 < p.le && src[i+1] == '\'' {
				b = append(b, '\'')
				i += 2
				continue
			}
			return string(b), i + 1
		}
		b = append(b, c)
		i++
	}
	fail()
	return "", 0
}

func (p *parser) doubleQuoted(start int) (string, int) {
	src := p.src
	i := start + 1
	for i < p.le {
		c := src[i]
		if c == '"' {
			return src[start+1 : i], i + 1
		}
		if c == '\\' {
			break
		}
		i++
	}
	b := make([]byte, 0, p.le-start)
	b = append(b, src[start+1:i]...)
	for i < p.le {
		c := src[i]
		switch c {
		case '"':
			return string(b), i + 1
		case '\\':
			if i+1 >= p.le {
				fail() // an escaped line break: a multi-line scalar
			}
			code := 0
			switch src[i+1] {
			case '0':
				b = append(b, 0)
			case 'a':
				b = append(b, '\a')
			case 'b':
				b = append(b, '\b')
			case 't':
				b = append(b, '\t')
			case 'n':
				b = append(b, '\n')
			case 'v':
				b = append(b, '\v')
			case 'f':
				b = append(b, '\f')
			case 'r':
				b = append(b, '\r')
			case 'e':
				b = append(b, 0x1b)
			case ' ':
				b = append(b, ' ')
			case '"':
				b = append(b, '"')
			case '\'':
				b = append(b, '\'')
			case '\\':
				b = append(b, '\\')
			case 'N':
				b = append(b, "\u0085"...)
			case '_':
				b = append(b, "\u00a0"...)
			case 'L':
				b = append(b, "\u2028"...)
			case 'P':
				b = append(b, "\u2029"...)
			case 'x':
				code = 2
			case 'u':
				code = 4
			case 'U':
				code = 8
			default:
				fail()
			}
			i += 2
			if code > 0 {
				if i+code > p.le {
					fail()
				}
				v := 0
				for k := range code {
					d := unhex(src[i+k])
					if d < 0 {
						fail()
					}
					v = v<<4 | d
				}
				if v >= 0xd800 && v <= 0xdfff || v > 0x10ffff {
					fail()
				}
				b = utf8.AppendRune(b, rune(v))
				i += code
			}
		default:
			b = append(b, c)
			i++
		}
	}
	fail()
	return "", 0
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// flow parses a flow collection that starts at p.pos and must end on this
// line.
func (p *parser) flow() *yaml.Node {
	p.enter()
	src := p.src
	open := src[p.pos]
	kind, tag, close := yaml.SequenceNode, "!!seq", byte(']')
	if open == '{' {
		kind, tag, close = yaml.MappingNode, "!!map", '}'
	}
	n := p.node(kind, tag, p.line, p.col(p.pos))
	n.Style = yaml.FlowStyle
	base := len(p.stack)
	p.pos++
	p.flowSpace()
	if src[p.pos] == close {
		p.pos++
		p.content(n, base)
		p.depth--
		return n
	}
	for {
		if kind == yaml.MappingNode {
			start := p.pos
			key := p.flowScalar(true)
			if src[p.pos] != ':' || p.pos-start > maxKeyBytes {
				fail()
			}
			p.pos++
			if p.pos == p.le || src[p.pos] != ' ' {
				fail()
			}
			p.flowSpace()
			p.stack = append(p.stack, key)
		}
		p.stack = append(p.stack, p.flowItem())
		switch src[p.pos] {
		case ',':
			p.pos++
			p.flowSpace()
			if src[p.pos] == close {
				fail() // a trailing ',' is fine YAML, but rare: refuse
			}
			continue
		case close:
			p.pos++
			p.content(n, base)
			p.depth--
			return n
		}
		fail()
	}
}

// flowSpace skips blanks inside a flow collection, which must not reach
// the end of the line.
func (p *parser) flowSpace() {
	for p.pos < p.le && p.src[p.pos] == ' ' {
		p.pos++
	}
	if p.pos == p.le {
		fail()
	}
}

// flowItem parses a flow sequence entry or flow mapping value and the
// blanks after it.
func (p *parser) flowItem() *yaml.Node {
	var n *yaml.Node
	switch p.src[p.pos] {
	case '{', '[':
		n = p.flow()
		p.flowSpace()
	default:
		n = p.flowScalar(false)
	}
	return n
}

// flowScalar parses a scalar in the flow context, and the blanks after it.
// With key, it must be followed by ':'; otherwise it must not.
func (p *parser) flowScalar(key bool) *yaml.Node {
	src := p.src
	var n *yaml.Node
	switch src[p.pos] {
	case '"', '\'':
		n = p.quoted()
		p.flowSpace()
	default:
		start := p.pos
		if !p.plainStart(start) {
			fail()
		}
		i := start
		end := start
	scan:
		for ; i < p.le; i++ {
			switch src[i] {
			case ',', ']', '}':
				break scan
			case ':':
				if i+1 < p.le && src[i+1] == ' ' {
					break scan
				}
				fail()
			case '[', '{', '?':
				fail()
			case ' ':
				if i+1 < p.le && src[i+1] == '#' {
					fail()
				}
				continue
			}
			end = i + 1
		}
		if i == p.le {
			fail()
		}
		n = p.plain(start, end)
		if key {
			p.checkKey(n, start, end)
		}
		p.pos = i
	}
	if (src[p.pos] == ':') != key {
		fail()
	}
	return n
}

// literal parses a literal block scalar ("|", with an optional chomping
// indicator and indentation indicator) whose "|" is at p.pos, as the value
// or entry of a collection indented by parent, and moves on to the next
// line after it that holds more than blanks and a comment. It follows
// libyaml's yaml_parser_scan_block_scalar line by line: the content's
// indentation is the indicator's, or that of the first non-empty line (at
// least parent+1, and at least the spaces of the blank lines before it);
// lines of no more spaces than that are empty; the scalar ends at the
// first non-empty line indented less, or at the end of the document.
// Chomping: "-" strips the final line break, "+" keeps the trailing
// empty lines, and the default keeps one line break.
func (p *parser) literal(parent int) *yaml.Node {
	src := p.src
	n := p.node(yaml.ScalarNode, "!!str", p.line, p.col(p.pos))
	n.Style = yaml.LiteralStyle
	i := p.pos + 1
	chomp, inc := 0, 0
	for range 2 {
		if i == p.le {
			break
		}
		switch c := src[i]; {
		case chomp == 0 && (c == '+' || c == '-'):
			chomp = 1
			if c == '-' {
				chomp = -1
			}
			i++
		case inc == 0 && c >= '1' && c <= '9':
			inc = int(c - '0')
			i++
		}
	}
	p.pos = i
	p.endLine() // a comment must follow a blank: "|#" is left to yaml.v3
	indent := 0
	if inc > 0 {
		indent = parent + inc
	}

	var (
		b        []byte // the value, once it is not one slice of src
		first    = -1   // with b nil: the value is src[first:last]
		last     int
		breakAt  bool // the previous content line ended with a line break
		trailing int  // empty lines since
		lines    int  // content lines
	)
	off, line := p.next, p.line
	// breaks skips empty lines from off, counting them in trailing; it
	// returns the offset of the first non-empty line, its indentation (up
	// to indent once known) and whether the document ended first.
	breaks := func() (int, bool) {
		maxIndent := 0
		for {
			if off >= len(src) {
				return 0, true
			}
			end, next := len(src), len(src)
			if k := strings.IndexByte(src[off:], '\n'); k >= 0 {
				end, next = off+k, off+k+1
			}
			if end > off && src[end-1] == '\r' {
				end--
			}
			sp := 0
			for off+sp < end && src[off+sp] == ' ' && (indent == 0 || sp < indent) {
				sp++
			}
			maxIndent = max(maxIndent, sp)
			if off+sp < end {
				if indent == 0 {
					indent = max(maxIndent, parent+1, 1)
					if maxIndent > sp && sp > parent {
						// A blank line before the first content was
						// indented deeper than it: rare, and left to yaml.v3.
						fail()
					}
				}
				return sp, false
			}
			if next == end || next == len(src) && src[len(src)-1] != '\n' {
				return 0, true // a last line of blanks without a line break
			}
			trailing++
			off = next
			line++
		}
	}
	col, eof := breaks()
	for !eof && col == indent {
		// A content line: the previous line break and the empty lines
		// since, then the line after the indentation.
		end, next := len(src), len(src)
		if k := strings.IndexByte(src[off:], '\n'); k >= 0 {
			end, next = off+k, off+k+1
		}
		hasBreak := next > end
		if end > off && src[end-1] == '\r' {
			end--
		}
		if lines == 0 && trailing == 0 {
			first, last = off+indent, end
		} else {
			if b == nil {
				b = make([]byte, 0, 2*(end-off)+max(0, last-first)+trailing)
				if lines > 0 {
					b = append(b, src[first:last]...)
				}
			}
			if breakAt {
				b = append(b, '\n')
			}
			for range trailing {
				b = append(b, '\n')
			}
			b = append(b, src[off+indent:end]...)
		}
		lines++
		breakAt = hasBreak
		trailing = 0
		off = next
		line++
		col, eof = breaks()
	}
	if lines == 0 {
		first, last = 0, 0
	}
	switch {
	case b == nil && chomp == -1:
		n.Value = src[first:last]
	case b == nil && chomp == 0 && breakAt && src[last] == '\n':
		n.Value = src[first : last+1] // one line, as kubectl writes annotations
	default:
		if b == nil {
			b = append(b, src[first:last]...)
		}
		if chomp != -1 && breakAt {
			b = append(b, '\n')
		}
		if chomp == 1 {
			for range trailing {
				b = append(b, '\n')
			}
		}
		n.Value = string(b)
	}
	// Continue at the line that ended the scalar.
	p.next, p.line = off, line
	p.advance()
	return n
}
