package compose

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"

	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"
)

// maxDepth bounds how far alias, merge-key and extends chains are
// followed when looking up a key, so cyclic or hostile input cannot make
// a lookup run away.
const maxDepth = 8

// serviceNode is one definition of a service in the YAML: a service may be
// defined in more than one document of a file.
type serviceNode struct {
	key, val *yaml.Node
	last     int // last line of the definition
}

// positions finds lines in the YAML that compose-go has parsed: it keeps
// the yaml.v3 node trees of the documents.
type positions struct {
	docs []*yaml.Node // root mappings, in order
	// services holds the definitions of each service, in document order.
	services map[string][]serviceNode
	// servicesLine is the line of the first top-level services key, or 0.
	servicesLine int
}

var errEmpty = errors.New("empty file: no Compose document")

// parsePositions parses src with yaml.v3. Every document must be a
// mapping.
func parsePositions(src []byte) (*positions, *ParseError) {
	p := &positions{services: map[string][]serviceNode{}}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, &ParseError{Line: yamlErrorLine(err), Err: err}
		}
		root := &n
		if root.Kind == yaml.DocumentNode {
			if len(root.Content) == 0 {
				continue
			}
			root = root.Content[0]
		}
		root = resolve(root)
		if root == nil || root.Kind != yaml.MappingNode {
			line := n.Line
			if root != nil {
				line = root.Line
			}
			return nil, &ParseError{Line: line, Err: errors.New("a Compose document must be a mapping")}
		}
		if a := recursiveAlias(&n, map[*yaml.Node]bool{}, 0); a != nil {
			return nil, &ParseError{Line: a.Line, Err: fmt.Errorf("alias *%s refers to a node that contains it", a.Value)}
		}
		p.docs = append(p.docs, root)
		for i := 0; i+1 < len(root.Content); i += 2 {
			k, v := root.Content[i], resolve(root.Content[i+1])
			if k.Value != "services" || v == nil || v.Kind != yaml.MappingNode {
				continue
			}
			if p.servicesLine == 0 {
				p.servicesLine = k.Line
			}
			for j := 0; j+1 < len(v.Content); j += 2 {
				sk, sv := v.Content[j], resolve(v.Content[j+1])
				if sv == nil || sv.Kind != yaml.MappingNode {
					continue
				}
				p.services[sk.Value] = append(p.services[sk.Value], serviceNode{key: sk, val: sv, last: lastLine(v.Content[j+1], 0)})
			}
		}
	}
	if len(p.docs) == 0 {
		return nil, &ParseError{Err: errEmpty}
	}
	return p, nil
}

// recursiveAlias returns an alias inside n that refers to a node
// containing it. Such input is invalid, and compose-go takes seconds to
// give up on it. Anchors are defined before their aliases, so an alias
// can only make a cycle through a node that encloses it.
func recursiveAlias(n *yaml.Node, open map[*yaml.Node]bool, depth int) *yaml.Node {
	if n == nil || depth > 10000 {
		return nil
	}
	if n.Kind == yaml.AliasNode {
		if open[n.Alias] {
			return n
		}
		return nil
	}
	open[n] = true
	defer delete(open, n)
	for _, c := range n.Content {
		if a := recursiveAlias(c, open, depth+1); a != nil {
			return a
		}
	}
	return nil
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// yamlErrorLine extracts the line from a yaml error, or returns 0.
func yamlErrorLine(err error) int {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		err = errors.New(te.Errors[0])
	}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil {
			return n
		}
	}
	return 0
}

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxDepth; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.AliasNode {
		return nil
	}
	return n
}

// lastLine is the last line on which n or one of its children starts. It
// does not follow aliases.
func lastLine(n *yaml.Node, depth int) int {
	if n == nil {
		return 0
	}
	last := n.Line
	if depth > 100 {
		return last
	}
	for _, c := range n.Content {
		last = max(last, lastLine(c, depth+1))
	}
	return last
}

// serviceLine is the line of the service's key, or 0.
func (p *positions) serviceLine(service string) int {
	if defs := p.services[service]; len(defs) > 0 {
		return defs[0].key.Line
	}
	return 0
}

