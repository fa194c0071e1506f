package suppress

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/manifest"
)

const annotatedDoc = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  annotations:
    ignore.ward.dev/pod.writable-root-fs: "tmpfs at /tmp, nothing else written"
    ignore.ward.dev/pod.no-limits: ""
spec:
  template:
    metadata:
      labels: {app: web}
      annotations:
        ignore.ward.dev/pss.runAsNonRoot: "image runs as 65532"
    spec:
      containers: [{name: web, image: web:1}]
---
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  annotations:
    ignore.ward.dev/netpol.no-default-deny-egress: "egress gateway enforces it"
`

func TestApply(t *testing.T) {
	set, err := manifest.Load(manifest.Options{Stdin: strings.NewReader(annotatedDoc)}, "-")
	if err != nil {
		t.Fatal(err)
	}
	mk := func(rule, obj, file string) finding.Finding {
		return finding.Finding{Rule: rule, Severity: finding.Medium, Object: obj, File: file, Line: 3}
	}
	fs := []finding.Finding{
		mk("pod/writable-root-fs", "shop/Deployment/web", "deploy/web.yaml"),          // annotation
		mk("pss/runAsNonRoot", "shop/Deployment/web", "deploy/web.yaml"),              // template annotation, "." form
		mk("pod/no-limits", "shop/Deployment/web", "deploy/web.yaml"),                 // empty reason: not suppressed
		mk("netpol/no-default-deny-egress", "Namespace/shop", "deploy/ns.yaml"),       // namespace annotation
		mk("netpol/no-default-deny-ingress", "Namespace/shop", "deploy/ns.yaml"),      // other rule: not suppressed
		mk("pss/seccompProfile_restricted", "shop/Deployment/web", "deploy/web.yaml"), // ward.yaml glob
		mk("dockerfile/user-missing", "stage 1", "build/api/Dockerfile"),              // ward.yaml path
		mk("dockerfile/user-missing", "stage 1", "build/web/Dockerfile"),              // other path: not suppressed
		{Rule: "compose/privileged", Severity: finding.High, File: "compose.yaml", Object: "service lab",
			Suppressed: &finding.Suppression{By: "comment", Reason: "lab", Line: 4}}, // kept
	}
	ignores := []Ignore{
		{Rule: "pss/seccomp*", Object: "shop/*", Reason: "node default seccomp", Line: 10},
		{Rule: "dockerfile/user-missing", Path: "**/api/Dockerfile", Reason: "distroless nonroot base", Line: 14},
		{Rule: "compose/privileged", Reason: "also in config", Line: 18},
		{Rule: "pod/host-port", Reason: "stale", Line: 22},
	}
	got, stale := Apply(fs, set, ignores)
	want := []string{"annotation", "annotation", "", "annotation", "", "config", "config", "", "comment"}
	for i, w := range want {
		s := got[i].Suppressed
		switch {
		case w == "" && s != nil:
			t.Errorf("%s %s (%s): suppressed by %s, want not suppressed", got[i].Rule, got[i].Object, got[i].File, s.By)
		case w != "" && (s == nil || s.By != w):
			t.Errorf("%s %s (%s): suppression %+v, want by %s", got[i].Rule, got[i].Object, got[i].File, s, w)
		}
	}
	if got[0].Suppressed.Reason != "tmpfs at /tmp, nothing else written" || got[5].Suppressed.Line != 10 {
		t.Errorf("reasons/lines: %+v, %+v", got[0].Suppressed, got[5].Suppressed)
	}
	if len(got) != len(fs)+1 || got[len(fs)].Rule != RuleBadSuppression || got[len(fs)].Object != "shop/Deployment/web" {
		t.Fatalf("want one %s finding appended, got %+v", RuleBadSuppression, got[len(fs):])
	}
	if len(stale) != 1 || stale[0].Rule != "pod/host-port" {
		t.Errorf("stale = %+v, want only pod/host-port", stale)
	}
}

func TestMatchPath(t *testing.T) {
	tests := []struct {
		pattern, file string
		want          bool
	}{
		{"Dockerfile", "Dockerfile", true},
		// Anchored: a pattern does not match a trailing part of the
		// file, or an entry for a vendored directory would silence a
		// directory of that name added anywhere.
		{"Dockerfile", "build/api/Dockerfile", false},
		{"api/Dockerfile", "build/api/Dockerfile", false},
		{"build/api/Dockerfile", "build/api/Dockerfile", true},
		{"**/Dockerfile", "build/api/Dockerfile", true},
		{"**/api/Dockerfile", "build/api/Dockerfile", true},
		{"**/api/Dockerfile", "api/Dockerfile", true},
		{"**/api/Dockerfile", "build/web/Dockerfile", false},
		{"*.yaml", "deploy/web.yaml", false},
		{"**/*.yaml", "deploy/web.yaml", true},
		{"deploy/*.yaml", "deploy/web.yaml", true},
		{"./deploy/*.yaml", "deploy/web.yaml", true},
		{"deploy/*.yaml", "deploy/legacy/web.yaml", false},
		{"deploy/legacy/", "deploy/legacy/web.yaml", true},
		{"deploy/legacy/", "./deploy/legacy/web.yaml", true},
		{"legacy/", "deploy/legacy/x/web.yaml", false},
		{"legacy/", "legacy/x/web.yaml", true},
		{"third_party/", "apps/third_party/evil.yaml", false},
		{"**/legacy/", "deploy/legacy/x/web.yaml", true},
		{"**/legacy/", "deploy/legacyx/web.yaml", false},
		{"legacy/", "deploy/legacyx/web.yaml", false},
		{"web.yaml", "", false},
	}
	for _, tt := range tests {
		if got := matchPath(tt.pattern, tt.file); got != tt.want {
			t.Errorf("matchPath(%q, %q) = %v, want %v", tt.pattern, tt.file, got, tt.want)
		}
	}
}

func TestWildcard(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"pss/*", "pss/runAsNonRoot", true},
		{"pss/*", "pod/x", false},
		{"shop/*", "shop/Deployment/web", true},
		{"*/Deployment/web", "shop/Deployment/web", true},
		{"*/StatefulSet/*", "shop/Deployment/web", false},
		{"pod/?o-limits", "pod/no-limits", true},
		{"*", "", true},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"exact", "exact", true},
		{"exact", "exactly", false},
	}
	for _, tt := range tests {
		if got := wildcard(tt.pattern, tt.s); got != tt.want {
			t.Errorf("wildcard(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		ig   Ignore
		want string
	}{
		{Ignore{Rule: "pss/*", Reason: "r"}, ""},
		{Ignore{Reason: "r"}, "needs a rule"},
		{Ignore{Rule: "pss/*", Reason: "  "}, "needs a reason"},
		{Ignore{Rule: "pss/*", Path: "deploy/[", Reason: "r"}, "bad path pattern"},
		{Ignore{Rule: "pss/*", Path: "deploy/**/x.yaml", Reason: "r"}, `only taken as a leading "**/"`},
	}
	for _, tt := range tests {
		err := tt.ig.Validate()
		if (err == nil) != (tt.want == "") || err != nil && !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate(%+v) = %v, want %q", tt.ig, err, tt.want)
		}
	}
}

// TestApplyIngress checks that an Ingress's annotation suppresses its
// findings, and only its own.
func TestApplyIngress(t *testing.T) {
	doc := `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: shop
  annotations:
    ignore.ward.dev/exposure.ingress-no-tls: "TLS ends at the cloud load balancer"
