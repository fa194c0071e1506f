package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
)

// kubectlObject is an object as kubectl apply -f reads it: its
// kind/namespace/name, and the JSON of the typed object the API server
// decodes from it ("" when the kind is not one Ward models).
type kubectlObject struct {
	key, json string
	refused   bool // the API server's typed decode fails
}

// kubectlRead reads data as kubectl apply -f does (apimachinery's
// YAMLOrJSONDecoder, which converts YAML with sigs.k8s.io/yaml, then the
// unstructured decoder, which opens Lists), and decodes each object of a
// kind Ward models as the API server does. An error is a file kubectl
// fails on: it applies none of it.
func kubectlRead(data []byte) ([]kubectlObject, error) {
	d := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []kubectlObject
	for {
		var ext runtime.RawExtension
		if err := d.Decode(&ext); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
		ext.Raw = bytes.TrimSpace(ext.Raw)
		if len(ext.Raw) == 0 || bytes.Equal(ext.Raw, []byte("null")) {
			continue
		}
		obj, _, err := unstructured.UnstructuredJSONScheme.Decode(ext.Raw, nil, nil)
		if err != nil {
			return out, err
		}
		var items []unstructured.Unstructured
		switch o := obj.(type) {
		case *unstructured.UnstructuredList:
			items = o.Items
		case *unstructured.Unstructured:
			items = []unstructured.Unstructured{*o}
		}
		for i := 0; i < len(items); i++ {
			u := items[i]
			if u.IsList() {
				// kubectl's FlattenListVisitor opens Lists in Lists.
				l, err := u.ToList()
				if err != nil {
					return out, err
				}
				items = append(items, l.Items...)
				continue
			}
			if u.GetAPIVersion() == "" || u.GetKind() == "" {
				// Its typer refuses it, and kubectl the file.
				return out, fmt.Errorf("an object without apiVersion or kind: %v", u.Object)
			}
			o := kubectlObject{key: u.GetKind() + "/" + u.GetNamespace() + "/" + u.GetName()}
			typed := known(u.GetAPIVersion(), u.GetKind())
			if typed == nil {
				out = append(out, o)
				continue
			}
			raw, err := u.MarshalJSON()
			if err != nil {
				return out, err
			}
			if err := sigsjson.UnmarshalCaseSensitivePreserveInts(raw, typed); err != nil {
				o.refused = true
			}
			dropLastApplied(typed)
			noTypeMeta(typed)
			if m := meta(typed); m != nil {
				m.SetManagedFields(nil) // Ward never reads them
			}
			b, err := json.Marshal(typed)
			if err != nil {
				return out, err
			}
			o.json = string(b)
			out = append(out, o)
		}
	}
}

// noTypeMeta clears obj's apiVersion and kind, which Ward leaves out of
// the items of a typed List that take the List's.
func noTypeMeta(obj any) {
	if o, ok := obj.(interface{ GetObjectKind() schema.ObjectKind }); ok {
		o.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{})
	}
}

// wardRead is what Parse reads of data, keyed as kubectlRead keys it,
// and whether it skipped a document that is no object (a scalar, a
// list, a mapping without apiVersion or kind), on which kubectl fails:
// Ward skips such YAML, by design, and says so (input/skipped).
func wardRead(data []byte) (map[string]string, bool, error) {
	s, err := Parse(Options{DefaultNamespace: "\x00"}, "in.yaml", data)
	got := map[string]string{}
	noObject := false
	for _, sk := range s.Skipped {
		noObject = noObject || strings.HasPrefix(sk.Reason, "not a Kubernetes object")
	}
	for _, o := range s.Objects {
		m := meta(o.Obj)
		if m.GetNamespace() == "\x00" {
			m.SetNamespace("")
		}
		noTypeMeta(o.Obj)
		b, err := json.Marshal(o.Obj)
		if err != nil {
			return nil, false, err
		}
		got[o.Kind+"/"+m.GetNamespace()+"/"+m.GetName()] = string(b)
	}
	return got, noObject, err
}