// serviceAt returns the service whose definition spans line, if any.
func (p *positions) serviceAt(line int) (string, bool) {
	for name, defs := range p.services {
		for _, d := range defs {
			if d.key.Line <= line && line <= d.last {
				return name, true
			}
		}
	}
	return "", false
}

// field finds the key of a service's field and its value, looking through
// merge keys (<<: *defaults) and extends of services in the same file.
// The last document that defines the field wins, as in compose-go.
func (p *positions) field(service, key string) (k, v *yaml.Node) {
	return p.fieldDepth(service, key, 0)
}

func (p *positions) fieldDepth(service, key string, depth int) (k, v *yaml.Node) {
	if depth > maxDepth {
		return nil, nil
	}
	defs := p.services[service]
	for i := len(defs) - 1; i >= 0; i-- {
		if k, v := lookup(defs[i].val, key, 0); k != nil {
			return k, v
		}
	}
	for i := len(defs) - 1; i >= 0; i-- {
		if base, ok := extendsBase(defs[i].val); ok && base != service {
			if k, v := p.fieldDepth(base, key, depth+1); k != nil {
				return k, v
			}
		}
	}
	return nil, nil
}

// lookup finds key in the mapping m, then in the mappings merged into it.
func lookup(m *yaml.Node, key string, depth int) (k, v *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode || depth > maxDepth {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key && m.Content[i].Tag != "!!merge" {
			return m.Content[i], resolve(m.Content[i+1])
		}
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Tag != "!!merge" && m.Content[i].Value != "<<" {
			continue
		}
		merged := resolve(m.Content[i+1])
		if merged == nil {
			continue
		}
		sources := []*yaml.Node{merged}
		if merged.Kind == yaml.SequenceNode {
			sources = merged.Content
		}
		for _, s := range sources {
			if k, v := lookup(resolve(s), key, depth+1); k != nil {
				return k, v
			}
		}
	}
	return nil, nil
}

// extendsBase returns the service that a service extends in the same
// file: `extends: base` or `extends: {service: base}` without file.
func extendsBase(service *yaml.Node) (string, bool) {
	_, v := lookup(service, "extends", 0)
	switch {
	case v == nil:
		return "", false
	case v.Kind == yaml.ScalarNode:
		return v.Value, true
	case v.Kind == yaml.MappingNode:
		if f, _ := lookup(v, "file", 0); f != nil {
			return "", false
		}
		if _, s := lookup(v, "service", 0); s != nil && s.Kind == yaml.ScalarNode {
			return s.Value, true
		}
	}
	return "", false
}

// extendsOtherFile reports whether any service extends a service of
// another file, which Audit does not load.
func (p *positions) extendsOtherFile() bool {
	for _, defs := range p.services {
		for _, d := range defs {
			if _, v := lookup(d.val, "extends", 0); v != nil && v.Kind == yaml.MappingNode {
				if f, _ := lookup(v, "file", 0); f != nil {
					return true
				}
			}
		}
	}
	return false
}

// keyLine is the line of a service's field, or the service's line when
// the field is absent.
func (p *positions) keyLine(service, key string) int {
	if k, _ := p.field(service, key); k != nil {
		return k.Line
	}
	return p.serviceLine(service)
}

// itemLine is the line of the first item of a service's sequence field
// for which match is true; else the field's line, else the service's.
func (p *positions) itemLine(service, key string, match func(*yaml.Node) bool) int {
	k, v := p.field(service, key)
	if k == nil {
		return p.serviceLine(service)
	}
	if v != nil && v.Kind == yaml.SequenceNode {
		for _, it := range v.Content {
			if r := resolve(it); r != nil && match(r) {
				return it.Line
			}
		}
	}
	return k.Line
}

// itemLineAt is itemLine, except that when no item matches and the
// field has n items (as many as compose-go loaded), the line of item i:
// an item written with a variable (${HOME}/.ssh) does not match its
// interpolated value.
func (p *positions) itemLineAt(service, key string, i, n int, match func(*yaml.Node) bool) int {
	line := p.itemLine(service, key, match)
	k, v := p.field(service, key)
	if k == nil || line != k.Line || v == nil || v.Kind != yaml.SequenceNode || len(v.Content) != n || i >= n {
		return line
	}
	return v.Content[i].Line
}

