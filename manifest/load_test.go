package manifest

import (
	"errors"
	"fmt"
	"github.com/wardsec/ward/istio"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

// joined returns the errors joined in err.
func joined(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestLoadBadInput(t *testing.T) {
	tests := []struct {
		file string
		line int
		kind error
	}{
		{"syntax-indent.yaml", 5, ErrSyntax},
		{"syntax-flow.yaml", 11, ErrSyntax},
		{"syntax-tab.yaml", 4, ErrSyntax},
		{"syntax.json", 4, ErrSyntax},
		{"duplicate-key.yaml", 9, ErrSyntax},
		{"alias-loop.yaml", 5, ErrSyntax},
		{"unknown-anchor.yaml", 11, ErrSyntax},
		{"type-port-list.yaml", 10, ErrType},
		{"type-podselector.yaml", 7, ErrType},
		{"type-replicas.yaml", 6, ErrType},
		{"type-label-bool.yaml", 6, ErrType},
		{"type.json", 7, ErrType},
		{"selector-operator.yaml", 13, ErrInvalid},
		{"selector-label-value.yaml", 12, ErrInvalid},
		{"port-range.yaml", 11, ErrInvalid},
		{"port-name.yaml", 10, ErrInvalid},
		{"endport-named.yaml", 11, ErrInvalid},
		{"endport-no-port.yaml", 11, ErrInvalid},
		{"endport-less.yaml", 11, ErrInvalid},
		{"protocol.yaml", 11, ErrInvalid},
		{"cidr.yaml", 11, ErrInvalid},
		{"except-outside.yaml", 14, ErrInvalid},
		{"peer-both.yaml", 10, ErrInvalid},
		{"policy-types.yaml", 10, ErrInvalid},
		{"container-port.yaml", 15, ErrInvalid},
		{"container-protocol.yaml", 12, ErrInvalid},
		{"no-name.yaml", 3, ErrInvalid},
		{"pod-ip.yaml", 11, ErrInvalid},
		{"istio-mode.yaml", 9, ErrInvalid},
		{"istio-action.yaml", 7, ErrInvalid},
		{"duplicate-object.yaml", 8, ErrDuplicate},
		{"apiversion-kind.yaml", 1, ErrInvalid},
		{"control-char.yaml", 11, ErrSyntax},
		{"bad-utf8.yaml", 11, ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "bad", tt.file)
			s, err := Load(Options{}, path)
			errs := joined(err)
			if len(errs) != 1 {
				t.Fatalf("got %d errors, want 1: %v", len(errs), err)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *Error", err)
			}
			if e.File != path || e.Line != tt.line {
				t.Errorf("error at %s:%d, want %s:%d (%v)", e.File, e.Line, path, tt.line, e)
			}
			if !errors.Is(err, tt.kind) {
				t.Errorf("error %v does not match %v", err, tt.kind)
			}
			// The bad object is dropped, the good one in the same file loads;
			// a workload whose only errors are in its container ports is
			// kept for the audits, without the bad ports.
			want := 1
			if strings.HasSuffix(tt.file, ".json") {
				want = 0
			}
			if kept := strings.HasPrefix(tt.file, "container-"); kept {
				if len(s.Workloads) != 1 || len(s.Workloads[0].Ports) != 0 {
					t.Errorf("workloads %+v: want the workload kept, without its bad port", s.Workloads)
				}
				want++
			}
			if len(s.Objects) != want || want > 0 && s.Namespace("ok") == nil {
				t.Errorf("loaded %d objects, want %d with namespace ok: %+v", len(s.Objects), want, s.Objects)
			}
		})
	}
}

func TestLoadMissingPath(t *testing.T) {
	s, err := Load(Options{}, "testdata/service.json", "testdata/nope.yaml")
	var e *Error
	if !errors.As(err, &e) || e.File != "testdata/nope.yaml" || e.Line != 0 || !errors.Is(err, ErrRead) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("error = %v, want an *Error for testdata/nope.yaml matching ErrRead and os.ErrNotExist", err)
	}
	if len(s.Services) != 1 {
		t.Errorf("the readable file did not load: %+v", s.Services)
	}
}