// checkAsKubectl fails t when Parse reads in cleanly (no error) otherwise
// than kubectl and the API server do: kubectl fails on the file, or an
// object of a kind Ward models is missing, extra or different.
func checkAsKubectl(t *testing.T, in string) {
	t.Helper()
	want, kerr := kubectlRead([]byte(in))
	got, noObject, err := wardRead([]byte(in))
	if err != nil {
		return // failing closed is always allowed
	}
	if kerr != nil && (noObject || len(got) == 0) {
		// Nothing read: no object passes that kubectl does not apply.
		return
	}
	if kerr != nil {
		t.Errorf("kubectl fails on the file (%v), Parse reads it cleanly: %v", kerr, got)
		return
	}
	for _, w := range want {
		if w.json == "" {
			continue
		}
		g, ok := got[w.key]
		switch {
		case w.refused && ok:
			t.Errorf("%s: the API server refuses it, Parse reads it cleanly", w.key)
		case w.refused:
		case !ok:
			t.Errorf("%s: kubectl applies it, Parse reads nothing of it", w.key)
		case g != w.json:
			t.Errorf("%s: Parse reads\n%s\nthe API server\n%s", w.key, g, w.json)
		}
		delete(got, w.key)
	}
	for k := range got {
		t.Errorf("%s: Parse reads it, kubectl applies no such object", k)
	}
}

const (
	kubectlPolicy = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: deny\n  namespace: a\nspec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress]\n"
	kubectlPod    = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels:\n    app: web\nspec:\n  hostNetwork: false\n  containers:\n  - name: c\n    image: x\n"
)