// networkLine is the line where a service joins network: an item of its
// networks list or a key of its networks mapping; else the line of
// networks, else the service's.
func (p *positions) networkLine(service, network string) int {
	k, v := p.field(service, "networks")
	if k == nil {
		return p.serviceLine(service)
	}
	if v != nil && v.Kind == yaml.MappingNode {
		if nk, _ := lookup(v, network, 0); nk != nil {
			return nk.Line
		}
	}
	return p.itemLine(service, "networks", func(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Value == network })
}

// blankVersion returns src with the top-level `version: <scalar>` lines
// replaced by spaces, or src itself when there are none. compose-go
// ignores the obsolete key but logs a warning through logrus, which a
// library must not do; line numbers are kept.
func (p *positions) blankVersion(src []byte) []byte {
	var out []byte
	for _, root := range p.docs {
		if root.Style&yaml.FlowStyle != 0 || len(root.Content) < 4 {
			continue
		}
		for i := 0; i+1 < len(root.Content); i += 2 {
			k, v := root.Content[i], root.Content[i+1]
			if k.Value != "version" || v.Kind != yaml.ScalarNode || k.Line != v.Line ||
				v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 || bytes.ContainsAny([]byte(v.Value), " \t\r\n") {
				continue
			}
			start, end, ok := lineBounds(src, k.Line)
			if !ok || !bytes.Contains(src[start:end], []byte(v.Value)) {
				continue
			}
			if out == nil {
				out = bytes.Clone(src)
			}
			for j := start; j < end; j++ {
				out[j] = ' '
			}
		}
	}
	if out == nil {
		return src
	}
	return out
}

// lineBounds returns the byte range of line n (1-based) of src, without
// its line break.
func lineBounds(src []byte, n int) (start, end int, ok bool) {
	for line := 1; line < n; line++ {
		i := bytes.IndexByte(src[start:], '\n')
		if i < 0 {
			return 0, 0, false
		}
		start += i + 1
	}
	end = start
	for end < len(src) && src[end] != '\n' && src[end] != '\r' {
		end++
	}
	return start, end, true
}

// pathLine maps a dotted path in a compose-go error message
// ("services.web.ports.0") to a line, as deep as the path resolves.
func (p *positions) pathLine(path []string) int {
	line := 0
	for _, root := range p.docs {
		n := root
		for _, part := range path {
			n = resolve(n)
			if n == nil {
				break
			}
			var next *yaml.Node
			switch n.Kind {
			case yaml.MappingNode:
				k, v := lookup(n, part, 0)
				if k != nil {
					line, next = k.Line, v
				}
			case yaml.SequenceNode:
				if i, err := strconv.Atoi(part); err == nil && i >= 0 && i < len(n.Content) {
					line, next = n.Content[i].Line, n.Content[i]
				}
			}
			if next == nil {
				break
			}
			n = next
		}
	}
	return line
}

// pathNode returns the key and value nodes of a dotted path of mapping
// keys (services, NAME, build, dockerfile_inline), or nils.
func (p *positions) pathNode(path []string) (k, v *yaml.Node) {
	for _, root := range p.docs {
		n, key := root, (*yaml.Node)(nil)
		for _, part := range path {
			if n = resolve(n); n == nil || n.Kind != yaml.MappingNode {
				n = nil
				break
			}
			key, n = lookup(n, part, 0)
			if key == nil {
				n = nil
				break
			}
		}
		if n != nil {
			k, v = key, n
		}
	}
	return k, v
}

// networkDeclared reports whether a top-level networks mapping declares
// network.
func (p *positions) networkDeclared(network string) bool {
	for _, root := range p.docs {
		if _, v := lookup(root, "networks", 0); v != nil {
			if k, _ := lookup(v, network, 0); k != nil {
				return true
			}
		}
	}
	return false
}