spec:
  rules: [{host: shop.example.com}]
`
	set, err := manifest.Load(manifest.Options{Stdin: strings.NewReader(doc)}, "-")
	if err != nil {
		t.Fatal(err)
	}
	fs := []finding.Finding{
		{Rule: "exposure/ingress-no-tls", Severity: finding.Medium, Object: "shop/Ingress/web", File: "-", Line: 1},
		{Rule: "exposure/ingress-nginx-snippet", Severity: finding.High, Object: "shop/Ingress/web", File: "-", Line: 1},
		{Rule: "exposure/ingress-no-tls", Severity: finding.Medium, Object: "shop/Ingress/other", File: "-", Line: 1},
	}
	got, _ := Apply(fs, set, nil)
	if s := got[0].Suppressed; s == nil || s.By != "annotation" || s.Reason != "TLS ends at the cloud load balancer" {
		t.Errorf("ingress-no-tls of shop/Ingress/web: suppression %+v, want the annotation's", s)
	}
	if got[1].Suppressed != nil || got[2].Suppressed != nil {
		t.Errorf("other rule or other Ingress suppressed: %+v, %+v", got[1].Suppressed, got[2].Suppressed)
	}
}

// TestApplyConfigMap checks that a ConfigMap's annotation suppresses its
// findings, and that a Knative Service is suppressed by its own name.
func TestApplyConfigMap(t *testing.T) {
	doc := `apiVersion: v1