// TestParseTaggedScalars: kubectl and helm resolve a scalar with an
// explicit tag of a type (!!int, !!bool, !!null, !!float, !!timestamp)
// with yaml.v2, which fails on the whole file when the value is not of
// that type, and reads !!int 0x10 as 16. Ward took the text as written:
// a default-deny policy named !!int deny, or with a key !!null kind, was
// in force in Ward's model while kubectl applied nothing, and a selector
// {!!int 0x10: a} selected the label 0x10 where the cluster's selects 16.
// Ward now refuses what kubectl refuses, at its line, and reads the rest
// as kubectl does. A key tagged !!merge that is not "<<" is a key to
// kubectl, not a merge: hostNetwork: true with !!merge x: {hostNetwork:
// false} after it was a pod off the host network in Ward's model only.
func TestParseTaggedScalars(t *testing.T) {
	tests := []struct {
		name, in string
		errLine  int // 0: loads
		check    func(*testing.T, *Set)
	}{
		{"a name that is no int", strings.Replace(kubectlPolicy, "name: deny", "name: !!int deny", 1), 4, nil},
		{"a name that is no bool", strings.Replace(kubectlPolicy, "name: deny", "name: !!bool deny", 1), 4, nil},
		{"a null key", strings.Replace(kubectlPolicy, "kind: NetworkPolicy", "!!null kind: NetworkPolicy", 1), 2, nil},
		{"a policy type that is no int", strings.Replace(kubectlPolicy, "[Ingress, Egress]", "[!!int Ingress, Egress]", 1), 8, nil},
		{"a null that is no null", strings.Replace(kubectlPod, "hostNetwork: false", "hostNetwork: !!null true", 1), 8, nil},
		{"a hex int key", strings.Replace(kubectlPolicy, "podSelector: {}", "podSelector: {matchLabels: {!!int 0x10: a}}", 1), 0,
			func(t *testing.T, s *Set) {
				if got := s.Policies[0].Spec.PodSelector.MatchLabels; got["16"] != "a" {
					t.Errorf("matchLabels %v, kubectl's {16: a}", got)
				}
			}},
		{"a quoted bool", strings.Replace(kubectlPod, "hostNetwork: false", `hostNetwork: !!bool "true"`, 1), 0,
			func(t *testing.T, s *Set) {
				if !s.Workloads[0].HostNetwork {
					t.Error("hostNetwork false, kubectl's true")
				}
			}},
		{"a merge tag on another key", strings.Replace(kubectlPod, "hostNetwork: false", "hostNetwork: true\n  !!merge x: {hostNetwork: false}", 1), 0,
			func(t *testing.T, s *Set) {
				if !s.Workloads[0].HostNetwork {
					t.Error("hostNetwork false, kubectl's true")
				}
			}},
		{"a merge tag on <<", strings.Replace(kubectlPod, "hostNetwork: false", "hostNetwork: false\n  !!merge <<: {hostNetwork: true}", 1), 0,
			func(t *testing.T, s *Set) {
				if !s.Workloads[0].HostNetwork {
					t.Error("hostNetwork false, kubectl's true")
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkAsKubectl(t, tt.in)
			s, err := Parse(Options{}, "in.yaml", []byte(tt.in))
			var e *Error
			if tt.errLine != 0 {
				if !errors.As(err, &e) || e.Line != tt.errLine || len(s.Policies)+len(s.Workloads) != 0 {
					t.Fatalf("error %v, objects %d+%d; want an error at line %d and nothing read", err, len(s.Policies), len(s.Workloads), tt.errLine)
				}
				if _, kerr := kubectlRead([]byte(tt.in)); kerr == nil {
					t.Error("kubectl reads it")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, s)
		})
	}
}

// TestParseStreamsKubectlFails: kubectl and helm cut a stream at its
// "---" lines and parse each piece with yaml.v2, which fails, and so
// does kubectl on the whole file, on a piece holding only a YAML
// directive (%YAML 1.1 before a "---" line: always alone in its piece),
// a document end marker "..." that ends no document, or, in a piece of
// nothing but comments and blank lines, which Ward never parsed, a line
// of white space with a tab or a comment with invalid UTF-8 or a control
// character; and
// apimachinery fails on an apiVersion with more than one "/". Ward read
// the policies around them as in force, while kubectl applied nothing.
func TestParseStreamsKubectlFails(t *testing.T) {
	tests := []struct {
		name, in string
		errLine  int
	}{
		{"a directive", "%YAML 1.1\n---\n" + kubectlPolicy, 1},
		{"a YAML 1.2 directive", "# c\n%YAML 1.2\n---\n" + kubectlPolicy, 2},
		{"a tag directive", "---\n" + kubectlPolicy + "---\n%TAG !e! tag:example.com,2000:\n---\n" + kubectlPolicy, 11},
		{"an end marker alone", kubectlPolicy + "---\n...\n", 10},
		{"an end marker after a comment", kubectlPolicy + "---\n# c\n...\n", 11},
		{"an end marker first", "...\n---\n" + kubectlPolicy, 1},
		{"an end marker after an end marker", kubectlPolicy + "...\n---\n... # c\n", 11},
		{"a tab line in a piece of nothing", kubectlPolicy + "---\n\t\n", 10},
		{"a tab line first", "  \t\n---\n" + kubectlPolicy, 1},
		{"invalid UTF-8 in a comment", kubectlPolicy + "---\n# \xbc\n", 10},
		{"a control character in a comment", kubectlPolicy + "--- # c\n# c\n# \x01\n", 11},
		{"an apiVersion with two slashes", strings.Replace(kubectlPolicy, "networking.k8s.io/v1", "networking.k8s.io/v1/", 1), 1},
		{"an apiVersion with a leading slash", strings.Replace(kubectlPolicy, "networking.k8s.io/v1", "/networking.k8s.io/v1", 1), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := kubectlRead([]byte(tt.in)); err == nil {
				t.Fatal("kubectl reads it")
			}
			_, err := Parse(Options{}, "in.yaml", []byte(tt.in))
			var e *Error
			if !errors.As(err, &e) || e.Line != tt.errLine {
				t.Errorf("error %v, want one at line %d", err, tt.errLine)
			}
		})
	}
	// What kubectl reads: a directive or an end marker after a document
	// of the same piece, which yaml.v2 never reaches.
	for _, in := range []string{
		kubectlPolicy + "...\n%YAML 1.1\n---\n" + strings.Replace(kubectlPolicy, "deny", "deny2", 1),
		kubectlPolicy + "...\n...\n",
		kubectlPolicy + "...\n# c\n---\n",
		kubectlPolicy + "---\n# café\n#\ttab\n",
		kubectlPolicy + "---\n  # \t\n",
	} {
		if _, err := kubectlRead([]byte(in)); err != nil {
			t.Fatalf("kubectl: %v", err)
		}
		if _, err := Parse(Options{}, "in.yaml", []byte(in)); err != nil {
			t.Errorf("%q: %v", in, err)
		}
		checkAsKubectl(t, in)
	}
}

// TestParseAsKubectlCorpus replays testdata/kubectl-differential.txt,
// inputs that YAML readers disagree on (tags, YAML 1.1 scalars, merge
// keys, anchors, duplicate and case-folded keys, escapes, directives,
// document markers, line breaks, JSON streams, apiVersions), through
// kubectlRead and Parse: Parse either fails on each or reads what kubectl
// applies. Each case follows a "#### case NAME" line.
func TestParseAsKubectlCorpus(t *testing.T) {
	data, err := os.ReadFile("testdata/kubectl-differential.txt")
	if err != nil {
		t.Fatal(err)
	}
	cases := bytes.Split(data, []byte("#### case "))[1:]
	if len(cases) < 100 {
		t.Fatalf("%d cases", len(cases))
	}
	for _, c := range cases {
		name, in, _ := bytes.Cut(c, []byte("\n"))
		t.Run(string(name), func(t *testing.T) { checkAsKubectl(t, string(in)) })
	}
}

// FuzzParseAsKubectl holds Parse to reading any input as kubectl does, or
// failing on it (checkAsKubectl), from the cases of
// testdata/kubectl-differential.txt.
func FuzzParseAsKubectl(f *testing.F) {
	data, err := os.ReadFile("testdata/kubectl-differential.txt")
	if err != nil {
		f.Fatal(err)
	}
	for _, c := range bytes.Split(data, []byte("#### case "))[1:] {
		_, in, _ := bytes.Cut(c, []byte("\n"))
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 1<<12 {
			return
		}
		checkAsKubectl(t, string(in))
	})
}

