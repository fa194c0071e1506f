package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParse checks that no input panics, that every error is an *Error
// with the file and a line inside it, and that cutting large Lists into
// items gives the same result as decoding them whole.
func FuzzParse(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: p}\n"))
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\nbinaryData: {k: aGk=}\n"))
	f.Add([]byte("apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: r}\nspec: {workloadRef: {kind: Deployment, name: d}}\n"))
	f.Add([]byte("apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: s}\nspec: {template: {spec: {containers: [{image: i, ports: [{containerPort: 8080}]}]}}}\n"))
	// Lone CRs are line breaks too: an error may be on line 3 here.
	f.Add([]byte("a: 1\r---\rb: [\r"))
	recoverPanics = false
	defer func() { recoverPanics = true }()
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		whole := fuzzParse(t, data, 1<<62)
		split := fuzzParse(t, data, 0)
		if diff := cmp.Diff(whole, split); diff != "" {
			t.Errorf("cutting Lists changed the result (-whole +split):\n%s", diff)
		}
	})
}

// fuzzParse parses data with the given List cutting threshold and returns
// a summary of the result.
func fuzzParse(t *testing.T, data []byte, min int) []string {
	defer func(old int) { splitMinBytes = old }(splitMinBytes)
	splitMinBytes = min
	s, err := Parse(Options{}, "fuzz.yaml", data)
	if s == nil {
		t.Fatal("nil Set")
	}
	// Line breaks are \n, \r\n or a lone \r, as in YAML.
	lines := bytes.Count(data, []byte("\n")) + 1
	for i, c := range data {
		if c == '\r' && (i+1 == len(data) || data[i+1] != '\n') {
			lines++
		}
	}
	var out []string
	for _, e := range joined(err) {
		var me *Error
		if !errors.As(e, &me) {
			t.Fatalf("error %v is not an *Error", e)
		}
		if me.File != "fuzz.yaml" || me.Line < 0 || me.Line > lines {
			t.Fatalf("error %v: location %s:%d outside the input of %d lines", e, me.File, me.Line, lines)
		}
		out = append(out, e.Error())
	}
	for _, o := range s.Objects {
		out = append(out, fmt.Sprintf("object %s %v", o.Kind, o.Source))
	}
	for _, k := range s.Skipped {
		pods := k.Pods
		k.Pods = nil
		out = append(out, fmt.Sprintf("skipped %+v", k))
		for _, w := range pods {
			j, err := json.Marshal(w.Template)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("pod %s %s %s", w.ID(), w.Embedded, j))
		}
	}
	for _, u := range s.Unsupported {
		out = append(out, fmt.Sprintf("unsupported %+v", u))
	}
	return out
}
