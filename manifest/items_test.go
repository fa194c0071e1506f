package manifest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// TestParseItemsOfAnyKind: kubectl and helm decode any object with a
// top-level items field as a List, whatever its kind (apimachinery's
// unstructured decoder), and apply its items, never the object: a Pod
// wrapped in a ConfigMap's items is created, and a NetworkPolicy carrying
// items: [] is never created. Ward reads them the same way, and names the
// wrapper that is not applied; items that are not a list are an error, as
// kubectl fails on them. Each case is also replayed through
// apimachinery's decoder to show that kubectl reads it so.
func TestParseItemsOfAnyKind(t *testing.T) {
	pod := "  - apiVersion: v1\n    kind: Pod\n    metadata: {name: p}\n    spec:\n      hostNetwork: true\n      containers: [{name: c, image: nginx}]\n"
	tests := []struct {
		name    string
		input   string
		objects []string // kind/name of what is read
		skipped []string // kind: reason prefix of what is not applied
		errLine int      // the line of the error, 0 for none
	}{
		{"pod in a ConfigMap's items",
			"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\nitems:\n" + pod,
			[]string{"Pod/p"}, []string{"ConfigMap"}, 0},
		{"policy with empty items is not applied",
			"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: deny\nspec:\n  podSelector: {}\nitems: []\n",
			nil, []string{"NetworkPolicy"}, 0},
		{"policy with null items is not applied",
			"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: deny\nspec:\n  podSelector: {}\nitems:\n",
			nil, []string{"NetworkPolicy"}, 0},
		{"items without a kind take the object's",
			"apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nitems:\n- metadata: {name: q}\n  spec:\n    containers: [{name: c, image: nginx}]\n",
			[]string{"Pod/q"}, []string{"Pod"}, 0},
		{"items that are a mapping",
			"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\nitems:\n  a: b\n",
			nil, nil, 5},
		{"a typed list whose items are a mapping",
			"apiVersion: v1\nkind: PodList\nmetadata: {}\nitems: {a: b}\n",
			nil, nil, 4},
		{"items of a custom resource",
			"apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nitems:\n" + pod,
			[]string{"Pod/p"}, []string{"Widget"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(Options{}, "in.yaml", []byte(tt.input))
			var got []string
			for _, o := range s.Objects {
				got = append(got, o.Kind+"/"+nameOf(o))
			}
			if diff := cmp.Diff(tt.objects, got); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
			var skipped []string
			for _, sk := range s.Skipped {
				skipped = append(skipped, sk.Kind)
			}
			if diff := cmp.Diff(tt.skipped, skipped); diff != "" {
				t.Errorf("skipped (-want +got):\n%s\n%+v", diff, s.Skipped)
			}
			var e *Error
			switch {
			case tt.errLine == 0 && err != nil:
				t.Errorf("error: %v", err)
			case tt.errLine != 0 && (!errors.As(err, &e) || e.Line != tt.errLine || !errors.Is(err, ErrType)):
				t.Errorf("error %v, want a type error at line %d", err, tt.errLine)
			}

			// What kubectl makes of it.
			js, jerr := yaml.YAMLToJSON([]byte(tt.input))
			if jerr != nil {
				t.Fatal(jerr)
			}
			obj, _, derr := unstructured.UnstructuredJSONScheme.Decode(js, nil, nil)
			if tt.errLine != 0 {
				if derr == nil {
					t.Errorf("kubectl decodes it: %T", obj)
				}
				return
			}
			if derr != nil {
				t.Fatal(derr)
			}
			list, ok := obj.(*unstructured.UnstructuredList)
			if !ok {
				t.Fatalf("kubectl reads a %T, not a list", obj)
			}
			var applied []string
			for _, it := range list.Items {
				applied = append(applied, it.GetKind()+"/"+it.GetName())
			}
			if diff := cmp.Diff(tt.objects, applied); diff != "" {
				t.Errorf("kubectl applies (-ward +kubectl):\n%s", diff)
			}
		})
	}
}

func nameOf(o Object) string {
	if m, ok := o.Obj.(interface{ GetName() string }); ok {
		return m.GetName()
	}
	return fmt.Sprintf("%T", o.Obj)
}