// TestParseKindCase: kinds are case-sensitive; kubectl finds no resource
// for kind: networkpolicy and fails on the file, applying nothing, where
// Ward skipped the document as a kind it does not model and could pass.
// And an item of a typed List that takes its apiVersion from the List
// (apiVersion: v1, kind: DeploymentList) is an error at the item, where
// Ward failed with an internal error (a nil dereference, recovered).
func TestParseKindCase(t *testing.T) {
	tests := []struct {
		name, in string
		errLine  int
		msg      string
	}{
		{"networkpolicy", strings.Replace(kubectlPolicy, "kind: NetworkPolicy", "kind: networkpolicy", 1), 2, "want NetworkPolicy"},
		{"DEPLOYMENT", "apiVersion: apps/v1\nkind: DEPLOYMENT\nmetadata: {name: d}\n", 2, "want Deployment"},
		{"a List item in another case", "apiVersion: networking.k8s.io/v1\nkind: networkpolicyList\nitems:\n- metadata: {name: x}\n", 4, "want NetworkPolicy"},
		{"a List item of a kind another group serves", "apiVersion: v1\nkind: DeploymentList\nitems:\n- metadata: {name: x}\n", 4, "want apps/v1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(Options{}, "in.yaml", []byte(tt.in))
			var e *Error
			if !errors.As(err, &e) || e.Line != tt.errLine || !strings.Contains(err.Error(), tt.msg) || strings.Contains(err.Error(), "internal error") {
				t.Errorf("error %v, want one at line %d saying %q", err, tt.errLine, tt.msg)
			}
			if len(s.Skipped) != 0 {
				t.Errorf("skipped %+v", s.Skipped)
			}
		})
	}
	// Kinds of other groups keep their names: a custom resource may be
	// spelt so.
	if _, err := Parse(Options{}, "in.yaml", []byte("apiVersion: example.com/v1\nkind: networkpolicy\nmetadata: {name: x}\n")); err != nil {
		t.Error(err)
	}
}

