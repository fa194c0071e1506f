package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
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

// TestParseResolvedKeys: sigs.k8s.io/yaml reads a mapping key as it reads
// a value: a !!binary key is the string of its bytes, an alias key the key
// its anchor names. Ward kept the base64 text as the key, an unknown field
// it dropped: spec: {!!binary aG9zdFBJRA==: true} passed, and kubectl
// applies hostPID: true. Each case is checked against sigs.k8s.io/yaml.
func TestParseResolvedKeys(t *testing.T) {
	tests := []struct {
		name, spec string
		errLine    int // 0: read as kubectl reads it
	}{
		{"binary key", "  !!binary aG9zdFBJRA==: true\n", 0},
		{"long binary tag", "  !<tag:yaml.org,2002:binary> aG9zdFBJRA==: true\n", 0},
		{"alias key", "  nodeSelector: {*l : x}\n", 0},
		{"alias key to a binary anchor", "  nodeSelector: {&b !!binary YXBw : x}\n  tolerations: [{key: *b , operator: Exists}]\n", 0},
		// kubectl applies the last; a key written twice is an input error.
		{"binary key beside the key", "  hostNetwork: false\n  !!binary aG9zdE5ldHdvcms=: true\n", 8},
		{"not base64", "  !!binary aG9zd*: true\n", 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels: {&l app: web}\nspec:\n" + tt.spec + "  containers: [{name: c, image: x}]\n")
			js, kerr := yaml.YAMLToJSON(in)
			s, err := Parse(Options{}, "in.yaml", in)
			if tt.errLine != 0 {
				var e *Error
				if !errors.As(err, &e) || e.Line != tt.errLine {
					t.Errorf("error %v (kubectl: %v), want one at line %d", err, kerr, tt.errLine)
				}
				return
			}
			if err != nil || kerr != nil {
				t.Fatal(err, kerr)
			}
			var want corev1.Pod
			if err := json.Unmarshal(js, &want); err != nil {
				t.Fatal(err)
			}
			if len(s.Workloads) != 1 {
				t.Fatalf("workloads %+v", s.Workloads)
			}
			got := s.Workloads[0].Template.Spec
			if got.HostPID != want.Spec.HostPID || !maps.Equal(got.NodeSelector, want.Spec.NodeSelector) || len(got.Tolerations) != len(want.Spec.Tolerations) ||
				len(got.Tolerations) > 0 && got.Tolerations[0].Key != want.Spec.Tolerations[0].Key {
				t.Errorf("hostPID %v, nodeSelector %v, tolerations %v; kubectl's %v, %v, %v", got.HostPID, got.NodeSelector, got.Tolerations,
					want.Spec.HostPID, want.Spec.NodeSelector, want.Spec.Tolerations)
			}
		})
	}
}

