package manifest

import (
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
	sigsjson "sigs.k8s.io/json"

	"github.com/wardsec/ward/internal/synth"
)

// fillCase is one object to decode both ways.
type fillCase struct {
	name       string
	apiVersion string
	kind       string
	node       *yaml.Node
}

// fillCases gathers the objects of known kinds in data (every document,
// List items included).
func fillCases(name string, data []byte) []fillCase {
	var out []fillCase
	var add func(n *yaml.Node, depth int)
	add = func(n *yaml.Node, depth int) {
		if n.Kind != yaml.MappingNode || depth > 4 {
			return
		}
		apiVersion, kind := scalar(mapGet(n, "apiVersion")), scalar(mapGet(n, "kind"))
		if items := mapGet(n, "items"); strings.HasSuffix(kind, "List") && items != nil {
			for _, it := range items.Content {
				add(it, depth+1)
			}
			return
		}
		if known(apiVersion, kind) != nil {
			out = append(out, fillCase{name: name, apiVersion: apiVersion, kind: kind, node: n})
		}
	}
	data, cuts, err := normalize(data)
	if err != nil {
		return nil
	}
	eachDocument(data, cuts, "", func(doc document) {
		var d decoder // an arena of its own: the cases keep their trees
		root, _, err := d.parseDocument(doc.text)
		if err != nil || root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
			return
		}
		add(root.Content[0], 0)
	})
	return out
}

// reference decodes n the way Ward did before fill: its JSON through
// sigs.k8s.io/json. slim selects appendSlim's JSON (pod says which).
func reference(c fillCase, slim, pod bool) (any, bool) {
	obj := known(c.apiVersion, c.kind)
	var d decoder
	if slim {
		d.appendSlim(c.node, pod)
	} else if d.appendJSON(c.node, true) != nil {
		return nil, false
	}
	return obj, sigsjson.UnmarshalCaseSensitivePreserveInts(d.buf, obj) == nil
}

// compareFill decodes c with fill and with the reference: where fill
// decodes, the reference must decode to the same object. It reports
// whether fill decoded.
func compareFill(t *testing.T, c fillCase, what string) bool {
	t.Helper()
	var d decoder
	got := known(c.apiVersion, c.kind)
	filled := d.fillObject(c.node, got)
	want, ok := reference(c, false, false)
	if filled && !ok {
		t.Errorf("%s %s %s: fill decoded what the reference refuses", c.name, c.kind, what)
		return filled
	}
	if filled && !reflect.DeepEqual(got, want) {
		t.Errorf("%s %s %s: fill and the reference differ:\n%s", c.name, c.kind, what, cmp.Diff(want, got))
	}
	if ti, pod := slimInfo(got); ti != nil && d.fits(c.node, ti, true) {
		got := known(c.apiVersion, c.kind)
		if d.fillSlim(c.node, got, pod) {
			want, ok := reference(c, true, pod)
			if !ok || !reflect.DeepEqual(got, want) {
				t.Errorf("%s %s %s: fillSlim and appendSlim's JSON differ (reference ok %v):\n%s", c.name, c.kind, what, ok, cmp.Diff(want, got))
			}
		}
	}
	return filled
}

// TestFillDifferential holds fill (and fillSlim) to the JSON decode it
// replaces: on every YAML fixture of the repository, on generated dumps
// (with and without the fields real dumps carry, YAML and JSON), every
// object fill decodes is the reference's object; on the unchanged inputs
// fill decodes nearly all of them (so the fast path is what is tested);
// then the same objects mutated at random (types swapped, collections
// where scalars go and back, nulls, duplicate and unknown keys, keys
// that are not scalars, overflowing numbers, invalid UTF-8): fill never
// decodes what the reference refuses, and decodes the rest the same.
func TestFillDifferential(t *testing.T) {
	var cases []fillCase
	root := filepath.Join("..")
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			switch e.Name() {
			case ".git", "bench", "node_modules":
				return filepath.SkipDir
			}
			return nil
		}
		ext := filepath.Ext(path)
		if ext != ".yaml" && ext != ".yml" && ext != ".json" {
			return nil
		}
		data, err := os.ReadFile(path) // #nosec G304,G122 -- the repository's own fixtures
		if err != nil || len(data) > 4<<20 {
			return nil
		}
		cases = append(cases, fillCases(path, data)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	fixtures := len(cases)
	for _, bare := range []bool{false, true} {
		for _, format := range []synth.Format{synth.YAML, synth.JSON} {
			c, err := synth.Generate(synth.Config{Seed: 3, Pods: 300, Policies: 80, Dump: true, Bare: bare, Format: format, ObjectsPerFile: 100})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range c.Files {
				cases = append(cases, fillCases(f.Name, f.Data)...)
			}
		}
	}
	if fixtures < 200 || len(cases) < fixtures+1000 {
		t.Fatalf("only %d objects (%d from fixtures): the inputs were not found", len(cases), fixtures)
	}
	filled := 0
	for _, c := range cases {
		if compareFill(t, c, "as written") {
			filled++
		}
	}
	if filled < len(cases)*99/100 {
		t.Errorf("fill decoded %d of %d objects; the fast path should decode nearly all", filled, len(cases))
	}
	t.Logf("%d objects (%d from fixtures), %d decoded by fill", len(cases), fixtures, filled)

	rng := rand.New(rand.NewPCG(1, 2))
	mutated, filledMutated := 0, 0
	for round := 0; round < 4; round++ {
		for _, c := range cases {
			m := c
			m.node = copyNode(c.node)
			for range 1 + rng.IntN(3) {
				mutate(rng, m.node)
			}
			mutated++
			if compareFill(t, m, "mutated") {
				filledMutated++
			}
		}
	}
	t.Logf("%d mutated objects, %d decoded by fill", mutated, filledMutated)
}

