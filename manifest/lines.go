package manifest

import (
	"encoding/binary"
	"iter"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
)

// Lines maps the field paths of an object, such as
// "spec.template.spec.containers[0].image" or "spec.ingress[0].from[1]",
// to their 1-based lines. It is immutable and safe for concurrent use; its
// zero value holds no path.
//
// It is a tree mirroring the object's YAML nesting, encoded in one string:
// a path is not stored, it is found by walking down the tree. Every path
// of the object is found, whatever its keys hold (dots, brackets,
// duplicates).
//
// The string holds the length of the keys section as a uvarint, the keys
// section (the keys of the object's mappings that are not field names of
// the Kubernetes API, commonKeys, each preceded by its length as a
// uvarint), then the nodes. A node is a mapping key or a sequence item:
// its segment (a uvarint: the segment kind in the low two bits, then the
// item index or the key's number or offset, see key), its line as a varint
// difference from the line of its previous sibling (of its parent for the
// first), the length in bytes of its children as a uvarint, and its
// children, the nodes of its value. Nodes are in document order.
type Lines struct {
	s string
	// big, for an object with many fields (a long s), holds the map of
	// every path, built on the first lookup: a lookup walks the siblings
	// along the path, so the findings of a ConfigMap of 50,000 keys would
	// otherwise take time quadratic in its keys.
	big *linesMap
}

// linesMap is Lines.big.
type linesMap struct {
	once sync.Once
	m    map[string]int
}

// bigLines is the length of Lines.s from which lookups go through a map
// (a variable for the differential tests, which set it to 0 and to the
// maximum to test both ways).
var bigLines = 4096

// Segment kinds: what a node appends to the path of its parent.
const (
	segItem   = 0 // "[i]"
	segDotKey = 1 // "." and the key
	segKey    = 2 // the key alone (a key of the top mapping)
	segBits   = 2
	segMask   = 1<<segBits - 1
)

// Get returns the line of the field at path, as in Workload.Lines. When a
// path occurs more than once in the object (a duplicate key), the line is
// that of its first occurrence, as for the same path written as a
// sequence item, that of its last.
func (l Lines) Get(path string) (int, bool) {
	if l.big != nil {
		l.big.once.Do(func() { l.big.m = l.lineMap() })
		line, ok := l.big.m[path]
		return line, ok
	}
	m := l.lookup(path)
	return m.line, m.at >= 0
}

// match is the node found for a path: its offset in Lines.s (-1 for
// none), its line, and whether it is a sequence item.
type match struct {
	at, line int
	item     bool
}

// lookup finds the node of path.
func (l Lines) lookup(path string) match {
	m := match{at: -1}
	if from, ok := l.nodes(); ok {
		l.find(commonKeys().list, from, len(l.s), 0, path, &m)
	}
	return m
}

// nodes returns the offset of the first node.
func (l Lines) nodes() (int, bool) {
	if l.s == "" {
		return 0, false
	}
	n, at := uvarint(l.s, 0)
	return at + int(n), true // #nosec G115 -- the builder wrote len(keys)
}

// lineNode is a decoded node.
type lineNode struct {
	ref  uint64 // segment kind, then item index or key number (see key)
	line int
	kids int // offset of its first child
	next int // offset of the first node after its subtree
}

// node decodes the node at offset at, whose previous sibling (or parent)
// is at line prev.
func (l Lines) node(at, prev int) lineNode {
	var n lineNode
	n.ref, at = uvarint(l.s, at)
	d, at := uvarint(l.s, at)
	n.line = prev + int(d>>1^-(d&1)) // #nosec G115 -- zigzag: wraps as the encoder did
	size, at := uvarint(l.s, at)
	n.kids, n.next = at, at+int(size) // #nosec G115 -- the builder wrote it
	return n
}

// uvarint decodes the uvarint at offset at of s, which the builder wrote,
// and returns it with the offset after it.
func uvarint(s string, at int) (uint64, int) {
	var v uint64
	for shift := 0; at < len(s); shift += 7 {
		c := s[at]
		at++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			break
		}
	}
	return v, at
}

