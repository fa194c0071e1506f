package manifest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/wardsec/ward/internal/synth"
)

// refFieldLines is the map of field paths to lines that Lines replaces,
// built as the loader built it: the reference of the differential tests.
func refFieldLines(n *yaml.Node, base int, policy bool) map[string]int {
	lines := map[string]int{}
	var path []byte
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		switch n.Kind {
		case yaml.MappingNode:
			top, inMetadata := len(path) == 0, string(path) == "metadata"
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				if policy && top && k.Value != "spec" && k.Value != "metadata" {
					continue
				}
				if policy && inMetadata && k.Value != "name" && k.Value != "namespace" {
					continue
				}
				mark := len(path)
				if !top {
					path = append(path, '.')
				}
				path = append(path, k.Value...)
				if _, dup := lines[string(path)]; !dup {
					lines[string(path)] = k.Line + base
				}
				walk(n.Content[i+1])
				path = path[:mark]
			}
		case yaml.SequenceNode:
			for i, e := range n.Content {
				mark := len(path)
				path = append(path, fmt.Sprintf("[%d]", i)...)
				lines[string(path)] = e.Line + base
				walk(e)
				path = path[:mark]
			}
		}
	}
	walk(n)
	return lines
}

// refLine is Object.Line over the reference map.
func refLine(lines map[string]int, path string) int {
	for ; path != ""; path = parentPath(path) {
		if l, ok := lines[path]; ok {
			return l
		}
	}
	return -1
}

// checkLines compares Lines built from n with the reference map: every
// path, its line, the nearest enclosing line of paths near it, and paths
// that are absent.
func checkLines(t *testing.T, b *linesBuilder, name string, n *yaml.Node, base int, policy bool) {
	t.Helper()
	want := refFieldLines(n, base, policy)
	built := b.fieldLines(n, base, policy)
	// Both ways of looking up: walking the tree, and the map of a large
	// object (Lines.big), whatever the object's size.
	walked, mapped := built, built
	walked.big, mapped.big = nil, new(linesMap)
	for _, got := range []Lines{walked, mapped} {
		checkLinesOf(t, got, name, want)
	}
}

func checkLinesOf(t *testing.T, got Lines, name string, want map[string]int) {
	t.Helper()
	for p, l := range want {
		if g, ok := got.Get(p); !ok || g != l {
			t.Errorf("%s: Get(%q) = %d, %v; want %d", name, p, g, ok, l)
		}
	}
	all := map[string]int{}
	for p, l := range got.All() {
		if _, dup := all[p]; dup {
			t.Errorf("%s: All yields %q twice", name, p)
		}
		all[p] = l
		if want[p] != l {
			t.Errorf("%s: All yields %q at %d, want %d", name, p, l, want[p])
		}
	}
	if len(all) != len(want) || got.Len() != len(want) {
		t.Errorf("%s: All yields %d paths, Len %d, want %d", name, len(all), got.Len(), len(want))
	}
	probe := func(p string) {
		wl, wok := want[p]
		if g, ok := got.Get(p); ok != wok || g != wl {
			t.Errorf("%s: Get(%q) = %d, %v; want %d, %v", name, p, g, ok, wl, wok)
		}
		if refLine(want, p) != lineOf(got, p) {
			t.Errorf("%s: line of %q = %d, want %d", name, p, lineOf(got, p), refLine(want, p))
		}
	}
	for p := range want {
		probe(p)
		probe(p + ".x")
		probe(p + "[0]")
		probe(p + "[00]")
		probe(p + "]")
		probe("." + p)
		probe("x" + p)
		for i := range len(p) {
			probe(p[:i])
			probe(p[i:])
		}
	}
	for _, p := range []string{"", ".", "[", "[]", "[0]", "[-1]", "[18446744073709551616]", "spec", "metadata.name", "a", "a.b", "zz"} {
		probe(p)
	}
}

// lineOf is Object.Line over l, -1 for none.
func lineOf(l Lines, path string) int {
	for ; path != ""; path = parentPath(path) {
		if v, ok := l.Get(path); ok {
			return v
		}
	}
	return -1
}

// documents parses the YAML documents of a stream, as the loader does.
func documents(t *testing.T, data []byte) []*yaml.Node {
	t.Helper()
	var docs []*yaml.Node
	for _, text := range bytes.Split(data, []byte("\n---")) {
		var d decoder // an arena of its own: the trees are kept
		doc, _, err := d.parseDocument(text)
		if err != nil || doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
			continue
		}
		docs = append(docs, doc.Content[0])
	}
	return docs
}

