package manifest

import (
	"encoding/binary"
	"iter"
	"maps"
	"math"
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
// It is a tree mirroring the object's YAML nesting, in one array in
// document order, and the keys of its mappings in one string (or, for the
// field names of the Kubernetes API, in one string all share): a path is
// not stored, it is found by walking down the tree. Every path of the
// object is found, whatever its keys hold (dots, brackets, duplicates).
type Lines struct {
	t *lineTable // nil for none
}

// A lineTable is the tree of a Lines.
type lineTable struct {
	nodes []lineNode
	keys  string // the keys of the mapping nodes, each preceded by its length as a uvarint
	wide  []int  // nil, or the line of each node when one does not fit an int32
}

// A lineNode is a mapping key or a sequence item, followed in Lines.nodes
// by the nodes of its value.
type lineNode struct {
	line int32
	end  int32  // index of the first node after this node's subtree
	ref  uint32 // segment kind (segMask bits); the rest: item index, or key offset (see key)
}

// Segment kinds: what a node appends to the path of its parent.
const (
	segItem   = 0 << 30 // "[i]", i the rest of ref
	segDotKey = 1 << 30 // "." and the key
	segKey    = 2 << 30 // the key alone (a key of the top mapping)
	segMask   = 3 << 30
	refMax    = 1<<30 - 1
)

// Get returns the line of the field at path, as in Workload.Lines. When a
// path occurs more than once in the object (a duplicate key), the line is
// that of its first occurrence, as for the same path written as a
// sequence item, that of its last.
func (l Lines) Get(path string) (int, bool) {
	if l.t == nil {
		return 0, false
	}
	i := l.t.index(path)
	if i < 0 {
		return 0, false
	}
	return l.t.line(i), true
}

// line returns the line of node i.
func (l *lineTable) line(i int) int {
	if l.wide != nil {
		return l.wide[i]
	}
	return int(l.nodes[i].line)
}

// index returns the index of the node whose line path has, or -1.
func (l *lineTable) index(path string) int {
	m := match{best: -1}
	l.find(0, len(l.nodes), path, &m)
	return m.best
}

// match is the node found so far for a path, and whether it is a
// sequence item.
type match struct {
	best int
	item bool
}

// find looks for the rest r of a path among the nodes [from, to) (siblings
// and their subtrees), trying every sibling whose segment starts r.
func (l *lineTable) find(from, to int, r string, m *match) {
	for i := from; i < to; i = int(l.nodes[i].end) {
		rest, ok := l.cut(i, r)
		if !ok {
			continue
		}
		if rest == "" {
			// The map the tree replaces kept the first line written for a
			// path by a mapping key and the last by a sequence item, in
			// document order.
			item := l.nodes[i].ref&segMask == segItem
			switch {
			case item && (!m.item || i > m.best):
				m.best, m.item = i, true
			case !item && !m.item && (m.best < 0 || i < m.best):
				m.best = i
			}
			// Below it, only keys that add nothing to the path (empty keys
			// of the top mapping) could match too, and those come later.
			continue
		}
		if end := int(l.nodes[i].end); end > i+1 {
			l.find(i+1, end, rest, m)
		}
	}
}

// cut returns r without the segment of node i, if r starts with it.
func (l *lineTable) cut(i int, r string) (string, bool) {
	ref := l.nodes[i].ref
	switch ref & segMask {
	case segItem:
		if len(r) < 3 || r[0] != '[' {
			return "", false
		}
		var b [24]byte
		s := strconv.AppendUint(b[:0], uint64(ref&refMax), 10)
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
	k := l.key(ref)
	if len(r) < len(k) || r[:len(k)] != k {
		return "", false
	}
	return r[len(k):], true
}

// key returns the key of a mapping node's ref: its offset is in
// commonKeys, or past it in l.keys.
func (l *lineTable) key(ref uint32) string {
	keys := commonKeys().text
	off := int(ref & refMax)
	if off >= len(keys) {
		keys, off = l.keys, off-len(keys)
	}
	n, w := binary.Uvarint([]byte(keys[off:min(off+binary.MaxVarintLen64, len(keys))]))
	return keys[off+w : off+w+int(n)]
}

// keyTable is a set of keys in one string, each preceded by its length as
// a uvarint, and the offset of each.
type keyTable struct {
	text string
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
	var b []byte
	kt := keyTable{at: make(map[string]uint32, len(names))}
	for _, k := range slices.Sorted(maps.Keys(names)) {
		kt.at[k] = uint32(len(b)) // #nosec G115 -- a few kilobytes
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
	}
	kt.text = string(b)
	return kt
})

// All yields every path of l with its line, in document order, each
// path once (with the line Get returns).
func (l Lines) All() iter.Seq2[string, int] {
	return func(yield func(string, int) bool) {
		if l.t != nil {
			l.t.all(yield)
		}
	}
}

// all yields every path of l with its line, as Lines.All.
func (l *lineTable) all(yield func(string, int) bool) {
	var path []byte
	var walk func(from, to int) bool
	walk = func(from, to int) bool {
		for i := from; i < to; i = int(l.nodes[i].end) {
			mark := len(path)
			ref := l.nodes[i].ref
			switch ref & segMask {
			case segItem:
				path = append(path, '[')
				path = strconv.AppendUint(path, uint64(ref&refMax), 10)
				path = append(path, ']')
			case segDotKey:
				path = append(path, '.')
				path = append(path, l.key(ref)...)
			default:
				path = append(path, l.key(ref)...)
			}
			p := string(path)
			if l.index(p) == i && !yield(p, l.line(i)) {
				return false
			}
			if !walk(i+1, int(l.nodes[i].end)) {
				return false
			}
			path = path[:mark]
		}
		return true
	}
	walk(0, len(l.nodes))
}

// Len returns the number of paths of l.
func (l Lines) Len() int {
	n := 0
	for range l.All() {
		n++
	}
	return n
}

// remap replaces every line of l with f(line). Only the loader calls it,
// before l is shared.
func (l Lines) remap(f func(int) int) {
	if l.t != nil {
		l.t.remap(f)
	}
}

// remap is Lines.remap.
func (l *lineTable) remap(f func(int) int) {
	for i := range l.nodes {
		v := f(l.line(i))
		if l.wide == nil && v >= math.MinInt32 && v <= math.MaxInt32 {
			l.nodes[i].line = int32(v)
			continue
		}
		if l.wide == nil {
			l.wide = make([]int, len(l.nodes))
			for j := range l.nodes {
				l.wide[j] = int(l.nodes[j].line)
			}
		}
		l.wide[i] = v
	}
}

// linesBuilder builds Lines from an object's YAML node. A decoder keeps
// one, for its scratch buffers.
type linesBuilder struct {
	nodes  []lineNode
	keys   []byte
	wide   []int // the lines, once one does not fit an int32
	path   []byte
	base   int
	policy bool
	common keyTable
	over   bool // too large for a Lines: give up
}

// fieldLines returns the lines of the field paths of an object, n, whose
// first line is base+1: every path when all, else the ones findings about
// a policy point at (its name, namespace and spec).
func (b *linesBuilder) fieldLines(n *yaml.Node, base int, policy bool) Lines {
	b.nodes, b.keys, b.wide, b.path = b.nodes[:0], b.keys[:0], nil, b.path[:0]
	b.base, b.policy, b.over = base, policy, false
	if b.common.at == nil {
		b.common = commonKeys()
	}
	b.walk(n)
	if b.over || len(b.nodes) == 0 {
		return Lines{}
	}
	l := &lineTable{nodes: make([]lineNode, len(b.nodes)), keys: string(b.keys)}
	copy(l.nodes, b.nodes)
	if b.wide != nil {
		l.wide = append([]int(nil), b.wide...)
	}
	if cap(b.nodes) > 1<<16 || cap(b.keys) > 1<<20 {
		b.nodes, b.keys = nil, nil // do not keep huge buffers for small objects
	}
	b.wide = nil
	return Lines{l}
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
			seg := uint32(segKey)
			if !top {
				b.path = append(b.path, '.')
				seg = segDotKey
			}
			b.path = append(b.path, k.Value...)
			off, common := b.common.at[k.Value]
			if !common {
				if len(b.common.text)+len(b.keys) > refMax {
					b.over = true
					return
				}
				off = uint32(len(b.common.text) + len(b.keys)) // #nosec G115 -- checked just above
				b.keys = binary.AppendUvarint(b.keys, uint64(len(k.Value)))
				b.keys = append(b.keys, k.Value...)
			}
			at := b.add(k.Line, seg|off)
			b.walk(n.Content[i+1])
			b.close(at)
			b.path = b.path[:mark]
		}
	case yaml.SequenceNode:
		for i, e := range n.Content {
			if i > refMax {
				b.over = true
				return
			}
			mark := len(b.path)
			b.path = append(b.path, '[')
			b.path = strconv.AppendInt(b.path, int64(i), 10)
			b.path = append(b.path, ']')
			at := b.add(e.Line, segItem|uint32(i))
			b.walk(e)
			b.close(at)
			b.path = b.path[:mark]
		}
	}
}

// add appends a node at line (of the document) and returns its index.
func (b *linesBuilder) add(line int, ref uint32) int {
	at := len(b.nodes)
	if at >= math.MaxInt32 {
		b.over = true
		return at
	}
	line += b.base
	if b.wide == nil && (line < math.MinInt32 || line > math.MaxInt32) {
		b.wide = make([]int, at, at+1)
		for j := range b.nodes {
			b.wide[j] = int(b.nodes[j].line)
		}
	}
	b.nodes = append(b.nodes, lineNode{line: int32(line), ref: ref}) // #nosec G115 -- wide holds the line when it does not fit
	if b.wide != nil {
		b.wide = append(b.wide, line)
	}
	return at
}

// close ends the subtree of node at.
func (b *linesBuilder) close(at int) {
	if at < len(b.nodes) {
		b.nodes[at].end = int32(len(b.nodes)) // #nosec G115 -- add stops at MaxInt32 nodes
	}
}