// portItems returns, for each of the n ports compose-go lists for a
// service, the index of the ports item it comes from and that item's
// line. An item such as "8000-8002:8000-8002" gives several ports. When
// the items cannot be matched with compose-go's list (a variable in a
// range, duplicates that compose-go merged), each port is its own item,
// on the line of ports.
func (p *positions) portItems(service string, n int) (items, lines []int) {
	k, v := p.field(service, "ports")
	if v != nil && v.Kind == yaml.SequenceNode {
		for i, it := range v.Content {
			count := 1
			if r := resolve(it); r != nil && r.Kind == yaml.ScalarNode {
				if ps, err := types.ParsePortConfig(r.Value); err == nil && len(ps) > 0 {
					count = len(ps)
				}
			}
			for range count {
				items, lines = append(items, i), append(lines, it.Line)
			}
			if len(items) > n {
				break
			}
		}
		if len(items) == n {
			return items, lines
		}
	}
	fallback := p.serviceLine(service)
	if k != nil {
		fallback = k.Line
	}
	items, lines = make([]int, n), make([]int, n)
	for i := range items {
		items[i], lines[i] = i, fallback
	}
	return items, lines
}

// NotRead lists what a Compose file names that Audit does not read, each
// as "LINE: what": the files of its include entries, and the other files
// services extend (their inherited settings go unchecked); file is the
// file's path, which an extends may name too (Audit follows that one). A
// file that does not parse gives nothing (Audit reports it).
func NotRead(file string, src []byte) []string {
	var out []string
	for _, r := range References(file, src) {
		out = append(out, fmt.Sprintf("%d: %s", r.Line, r.What))
	}
	return out
}

// Reference is a file a Compose file names that Audit does not read: a
// file of an include entry, or another file a service extends.
type Reference struct {
	Line    int
	Service string // the service that extends; "" for an include entry
	// What says what is not read, for a warning:
	// "include other.yaml is not read: check that file too".
	What string
	// Name is the file as written ("" when not a plain string), and Path
	// that name joined to the Compose file's directory unless absolute
	// ("" with Name).
	Name, Path string
}

// References lists the References of the Compose file text src, whose
// path is file, in file order of include entries then by service. A file
// that does not parse gives nothing (Audit reports it).
func References(file string, src []byte) []Reference {
	p, err := parsePositions(src)
	if err != nil {
		return nil
	}
	ref := func(line int, name *yaml.Node, what string) Reference {
		r := Reference{Line: line, What: what}
		if name != nil && name.Kind == yaml.ScalarNode {
			r.Name, r.Path = name.Value, name.Value
			if !filepath.IsAbs(r.Path) {
				r.Path = filepath.Join(filepath.Dir(file), r.Path)
			}
		}
		return r
	}
	var out []Reference
	for _, doc := range p.docs {
		k, v := lookup(doc, "include", 0)
		if v = resolve(v); k == nil || v == nil || v.Kind != yaml.SequenceNode {
			continue
		}
		for _, it := range v.Content {
			if it = resolve(it); it == nil {
				continue
			}
			names := []*yaml.Node{it}
			if it.Kind == yaml.MappingNode {
				_, n := lookup(it, "path", 0)
				names = []*yaml.Node{resolve(n)}
				if n = resolve(n); n != nil && n.Kind == yaml.SequenceNode {
					names = n.Content
				}
			}
			for _, name := range names {
				name = resolve(name)
				if name != nil && name.Kind == yaml.ScalarNode {
					out = append(out, ref(it.Line, name, "include "+name.Value+" is not read: check that file too"))
				} else {
					out = append(out, ref(it.Line, nil, "an include entry is not read: check that file too"))
				}
			}
		}
	}
	names := slices.Sorted(maps.Keys(p.services))
	for _, s := range names {
		for _, d := range p.services[s] {
			k, v := lookup(d.val, "extends", 0)
			if v = resolve(v); k == nil || v == nil || v.Kind != yaml.MappingNode {
				continue
			}
			if _, f := lookup(v, "file", 0); resolve(f) != nil && !isFile(file, resolve(f)) {
				f = resolve(f)
				r := ref(k.Line, f, fmt.Sprintf("service %s extends a service of %s, which is not read: what it inherits is not checked", s, f.Value))
				r.Service = s
				out = append(out, r)
			}
		}
	}
	return out
}