// oddLines are documents whose paths collide or look like other paths:
// duplicate keys, keys with dots and brackets, empty keys, sequences and
// scalars where the loader expects mappings.
var oddLines = []string{
	"a: 1\na: 2\nb: {c: 1, c: 2}\n",
	"a:\n  b: 1\na:\n  c: 2\n  b: 3\n",
	"a:\n- 1\na:\n- 2\n- 3\n",
	"a: [1, 2]\na[0]: x\n\"a[1]\": y\n",
	"a[0]: x\na: [1, 2]\n",
	"a.b: 1\na:\n  b: 2\n  b.c: 3\n  b:\n    c: 4\n",
	"a:\n  b:\n    c: 4\na.b.c: 5\na.b:\n  c: 6\n",
	"\"\": 1\n",
	"\"\":\n  \"\": 2\n  a: 3\n  \"\":\n    b: 4\n",
	"\"\":\n  metadata:\n    name: n\n    other: o\n  spec: {x: 1}\n  status: s\n",
	"metadata:\n  name: n\n  labels: {a: b}\n  namespace: ns\nspec:\n  podSelector: {}\n  ingress:\n  - from: [{ipBlock: {cidr: 10.0.0.0/8}}]\nstatus: {}\n",
	"- a: 1\n- [2, 3]\n- b: {c: [4]}\n",
	"a: &x {b: 1, c: [2]}\nd: *x\ne: {<<: *x, f: 3}\n",
	"? [k]\n: v\n? {k: 1}\n: w\n",
	"a: {.: 1, \"[\": 2, \"]\": 3, \"[0]\": 4, \".b\": 5}\n",
	"1: one\n2: [two]\ntrue: yes\n~: null\n",
	"a:\n  - - - x\n    - y\n  - z\n",
	"a: [" + strings.Repeat("1, ", 1000) + "2]\n",
	"data:\n" + strings.Repeat("  k: v\n", 50) + strings.Repeat("  k.k: v\n", 3),
}

// TestLinesDiff checks Lines against the map it replaces on the odd
// documents, the test data, and a generated cluster dump.
func TestLinesDiff(t *testing.T) {
	var b linesBuilder
	check := func(name string, data []byte) {
		for i, n := range documents(t, data) {
			for _, policy := range []bool{false, true} {
				checkLines(t, &b, fmt.Sprintf("%s#%d policy=%v", name, i, policy), n, 7*i, policy)
			}
		}
	}
	for i, doc := range oddLines {
		check("odd"+strconv.Itoa(i), []byte(doc))
	}
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"../*/testdata/*.yaml", "../*/testdata/*/*.yaml", "../examples/*/*.yaml", "../examples/*/*/*.yaml"} {
		more, _ := filepath.Glob(g)
		files = append(files, more...)
	}
	if len(files) < 100 {
		t.Fatalf("%d test data files", len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f) // #nosec G304 -- test data
		if err != nil {
			t.Fatal(err)
		}
		check(f, data)
	}
	c, err := synth.Generate(synth.Config{Seed: 1, Pods: 300, Policies: 60, Dump: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range c.Files {
		check(f.Name, f.Data)
	}
}

// TestLinesRandom checks Lines against the map it replaces on random
// trees of colliding keys.
func TestLinesRandom(t *testing.T) {
	keys := []string{"a", "b", "a.b", "a[0]", "[0]", "", ".", "[", "0", "spec", "metadata", "name"}
	r := rand.New(rand.NewPCG(1, 2))
	var node func(depth int) *yaml.Node
	node = func(depth int) *yaml.Node {
		line := r.IntN(100) + 1
		switch k := r.IntN(3); {
		case depth > 4 || k == 0:
			return &yaml.Node{Kind: yaml.ScalarNode, Value: "v", Line: line}
		case k == 1:
			n := &yaml.Node{Kind: yaml.SequenceNode, Line: line}
			for range r.IntN(12) {
				n.Content = append(n.Content, node(depth+1))
			}
			return n
		default:
			n := &yaml.Node{Kind: yaml.MappingNode, Line: line}
			for range r.IntN(5) {
				n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: keys[r.IntN(len(keys))], Line: r.IntN(100) + 1}, node(depth+1))
			}
			return n
		}
	}
	var b linesBuilder
	for i := range 2000 {
		n := node(0)
		checkLines(t, &b, "random"+strconv.Itoa(i), n, r.IntN(3)*1000, i%2 == 0)
	}
}

