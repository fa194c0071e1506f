package authz

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardsec/ward/istio"
)

func TestLoad(t *testing.T) {
	data, err := os.ReadFile("testdata/policies.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ps, err := Load("testdata/policies.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.Namespace+"/"+p.Name+" "+p.Action())
	}
	want := []string{
		"foo/httpbin ALLOW",
		"foo/deny-admin DENY",
		"istio-system/audit-all AUDIT",
		"foo/from-list ALLOW",
		"foo/with-alias ALLOW",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
	alias := ps[4].Spec.Rules[0].To[0].Operation
	if diff := cmp.Diff(istio.Operation{Methods: []string{"GET", "HEAD"}, Paths: []string{"/api/*"}}, alias); diff != "" {
		t.Errorf("operation built from an alias and a merge key (-want +got):\n%s", diff)
	}
	if got := ps[0].Labels["team"]; got != "shop" {
		t.Errorf("labels[team] = %q, want shop", got)
	}
}

// TestLoadErrors checks that bad policies are refused at the right line,
// with an error of the right kind.
func TestLoadErrors(t *testing.T) {
	const head = "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: p\n  namespace: foo\n"
	for _, tc := range []struct {
		name string
		yaml string
		line int
		kind error
		text string // in the message
	}{
		{"custom", head + "spec:\n  action: CUSTOM\n  provider:\n    name: opa\n  rules: [{}]\n", 7, ErrCustom,
			"CUSTOM needs an external authorizer, which ward does not call"},
		{"unknown field", head + "spec:\n  rules:\n  - to:\n    - operation:\n        path: [\"/admin\"]\n", 10, ErrUnknownField, `unknown field "path"`},
		{"unknown top field", head + "spec:\n  actions: DENY\n", 7, ErrUnknownField, `unknown field "actions"`},
		{"number for string", head + "spec:\n  rules:\n  - to:\n    - operation:\n        ports: [8080]\n", 10, ErrUnknownField, `quote it: "8080"`},
		{"bad port", head + "spec:\n  rules:\n  - to:\n    - operation:\n        ports:\n        - \"80\"\n        - \"http\"\n", 12, ErrInvalid, `port "http"`},
		{"bad action", head + "spec:\n  action: REJECT\n  rules: [{}]\n", 7, ErrInvalid, `unknown action "REJECT"`},
		{"bad CIDR", head + "spec:\n  rules:\n  - from:\n    - source:\n        ipBlocks: [\"10.0.0.0/33\"]\n", 10, ErrInvalid, "bad IP address or CIDR"},
		{"deny without rules", head + "spec:\n  action: DENY\n", 6, ErrInvalid, "rules: [{}]"},
		{"empty source", head + "spec:\n  rules:\n  - from:\n    - source: {}\n", 9, ErrInvalid, "must not be empty"},
		{"empty operation", head + "spec:\n  rules:\n  - to:\n    - operation: {}\n", 9, ErrInvalid, "must not be empty"},
		{"null rule", head + "spec:\n  rules:\n  -\n", 8, ErrUnknownField, "empty list item"},
		{"unknown key", head + "spec:\n  rules:\n  - when:\n    - key: request.size\n      values: [\"1\"]\n", 9, ErrInvalid, `unknown attribute "request.size"`},
		{"envoy metadata", head + "spec:\n  rules:\n  - when:\n    - key: experimental.envoy.filters.a[b]\n      values: [\"1\"]\n", 9, ErrUnsupported, "not supported"},
		{"when without values", head + "spec:\n  rules:\n  - when:\n    - key: source.ip\n", 9, ErrInvalid, "at least one of values or notValues"},
		{"bad template", head + "spec:\n  rules:\n  - to:\n    - operation:\n        paths: [\"/a/{*}/{name}\"]\n", 10, ErrInvalid, "path template"},
		{"empty value", head + "spec:\n  rules:\n  - to:\n    - operation:\n        methods: [\"\"]\n", 10, ErrInvalid, "empty value"},
		{"duplicate key", head + "spec:\n  action: ALLOW\n  action: DENY\n  rules: [{}]\n", 8, ErrSyntax, `"action" defined twice`},
		{"unknown version", "apiVersion: security.istio.io/v2\nkind: AuthorizationPolicy\nmetadata: {name: p}\n", 1, ErrSyntax, "unsupported apiVersion"},
		{"no name", "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  namespace: foo\n", 3, ErrSyntax, "metadata.name is required"},
		{"syntax", "apiVersion: v1\nkind: ConfigMap\n---\n" + head + "spec:\n  rules: [{]\n", 10, ErrSyntax, "did not find expected"},
		{"not a mapping", "- a\n- b\n", 1, ErrSyntax, "must be a mapping"},
		{"self alias", head + "spec: &a\n  rules: [*a]\n", 7, ErrSyntax, "refers to itself"},
		{"unknown top field", head + "sepc:\n  action: DENY\n", 6, ErrUnknownField, `unknown field "sepc"`},
		{"misspelt kind", "apiVersion: security.istio.io/v1\nkind: AuthorisationPolicy\nmetadata: {name: p}\n", 2, ErrSyntax, `unknown kind "AuthorisationPolicy"`},
		{"group in upper case", "apiVersion: Security.Istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p}\nspec: {action: DENY, rules: [{}]}\n", 1, ErrSyntax, "API groups are lower case"},
		{"no apiVersion", "kind: AuthorizationPolicy\nmetadata: {name: p}\n", 1, ErrSyntax, "without apiVersion"},
		{"misspelt namespace", "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: p\n  namepsace: public\nspec: {rules: [{}]}\n", 5, ErrUnknownField, `metadata: unknown field "namepsace"`},
		{"label not a string", "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: p\n  labels:\n    version: 2\n", 6, ErrUnknownField, "metadata.labels.version: want a string"},
		{"twice", head + "spec: {}\n---\n" + head + "spec: {}\n", 8, ErrSyntax, "defined twice (first at line 1)"},
		{"alias bomb", "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n", 1, ErrSyntax, "too many aliases"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load("p.yaml", []byte(tc.yaml))
			var le *Error
			if !errors.As(err, &le) {
				t.Fatalf("Load error = %v, want *Error", err)
			}
			if le.File != "p.yaml" || le.Line != tc.line || !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("Load error = %v (line %d), want line %d, kind %v, containing %q", err, le.Line, tc.line, tc.kind, tc.text)
			}
		})
	}
}