// objectSummary is what the loading tests compare of each object.
type objectSummary struct {
	Kind, Name string
	Source     Source
}

func summarizeObjects(s *Set) []objectSummary {
	var out []objectSummary
	for _, o := range s.Objects {
		out = append(out, objectSummary{o.Kind, meta(o.Obj).GetNamespace() + "/" + meta(o.Obj).GetName(), o.Source})
	}
	return out
}

func TestLoadHelm(t *testing.T) {
	const file = "testdata/helm.yaml"
	s, err := Load(Options{DefaultNamespace: "team"}, file)
	if err != nil {
		t.Fatal(err)
	}
	src := func(line int, origin string) Source {
		return Source{File: file, Line: line, Origin: "shop/templates/" + origin}
	}
	wantObjects := []objectSummary{
		{"Namespace", "/shop", src(3, "namespace.yaml")},
		{"ConfigMap", "shop/shop-config", src(11, "configmap.yaml")},
		{"Service", "shop/web", src(20, "service.yaml")},
		{"Deployment", "shop/web", src(36, "deployment.yaml")},
		{"NetworkPolicy", "shop/web-ingress", src(72, "networkpolicy.yaml")},
		{"CronJob", "team/report", src(104, "cronjob.yaml")},
	}
	if diff := cmp.Diff(wantObjects, summarizeObjects(s)); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
	// ConfigMaps are decoded for the audit of secrets in them: nothing of
	// this chart is skipped.
	if diff := cmp.Diff([]Skipped(nil), s.Skipped); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
	wantNS := []*Namespace{
		{Name: "shop", Labels: map[string]string{"team": "payments", MetadataNameLabel: "shop"}, Declared: true, Source: src(3, "namespace.yaml")},
		{Name: "team", Labels: map[string]string{MetadataNameLabel: "team"}},
	}
	if diff := cmp.Diff(wantNS, s.Namespaces); diff != "" {
		t.Errorf("namespaces (-want +got):\n%s", diff)
	}

	var ids []string
	for _, w := range s.Workloads {
		ids = append(ids, w.ID())
	}
	if diff := cmp.Diff([]string{"shop/Deployment/web", "team/CronJob/report"}, ids); diff != "" {
		t.Fatalf("workloads (-want +got):\n%s", diff)
	}
	web := s.Workloads[0]
	wantPorts := []Port{
		{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP, Container: "web"},
		{Name: "metrics", Port: 9090, Protocol: corev1.ProtocolTCP, Container: "web"},
		{Port: 53, Protocol: corev1.ProtocolUDP, Container: "dns"},
	}
	if diff := cmp.Diff(wantPorts, web.Ports); diff != "" {
		t.Errorf("ports (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"app.kubernetes.io/name": "web"}, web.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if got := s.Workloads[1].Labels["app"]; got != "report" {
		t.Errorf("CronJob labels come from spec.jobTemplate.spec.template: got app=%q", got)
	}
	if len(s.Services) != 1 || s.Services[0].Selector["app.kubernetes.io/name"] != "web" || s.Services[0].Ports[0].TargetPort.StrVal != "http" {
		t.Errorf("services = %+v", s.Services)
	}

	p := s.Policies[0]
	wantLines := map[string]int{
		"metadata":                     74,
		"metadata.name":                75,
		"metadata.namespace":           76,
		"spec":                         77,
		"spec.podSelector":             78,
		"spec.podSelector.matchLabels": 79,
		"spec.podSelector.matchLabels.app.kubernetes.io/name": 80,
		"spec.policyTypes":                          81,
		"spec.policyTypes[0]":                       82,
		"spec.ingress":                              83,
		"spec.ingress[0]":                           84,
		"spec.ingress[0].from":                      84,
		"spec.ingress[0].from[0]":                   85,
		"spec.ingress[0].from[0].namespaceSelector": 85,
		"spec.ingress[0].from[0].namespaceSelector.matchLabels":                             86,
		"spec.ingress[0].from[0].namespaceSelector.matchLabels.kubernetes.io/metadata.name": 87,
		"spec.ingress[0].from[0].podSelector":                                               88,
		"spec.ingress[0].from[0].podSelector.matchExpressions":                              89,
		"spec.ingress[0].from[0].podSelector.matchExpressions[0]":                           90,
		"spec.ingress[0].from[0].podSelector.matchExpressions[0].key":                       90,
		"spec.ingress[0].from[0].podSelector.matchExpressions[0].operator":                  91,
		"spec.ingress[0].from[0].podSelector.matchExpressions[0].values":                    92,
		"spec.ingress[0].from[0].podSelector.matchExpressions[0].values[0]":                 92,
		"spec.ingress[0].from[1]":                                                           93,
		"spec.ingress[0].from[1].ipBlock":                                                   93,
		"spec.ingress[0].from[1].ipBlock.cidr":                                              94,
		"spec.ingress[0].from[1].ipBlock.except":                                            95,
		"spec.ingress[0].from[1].ipBlock.except[0]":                                         96,
		"spec.ingress[0].ports":                                                             97,
		"spec.ingress[0].ports[0]":                                                          98,
		"spec.ingress[0].ports[0].port":                                                     98,
		"spec.ingress[0].ports[1]":                                                          99,
		"spec.ingress[0].ports[1].port":                                                     99,
		"spec.ingress[0].ports[1].endPort":                                                  100,
		"spec.ingress[0].ports[1].protocol":                                                 101,
	}
	if diff := cmp.Diff(wantLines, maps.Collect(p.Lines.All())); diff != "" {
		t.Errorf("policy lines (-want +got):\n%s", diff)
	}
	if got := p.Line("spec.ingress[0].ports[1].endPort"); got != 100 {
		t.Errorf("Line(endPort) = %d, want 100", got)
	}
	if got := p.Line("spec.egress[3].to"); got != 77 {
		t.Errorf("Line of a missing field = %d, want the spec's line 77", got)
	}
	if *p.Spec.Ingress[0].Ports[1].EndPort != 9100 {
		t.Errorf("endPort = %d", *p.Spec.Ingress[0].Ports[1].EndPort)
	}
}

// dumpSummary is what the kubectl dump tests compare of each workload.
type dumpSummary struct {
	ID          string
	IPs         string
	Instances   int
	HostNetwork bool
	Line        int
}

func TestLoadKubectlDump(t *testing.T) {
	want := []dumpSummary{
		{ID: "prod/Deployment/api", IPs: "10.244.1.7 10.244.2.3 fd00:10:244:1::7", Instances: 2, Line: 3},
		{ID: "prod/Pod/debug", IPs: "192.168.0.10", HostNetwork: true, Line: 142},
		{ID: "prod/Deployment/worker", IPs: "10.244.3.9", Instances: 1, Line: 105},
	}
	wantObjects := []int{3, 25, 52, 83, 105, 122, 142}
	for _, split := range []bool{false, true} {
		t.Run(map[bool]string{false: "whole", true: "split"}[split], func(t *testing.T) {
			if split {
				defer func(old int) { splitMinBytes = old }(splitMinBytes)
				splitMinBytes = 0
			}
			s, err := Load(Options{}, "testdata/kubectl-dump.yaml")
			if err != nil {
				t.Fatal(err)
			}
			var got []dumpSummary
			for _, w := range s.Workloads {
				var ips []string
				for _, ip := range w.IPs {
					ips = append(ips, ip.String())
				}
				got = append(got, dumpSummary{w.ID(), strings.Join(ips, " "), w.Instances, w.HostNetwork, w.Source.Line})
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("workloads (-want +got):\n%s", diff)
			}
			var lines []int
			for _, o := range s.Objects {
				lines = append(lines, o.Source.Line)
				if o.Source.File != "testdata/kubectl-dump.yaml" {
					t.Errorf("object file = %q", o.Source.File)
				}
			}
			if diff := cmp.Diff(wantObjects, lines); diff != "" {
				t.Errorf("object lines (-want +got):\n%s", diff)
			}
			if !s.PodIPsKnown {
				t.Errorf("PodIPsKnown = false")
			}
			if mf := s.Objects[2].Obj.(*corev1.Pod).ManagedFields; mf != nil {
				t.Errorf("managedFields kept: %v", mf)
			}
		})
	}
}

func TestLoadJSON(t *testing.T) {
	for _, split := range []bool{false, true} {
		t.Run(map[bool]string{false: "whole", true: "split"}[split], func(t *testing.T) {
			if split {
				defer func(old int) { splitMinBytes = old }(splitMinBytes)
				splitMinBytes = 0
			}
			s, err := Load(Options{}, "testdata/list.json", "testdata/service.json")
			if err != nil {
				t.Fatal(err)
			}
			want := []objectSummary{
				{"Namespace", "/prod", Source{File: "testdata/list.json", Line: 4}},
				{"NetworkPolicy", "prod/default-deny", Source{File: "testdata/list.json", Line: 15}},
				{"Service", "prod/api", Source{File: "testdata/service.json", Line: 1}},
			}
			if diff := cmp.Diff(want, summarizeObjects(s)); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
			p := s.Policies[0]
			if got := p.Line("spec.policyTypes[1]"); got != 26 {
				t.Errorf("Line(spec.policyTypes[1]) = %d, want 26", got)
			}
			if len(p.Spec.PolicyTypes) != 2 || !s.Namespace("prod").Declared || s.Namespace("prod").Labels["env"] != "prod" {
				t.Errorf("policy %+v, namespace %+v", p.Spec, s.Namespace("prod"))
			}
			if svc := s.Services[0]; svc.Selector["app"] != "api" || svc.Ports[0].Port != 443 {
				t.Errorf("service = %+v", svc)
			}
		})
	}
}

func TestLoadSkipsOtherYAML(t *testing.T) {
	s, err := Load(Options{}, "testdata/values.yaml", "testdata/docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	reason := "not a Kubernetes object: no apiVersion or kind"
	want := []Skipped{
		{Source: Source{File: "testdata/values.yaml", Line: 2}, Reason: reason},
		{Source: Source{File: "testdata/docker-compose.yml", Line: 1}, Reason: reason},
	}
	if diff := cmp.Diff(want, s.Skipped); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
	if len(s.Objects)+len(s.Namespaces) != 0 {
		t.Errorf("objects from non-Kubernetes YAML: %+v", s.Objects)
	}
}

func TestLoadUnsupported(t *testing.T) {
	s, err := Load(Options{}, "testdata/unsupported.yaml")
	if err != nil {
		t.Fatal(err)
	}
	type u struct{ APIVersion, Kind, Namespace, Name string }
	want := []u{
		{"crd.projectcalico.org/v1", "NetworkPolicy", "shop", "allow-dns"},
		{"projectcalico.org/v3", "GlobalNetworkPolicy", "", "deny-all"},
		{"cilium.io/v2", "CiliumNetworkPolicy", "default", "l7"},
		{"cilium.io/v2", "CiliumClusterwideNetworkPolicy", "", "host"},
		{"policy.networking.k8s.io/v1alpha1", "AdminNetworkPolicy", "", "tenants"},
		{"policy.networking.k8s.io/v1alpha1", "BaselineAdminNetworkPolicy", "", "default"},
		{"policy.networking.k8s.io/v1alpha2", "ClusterNetworkPolicy", "", "cnp"},
		{"security.istio.io/v1", "AuthorizationPolicy", "shop", "allow-frontend"},
		{"security.istio.io/v1beta1", "PeerAuthentication", "istio-system", "strict"},
		{"networking.k8s.io/v1beta1", "NetworkPolicy", "shop", "future"},
		{"extensions/v1beta1", "NetworkPolicy", "shop", "ancient"},
		{"crd.antrea.io/v1beta1", "ClusterNetworkPolicy", "", "antrea"},
	}
	var got []u
	for _, x := range s.Unsupported {
		got = append(got, u{x.APIVersion, x.Kind, x.Namespace, x.Name})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("unsupported (-want +got):\n%s", diff)
	}
	if s.Unsupported[1].Source != (Source{File: "testdata/unsupported.yaml", Line: 14}) {
		t.Errorf("source = %v", s.Unsupported[1].Source)
	}
	if len(s.Policies)+len(s.Workloads)+len(s.Skipped) != 0 {
		t.Errorf("unsupported policies leaked into the Set: %+v", s)
	}
	// Istio's security objects are also decoded, for the mesh audit.
	var kinds []string
	for _, o := range s.Objects {
		kinds = append(kinds, o.Kind+" "+o.Source.String())
	}
	if diff := cmp.Diff([]string{"AuthorizationPolicy testdata/unsupported.yaml:55", "PeerAuthentication testdata/unsupported.yaml:61"}, kinds); diff != "" {
		t.Errorf("typed Istio objects (-want +got):\n%s", diff)
	}
	if pa, ok := s.Objects[1].Obj.(*istio.PeerAuthentication); !ok || pa.Namespace != "istio-system" {
		t.Errorf("PeerAuthentication = %#v", s.Objects[1].Obj)
	}
}

func TestLoadPaths(t *testing.T) {
	dir := t.TempDir()
	ns := func(name string) string { return "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + name + "\n" }
	files := map[string]string{
		"b.yaml":            ns("b"),
		"a/c.yml":           ns("c"),
		"a/d.json":          `{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "d"}}`,
		".git/e.yaml":       ns("e"),
		"a/.cache/f.yaml":   ns("f"),
		"notes.txt":         ns("g"),
		"a/.hidden-ok.yaml": ns("h"),
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	explicit := filepath.Join(dir, "notes.txt")
	s, err := Load(Options{Stdin: strings.NewReader(ns("stdin"))}, dir, "-", explicit)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range s.Objects {
		got = append(got, meta(o.Obj).GetName()+"@"+strings.TrimPrefix(o.Source.File, dir))
	}
	want := []string{"h@/a/.hidden-ok.yaml", "c@/a/c.yml", "d@/a/d.json", "b@/b.yaml", "stdin@-", "g@/notes.txt"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("objects in order (-want +got):\n%s", diff)
	}
}

func TestParseDocuments(t *testing.T) {
	ns := func(name string) string { return "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + name + "\n" }
	tests := []struct {
		name  string
		input string
		want  []int // line of each object
	}{
		{"single", ns("a"), []int{1}},
		{"separators and empty documents", "---\n---\n# only a comment\n---\n" + ns("a") + "---\n\n" + ns("b") + "---\n", []int{5, 11}},
		{"document end marker", ns("a") + "...\n---\n" + ns("b") + "...\n", []int{1, 7}},
		{"spaces on the marker line", "--- \n" + ns("a") + "---\t\n" + ns("b"), []int{2, 7}},
		{"directive after a document end", ns("a") + "...\n%YAML 1.1\n---\n" + ns("b"), []int{1, 8}},
		{"crlf", strings.ReplaceAll("---\n"+ns("a")+"---\n"+ns("b"), "\n", "\r\n"), []int{2, 7}},
		{"byte order mark", "\ufeff" + ns("a"), []int{1}},
		{"separator-like text in a block scalar", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  annotations:\n    x: |\n      ---\n      text\n" + "---\n" + ns("b"), []int{1, 10}},
		{"empty", "", nil},
		{"null document", "~\n---\nnull\n", nil},
		{"nested list", "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: List\n  items:\n  - " + strings.ReplaceAll(ns("a"), "\n", "\n    ") + "\n", []int{7}},
		{"anchors and merge keys", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  labels: &l {x: v}\n  annotations:\n    <<: *l\n    z: w\n", []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(Options{}, "in.yaml", []byte(tt.input))
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, o := range s.Objects {
				got = append(got, o.Source.Line)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
			if len(s.Skipped) != 0 {
				t.Errorf("skipped: %+v", s.Skipped)
			}
		})
	}
}

func TestParseMergeKeys(t *testing.T) {
	in := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: &labels
    app: web
    tier: front
spec:
  template:
    metadata:
      labels:
        <<: *labels
        tier: back
    spec:
      containers: [{name: c}]
`
	s, err := Parse(Options{}, "in.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"app": "web", "tier": "back"}, s.Workloads[0].Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
}

func TestParseAliasBomb(t *testing.T) {
	in := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	for i := 'b'; i <= 'k'; i++ {
		p := string(i - 1)
		in += string(i) + ": &" + string(i) + " [*" + p + ", *" + p + ", *" + p + ", *" + p + ", *" + p + ", *" + p + ", *" + p + ", *" + p + ", *" + p + ", *" + p + "]\n"
	}
	_, err := Parse(Options{}, "bomb.yaml", []byte(in))
	if !errors.Is(err, ErrSyntax) {
		t.Errorf("error = %v, want ErrSyntax", err)
	}
}

func TestParseFieldMatching(t *testing.T) {
	in := `apiVersion: extensions/v1beta1
kind: Deployment
metadata:
  name: old
  futureField: {a: 1}
spec:
  paused: false
  rollbackTo: {revision: 1}
  template:
    metadata:
      labels: {app: old}
    spec:
      hostnetwork: true
      containers: [{name: c, ports: [{containerPort: 80}]}]
---
apiVersion: batch/v1beta1
kind: CronJob
metadata: {name: cron}
spec:
  jobTemplate:
    spec:
      template:
        metadata: {labels: {app: cron}}
        spec: {containers: [{name: c}]}
`
	s, err := Parse(Options{}, "in.yaml", []byte(in))
	if err != nil {
		t.Fatalf("unknown fields of workloads must not be errors: %v", err)
	}
	var ids []string
	for _, w := range s.Workloads {
		ids = append(ids, w.ID())
	}
	if diff := cmp.Diff([]string{"default/CronJob/cron", "default/Deployment/old"}, ids); diff != "" {
		t.Errorf("workloads (-want +got):\n%s", diff)
	}
	if s.Workloads[1].HostNetwork {
		t.Errorf("field names are case-sensitive, as in the API server: hostnetwork is not hostNetwork")
	}
}

// TestRenderedOriginAndLines: a rendered stream's Origin and Lines apply
// to its objects, their field lines and its errors; a document's own
// `# Source:` comment wins.
func TestRenderedOriginAndLines(t *testing.T) {
	data := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\nspec:\n  containers:\n    - name: c\n      image: x\n" +
		"---\n# Source: other.yaml\napiVersion: v1\nkind: Pod\nmetadata:\n  name: b\nspec:\n  containers:\n    - name: c\n      image: x\n" +
		"---\napiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  ports: [{port: nope}]\n"
	set, err := Load(Options{FieldLines: true, Rendered: []Rendered{{
		Name: "tpl.yaml", Data: []byte(data), Origin: "chart/templates/tpl.yaml",
		Lines: func(l int) int { return 1000 + l },
	}}})
	var e *Error
	if !errors.As(err, &e) || e.File != "tpl.yaml" || e.Line < 1000 {
		t.Errorf("error %v: want one at tpl.yaml past line 1000", err)
	}
	if len(set.Workloads) != 2 {
		t.Fatalf("workloads: %d", len(set.Workloads))
	}
	for i, want := range []Source{
		{File: "tpl.yaml", Line: 1001, Origin: "chart/templates/tpl.yaml"},
		{File: "tpl.yaml", Line: 1011, Origin: "other.yaml"},
	} {
		w := set.Workloads[i]
		if w.Source != want {
			t.Errorf("workload %d: source %+v, want %+v", i, w.Source, want)
		}
		for p, l := range w.Lines.All() {
			if l <= 1000 {
				t.Errorf("workload %d: field %s at line %d, not mapped", i, p, l)
			}
		}
	}
}

// TestObjectLines: the index of a file of documents by kind and name
// gives the first line of the first document declaring both, leading
// comments and blank lines skipped.
func TestObjectLines(t *testing.T) {
	lines := strings.Split(`# a file
kind: Deployment
metadata:
  name: web
---

# the policy
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: "deny"
---
---
kind: Deployment
metadata:
  name: web
  ownerReferences: [{kind: ReplicaSet, name: x}]
---
metadata:
  name: api
kind: 'Service'`, "\n")
	got := objectLines(lines)
	want := map[string]int{"Deployment\x00web": 2, "NetworkPolicy\x00deny": 8, "Service\x00api": 19}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%q: line %d, want %d (index %v)", k, got[k], v, got)
		}
	}
	if got["Deployment\x00missing"] != 0 {
		t.Error("a missing object has a line")
	}
}

// TestLoadProgress: Options.Progress is called once per input read, with
// the count and the bytes read so far, ending at every file and byte.
func TestLoadProgress(t *testing.T) {
	dir := t.TempDir()
	var total int64
	for i, doc := range []string{"kind: Namespace\napiVersion: v1\nmetadata: {name: a}\n", "kind: Namespace\napiVersion: v1\nmetadata: {name: b}\n", "not: [a, manifest\n"} {
		name := filepath.Join(dir, fmt.Sprintf("f%d.yaml", i))
		if err := os.WriteFile(name, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		total += int64(len(doc))
	}
	var calls []int
	var last int64
	_, _ = Load(Options{Progress: func(n int, b int64) {
		if b < last {
			t.Errorf("bytes went back from %d to %d", last, b)
		}
		calls, last = append(calls, n), b
	}}, dir)
	if fmt.Sprint(calls) != "[1 2 3]" || last != total {
		t.Errorf("progress calls %v ending at %d bytes, want [1 2 3] and %d", calls, last, total)
	}
}

// TestLoadExtensionCase: kubectl apply -f DIR reads the files whose names
// end in .yaml, .yml or .json exactly (cli-runtime's ignoreFile), so a
// file of a directory ending in .YAML or .Yml that holds objects is an
// input error at its first object, and its objects are not modelled: a
// default deny in deny.YAML, never applied, isolated every pod of its
// namespace in Ward's model. A file given by name is read (kubectl apply
// -f FILE reads any name), and one holding no object is skipped as before.
func TestLoadExtensionCase(t *testing.T) {
	const dir = "testdata/extcase/dir"
	tests := []struct {
		name     string
		paths    []string
		errs     []string // file:line of each error
		policies int
	}{
		{"directory", []string{dir}, []string{dir + "/deny.YAML:3", dir + "/pods.Yml:4"}, 0},
		{"files named", []string{dir + "/app.yaml", dir + "/deny.YAML", dir + "/pods.Yml", dir + "/data.JSON"}, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Load(Options{}, tt.paths...)
			var got []string
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				for _, e := range j.Unwrap() {
					var me *Error
					if !errors.As(e, &me) || !errors.Is(e, ErrNotApplied) {
						t.Errorf("unexpected error %v", e)
						continue
					}
					got = append(got, fmt.Sprintf("%s:%d", filepath.ToSlash(me.File), me.Line))
				}
			} else if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if diff := cmp.Diff(tt.errs, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if s == nil {
				t.Fatal("no set")
			}
			if len(s.Policies) != tt.policies {
				t.Errorf("%d policies modelled, want %d", len(s.Policies), tt.policies)
			}
			if len(s.Workloads) != 1 {
				t.Errorf("%d workloads, want the Deployment of app.yaml", len(s.Workloads))
			}
		})
	}
}