// find looks for the rest r of a path among the sibling nodes in
// [from, to) of l.s, whose previous sibling (or parent) is at line prev,
// and their subtrees, trying every sibling whose segment starts r.
func (l Lines) find(common []string, from, to, prev int, r string, m *match) {
	for at := from; at < to; {
		n := l.node(at, prev)
		if rest, ok := l.cut(common, n.ref, r); ok {
			if rest == "" {
				// The map the tree replaces kept the first line written
				// for a path by a mapping key and the last by a sequence
				// item, in document order. Below this node, only keys
				// that add nothing to the path (empty keys of the top
				// mapping) could match too, and those come later.
				item := n.ref&segMask == segItem
				switch {
				case item && (!m.item || at > m.at):
					*m = match{at: at, line: n.line, item: true}
				case !item && !m.item && (m.at < 0 || at < m.at):
					*m = match{at: at, line: n.line}
				}
			} else if n.next > n.kids {
				l.find(common, n.kids, n.next, n.line, rest, m)
			}
		}
		prev, at = n.line, n.next
	}
}

// cut returns r without the segment of a node, ref, if r starts with it.
func (l Lines) cut(common []string, ref uint64, r string) (string, bool) {
	switch ref & segMask {
	case segItem:
		if len(r) < 3 || r[0] != '[' {
			return "", false
		}
		var b [24]byte
		s := strconv.AppendUint(b[:0], ref>>segBits, 10)
		if len(r) < len(s)+2 || r[1:1+len(s)] != string(s) || r[1+len(s)] != ']' {
			return "", false
		}
		return r[2+len(s):], true
	case segDotKey:
		if r == "" || r[0] != '.' {
			return "", false
		}
		r = r[1:]
	}
	k := l.key(common, ref)
	if len(r) < len(k) || r[:len(k)] != k {
		return "", false
	}
	return r[len(k):], true
}

// key returns the key of a mapping node's ref: the key numbered so in
// common, or past them, the key at that offset in the keys section of l.
func (l Lines) key(common []string, ref uint64) string {
	id := ref >> segBits
	if id < uint64(len(common)) {
		return common[id]
	}
	n, at := uvarint(l.s, 0)
	keys := l.s[at : at+int(n)]                        // #nosec G115 -- the builder wrote it
	n, at = uvarint(keys, int(id-uint64(len(common)))) // #nosec G115 -- an offset the builder wrote
	return keys[at : at+int(n)]                        // #nosec G115 -- a length the builder wrote
}

// keyTable is a list of keys and the number of each.
type keyTable struct {
	list []string
	at   map[string]uint32
}

// commonKeys are the field names of the Kubernetes objects that have
// field lines and a few common label keys, which the Lines of all objects
// share.
var commonKeys = sync.OnceValue(func() keyTable {
	names := map[string]bool{}
	for _, k := range []string{
		"app", "app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component",
		"app.kubernetes.io/part-of", "app.kubernetes.io/managed-by", "app.kubernetes.io/version",
		"helm.sh/chart", "kubernetes.io/metadata.name", "pod-template-hash", "controller-revision-hash",
		"k8s-app", "component", "tier", "release", "heritage", "chart", "version", "team", "env",
		"kubectl.kubernetes.io/last-applied-configuration", "deployment.kubernetes.io/revision",
	} {
		names[k] = true
	}
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map || t.Kind() == reflect.Array {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || seen[t] {
			return
		}
		seen[t] = true
		for f := range t.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name != "" && name != "-" {
				names[name] = true
			}
			walk(f.Type)
		}
	}
	for _, v := range []any{
		corev1.Pod{}, corev1.ReplicationController{}, corev1.Service{}, corev1.ConfigMap{},
		appsv1.Deployment{}, appsv1.DaemonSet{}, appsv1.ReplicaSet{}, appsv1.StatefulSet{},
		batchv1.Job{}, batchv1.CronJob{}, networkingv1.NetworkPolicy{}, networkingv1.Ingress{},
		rbacv1.Role{}, rbacv1.ClusterRole{}, rbacv1.RoleBinding{}, rbacv1.ClusterRoleBinding{},
	} {
		walk(reflect.TypeOf(v))
	}
	kt := keyTable{list: slices.Sorted(maps.Keys(names)), at: make(map[string]uint32, len(names))}
	for i, k := range kt.list {
		kt.at[k] = uint32(i) // #nosec G115 -- a few thousand
	}
	return kt
})