// TestParseKindNotString: apimachinery reads apiVersion and kind as
// strings only, and kubectl fails on the file when one is a number, a
// boolean (kind: yes) or a collection (of apiVersion: 1 its decoder
// keeps an object without apiVersion, for which kubectl then finds no
// resource): an input error, where Ward read a scalar's text and went on
// with the rest of the file.
func TestParseKindNotString(t *testing.T) {
	for _, in := range []string{
		"apiVersion: 1\nkind: NetworkPolicy\nmetadata: {name: x}\n",
		"apiVersion: 1.0\nkind: Pod\nmetadata: {name: x}\n",
	} {
		_, err := Parse(Options{}, "in.yaml", []byte(in))
		if e := (*Error)(nil); !errors.As(err, &e) || e.Line != 1 || !errors.Is(err, ErrType) {
			t.Errorf("%q: error %v, want a type error at line 1", in, err)
		}
	}
	for _, in := range []string{
		"apiVersion: v1\nkind: 0\nmetadata: {name: x}\n",
		"apiVersion: v1\nkind: yes\nmetadata: {name: x}\n",
		"apiVersion: v1\nkind: [Pod]\nmetadata: {name: x}\n",
	} {
		if _, err := kubectlRead([]byte(in)); err == nil {
			t.Fatalf("%q: kubectl reads it", in)
		}
		_, err := Parse(Options{}, "in.yaml", []byte(in))
		if e := (*Error)(nil); !errors.As(err, &e) || e.Line != 2 || !errors.Is(err, ErrType) {
			t.Errorf("%q: error %v, want a type error at line 2", in, err)
		}
	}
	for _, in := range []string{
		"apiVersion: \"1\"\nkind: !!str 0\n",
		"apiVersion: v1\nkind: ~\n",
	} {
		if _, err := Parse(Options{}, "in.yaml", []byte(in)); err != nil {
			t.Errorf("%q: %v", in, err)
		}
	}
}

// TestParseNotObjectNumericAPIVersion: a Grafana provisioning file has
// apiVersion: 1 and no kind. kubectl fails on it as on any YAML that is
// no object ("Object 'Kind' is missing"), and Ward skips such YAML: it
// failed the file as input/unreadable ("apiVersion is not a string").
func TestParseNotObjectNumericAPIVersion(t *testing.T) {
	for _, in := range []string{
		"apiVersion: 1\ndatasources:\n  - name: Prometheus\n    type: prometheus\n    url: http://prometheus:9090\n",
		"apiVersion: 1.0\nproviders: []\n",
		"apiVersion: [1]\nx: y\n",
		"kind: 3\nx: y\n",
	} {
		_, kerr := kubectlRead([]byte(in))
		_, nerr := kubectlRead([]byte("x: y\n"))
		if kerr == nil || nerr == nil || !strings.Contains(kerr.Error(), "is missing") {
			t.Fatalf("%q: kubectl gives %v, for YAML that is no object %v", in, kerr, nerr)
		}
		s, err := Parse(Options{}, "ds.yaml", []byte(in))
		if err != nil {
			t.Errorf("%q: %v, want it skipped as no Kubernetes object", in, err)
			continue
		}
		if len(s.Skipped) != 1 || !strings.Contains(s.Skipped[0].Reason, "not a Kubernetes object") {
			t.Errorf("%q: skipped %+v, want it skipped as no Kubernetes object", in, s.Skipped)
		}
	}
	// An item of a List is meant as an object: still an error.
	in := "apiVersion: v1\nkind: List\nitems:\n- apiVersion: 1\n  metadata: {name: x}\n"
	if _, err := kubectlRead([]byte(in)); err == nil {
		t.Fatalf("%q: kubectl reads it", in)
	}
	if _, err := Parse(Options{}, "in.yaml", []byte(in)); !errors.Is(err, ErrType) {
		t.Errorf("%q: error %v, want a type error", in, err)
	}
}

// TestParseTypedListItemHalfTyped: apimachinery gives an item of a List
// the List's apiVersion and kind only when it has neither; an item of a
// NetworkPolicyList with kind: NetworkPolicy and no apiVersion keeps no
// apiVersion, and kubectl fails on the file. Ward gave it the List's and
// read the policy as in force.
func TestParseTypedListItemHalfTyped(t *testing.T) {
	for _, item := range []string{
		`{"kind":"NetworkPolicy","metadata":{"name":"x","namespace":"a"},"spec":{"podSelector":{}}}`,
		`{"apiVersion":"networking.k8s.io/v1","metadata":{"name":"x","namespace":"a"},"spec":{"podSelector":{}}}`,
	} {
		in := `{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicyList","items":[` + "\n" + item + `]}`
		if _, err := kubectlRead([]byte(in)); err == nil {
			t.Fatalf("%s: kubectl reads it", in)
		}
		s, err := Parse(Options{}, "in.json", []byte(in))
		if e := (*Error)(nil); !errors.As(err, &e) || e.Line != 2 || len(s.Policies) != 0 {
			t.Errorf("%s: error %v, policies %d; want an error at line 2 and none", in, err, len(s.Policies))
		}
		checkAsKubectl(t, in)
	}
}