func copyNode(n *yaml.Node) *yaml.Node {
	c := *n
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, e := range n.Content {
		c.Content[i] = copyNode(e)
	}
	return &c
}

// mutate changes one node of tree n at random (never n itself).
func mutate(rng *rand.Rand, n *yaml.Node) {
	var all []*yaml.Node
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		for _, e := range n.Content {
			all = append(all, e)
			walk(e)
		}
	}
	walk(n)
	if len(all) == 0 {
		return
	}
	x := all[rng.IntN(len(all))]
	scalars := [][2]string{
		{"!!int", "42"}, {"!!int", "-7"}, {"!!int", "99999999999999999999"}, {"!!int", "0x1F"},
		{"!!float", "1.5"}, {"!!float", "1e3"}, {"!!float", ".inf"}, {"!!bool", "true"}, {"!!bool", "False"},
		{"!!null", "null"}, {"!!null", ""}, {"!!str", "x"}, {"!!str", "80"}, {"!!str", "\xff\xfe"},
		{"!!str", "2025-01-02T03:04:05Z"}, {"!!str", "100m"}, {"!!timestamp", "2025-01-02"},
	}
	switch rng.IntN(6) {
	case 0, 1: // another scalar
		s := scalars[rng.IntN(len(scalars))]
		*x = yaml.Node{Kind: yaml.ScalarNode, Tag: s[0], Value: s[1], Line: x.Line, Column: x.Column}
	case 2: // a collection where there was anything
		if rng.IntN(2) == 0 {
			*x = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: x.Line, Content: []*yaml.Node{
				{Kind: yaml.ScalarNode, Tag: "!!str", Value: "a"}, {Kind: yaml.ScalarNode, Tag: "!!int", Value: "1"}}}
		} else {
			*x = yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: x.Line, Content: []*yaml.Node{
				{Kind: yaml.ScalarNode, Tag: "!!str", Value: "a"}}}
		}
	case 3: // a duplicate key
		if x.Kind == yaml.MappingNode && len(x.Content) >= 2 {
			x.Content = append(x.Content, copyNode(x.Content[0]), copyNode(x.Content[1]))
		}
	case 4: // an unknown key, or a key that is not a scalar
		if x.Kind == yaml.MappingNode {
			k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "zzUnknown"}
			if rng.IntN(3) == 0 {
				k = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
			}
			x.Content = append(x.Content, k, &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"})
		}
	case 5: // an item removed or repeated
		if len(x.Content) > 0 && x.Kind == yaml.SequenceNode {
			if rng.IntN(2) == 0 {
				x.Content = x.Content[1:]
			} else {
				x.Content = append(x.Content, copyNode(x.Content[0]))
			}
		}
	}
}

// TestFieldIndexes: each index jsonFieldIndexes gives leads to a field of
// the type jsonFields gives, through every struct type of the kinds Ward
// decodes.
func TestFieldIndexes(t *testing.T) {
	seen := map[reflect.Type]bool{}
	var check func(t2 reflect.Type)
	check = func(typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map || typ.Kind() == reflect.Array {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || seen[typ] {
			return
		}
		seen[typ] = true
		fields, index := jsonFields(typ), jsonFieldIndexes(typ)
		if len(fields) != len(index) {
			t.Errorf("%v: %d fields, %d indexes", typ, len(fields), len(index))
		}
		for name, ft := range fields {
			ix, ok := index[name]
			if !ok {
				t.Errorf("%v.%s: no index", typ, name)
				continue
			}
			if got := typ.FieldByIndex(ix).Type; got != ft {
				t.Errorf("%v.%s: index leads to %v, want %v", typ, name, got, ft)
			}
			check(ft)
		}
	}
	for _, k := range [][2]string{{"v1", "Pod"}, {"v1", "Service"}, {"apps/v1", "Deployment"}, {"apps/v1", "ReplicaSet"},
		{"networking.k8s.io/v1", "NetworkPolicy"}, {"batch/v1", "CronJob"}, {"v1", "ConfigMap"}, {"rbac.authorization.k8s.io/v1", "ClusterRole"}} {
		obj := known(k[0], k[1])
		if obj == nil {
			t.Fatalf("%s %s: not known", k[0], k[1])
		}
		check(reflect.TypeOf(obj))
	}
}

// TestFillUnsettable: a field fill cannot set (behind a nil pointer to an
// unexported embedded struct) makes it give up, not panic; fields of an
// unexported embedded struct value are set as encoding/json sets them.
func TestFillUnsettable(t *testing.T) {
	type inner struct {
		A string `json:"a"`
	}
	type withPtr struct {
		*inner
		B string `json:"b"`
	}
	type withValue struct {
		inner
		B string `json:"b"`
	}
	var d decoder
	n, _, err := d.parseDocument([]byte("a: x\nb: w\n"))
	if err != nil {
		t.Fatal(err)
	}
	var p withPtr
	if d.fill(n.Content[0], typeInfoOf(reflect.TypeFor[withPtr]()), reflect.ValueOf(&p).Elem(), false) {
		t.Errorf("fill set a field behind a nil unexported embedded pointer: %+v", p)
	}
	var v withValue
	if !d.fill(n.Content[0], typeInfoOf(reflect.TypeFor[withValue]()), reflect.ValueOf(&v).Elem(), false) || v.A != "x" || v.B != "w" {
		t.Errorf("fill of an unexported embedded struct value: %+v", v)
	}
	var want withValue
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts([]byte(`{"a":"x","b":"w"}`), &want); err != nil || want != v {
		t.Errorf("encoding/json gives %+v (%v), fill %+v", want, err, v)
	}
}