kind: ConfigMap
metadata:
  name: demo
  namespace: shop
  annotations:
    ignore.ward.dev/configmap.secret-in-data: "documentation example: the password is published on purpose"
data: {DEMO_PASSWORD: not-a-real-one}
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: fn
  namespace: shop
  annotations:
    ignore.ward.dev/pod.image-latest: "a preview build"
spec: {template: {spec: {containers: [{image: fn}]}}}
`
	set, err := manifest.Load(manifest.Options{Stdin: strings.NewReader(doc)}, "-")
	if err != nil {
		t.Fatal(err)
	}
	fs := []finding.Finding{
		{Rule: "configmap/secret-in-data", Severity: finding.High, Object: "shop/ConfigMap/demo", File: "-", Line: 8},
		{Rule: "configmap/secret-in-data", Severity: finding.High, Object: "shop/ConfigMap/other", File: "-", Line: 8},
		{Rule: "pod/image-latest", Severity: finding.Medium, Object: "shop/Service.serving.knative.dev/fn", File: "-", Line: 18},
		{Rule: "pod/image-latest", Severity: finding.Medium, Object: "shop/Service/fn", File: "-", Line: 18},
	}
	got, _ := Apply(fs, set, nil)
	if s := got[0].Suppressed; s == nil || s.By != "annotation" {
		t.Errorf("secret-in-data of shop/ConfigMap/demo: suppression %+v, want the annotation's", s)
	}
	if s := got[2].Suppressed; s == nil || s.Reason != "a preview build" {
		t.Errorf("image-latest of the Knative Service: suppression %+v, want the annotation's", s)
	}
	if got[1].Suppressed != nil || got[3].Suppressed != nil {
		t.Errorf("another ConfigMap or the core Service suppressed: %+v, %+v", got[1].Suppressed, got[3].Suppressed)
	}
}

// TestSlashFormRefused: the API server refuses an annotation key with a
// second "/", so the rule id's "/" is written "." (docs/rules.md); such a
// key is an input error at its line, not a suppression of an object that
// would never be applied.
func TestSlashFormRefused(t *testing.T) {
	doc := strings.Replace(annotatedDoc, "ignore.ward.dev/pod.writable-root-fs", "ignore.ward.dev/pod/writable-root-fs", 1)
	_, err := manifest.Load(manifest.Options{Stdin: strings.NewReader(doc)}, "-")
	if err == nil || !strings.Contains(err.Error(), "-:7:") || !strings.Contains(err.Error(), "invalid annotation key") {
		t.Fatalf("Load: %v; want an invalid annotation key at -:7", err)
	}
}

// TestIgnorePathRelativeToConfig: a path is matched from the directory of
// the ward.yaml that holds the entry (or as the file is printed), never
// against a trailing part of the file: an entry for the vendored
// directory deploy/third_party/ does not silence a third_party
// directory that a pull request adds elsewhere.
func TestIgnorePathRelativeToConfig(t *testing.T) {
	ig := Ignore{Rule: "*", Path: "third_party/", Reason: "vendored", File: filepath.Join("deploy", "ward.yaml"), Line: 3}
	for _, tt := range []struct {
		file string
		want bool
	}{
		{"deploy/third_party/up.yaml", true},
		{"deploy/apps/third_party/evil.yaml", false},
		{"deploy/x/third_party/Dockerfile", false},
		{"third_party/up.yaml", true}, // as printed, from the current directory
		{"other/third_party/up.yaml", false},
	} {
		f := finding.Finding{Rule: "pss/privileged", File: tt.file, Object: "default/Pod/web"}
		if got := ig.Matches(f); got != tt.want {
			t.Errorf("path %q of %s against %s: %v, want %v", ig.Path, ig.File, tt.file, got, tt.want)
		}
	}
	abs, err := filepath.Abs(filepath.Join("deploy", "third_party", "up.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !ig.Matches(finding.Finding{Rule: "pss/privileged", File: abs}) {
		t.Errorf("path %q of %s does not match %s", ig.Path, ig.File, abs)
	}
}