// TestParseListsAsKubectl holds Parse to kubectl's reading of Lists:
// typed and plain, in JSON and YAML, nested, with items merged in,
// aliased, tagged or given twice, and objects with a top-level items.
func TestParseListsAsKubectl(t *testing.T) {
	np := `{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"deny","namespace":"a"},"spec":{"podSelector":{}}}`
	ind := func(s string) string { return strings.ReplaceAll(s, "\n", "\n  ") }
	for i, in := range []string{
		`{"apiVersion":"v1","kind":"List","items":[` + np + `]}`,
		`{"apiVersion":"v1","kind":"List","items":[` + np + `],"items":null}`,
		`{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicyList","items":[{"metadata":{"name":"x","namespace":"a"},"spec":{"podSelector":{}}}]}`,
		`{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicyList","items":[{"kind":"NetworkPolicy","metadata":{"name":"x","namespace":"a"},"spec":{"podSelector":{}}}]}`,
		`{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicyList","items":[{"apiVersion":"v1","metadata":{"name":"x","namespace":"a"},"spec":{"podSelector":{}}}]}`,
		`{"apiVersion":"v1","kind":"PodList","items":[{"apiVersion":"networking.k8s.io/v1","metadata":{"name":"x","namespace":"a"},"spec":{"podSelector":{}}}]}`,
		`{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"List","items":[` + np + `]}]}`,
		`{"apiVersion":"v1","kind":"Lis","items":[` + np + `]}`,
		`{"apiVersion":"v1","kind":"list","items":[` + np + `]}`,
		`{"apiVersion":"v1","kind":"List","metadata":{},"items":[` + np + `]} ` + np,
		`[` + np + `]`,
		np + `
` + np,
		"apiVersion: v1\nkind: List\nitems:\n- " + ind(kubectlPolicy),
		"apiVersion: v1\nkind: List\nitems: &i\n- " + ind(kubectlPolicy) + "\nx: *i\n",
		"apiVersion: v1\nkind: List\nitems: !!seq\n- " + ind(kubectlPolicy),
		"apiVersion: v1\nkind: List\nitems: !!null\n",
		"apiVersion: v1\nkind: List\n<<: {items: [" + np + "]}\n",
		"apiVersion: v1\n<<: {kind: List}\nitems: [" + np + "]\n",
		"apiVersion: v1\nkind: !!binary TGlzdA==\nitems: [" + np + "]\n",
		"apiVersion: v1\n!!binary a2luZA==: List\nitems: [" + np + "]\n",
		kubectlPolicy + "items: !!null\n",
		kubectlPolicy + "Items: []\n",
		kubectlPolicy + "items: ~\n",
		kubectlPolicy + "? items\n",
		kubectlPolicy + "items: {}\n",
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) { checkAsKubectl(t, in) })
	}
}

// TestParseInfNaN: sigs.k8s.io/yaml cannot write an infinity or a NaN as
// JSON, so kubectl fails on a file holding one anywhere: under a field
// the API server would drop (spec.x: .inf), or in managedFields, which
// Ward does not read. Ward read the objects, and a default-deny policy in
// the same file as in force, while kubectl applied nothing.
func TestParseInfNaN(t *testing.T) {
	tests := []struct {
		name, in string
		errLine  int
	}{
		{"an unknown field", kubectlPolicy + "---\n" + strings.Replace(kubectlPod, "hostNetwork: false", "hostNetwork: false\n  x: {y: .inf}", 1), 18},
		{"a NaN in a list", strings.Replace(kubectlPod, "hostNetwork: false", "x: [1, .NaN]", 1), 8},
		{"managedFields", strings.Replace(kubectlPod, "  name: p\n", "  name: p\n  managedFields:\n  - {manager: x, n: .nan}\n", 1), 6},
		{"a tagged infinity", strings.Replace(kubectlPod, "hostNetwork: false", "x: !!float .Inf", 1), 8},
		{"a quoted tagged infinity", strings.Replace(kubectlPod, "hostNetwork: false", `x: !!float "-.inf"`, 1), 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := kubectlRead([]byte(tt.in)); err == nil {
				t.Fatal("kubectl reads it")
			}
			s, err := Parse(Options{}, "in.yaml", []byte(tt.in))
			if e := (*Error)(nil); !errors.As(err, &e) || e.Line != tt.errLine {
				t.Errorf("error %v, want one at line %d", err, tt.errLine)
			}
			if len(s.Workloads) != 0 {
				t.Errorf("workloads %v", s.Workloads)
			}
		})
	}
	// Quoted, they are strings.
	in := strings.Replace(kubectlPod, "hostNetwork: false", "x: '.inf'\n  y: \".nan\"", 1)
	if _, err := Parse(Options{}, "in.yaml", []byte(in)); err != nil {
		t.Error(err)
	}
	checkAsKubectl(t, in)
}