// All yields every path of l with its line, in document order, each
// path once (with the line Get returns).
func (l Lines) All() iter.Seq2[string, int] {
	return func(yield func(string, int) bool) {
		m := l.lineMap()
		l.each(func(path []byte, _ int, _ bool) bool {
			line, ok := m[string(path)]
			if !ok {
				return true // yielded already
			}
			delete(m, string(path))
			return yield(string(path), line)
		})
	}
}

// Len returns the number of paths of l.
func (l Lines) Len() int {
	return len(l.lineMap())
}

// lineMap returns every path of l with the line Get gives it, in one
// walk, by the rule of the map Lines replaced: in document order, a
// mapping key's path keeps its first line, a sequence item's takes its
// own.
func (l Lines) lineMap() map[string]int {
	m := map[string]int{}
	l.each(func(path []byte, line int, item bool) bool {
		if _, ok := m[string(path)]; item || !ok {
			m[string(path)] = line
		}
		return true
	})
	return m
}

// each calls fn for every node of l in document order, with its path, its
// line and whether it is a sequence item, until fn returns false.
func (l Lines) each(fn func(path []byte, line int, item bool) bool) {
	from, ok := l.nodes()
	if !ok {
		return
	}
	common := commonKeys().list
	var path []byte
	var walk func(from, to, prev int) bool
	walk = func(from, to, prev int) bool {
		for at := from; at < to; {
			n := l.node(at, prev)
			mark := len(path)
			switch n.ref & segMask {
			case segItem:
				path = append(path, '[')
				path = strconv.AppendUint(path, n.ref>>segBits, 10)
				path = append(path, ']')
			case segDotKey:
				path = append(path, '.')
				path = append(path, l.key(common, n.ref)...)
			default:
				path = append(path, l.key(common, n.ref)...)
			}
			if !fn(path, n.line, n.ref&segMask == segItem) || !walk(n.kids, n.next, n.line) {
				return false
			}
			path = path[:mark]
			prev, at = n.line, n.next
		}
		return true
	}
	walk(from, len(l.s), 0)
}

// remap replaces every line of l with f(line). Only the loader calls it.
func (l *Lines) remap(f func(int) int) {
	from, ok := l.nodes()
	if !ok {
		return
	}
	var b linesBuilder
	var walk func(from, to, prev int)
	walk = func(from, to, prev int) {
		for at := from; at < to; {
			n := l.node(at, prev)
			i := len(b.nodes)
			b.nodes = append(b.nodes, buildNode{ref: n.ref, line: f(n.line)})
			walk(n.kids, n.next, n.line)
			b.nodes[i].end = len(b.nodes)
			prev, at = n.line, n.next
		}
	}
	walk(from, len(l.s), 0)
	k, at := uvarint(l.s, 0)
	b.keys = append(b.keys, l.s[at:at+int(k)]...) // #nosec G115 -- the builder wrote it
	*l = b.encode()
}

// linesBuilder builds Lines from an object's YAML node. A decoder keeps
// one, for its scratch buffers.
type linesBuilder struct {
	nodes  []buildNode
	keys   []byte
	buf    []byte
	path   []byte
	base   int
	policy bool
	common keyTable
}

// A buildNode is a node of the tree being built: see Lines.
type buildNode struct {
	ref  uint64
	line int
	end  int // index of the first node after its subtree
	size int // length of its children's encoding
}

// fieldLines returns the lines of the field paths of an object, n, whose
// first line is base+1: every path when all, else the ones findings about
// a policy point at (its name, namespace and spec).
func (b *linesBuilder) fieldLines(n *yaml.Node, base int, policy bool) Lines {
	b.nodes, b.keys, b.path = b.nodes[:0], b.keys[:0], b.path[:0]
	b.base, b.policy = base, policy
	if b.common.at == nil {
		b.common = commonKeys()
	}
	b.walk(n)
	l := b.encode()
	if cap(b.nodes) > 1<<16 || cap(b.keys) > 1<<20 || cap(b.buf) > 1<<20 {
		b.nodes, b.keys, b.buf = nil, nil, nil // do not keep huge buffers for small objects
	}
	return l
}

