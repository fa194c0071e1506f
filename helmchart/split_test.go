package helmchart

import (
	"bytes"
	"errors"
	"io"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	yaml3 "go.yaml.in/yaml/v3"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
	"sigs.k8s.io/yaml"
)

// TestHelmDocumentSplit: helm cuts a template's output into documents at
// every line that starts with "---" (releaseutil.SplitManifests), also
// when more follows on the line, where YAML sees no document marker: a
// template whose Pod starts with "---apiVersion: v1" is installed as a
// Pod, which YAML reads as a document with a "---apiVersion" key. Render
// hands Ward the documents helm installs: decoded as YAML, its output
// holds what helm's own split holds, and the lines of the Pod map to the
// template's.
func TestHelmDocumentSplit(t *testing.T) {
	const pod = "kind: Pod\nmetadata:\n  name: %s\nspec:\n  hostNetwork: true\n  containers:\n  - name: c\n    image: x\n"
	tests := []struct {
		name     string
		template string
		kindLine int // the template line of the first Pod's kind, 0 for none
	}{
		{"marker glued to the first key", "---apiVersion: v1\n" + strings.Replace(pod, "%s", "a", 1), 2},
		{"glued after another object", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---apiVersion: v1\n" + strings.Replace(pod, "%s", "b", 1), 5},
		{"spaces then a flow mapping", "---  {apiVersion: v1, kind: Pod, metadata: {name: c}, spec: {hostNetwork: true, containers: [{name: c, image: x}]}}\n", 0},
		{"comment on the marker line", "--- # the pod\napiVersion: v1\n" + strings.Replace(pod, "%s", "d", 1), 3},
		{"crlf", strings.ReplaceAll("---apiVersion: v1\n"+strings.Replace(pod, "%s", "e", 1), "\n", "\r\n"), 2},
		{"plain", "apiVersion: v1\n" + strings.Replace(pod, "%s", "f", 1), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := write(t, map[string]string{
				"Chart.yaml":       "apiVersion: v2\nname: app\nversion: 0.1.0\n",
				"templates/x.yaml": tt.template,
				"templates/_h.tpl": "{{- define \"x\" }}{{ end }}\n",
				"templates/z.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: z}\n",
			})
			c, err := Render(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var tpl *Template
			for i := range c.Templates {
				if c.Templates[i].Name == "app/templates/x.yaml" {
					tpl = &c.Templates[i]
				}
			}
			if tpl == nil {
				t.Fatal("template not rendered")
			}
			// What helm installs: its split of the rendered text (here the
			// template as written), in order.
			split := releaseutil.SplitManifests(tt.template)
			keys := make([]string, 0, len(split))
			for k := range split {
				keys = append(keys, k)
			}
			sort.Sort(releaseutil.BySplitManifestsOrder(keys))
			var want []map[string]any
			for _, k := range keys {
				var m map[string]any
				if err := yaml.Unmarshal([]byte(split[k]), &m); err != nil {
					t.Fatalf("helm cannot read %q: %v", split[k], err)
				}
				if m != nil {
					want = append(want, m)
				}
			}
			// What Ward reads: the YAML documents of Render's output.
			var got []map[string]any
			dec := yaml3.NewDecoder(bytes.NewReader(tpl.Data))
			kindLine := 0
			for {
				var n yaml3.Node
				if err := dec.Decode(&n); errors.Is(err, io.EOF) {
					break
				} else if err != nil {
					t.Fatalf("%v\n%s", err, tpl.Data)
				}
				var m map[string]any
				if err := n.Decode(&m); err != nil {
					t.Fatal(err)
				}
				if m == nil {
					continue
				}
				got = append(got, m)
				if root := n.Content[0]; m["kind"] == "Pod" && kindLine == 0 {
					for i := 0; i+1 < len(root.Content); i += 2 {
						if root.Content[i].Value == "kind" {
							kindLine = tpl.Line(root.Content[i].Line)
						}
					}
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("documents (-helm +ward):\n%s\n%s", diff, tpl.Data)
			}
			if tt.kindLine != 0 && kindLine != tt.kindLine {
				t.Errorf("the Pod's kind is at template line %d, want %d", kindLine, tt.kindLine)
			}
		})
	}
}

// TestNotesSuffix: helm install leaves out of what it installs every
// rendered file whose name ends in NOTES.txt (action.renderResources),
// not only templates/NOTES.txt: Ward read templates/UPGRADE-NOTES.txt as
// manifests, failing the check on its prose or auditing what helm never
// installs.
func TestNotesSuffix(t *testing.T) {
	dir := write(t, map[string]string{
		"Chart.yaml":                  "apiVersion: v2\nname: app\nversion: 0.1.0\n",
		"templates/NOTES.txt":         "Thanks for installing.\n",
		"templates/UPGRADE-NOTES.txt": "Upgrading: {{ .Release.Name }} moves: to a new: layout\n",
		"templates/cm.yaml":           "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
	})
	c, err := Render(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tpl := range c.Templates {
		got = append(got, tpl.Name)
	}
	if diff := cmp.Diff([]string{"app/templates/cm.yaml"}, got); diff != "" {
		t.Errorf("templates (-want +got):\n%s", diff)
	}
}