// TestParseSignedNaN: kubectl's reader has no signed NaN: "!!float +.nan"
// is a string it refuses to read as a float, not a NaN. Ward's second
// list of infinities and NaNs took it for one, and said so; the one list
// (fastyaml.InfNaN) is kubectl's.
func TestParseSignedNaN(t *testing.T) {
	for _, v := range []string{"+.nan", "-.NaN", "--.inf"} {
		in := strings.Replace(kubectlPod, "hostNetwork: false", "x: !!float "+v, 1)
		if _, err := kubectlRead([]byte(in)); err == nil || !strings.Contains(err.Error(), "cannot decode") {
			t.Fatalf("%s: kubectl gives %v", v, err)
		}
		_, err := Parse(Options{}, "in.yaml", []byte(in))
		if e := (*Error)(nil); !errors.As(err, &e) || e.Line != 8 || !strings.Contains(err.Error(), "cannot decode") {
			t.Errorf("%s: error %v, want kubectl's refusal at line 8", v, err)
		}
	}
}

// TestParseDroppedFieldsAsKubectl: what the API server drops (a field it
// does not know) and Ward does not read (managedFields) is still read by
// kubectl's YAML reader, which fails on the file for a key that is a
// list or a mapping, an infinity and more: Parse must fail on it too, or
// read what kubectl applies. A list key in managedFields gave a clean
// read of the policy beside it, while kubectl applied nothing.
func TestParseDroppedFieldsAsKubectl(t *testing.T) {
	rp := func(new string) string {
		return kubectlPolicy + "---\n" + strings.Replace(kubectlPod, "hostNetwork: false", "hostNetwork: false\n  "+new, 1)
	}
	mf := func(new string) string {
		return kubectlPolicy + "---\n" + strings.Replace(kubectlPod, "  name: p\n", "  name: p\n  managedFields:\n  - "+new+"\n", 1)
	}
	for i, in := range []string{
		rp("x: {[a]: b}"), rp("x: {{a: b}: c}"), rp("x: {~: a}"), rp("x: {1e500: a}"), rp("x: {.inf: a}"),
		rp("x: {123456789012345678901234: a}"), rp("x: !!binary '%%%'"), rp("x: 1e500"), rp("x: -1e500"),
		rp("x: 123456789012345678901234567890"), rp("x: 0x123456789012345678901234567890"), rp("x: !!int 1e3"),
		rp("x: !!timestamp 2001-13-45"), rp("x: *nope"), rp("x: &a [*a]"), rp("x: !!set {a}"), rp("x: !!omap [a: 1]"),
		rp("x: {a: 1, a: 2}"), rp("x: !!str [a]"), rp("x: !!int [a]"), rp("x: !!map [a]"), rp("x: !!seq {a: b}"),
		rp("x: !!null {a: b}"), rp("x: !!bool [a]"), rp("x: !foo {a: b}"), rp("x: !!float {a: b}"),
		mf("{[a]: b}"), mf("{~: a}"), mf("{1e500: a}"), mf("{a: 1e500}"), mf("!!int x"), mf("{a: !!binary '%'}"), mf("{y: b}"),
		mf("{a: 1, a: 2}"), mf("{on: a}"),
	} {
		if i == 26 {
			if _, err := Parse(Options{}, "in.yaml", []byte(in)); err == nil || !strings.Contains(err.Error(), "in.yaml:15: ") {
				t.Errorf("a list key in managedFields: error %v, want one at line 15", err)
			}
		}
		t.Run(strconv.Itoa(i), func(t *testing.T) { checkAsKubectl(t, in) })
	}
}
