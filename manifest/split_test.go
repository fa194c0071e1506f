package manifest

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/runtime"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
)

func TestSplitList(t *testing.T) {
	defer func(old int) { splitMinBytes = old }(splitMinBytes)
	splitMinBytes = 0
	dump, err := os.ReadFile("testdata/kubectl-dump.yaml")
	if err != nil {
		t.Fatal(err)
	}
	list, err := os.ReadFile("testdata/list.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		text      string
		ok        bool
		itemLines []int
		header    string
	}{
		{"kubectl yaml", string(dump), true, []int{3, 25, 52, 83, 105, 122, 142}, "apiVersion: v1\nitems:\nkind: List\nmetadata:\n  resourceVersion: \"\"\n"},
		{"kubectl json", string(list), true, []int{4, 15}, ""},
		{"indented items", "kind: PodList\napiVersion: v1\nitems:\n  # comment\n  - a: 1\n    b: 2\n\n  - c: 3\nmetadata: {}\n", true, []int{5, 8},
			"kind: PodList\napiVersion: v1\nitems:\nmetadata: {}\n"},
		{"not a list kind", "kind: Thing\nitems:\n- a: 1\n", false, nil, ""},
		{"flow items", "kind: List\nitems: [{a: 1}]\n", false, nil, ""},
		{"items not a sequence", "kind: List\nitems:\n  a: 1\n", false, nil, ""},
		{"json not a list kind", `{"kind": "Thing", "items": [{}]}`, false, nil, ""},
		{"json broken", `{"kind": "List", "items": [{"a": 1}, }`, false, nil, ""},
		{"json scalars", `{"apiVersion": "v1", "kind": "List", "items": [1, "x", {"a": [1, "]"]}], "n": 2}`, true, []int{1, 1, 1}, `{"apiVersion": "v1", "kind": "List", "items": [], "n": 2}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, ok := splitList([]byte(tt.text))
			if ok != tt.ok {
				t.Fatalf("split = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if diff := cmp.Diff(tt.itemLines, s.itemLines); diff != "" {
				t.Errorf("item lines (-want +got):\n%s", diff)
			}
			if tt.header != "" && string(s.header) != tt.header {
				t.Errorf("header = %q, want %q", s.header, tt.header)
			}
			// Every piece decodes on its own, without falling back to the
			// whole document, and to the same errors (items that are no
			// objects, or objects without a name).
			d := decoder{file: "f"}
			var out decoded
			mode := yamlItem
			if s.json {
				mode = jsonItem
			}
			d.decode(unit{text: s.header, line: 1, mode: listHeader}, "", &out)
			for i, it := range s.items {
				d.decode(unit{text: it, line: s.itemLines[i], mode: mode, list: itemType(s.apiVersion, s.kind)}, "", &out)
			}
			var whole decoded
			(&decoder{file: "f"}).decode(unit{text: []byte(tt.text), line: 1}, "", &whole)
			if out.retry || len(out.errs) != len(whole.errs) {
				t.Errorf("pieces did not decode on their own: retry %v, errors %v; whole: %v", out.retry, out.errs, whole.errs)
			}
			// The items and the header together hold all the text.
			n := len(s.header)
			for _, it := range s.items {
				n += len(it)
			}
			if n > len(tt.text) {
				t.Errorf("pieces hold %d bytes, the document %d", n, len(tt.text))
			}
		})
	}
}

// TestSplitListFallback checks that a List whose items do not parse on their
// own is decoded whole, with the same result as without cutting.
func TestSplitListFallback(t *testing.T) {
	ns := "  - apiVersion: v1\n    kind: Namespace\n    metadata:\n      name: "
	tests := []struct {
		name  string
		input string
		lines []int
		err   int // line of the error, 0 for none
	}{
		{"alias across items", "apiVersion: v1\nkind: List\nitems:\n" + ns + "a\n      labels: &l {x: v}\n" + ns + "b\n      labels: *l\n", []int{4, 9}, 0},
		{"syntax error in an item", "apiVersion: v1\nkind: List\nitems:\n" + ns + "a\n" + ns + "b\n       bad: indent\n", nil, 12},
		{"syntax error in the header", "apiVersion: v1\nkind: List\nmetadata: {\nitems:\n" + ns + "a\n", nil, 5},
	}
	for _, tt := range tests {
		for _, min := range []int{1 << 30, 0} {
			t.Run(tt.name, func(t *testing.T) {
				defer func(old int) { splitMinBytes = old }(splitMinBytes)
				splitMinBytes = min
				s, err := Parse(Options{}, "l.yaml", []byte(tt.input))
				var e *Error
				switch {
				case tt.err == 0 && err != nil:
					t.Fatal(err)
				case tt.err != 0 && (!errors.As(err, &e) || e.Line != tt.err):
					t.Fatalf("error = %v, want one at line %d", err, tt.err)
				}
				var lines []int
				for _, o := range s.Objects {
					lines = append(lines, o.Source.Line)
				}
				if diff := cmp.Diff(tt.lines, lines); diff != "" {
					t.Errorf("lines (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func TestSplitDocuments(t *testing.T) {
	in := "# Source: a.yaml\nx: 1\n---\n# Source: b.yaml\n# more\ny: 2\n--- # comment\n---\nz: 3\n...\n%YAML 1.1\n---\nw: 4\n----\nv: 5\n"
	var got []document
	for _, d := range splitDocuments([]byte(in), nil) {
		got = append(got, document{text: nil, line: d.line, origin: d.origin})
		if strings.Contains(string(d.text), "---\n---") {
			t.Errorf("document holds two markers: %q", d.text)
		}
	}
	want := []document{{line: 1, origin: "a.yaml"}, {line: 3, origin: "b.yaml"}, {line: 8}, {line: 12}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(document{})); diff != "" {
		t.Errorf("documents (-want +got):\n%s", diff)
	}
}

// TestParseDocumentMarkers: kubectl and helm cut a stream at "---" lines
// only (apimachinery's YAMLReader) and read the first YAML document of
// each piece, so a document after a "..." end marker, with no "---" line
// before it, is dropped without a word. Ward cut at "..." too and read
// it: a default-deny policy written there isolated pods in Ward's model
// and nowhere else. It is now an input error at its line; a "..." followed
// by comments, a directive or a "---" line is fine. A "---" line with
// more than a comment after it (a tag, a flow mapping), which YAML allows,
// kubectl refuses (invalid Yaml document separator), with the rest of
// the stream: an input error too. kubectl breaks lines at "\n" only
// (its YAML parser then also at a lone "\r"), and Ward cut at "---"
// lines after a lone "\r" (classic Mac line ends, or one "\r" slipped
// into a file) or after a byte order mark as well: the policy after
// "\r---\r" was in force in Ward's model and dropped by kubectl. Such a
// document is an input error too.
func TestParseDocumentMarkers(t *testing.T) {
	const ns = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n"
	const np = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny}\nspec: {podSelector: {}}\n"
	const nsJSON = `{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}`
	const npJSON = `{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "deny"}, "spec": {"podSelector": {}}}`
	tests := []struct {
		name    string
		in      string
		errLine int // 0: no error
		objects int // what kubectl reads: the Namespace and the policies
	}{
		{"document after the end marker", ns + "...\n" + np, 5, 1},
		{"then a separated one", ns + "...\n" + np + "---\n" + np, 5, 2},
		{"comments after it", ns + "...\n# done\n\n", 0, 1},
		{"a directive and a separator", ns + "...\n%YAML 1.1\n---\n" + np, 0, 2},
		{"separator after it", ns + "...\n---\n" + np, 0, 2},
		// kubectl refuses the stream: -1 objects.
		{"a tag on the separator line", ns + "--- !!map\n" + np, 4, -1},
		{"a flow mapping on it", ns + "--- {apiVersion: v1, kind: Namespace, metadata: {name: b}}\n", 4, -1},
		{"a comment on it", ns + "--- # the policy\n" + np, 0, 2},
		{"separator after a lone CR", strings.TrimSuffix(ns, "\n") + "\r---\n" + np, 4, 1},
		{"cr only lines", strings.ReplaceAll(ns+"---\n"+np, "\n", "\r"), 4, 1},
		{"cr only lines from the first separator", strings.ReplaceAll("---\n"+ns+"---\n"+np, "\n", "\r"), 1, -1},
		{"separator and document on one kubectl line", ns + "---\r" + np, 4, -1},
		{"a byte order mark before the separator", ns + "\ufeff---\n" + np, 4, -1},
		{"lone CRs inside documents", strings.Replace(ns, "\n", "\r", 2) + "---\n" + strings.Replace(np, "\n", "\r", 2), 0, 2},
		{"a byte order mark after the separator", ns + "---\n\ufeff" + np, 0, 2},
		{"separator after a lone CR and a comment", "# policies\r---\n" + np + "---\n" + ns, 0, 2},
		// kubectl reads a stream of JSON values whole only at the start
		// of a file, and then fails on a document after it; of a YAML
		// document it reads the first value only.
		{"a JSON stream in a YAML document", ns + "---\n" + npJSON + "\n" + strings.Replace(npJSON, "deny", "deny-2", 1) + "\n", 6, 2},
		{"a JSON stream after a comment", "# policies\n" + nsJSON + "\n" + npJSON + "\n", 3, 1},
		{"a JSON stream at the start", nsJSON + "\n" + npJSON + "\n", 0, 2},
		{"a document after a JSON stream", nsJSON + npJSON + "\n---\n" + np, 2, -1},
		{"a document after a JSON value", nsJSON + "\n---\n" + np, 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// What kubectl reads.
			d := k8syaml.NewYAMLOrJSONDecoder(strings.NewReader(tt.in), 4096)
			n := 0
			for {
				var ext runtime.RawExtension
				err := d.Decode(&ext)
				if err == io.EOF {
					break
				}
				if err != nil {
					n = -1
					break
				}
				if len(ext.Raw) > 0 && string(ext.Raw) != "null" {
					n++
				}
			}
			if n != tt.objects {
				t.Fatalf("kubectl reads %d objects, the test says %d", n, tt.objects)
			}
			s, err := Parse(Options{}, "in.yaml", []byte(tt.in))
			var e *Error
			switch {
			case tt.errLine == 0 && err != nil:
				t.Fatal(err)
			case tt.errLine != 0 && (!errors.As(err, &e) || e.Line != tt.errLine):
				t.Fatalf("error %v, want one at line %d", err, tt.errLine)
			}
			if got := len(s.Policies); tt.objects > 0 && got != tt.objects-1 {
				t.Errorf("%d policies read, kubectl's %d", got, tt.objects-1)
			}
		})
	}
}

// TestLineBOM: lineBOM finds a byte order mark after a "\n" only, past
// marks elsewhere (the start, mid-line, after a "\r").
func TestLineBOM(t *testing.T) {
	for _, tt := range []struct {
		data string
		want bool
	}{
		{"", false},
		{utf8BOM + "a: 1\n", false},
		{"a: 1\n" + utf8BOM + "---\n", true},
		{"a: 1" + utf8BOM + "\nb: " + utf8BOM + "x\n" + utf8BOM, true},
		{"a: " + utf8BOM + "1\rb: " + utf8BOM + "\r\n", false},
		{"\n" + utf8BOM, true},
		{"a: \xEF\xBB\n\xEF\xBB\xBE", false},
	} {
		if got := lineBOM([]byte(tt.data)); got != tt.want {
			t.Errorf("lineBOM(%q) = %v, want %v", tt.data, got, tt.want)
		}
	}
}
