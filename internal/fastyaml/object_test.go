package fastyaml

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/wardsec/ward/internal/synth"
	yaml "go.yaml.in/yaml/v3"
)

// dropManaged does to a yaml.v3 tree what ParseObject does: the
// managedFields value of each object's metadata mapping, when it is a
// collection on the lines after its key, becomes an empty !!null scalar at
// the collection's position.
func dropManaged(doc *yaml.Node) {
	if len(doc.Content) == 0 {
		return
	}
	root := doc.Content[0]
	objects := []*yaml.Node{root}
	if root.Kind == yaml.SequenceNode {
		objects = root.Content
	}
	for _, o := range objects {
		if o.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i+1 < len(o.Content); i += 2 {
			md := o.Content[i+1]
			if o.Content[i].Value != "metadata" || md.Kind != yaml.MappingNode || md.Line == o.Content[i].Line {
				continue
			}
			for j := 0; j+1 < len(md.Content); j += 2 {
				k, v := md.Content[j], md.Content[j+1]
				if k.Value == "managedFields" && v.Kind != yaml.ScalarNode && v.Line > k.Line {
					md.Content[j+1] = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: v.Line, Column: v.Column}
				}
			}
		}
	}
}

// objectDifferential checks ParseObject against Parse (same documents
// accepted) and against yaml.v3 with dropManaged. It reports whether
// ParseObject accepted data.
func objectDifferential(t testing.TB, data []byte) bool {
	t.Helper()
	full := differential(t, data)
	got, err := ParseObject(data)
	if (err == nil) != full {
		t.Fatalf("ParseObject(%q): error %v, Parse accepted it: %v", data, err, full)
	}
	if err != nil {
		return false
	}
	want, _ := v3(data)
	dropManaged(want)
	if err := diffNodes(got, want); err != nil {
		t.Fatalf("ParseObject(%q) differs from yaml.v3 without managedFields: %v\ngot:\n%s\nwant:\n%s", data, err, dumpNode(got), dumpNode(want))
	}
	// The same in an arena reused by every document of the tests: the
	// last tree's memory is cleared and refilled.
	arenaMu.Lock()
	defer arenaMu.Unlock()
	cp := append([]byte(nil), data...)
	inArena, err := ParseObjectIn(&testArena, cp)
	if err != nil {
		t.Fatalf("ParseObjectIn(%q): %v, ParseObject accepted it", data, err)
	}
	if err := diffNodes(inArena, want); err != nil {
		t.Fatalf("ParseObjectIn(%q) differs from yaml.v3 without managedFields: %v\ngot:\n%s\nwant:\n%s", data, err, dumpNode(inArena), dumpNode(want))
	}
	return true
}

// testArena is the arena of every ParseObjectIn of the tests, so that
// each parse reuses what the previous one left.
var (
	arenaMu   sync.Mutex
	testArena Arena
)

// TestArenaReuse: trees parsed one after another in one arena, with
// documents of growing and shrinking size, refused documents and huge
// ones in between, are each what ParseObject gives.
func TestArenaReuse(t *testing.T) {
	docs := synthDocs(t, synth.Config{Seed: 4, Pods: 60, Policies: 20, Dump: true})
	var big strings.Builder
	for i := range 40000 {
		fmt.Fprintf(&big, "k%d: v\n", i)
	}
	docs = append(docs, []byte("a: &x 1\nb: *x\n"), []byte(big.String()), []byte("key: [unclosed\n"), docs[0], docs[1])
	var a Arena
	for i, d := range docs {
		want, werr := ParseObject(d)
		got, err := ParseObjectIn(&a, d)
		if (err == nil) != (werr == nil) {
			t.Fatalf("document %d: ParseObjectIn error %v, ParseObject error %v", i, err, werr)
		}
		if err != nil {
			continue
		}
		if err := diffNodes(got, want); err != nil {
			t.Fatalf("document %d: ParseObjectIn differs from ParseObject: %v", i, err)
		}
	}
	if len(a.nodes) > arenaMax {
		t.Errorf("the arena kept %d nodes, more than %d", len(a.nodes), arenaMax)
	}
}

