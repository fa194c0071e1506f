// Package examples holds the runnable examples of Ward's documentation;
// its tests keep them valid for the Kubernetes API and keep them showing
// what their READMEs say.
package examples

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wardsec/ward/internal/cli"
	"github.com/wardsec/ward/internal/synth/apicheck"
	"github.com/wardsec/ward/manifest"
)

// manifests returns the Kubernetes manifests under dir: every YAML file
// but ward.yaml and the Compose file.
func manifests(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".yaml" || d.Name() == "ward.yaml" || d.Name() == "compose.yaml" {
			return err
		}
		files[path], err = os.ReadFile(path)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestShopValid decodes every object of the shop strictly into its
// k8s.io/api type and checks it against the API's validation rules.
func TestShopValid(t *testing.T) {
	var objs []apicheck.Object
	for path, data := range manifests(t, "shop") {
		o, err := apicheck.Decode(path, data)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, o...)
	}
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.Kind]++
		if err := apicheck.Check(o.Obj); err != nil {
			t.Errorf("%s: %v", o, err)
		}
	}
	if err := apicheck.Cluster(objs); err != nil {
		t.Error(err)
	}
	want := map[string]int{"Namespace": 4, "Deployment": 5, "StatefulSet": 1, "Service": 6, "NetworkPolicy": 16}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("objects per kind (-want +got):\n%s", diff)
	}

	set, err := manifest.Load(manifest.Options{}, "shop")
	if err != nil {
		t.Fatalf("manifest.Load: %v", err)
	}
	if len(set.Workloads) != 6 || len(set.Policies) != 16 {
		t.Errorf("manifest.Load: %d workloads, %d policies, want 6 and 16", len(set.Workloads), len(set.Policies))
	}
}

// TestShopMistakes checks that `ward check examples/shop` finds the three
// mistakes the README describes, fails the two assertions it says fail,
// and reports nothing else above info.
func TestShopMistakes(t *testing.T) {
	n := 0
	for _, data := range manifests(t, "shop") {
		n += bytes.Count(data, []byte("# MISTAKE:"))
	}
	if n != 4 {
		t.Errorf("%d \"# MISTAKE:\" comments, want 4", n)
	}

	var stdout, stderr bytes.Buffer
	code := cli.Run(context.Background(), []string{"check", "-o", "json", "shop"}, strings.NewReader(""), &stdout, &stderr)
	if code != 1 {
		t.Errorf("ward check shop: exit %d, want 1 (findings at or above high); stderr:\n%s", code, &stderr)
	}
	var report struct {
		Findings []struct {
			Rule, Severity, File, Object string
		}
	}
	if err := json.Unmarshal(stdout.Bytes(), &report); err != nil {
		t.Fatalf("ward check -o json: %v\n%s", err, &stdout)
	}
	var got []string
	for _, f := range report.Findings {
		if f.Severity != "info" {
			got = append(got, f.Rule+" "+f.Object+" ("+filepath.ToSlash(f.File)+")")
		}
	}
	slices.Sort(got)
	want := []string{
		"assert/failed payments cannot reach the internet (shop/ward.yaml)",
		"assert/failed redis never reachable from web (shop/ward.yaml)",
		"compose/datastore-network-not-internal service postgres (shop/compose.yaml)",
		"compose/datastore-network-not-internal service redis (shop/compose.yaml)",
		"compose/datastore-port-published service postgres (shop/compose.yaml)",
		"compose/no-cap-drop-all service redis (shop/compose.yaml)",
		"compose/no-user service redis (shop/compose.yaml)",
		"dockerfile/final-has-shell stage 0 (shop/build/catalog.Dockerfile)",
		"dockerfile/no-multi-stage stage 0 (shop/build/catalog.Dockerfile)",
		"dockerfile/user-missing stage 0 (shop/build/catalog.Dockerfile)",
		"netpol/datastore-open data/Deployment/redis (shop/data/network-policies.yaml)",
		"netpol/named-port-unresolved api/NetworkPolicy/catalog-ingress (shop/api/network-policies.yaml)",
		"netpol/no-default-deny-egress Namespace/payments (shop/namespaces.yaml)",
		"pss/capabilities_restricted data/StatefulSet/postgres (shop/data/postgres.yaml)",
		"pss/runAsNonRoot data/StatefulSet/postgres (shop/data/postgres.yaml)",
		"pss/runAsUser data/StatefulSet/postgres (shop/data/postgres.yaml)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ward check shop findings above info (-want +got):\n%s", diff)
	}
}

