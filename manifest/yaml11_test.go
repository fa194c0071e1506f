package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// TestParseYAML11Booleans: kubectl and helm convert YAML to JSON with
// sigs.k8s.io/yaml, which reads the plain scalars y, yes, on, n, no, off
// (in their YAML 1.1 spellings) as booleans, where yaml.v3 reads strings.
// A default-deny NetworkPolicy labelled managed: yes is refused by the API
// server (a label is a string), so the namespace is not isolated, but Ward
// counted the policy; a Pod with hostNetwork: on runs on the host network,
// and Ward refused it as a type error. Ward now reads them as kubectl
// does; quoted, they stay strings. Each case is checked against
// sigs.k8s.io/yaml and the typed decode the API server makes.
func TestParseYAML11Booleans(t *testing.T) {
	const pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels: {app: %s}\nspec:\n  hostNetwork: %s\n  containers:\n  - name: c\n    image: x\n    env: [{name: E, value: %s}]\n"
	tests := []struct {
		name        string
		label, host string
		env         string
		errLine     int  // a type error at this line, 0 for none
		hostNetwork bool // when it loads
	}{
		{"on is true", "web", "on", "'1'", 0, true},
		{"Yes is true", "web", "Yes", "'1'", 0, true},
		{"y is true", "web", "y", "'1'", 0, true},
		{"OFF is false", "web", "OFF", "'1'", 0, false},
		{"an env value yes", "web", "false", "yes", 11, false},
		{"a label value on", "on", "false", "'1'", 5, false},
		{"quoted, strings", "'on'", "false", `"yes"`, 0, false},
		{"a tagged string", "!!str on", "false", "!!str yes", 0, false},
		{"other spellings are strings", "yEs", "false", "oN", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(fmt.Sprintf(pod, tt.label, tt.host, tt.env))
			// What the API server gets from kubectl.
			js, err := yaml.YAMLToJSON(in)
			if err != nil {
				t.Fatal(err)
			}
			var want corev1.Pod
			apiErr := json.Unmarshal(js, &want)
			if (apiErr != nil) != (tt.errLine != 0) {
				t.Fatalf("the API server's decode: %v, want an error %v", apiErr, tt.errLine != 0)
			}

			s, err := Parse(Options{}, "in.yaml", in)
			var e *Error
			if tt.errLine != 0 {
				if !errors.As(err, &e) || e.Line != tt.errLine || !errors.Is(err, ErrType) {
					t.Errorf("error %v, want a type error at line %d", err, tt.errLine)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Workloads) != 1 {
				t.Fatalf("workloads %+v", s.Workloads)
			}
			w := s.Workloads[0]
			if w.HostNetwork != tt.hostNetwork || w.HostNetwork != want.Spec.HostNetwork {
				t.Errorf("hostNetwork %v, want %v (kubectl: %v)", w.HostNetwork, tt.hostNetwork, want.Spec.HostNetwork)
			}
			if got := w.Labels["app"]; got != want.Labels["app"] {
				t.Errorf("label %q, kubectl's %q", got, want.Labels["app"])
			}
			if got := w.Template.Spec.Containers[0].Env[0].Value; got != want.Spec.Containers[0].Env[0].Value {
				t.Errorf("env %q, kubectl's %q", got, want.Spec.Containers[0].Env[0].Value)
			}
		})
	}
}

// TestParseBinaryTag: kubectl and helm decode a !!binary scalar to the
// string of its bytes, so a policy's podSelector app: !!binary d2Vi
// selects the pods labelled app: web; Ward read "d2Vi". Invalid base64 is
// an error for both.
func TestParseBinaryTag(t *testing.T) {
	tests := []struct {
		name, value string
		errLine     int
	}{
		{"label", "!!binary d2Vi", 0},
		{"long tag", "!<tag:yaml.org,2002:binary> d2Vi", 0},
		{"not base64", "!!binary d2V*", 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: p\nspec:\n  podSelector:\n    matchLabels: {app: " + tt.value + "}\n")
			_, kerr := yaml.YAMLToJSON(in)
			s, err := Parse(Options{}, "in.yaml", in)
			if tt.errLine != 0 {
				var e *Error
				if kerr == nil || !errors.As(err, &e) || e.Line != tt.errLine {
					t.Errorf("error %v (kubectl: %v), want one at line %d", err, kerr, tt.errLine)
				}
				return
			}
			if err != nil || kerr != nil {
				t.Fatal(err, kerr)
			}
			if got := s.Policies[0].Spec.PodSelector.MatchLabels["app"]; got != "web" {
				t.Errorf("app %q, want web as kubectl reads it", got)
			}
		})
	}
}