func TestParseObjectSynth(t *testing.T) {
	docs := synthDocs(t, synth.Config{Seed: 2, Pods: 400, Policies: 100, Dump: true})
	skipped := 0
	for i, doc := range docs {
		if !objectDifferential(t, doc) {
			t.Fatalf("document %d fell back to yaml.v3:\n%s", i, doc)
		}
		if strings.Contains(string(doc), "\n  managedFields:\n") {
			skipped++
		}
	}
	if skipped < len(docs)/2 {
		t.Errorf("only %d of %d documents have managedFields", skipped, len(docs))
	}
}

var objects = []string{
	"metadata:\n  managedFields:\n  - a: 1\n    b: [x]\n  name: n\n",
	"metadata:\n  managedFields:\n    - a: 1\n  name: n\n",
	"metadata:\n  managedFields:\n    a: {}\n",
	"metadata:\n  managedFields: []\n",
	"metadata:\n  managedFields:\n  name: n\n",
	"metadata:\n  managedFields:\n",
	"metadata:\n  managedFields:\n  - a: &x 1\n",
	"metadata:\n  managedFields:\n  - a: \"unclosed\n",
	"metadata:\n  managedFields:\n  - a: 1\n   b: 2\n",
	"metadata:\n  managedFields:\n  - f:k:{\"name\":\"x\"}:\n      .: {}\n  managedFields:\n  - x\n",
	"metadata:\n  annotations:\n    managedFields:\n    - x\n",
	"spec:\n  template:\n    metadata:\n      managedFields:\n      - x\n",
	"- metadata:\n    managedFields:\n    - x\n    name: a\n- metadata:\n    managedFields:\n      y: |\n        z\n",
	"items:\n- metadata:\n    managedFields:\n    - x\n",
	"metadata: {managedFields: [x]}\n",
	"metadata:\n  managedFields:\n  - |\n    x\n  - y\n",
	"metadata:\n  managedFields:\n    [a, b]\n",
	"metadata:\n  managedFields:\n  - - x\n  - {a: b}\n",
	"kind: Pod\nmetadata:\n  managedFields:\n  - manager: m\n    fieldsV1:\n      f:spec:\n        k:{\"containerPort\":80,\"protocol\":\"TCP\"}:\n          .: {}\n  name: p\nspec: {}\n",
}

func TestParseObject(t *testing.T) {
	for _, doc := range objects {
		objectDifferential(t, []byte(doc))
	}
	for _, doc := range literals {
		objectDifferential(t, []byte(doc))
	}
	for _, doc := range supported {
		objectDifferential(t, []byte(doc))
	}
	for _, doc := range refused {
		objectDifferential(t, []byte(doc))
	}
}

// TestParseObjectRandom: random documents under an object's
// metadata.managedFields, checked and not built.
func TestParseObjectRandom(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 1000
	}
	r := rand.New(rand.NewPCG(randomSeed, 4))
	accepted := 0
	for range n {
		var body string
		if r.IntN(2) == 0 {
			body = randomDoc(r)
		} else {
			body = randomLiteral(r)
		}
		var b strings.Builder
		root := r.IntN(3) == 0
		if root {
			b.WriteString("- ")
		}
		pad := map[bool]string{true: "  ", false: ""}[root]
		b.WriteString("kind: Pod\n" + pad + "metadata:\n" + pad + "  name: x\n" + pad + "  managedFields:\n")
		for _, l := range strings.SplitAfter(body, "\n") {
			if l != "" {
				b.WriteString(pad + "  " + pick(r, []string{"", "  "}) + l)
			}
		}
		if !strings.HasSuffix(b.String(), "\n") {
			b.WriteString("\n")
		}
		b.WriteString(pad + "spec: {}\n")
		if objectDifferential(t, []byte(b.String())) {
			accepted++
		}
	}
	t.Logf("%d of %d random objects parsed without fallback", accepted, n)
	if accepted < n/10 {
		t.Errorf("only %d of %d random objects parsed without fallback", accepted, n)
	}
}