// encode returns the Lines of b.nodes and b.keys.
func (b *linesBuilder) encode() Lines {
	if len(b.nodes) == 0 {
		return Lines{}
	}
	b.size(0, len(b.nodes), 0)
	b.buf = binary.AppendUvarint(b.buf[:0], uint64(len(b.keys)))
	b.buf = append(b.buf, b.keys...)
	b.emit(0, len(b.nodes), 0)
	l := Lines{s: string(b.buf)}
	if len(l.s) >= bigLines {
		l.big = new(linesMap)
	}
	return l
}

// size sets the size of the nodes [from, to), siblings whose previous
// sibling (or parent) is at line prev, and their subtrees, and returns the
// length of their encoding.
func (b *linesBuilder) size(from, to, prev int) int {
	total := 0
	for i := from; i < to; i = b.nodes[i].end {
		n := &b.nodes[i]
		n.size = b.size(i+1, n.end, n.line)
		total += uvarintLen(n.ref) + uvarintLen(zigzag(n.line-prev)) + uvarintLen(uint64(n.size)) + n.size // #nosec G115 -- a length
		prev = n.line
	}
	return total
}

// emit appends the encoding of the nodes [from, to) to b.buf (see size).
func (b *linesBuilder) emit(from, to, prev int) {
	for i := from; i < to; i = b.nodes[i].end {
		n := b.nodes[i]
		b.buf = binary.AppendUvarint(b.buf, n.ref)
		b.buf = binary.AppendUvarint(b.buf, zigzag(n.line-prev))
		b.buf = binary.AppendUvarint(b.buf, uint64(n.size)) // #nosec G115 -- a length
		b.emit(i+1, n.end, n.line)
		prev = n.line
	}
}

// zigzag encodes d as binary.AppendVarint does; it wraps around for lines
// far apart, and so does the decoder's sum.
func zigzag(d int) uint64 {
	return uint64(d<<1) ^ uint64(d>>63) // #nosec G115 -- zigzag encoding
}

// uvarintLen returns the length of the uvarint encoding of v.
func uvarintLen(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

// walk adds the nodes of the fields under n, in the order and with the
// paths of the map fieldLines once built: see find for duplicates.
func (b *linesBuilder) walk(n *yaml.Node) {
	switch n.Kind {
	case yaml.MappingNode:
		top, inMetadata := len(b.path) == 0, string(b.path) == "metadata"
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			switch {
			case !b.policy:
			case top && k.Value != "spec" && k.Value != "metadata":
				continue
			case inMetadata && k.Value != "name" && k.Value != "namespace":
				continue
			}
			mark := len(b.path)
			seg := uint64(segKey)
			if !top {
				b.path = append(b.path, '.')
				seg = segDotKey
			}
			b.path = append(b.path, k.Value...)
			off, common := b.common.at[k.Value]
			ref := uint64(off)
			if !common {
				ref = uint64(len(b.common.list) + len(b.keys)) // #nosec G115 -- a length
				b.keys = binary.AppendUvarint(b.keys, uint64(len(k.Value)))
				b.keys = append(b.keys, k.Value...)
			}
			at := len(b.nodes)
			b.nodes = append(b.nodes, buildNode{ref: ref<<segBits | seg, line: k.Line + b.base})
			b.walk(n.Content[i+1])
			b.nodes[at].end = len(b.nodes)
			b.path = b.path[:mark]
		}
	case yaml.SequenceNode:
		for i, e := range n.Content {
			mark := len(b.path)
			b.path = append(b.path, '[')
			b.path = strconv.AppendInt(b.path, int64(i), 10)
			b.path = append(b.path, ']')
			at := len(b.nodes)
			b.nodes = append(b.nodes, buildNode{ref: uint64(i)<<segBits | segItem, line: e.Line + b.base}) // #nosec G115 -- an index
			b.walk(e)
			b.nodes[at].end = len(b.nodes)
			b.path = b.path[:mark]
		}
	}
}