// shopFixes are the fixes the comments in examples/shop describe, as
// replacements of text in its files.
var shopFixes = []struct{ file, old, new string }{
	{"data/postgres.yaml", postgresInit, ""},
	{"api/network-policies.yaml", "        - port: https\n", "        - port: http\n"},
	{"payments/network-policies.yaml", "  policyTypes: [Ingress]\n---", `  policyTypes: [Ingress, Egress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-dns-and-egress-proxy
  namespace: payments
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
    - to:
        - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
          podSelector: {matchLabels: {k8s-app: kube-dns}}
      ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]
    - to:
        - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: egress-gateway}}
          podSelector: {matchLabels: {app.kubernetes.io/name: egress-proxy}}
      ports: [{port: 3128}]
---`},
	{"data/network-policies.yaml", "    - ports:\n        - port: redis\n", `    - from:
        - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: api}}
          podSelector: {matchLabels: {app: catalog}}
      ports:
        - port: redis
`},
}

// postgresInit is the root init container of examples/shop/data/postgres.yaml.
var postgresInit = func() string {
	data, err := os.ReadFile("shop/data/postgres.yaml")
	if err != nil {
		return "(unreadable)"
	}
	s := string(data)
	start := strings.Index(s, "      # MISTAKE: a root init container")
	end := strings.Index(s, "      containers:\n")
	if start < 0 || end < start {
		return "(not found)"
	}
	return s[start:end]
}()

// shopFixedFiles replace the image and Compose files with the fixes their
// comments describe.
var shopFixedFiles = map[string]string{
	"build/catalog.Dockerfile": `ARG GO_VERSION=1.27.3
FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0
COPY . .
RUN go build -trimpath -o /out/catalog ./cmd/catalog

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/catalog /catalog
USER 65532:65532
HEALTHCHECK NONE
ENTRYPOINT ["/catalog"]
`,
	"compose.yaml": `services:
  catalog:
    build: {context: ., dockerfile: build/catalog.Dockerfile}
    ports: ["127.0.0.1:8080:8080"]
    user: "10001:10001"
    read_only: true
    mem_limit: 512m
    cpus: 1
    pids_limit: 200
    cap_drop: [ALL]
    security_opt: ["no-new-privileges:true"]
    networks: [front, data]
  postgres:
    image: postgres:16.4
    user: "999:999"
    read_only: true
    mem_limit: 512m
    cpus: 1
    pids_limit: 200
    tmpfs: [/var/run/postgresql]
    cap_drop: [ALL]
    security_opt: ["no-new-privileges:true"]
    networks: [data]
  redis:
    image: redis:7.4
    user: "999:999"
    read_only: true
    mem_limit: 512m
    cpus: 1
    pids_limit: 200
    cap_drop: [ALL]
    security_opt: ["no-new-privileges:true"]
    networks: [data]
networks:
  front: {}
  data: {internal: true}
`,
}

// TestShopFixed applies the fixes the README describes and checks that
// `ward check` then reports nothing above info: the deliberate mistakes
// are the only problems of the shop.
func TestShopFixed(t *testing.T) {
	dir := t.TempDir()
	for rel, data := range shopFixedFiles {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(rel)), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, rel), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for path, data := range manifests(t, "shop") {
		rel, _ := filepath.Rel("shop", path)
		for _, f := range shopFixes {
			if filepath.ToSlash(rel) == f.file {
				if !bytes.Contains(data, []byte(f.old)) {
					t.Fatalf("%s no longer contains %q", path, f.old)
				}
				data = bytes.Replace(data, []byte(f.old), []byte(f.new), 1)
			}
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, rel), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wardYAML, err := os.ReadFile("shop/ward.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ward.yaml"), wardYAML, 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := cli.Run(context.Background(), []string{"check", "--fail-on", "low", dir}, strings.NewReader(""), &stdout, &stderr)
	if code != 0 {
		t.Errorf("ward check of the fixed shop: exit %d, want 0\n%s%s", code, &stdout, &stderr)
	}
}