// TestParseYAML11Keys: sigs.k8s.io/yaml, kubectl's and helm's reader,
// resolves plain mapping keys as YAML 1.1 does and writes them back as
// strings: on: and Yes: become "true", 0x1: "1", 1.50: "1.5". Ward kept
// them as written, so a default-deny policy with matchLabels {on: x}
// isolated the pods labelled "on": x in Ward's model, while the cluster's
// policy selects the label true=x and leaves them open. Each case is
// checked against sigs.k8s.io/yaml; in block and flow style, as the fast
// parser and yaml.v3 read them.
func TestParseYAML11Keys(t *testing.T) {
	tests := []struct {
		name, labels string
		errLine      int // an error at this line in block style, 0 for none
	}{
		{"on", "on: x", 0},
		{"Yes", "Yes: x", 0},
		{"n", "n: x", 0},
		{"True", "True: x", 0},
		{"hex", "0x1: x", 0},
		{"octal", "0o17: x", 0},
		{"old octal", "017: x", 0},
		{"underscores", "1_000: x", 0},
		{"float", "1.50: x", 0},
		{"exponent", "1e3: x", 0},
		{"timestamp", "2001-12-14: x", 0},
		{"quoted", `"on": x`, 0},
		{"single quoted", `'0x1': x`, 0},
		{"tagged", "!!str on: x", 0},
		{"plain strings", "app: x", 0},
		{"null", "~: x", 6},
		// Read as kubectl reads it, 1e+20, which is no label key the API
		// server takes (see refused below).
		{"beyond 64 bits, a float", "99999999999999999999: x", 0},
		{"unsigned 64 bits", "18446744073709551615: x", 6},
		// kubectl sends one of the two, whichever its map yields last.
		{"on beside true", `on: x` + "\n    \"true\": z", 7},
	}
	for _, tt := range tests {
		for _, style := range []string{"block", "flow"} {
			if style == "flow" && strings.Contains(tt.labels, "\n") {
				continue
			}
			t.Run(tt.name+"/"+style, func(t *testing.T) {
				labels := "\n    " + tt.labels
				if style == "flow" {
					labels = " {" + tt.labels + "}"
				}
				in := []byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels:" + labels + "\nspec:\n  containers: [{name: c, image: x}]\n")
				js, kerr := yaml.YAMLToJSON(in)
				s, err := Parse(Options{}, "in.yaml", in)
				if tt.errLine != 0 {
					line := tt.errLine
					if style == "flow" {
						line = 5
					}
					var e *Error
					if !errors.As(err, &e) || e.Line != line {
						t.Errorf("error %v (kubectl: %v), want one at line %d", err, kerr, line)
					}
					if kerr == nil && tt.name != "on beside true" {
						t.Errorf("kubectl reads it: %s", js)
					}
					return
				}
				if refused := tt.name == "beyond 64 bits, a float"; refused {
					var fe FieldError
					if !errors.As(err, &fe) || fe.Path != "metadata.labels.1e+20" {
						t.Errorf("error %v, want the label key 1e+20 refused", err)
					}
					err = nil
				}
				if err != nil || kerr != nil {
					t.Fatal(err, kerr)
				}
				var want corev1.Pod
				if err := json.Unmarshal(js, &want); err != nil {
					t.Fatal(err)
				}
				if len(s.Workloads) != 1 {
					t.Fatalf("workloads %+v", s.Workloads)
				}
				if got := s.Workloads[0].Labels; !maps.Equal(got, want.Labels) {
					t.Errorf("labels %v, kubectl's %v", got, want.Labels)
				}
			})
		}
	}
}

// TestParseMergeKeyOrder: sigs.k8s.io/yaml reads merge keys as yaml.v2
// does, in the order of the text: a merge after a key overrides it, a key
// after a merge overrides the merged value, and of a merged list the first
// mapping wins. Ward read them as yaml.v3, where the mapping's own keys
// always win: securityContext {privileged: false, <<: {privileged: true}}
// passed as unprivileged, and kubectl applies a privileged container. Each
// case is checked against sigs.k8s.io/yaml.
func TestParseMergeKeyOrder(t *testing.T) {
	tests := []struct {
		name, sc   string
		privileged bool
	}{
		{"merge after the key", "privileged: false\n      <<: {privileged: true}", true},
		{"key after the merge", "<<: {privileged: true}\n      privileged: false", false},
		{"two merges", "<<: {privileged: false}\n      <<: {privileged: true}", true},
		{"merged list, first wins", "<<: [{privileged: true}, {privileged: false}]", true},
		{"merged list after the key", "privileged: false\n      <<: [{allowPrivilegeEscalation: true}, {privileged: true}]", true},
		{"nested merge", "privileged: false\n      <<: {<<: {privileged: true}}", true},
		{"anchor", "privileged: false\n      <<: *on", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations: &on {privileged: \"true\"}\nspec:\n  containers:\n  - name: c\n    image: x\n    securityContext:\n      " + tt.sc + "\n")
			if strings.Contains(tt.sc, "*on") {
				in = bytes.Replace(in, []byte(`&on {privileged: "true"}`), []byte(`{a: b}`), 1)
				in = bytes.Replace(in, []byte("spec:\n"), []byte("x-priv: &on {privileged: true}\nspec:\n"), 1)
			}
			js, err := yaml.YAMLToJSON(in)
			if err != nil {
				t.Fatal(err)
			}
			var want corev1.Pod
			if err := json.Unmarshal(js, &want); err != nil {
				t.Fatal(err)
			}
			if p := want.Spec.Containers[0].SecurityContext.Privileged; p == nil || *p != tt.privileged {
				t.Fatalf("kubectl reads privileged %v, the test wants %v", p, tt.privileged)
			}
			s, err := Parse(Options{}, "in.yaml", in)
			if err != nil {
				t.Fatal(err)
			}
			p := s.Workloads[0].Template.Spec.Containers[0].SecurityContext.Privileged
			if p == nil || *p != tt.privileged {
				t.Errorf("privileged %v, want %v as kubectl reads it", p, tt.privileged)
			}
		})
	}
}