// TestLinesRemap checks that remapping lines, beyond the int32 range
// too, keeps every path.
func TestLinesRemap(t *testing.T) {
	var b linesBuilder
	n := documents(t, []byte(oddLines[5]))[0]
	want := refFieldLines(n, 0, false)
	l := b.fieldLines(n, 0, false)
	l.remap(func(v int) int { return v + 1<<40 })
	for p, v := range want {
		if g, ok := l.Get(p); !ok || g != v+1<<40 {
			t.Errorf("Get(%q) = %d, %v; want %d", p, g, ok, v+1<<40)
		}
	}
	huge := b.fieldLines(n, 1<<40, false)
	for p, v := range want {
		if g, ok := huge.Get(p); !ok || g != v+1<<40 {
			t.Errorf("base 1<<40: Get(%q) = %d, %v; want %d", p, g, ok, v+1<<40)
		}
	}
	if _, ok := (Lines{}).Get("a"); ok || (Lines{}).Len() != 0 {
		t.Error("the zero Lines holds a path")
	}
}

// BenchmarkLines measures building the lines of a Deployment and looking
// up the lines of its fields.
func BenchmarkLines(b *testing.B) {
	docs := documents(&testing.T{}, generate(1, 0))
	var n *yaml.Node
	for _, d := range docs {
		if d.Kind == yaml.MappingNode && len(d.Content) > 3 && d.Content[3].Value == "Deployment" {
			n = d
		}
	}
	if n == nil {
		b.Fatal("no Deployment")
	}
	paths := []string{
		"spec.template.spec.containers[0].image",
		"spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem", // absent: its parent's
		"spec.template.spec.containers[0].ports[1].containerPort",
		"metadata.labels.app.kubernetes.io/name",
		"spec.template.spec.automountServiceAccountToken",
	}
	b.Run("build", func(b *testing.B) {
		var lb linesBuilder
		b.ReportAllocs()
		for b.Loop() {
			lb.fieldLines(n, 0, false)
		}
	})
	b.Run("build-map", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			refFieldLines(n, 0, false)
		}
	})
	var lb linesBuilder
	l := lb.fieldLines(n, 0, false)
	m := refFieldLines(n, 0, false)
	b.Run("line", func(b *testing.B) {
		for b.Loop() {
			for _, p := range paths {
				lineOf(l, p)
			}
		}
	})
	b.Run("line-map", func(b *testing.B) {
		for b.Loop() {
			for _, p := range paths {
				refLine(m, p)
			}
		}
	})
}

// FuzzLines checks Lines against the map it replaces on any document.
func FuzzLines(f *testing.F) {
	for _, doc := range oddLines {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<12 {
			return
		}
		var b linesBuilder
		for i, n := range documents(t, data) {
			checkLines(t, &b, "fuzz#"+strconv.Itoa(i), n, 3, i%2 == 1)
		}
	})
}

// TestLinesWide: an object with tens of thousands of fields at one level
// (a ConfigMap's data) is looked up through its map, every key at its
// line, and nothing more is built for small objects.
func TestLinesWide(t *testing.T) {
	var doc strings.Builder
	doc.WriteString("kind: ConfigMap\ndata:\n")
	const keys = 30000
	for i := range keys {
		fmt.Fprintf(&doc, "  key_%d: v\n", i)
	}
	var b linesBuilder
	l := b.fieldLines(documents(t, []byte(doc.String()))[0], 0, false)
	if l.big == nil {
		t.Fatalf("a %d-byte Lines without its map", len(l.s))
	}
	for i := range keys {
		if got, ok := l.Get(fmt.Sprintf("data.key_%d", i)); !ok || got != 3+i {
			t.Fatalf("data.key_%d at %d, %v; want %d", i, got, ok, 3+i)
		}
	}
	if _, ok := l.Get("data.key_30000"); ok {
		t.Error("a key that is not there found")
	}
	small := b.fieldLines(documents(t, []byte("kind: ConfigMap\ndata:\n  a: b\n"))[0], 0, false)
	if small.big != nil {
		t.Error("a map for a small object")
	}
}