// TestParseDuplicateTopLevelKeys: kubectl converts YAML and JSON with
// duplicate keys without complaint and keeps the last value, so a List
// whose second items key holds a Pod, or an object whose second kind is
// Pod, applies that Pod. Ward read the first and passed: every object
// (a List included) with a top-level key written twice is an input error
// at the second, as a duplicate key inside an object already is.
func TestParseDuplicateTopLevelKeys(t *testing.T) {
	const pod = "{apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {hostNetwork: true, containers: [{name: c, image: x}]}}"
	tests := []struct {
		name  string
		input string
		line  int
	}{
		{"items of a List", "apiVersion: v1\nkind: List\nitems: []\nitems:\n- " + pod + "\n", 4},
		{"items of a JSON List", `{"apiVersion": "v1", "kind": "List", "items": [],` + "\n" + `"items": [` + pod + "]}\n", 2},
		{"kind", "apiVersion: v1\nkind: Foo\nmetadata: {name: p}\nspec: {hostNetwork: true, containers: [{name: c, image: x}]}\nkind: Pod\n", 5},
		{"apiVersion", "apiVersion: example.com/v1\nkind: Pod\nmetadata: {name: p}\nspec: {hostNetwork: true, containers: [{name: c, image: x}]}\napiVersion: v1\n", 5},
		{"kind of a List item", "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Foo\n  metadata: {name: p}\n  spec: {hostNetwork: true, containers: [{name: c, image: x}]}\n  kind: Pod\n", 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// kubectl reads it, taking the last value.
			js, err := yaml.YAMLToJSON([]byte(tt.input))
			if err != nil {
				t.Fatalf("kubectl rejects it: %v", err)
			}
			if !strings.Contains(string(js), `"Pod"`) || !strings.Contains(string(js), `"hostNetwork":true`) {
				t.Fatalf("kubectl does not read the Pod: %s", js)
			}
			s, err := Parse(Options{}, "in.yaml", []byte(tt.input))
			var e *Error
			if !errors.As(err, &e) || e.Line != tt.line || !errors.Is(err, ErrSyntax) {
				t.Errorf("error %v, want a syntax error at line %d", err, tt.line)
			}
			if len(s.Objects) != 0 || len(s.Skipped) != 0 {
				t.Errorf("read %+v, skipped %+v: want nothing", s.Objects, s.Skipped)
			}
		})
	}
}

// TestParseListItemWithoutKind: an item of a List without apiVersion or
// kind, or that is not a mapping, and a document that is a list of
// objects, were skipped as "not a Kubernetes object" and the check
// passed. kubectl and helm fail on it (apimachinery
// gives the item no kind, "Object 'Kind' is missing"): it is an input
// error at the item's line, as a typed list's item still takes the
// list's kind.
func TestParseListItemWithoutKind(t *testing.T) {
	tests := []struct {
		name, input string
		errLine     int
	}{
		{"YAML List", "apiVersion: v1\nkind: List\nitems:\n- metadata: {name: p}\n  spec: {hostPID: true, containers: [{name: c, image: x}]}\n", 4},
		{"kind without apiVersion", "apiVersion: v1\nkind: List\nitems:\n- kind: Pod\n  metadata: {name: p}\n  spec: {hostPID: true, containers: [{name: c, image: x}]}\n", 4},
		{"List in a List", "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: List\n  items:\n  - metadata: {name: p}\n    spec: {hostPID: true, containers: [{name: c, image: x}]}\n", 7},
		{"JSON List", `{"apiVersion": "v1", "kind": "List", "items": [` + "\n" + `{"metadata": {"name": "p"}, "spec": {"hostPID": true, "containers": [{"name": "c", "image": "x"}]}}]}` + "\n", 2},
		{"scalar item", "apiVersion: v1\nkind: List\nitems:\n- pod.yaml\n", 4},
		// Not a List at all: a document that is a list of objects, which
		// kubectl fails on too (other lists, such as an Ansible playbook,
		// are still skipped as not Kubernetes objects).
		{"list of objects", "- apiVersion: v1\n  kind: Pod\n  metadata: {name: p}\n  spec: {hostPID: true, containers: [{name: c, image: x}]}\n", 1},
		{"JSON array of objects", `[{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"hostPID": true, "containers": [{"name": "c", "image": "x"}]}}]` + "\n", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(Options{}, "in.yaml", []byte(tt.input))
			var e *Error
			if !errors.As(err, &e) || e.Line != tt.errLine || !errors.Is(err, ErrType) {
				t.Errorf("error %v, want a type error at line %d", err, tt.errLine)
			}
			if len(s.Skipped) != 0 || len(s.Objects) != 0 {
				t.Errorf("skipped %+v, objects %+v: want neither", s.Skipped, s.Objects)
			}
		})
	}
	s, err := Parse(Options{}, "playbook.yaml", []byte("- hosts: all\n  tasks: []\n"))
	if err != nil || len(s.Skipped) != 1 {
		t.Errorf("a playbook: error %v, skipped %+v; want it skipped", err, s.Skipped)
	}
	// What kubectl makes of the first: an item with no kind.
	js, err := yaml.YAMLToJSON([]byte(tests[0].input))
	if err != nil {
		t.Fatal(err)
	}
	obj, _, err := unstructured.UnstructuredJSONScheme.Decode(js, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if list, ok := obj.(*unstructured.UnstructuredList); !ok || len(list.Items) != 1 || list.Items[0].GetKind() != "" {
		t.Errorf("kubectl reads %#v", obj)
	}
}