func TestLoadSkipsOtherKinds(t *testing.T) {
	ps, err := Load("mixed.yaml", []byte(`# comment only
---
apiVersion: v1
kind: Service
metadata: {name: httpbin}
spec: {ports: [{port: 80}]}
---
apiVersion: networksecurity.gke.io/v1
kind: AuthorizationPolicy
spec: {anything: [1, 2]}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: strict}
spec: {mtls: {mode: STRICT}}
---
`))
	if err != nil || len(ps) != 0 {
		t.Errorf("Load = %v, %v; want no policies and no error", ps, err)
	}
}

func TestLoadSeveralErrors(t *testing.T) {
	_, err := Load("two.yaml", []byte(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: a}
spec:
  rules:
  - to: [{operation: {hosts: ["a"], verbs: ["GET"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: b}
spec: {action: CUSTOM, provider: {name: opa}, rules: [{}]}
`))
	got := strings.Split(err.Error(), "\n")
	want := []string{
		`two.yaml:6: spec.rules[0].to[0].operation: unknown field "verbs" (known: hosts, methods, notHosts, notMethods, notPaths, notPorts, paths, ports)`,
		`two.yaml:11: policy b: spec.action: CUSTOM needs an external authorizer, which ward does not call`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load errors (-want +got):\n%s", diff)
	}
}

func TestCompileErrors(t *testing.T) {
	good := &istio.AuthorizationPolicy{}
	good.Name, good.Namespace = "good", "foo"
	custom := &istio.AuthorizationPolicy{Spec: istio.AuthorizationPolicySpec{Action: istio.ActionCustom, Provider: &istio.Provider{Name: "opa"}, Rules: []istio.Rule{{}}}}
	custom.Name, custom.Namespace = "ext", "other"
	_, err := Compile([]*istio.AuthorizationPolicy{good, custom, good}, Workload{Namespace: "foo"})
	if !errors.Is(err, ErrCustom) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("Compile error = %v, want ErrCustom (even unselected) and ErrInvalid (duplicate)", err)
	}
	want := "policy other/ext: spec.action: CUSTOM needs an external authorizer, which ward does not call\npolicy foo/good: defined twice"
	if err.Error() != want {
		t.Errorf("Compile error =\n%v\nwant\n%s", err, want)
	}
}

// TestLoadServiceAccountNamespace: a service account without a namespace
// takes the policy's; a policy without one has none to lend, and the
// value would match no peer (a DENY that denies nobody).
func TestLoadServiceAccountNamespace(t *testing.T) {
	const doc = "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p%s}\nspec:\n  action: DENY\n  rules:\n  - from: [{source: {serviceAccounts: [%s]}}]\n"
	for _, tc := range []struct {
		ns, sa string
		ok     bool
	}{
		{", namespace: foo", "sleep", true},
		{"", "foo/sleep", true},
		{"", "sleep", false},
		{", namespace: foo", "sleep-*", false},
	} {
		_, err := Load("p.yaml", fmt.Appendf(nil, doc, tc.ns, tc.sa))
		if (err == nil) != tc.ok {
			t.Errorf("namespace %q, service account %q: error %v, want ok %v", tc.ns, tc.sa, err, tc.ok)
		}
		var e *Error
		if err != nil && (!errors.As(err, &e) || e.Line != 7) {
			t.Errorf("service account %q: error %v, want one at line 7", tc.sa, err)
		}
	}
}