// withoutOtherFileExtends returns src without the extends keys of its
// services that name another file (extends: {file: ..., service: ...}),
// which Audit does not read, so that compose-go still applies the
// extends of services of the same file (skipping extends altogether
// would let one service extending another file hide what every other
// service inherits). An extends whose file is the file itself (file, the
// path of src) loses its file key only: compose-go then follows it in
// src, as docker compose does on disk. src is returned as is when it has
// none; otherwise it is written anew by yaml.v3, anchors and merge keys
// kept.
func withoutOtherFileExtends(src []byte, file string) ([]byte, error) {
	self := func(name string) bool { return sameFile(file, name) }
	docs, err := decodeAll(src)
	if err != nil {
		return nil, err
	}
	dropped := false
	for _, d := range docs {
		root := d
		if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
			root = root.Content[0]
		}
		_, services := lookup(resolve(root), "services", 0)
		if services == nil || services.Kind != yaml.MappingNode {
			continue
		}
		for i := 1; i < len(services.Content); i += 2 {
			dropped = dropFileExtends(resolve(services.Content[i]), self, 0) || dropped
		}
	}
	if !dropped {
		return src, nil
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	for _, d := range docs {
		if err := enc.Encode(d); err != nil {
			return nil, err
		}
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// dropFileExtends removes from the service mapping m, and from the
// mappings merged into it, the extends keys that name a file, but only
// the file key of those that name the file itself (self), and reports
// whether it removed any.
func dropFileExtends(m *yaml.Node, self func(string) bool, depth int) bool {
	if m == nil || m.Kind != yaml.MappingNode || depth > maxDepth {
		return false
	}
	dropped := false
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], resolve(m.Content[i+1])
		if k.Tag == "!!merge" || k.Value == "<<" {
			sources := []*yaml.Node{v}
			if v != nil && v.Kind == yaml.SequenceNode {
				sources = v.Content
			}
			for _, s := range sources {
				dropped = dropFileExtends(resolve(s), self, depth+1) || dropped
			}
			continue
		}
		if k.Value != "extends" || v == nil || v.Kind != yaml.MappingNode {
			continue
		}
		if f, fv := lookup(v, "file", 0); f != nil {
			if fv != nil && fv.Kind == yaml.ScalarNode && self(fv.Value) && v == m.Content[i+1] {
				for j := 0; j+1 < len(v.Content); j += 2 {
					if v.Content[j] == f {
						v.Content = slices.Delete(v.Content, j, j+2)
						break
					}
				}
				dropped = true
				continue
			}
			m.Content = slices.Delete(m.Content, i, i+2)
			i -= 2
			dropped = true
		}
	}
	return dropped
}

// listKeyLine reports whether line is that of a key of a definition of
// service (or of a mapping merged into one) whose value is a block
// sequence or mapping, with its items on the lines below: the line
// itemLine and networkLine fall back to when no item matches.
func (p *positions) listKeyLine(service string, line int) bool {
	var in func(m *yaml.Node, depth int) bool
	in = func(m *yaml.Node, depth int) bool {
		if m == nil || m.Kind != yaml.MappingNode || depth > maxDepth {
			return false
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], resolve(m.Content[i+1])
			if v == nil {
				continue
			}
			if k.Tag == "!!merge" || k.Value == "<<" {
				sources := []*yaml.Node{v}
				if v.Kind == yaml.SequenceNode {
					sources = v.Content
				}
				for _, s := range sources {
					if in(resolve(s), depth+1) {
						return true
					}
				}
				continue
			}
			if k.Line == line && (v.Kind == yaml.SequenceNode || v.Kind == yaml.MappingNode) && len(v.Content) > 0 && v.Content[0].Line > line {
				return true
			}
		}
		return false
	}
	for _, d := range p.services[service] {
		if in(d.val, 0) {
			return true
		}
	}
	return false
}

// sameFile reports whether name, as an extends of the file at path file
// writes it (relative to the file's directory), is that file.
func sameFile(file, name string) bool {
	if !filepath.IsAbs(name) {
		name = filepath.Join(filepath.Dir(file), name)
	}
	return filepath.Clean(name) == filepath.Clean(file)
}

// isFile reports whether the scalar n names the file at path file.
func isFile(file string, n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && sameFile(file, n.Value)
}
