package cli

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// offlineListeners starts a local HTTP server answering every request
// with a manifest (so that a fetch would succeed and change the result)
// and a bare TCP listener standing in for ssh/git, both on loopback, and
// returns their addresses and a function counting the connections both
// accepted.
func offlineListeners(t *testing.T) (httpURL, tcpAddr string, accepted func() int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: fetched\nspec:\n  hostNetwork: true\n  containers: [{name: c, image: x}]\n"))
	}))
	srv.Listener = countingListener{srv.Listener, &n}
	srv.Start()
	t.Cleanup(srv.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			_ = c.Close()
		}
	}()
	return srv.URL, ln.Addr().String(), n.Load
}

// writeTree writes files (path: content, HTTP and TCP replaced by the
// listeners' addresses) under dir.
func writeTree(t *testing.T, dir string, files map[string]string, httpURL, tcpAddr string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		content = strings.NewReplacer("HTTP", httpURL, "TCP", tcpAddr).Replace(content)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

const kustomizeDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.25
`

// TestKustomizeOffline: every field of a kustomization that kustomize
// resolves through its loader (or hands to git, helm or a plugin) is
// refused when it names anything but a file or directory inside the
// tree: ward check exits 2 with an input/unreadable finding at the
// kustomization's file and line naming the field, and the local HTTP
// and ssh stand-ins it names receive no connection at all.
func TestKustomizeOffline(t *testing.T) {
	cases := []struct {
		name  string
		kust  string            // kustomization.yaml of the tree's top directory
		files map[string]string // other files of the tree
		field string            // the field the finding names
		file  string            // the kustomization refused, relative to the tree ("" for the top one)
		line  int
	}{
		{name: "resources http file", kust: "resources:\n- deployment.yaml\n- HTTP/pod.yaml\n", field: "resources", line: 3},
		{name: "resources git over http", kust: "resources:\n- HTTP/org/repo.git//deploy?ref=v1\n", field: "resources", line: 2},
		{name: "resources git over ssh", kust: "resources:\n- ssh://git@TCP/org/repo.git\n", field: "resources", line: 2},
		{name: "resources git scp form", kust: "resources:\n- deploy@127.0.0.1:org/repo.git\n", field: "resources", line: 2},
		{name: "resources git scp without .git", kust: "resources:\n- git@127.0.0.1:org/repo\n", field: "resources", line: 2},
		{name: "resources bare github", kust: "resources:\n- github.com/org/repo/deploy\n", field: "resources", line: 2},
		{name: "resources ref query", kust: "resources:\n- example.org/org/repo?ref=main\n", field: "resources", line: 2},
		{name: "resources file URL", kust: "resources:\n- file:///etc/hosts\n", field: "resources", line: 2},
		{name: "bases", kust: "bases:\n- HTTP/org/base.git\n", field: "bases", line: 2},
		{name: "components", kust: "resources:\n- deployment.yaml\ncomponents:\n- HTTP/component\n", field: "components", line: 4},
		{name: "patches path", kust: "resources:\n- deployment.yaml\npatches:\n- path: HTTP/patch.yaml\n", field: "patches[0].path", line: 4},
		{name: "patchesStrategicMerge", kust: "resources:\n- deployment.yaml\npatchesStrategicMerge:\n- HTTP/patch.yaml\n", field: "patchesStrategicMerge", line: 4},
		{name: "patchesJson6902 path", kust: "resources:\n- deployment.yaml\npatchesJson6902:\n- target: {group: apps, version: v1, kind: Deployment, name: web}\n  path: HTTP/patch.json\n", field: "patchesJson6902[0].path", line: 5},
		{name: "configMapGenerator files", kust: "configMapGenerator:\n- name: c\n  files:\n  - HTTP/app.conf\n", field: "configMapGenerator[0].files", line: 4},
		{name: "configMapGenerator files key=url", kust: "configMapGenerator:\n- name: c\n  files:\n  - app.conf=HTTP/app.conf\n", field: "configMapGenerator[0].files", line: 4},
		{name: "configMapGenerator envs", kust: "configMapGenerator:\n- name: c\n  envs:\n  - HTTP/app.env\n", field: "configMapGenerator[0].envs", line: 4},
		{name: "configMapGenerator env", kust: "configMapGenerator:\n- name: c\n  env: HTTP/app.env\n", field: "configMapGenerator[0].env", line: 3},
		{name: "secretGenerator files", kust: "secretGenerator:\n- name: s\n  files:\n  - HTTP/key\n", field: "secretGenerator[0].files", line: 4},
		{name: "secretGenerator envs", kust: "secretGenerator:\n- name: s\n  envs:\n  - ssh://TCP/app.env\n", field: "secretGenerator[0].envs", line: 4},
		{name: "openapi path", kust: "resources:\n- deployment.yaml\nopenapi:\n  path: HTTP/schema.json\n", field: "openapi.path", line: 4},
		{name: "crds", kust: "resources:\n- deployment.yaml\ncrds:\n- HTTP/crd.yaml\n", field: "crds", line: 4},
		{name: "configurations", kust: "resources:\n- deployment.yaml\nconfigurations:\n- HTTP/config.yaml\n", field: "configurations", line: 4},
		{name: "replacements path", kust: "resources:\n- deployment.yaml\nreplacements:\n- path: HTTP/replacement.yaml\n", field: "replacements[0].path", line: 4},
		{name: "helmCharts", kust: "helmCharts:\n- name: web\n  repo: HTTP/charts\n  version: 1.0.0\n", field: "helmCharts", line: 1},
		{name: "helmGlobals", kust: "helmGlobals:\n  chartHome: charts\n", field: "helmGlobals", line: 1},
		{name: "helmChartInflationGenerator", kust: "helmChartInflationGenerator:\n- chartName: web\n  chartRepoUrl: HTTP/charts\n", field: "helmChartInflationGenerator", line: 1},
		{name: "generators url", kust: "generators:\n- HTTP/generator.yaml\n", field: "generators", line: 2},
		{name: "transformers url", kust: "resources:\n- deployment.yaml\ntransformers:\n- HTTP/transformer.yaml\n", field: "transformers", line: 4},
		{name: "validators url", kust: "resources:\n- deployment.yaml\nvalidators:\n- HTTP/validator.yaml\n", field: "validators", line: 4},
		{name: "inline generator files", kust: "generators:\n- |\n  apiVersion: builtin\n  kind: ConfigMapGenerator\n  metadata: {name: c}\n  files:\n  - HTTP/app.conf\n", field: "generators ConfigMapGenerator.files", line: 7},
		{name: "inline transformer patch path", kust: "resources:\n- deployment.yaml\ntransformers:\n- |\n  apiVersion: builtin\n  kind: PatchTransformer\n  metadata: {name: p}\n  path: HTTP/patch.yaml\n", field: "transformers PatchTransformer.path", line: 8},
		{name: "inline strategic merge transformer paths", kust: "resources:\n- deployment.yaml\ntransformers:\n- |\n  apiVersion: builtin\n  kind: PatchStrategicMergeTransformer\n  metadata: {name: p}\n  paths:\n  - HTTP/patch.yaml\n", field: "transformers PatchStrategicMergeTransformer.paths", line: 9},
		{name: "inline replacement transformer path", kust: "resources:\n- deployment.yaml\ntransformers:\n- |\n  apiVersion: builtin\n  kind: ReplacementTransformer\n  metadata: {name: r}\n  replacements:\n  - path: HTTP/r.yaml\n", field: "transformers ReplacementTransformer.replacements[0].path", line: 9},
		{name: "inline value-add transformer file", kust: "resources:\n- deployment.yaml\ntransformers:\n- |\n  apiVersion: builtin\n  kind: ValueAddTransformer\n  metadata: {name: v}\n  targetFilePath: HTTP/v.yaml\n", field: "transformers ValueAddTransformer.targetFilePath", line: 8},
		{name: "inline helm generator", kust: "generators:\n- |\n  apiVersion: builtin\n  kind: HelmChartInflationGenerator\n  metadata: {name: h}\n  repo: HTTP/charts\n", field: "generators", line: 3},
		{name: "inline exec function", kust: "resources:\n- deployment.yaml\ntransformers:\n- |\n  apiVersion: example.com/v1\n  kind: Fetcher\n  metadata:\n    name: f\n    annotations:\n      config.kubernetes.io/function: |\n        exec: {path: /usr/bin/curl}\n", field: "transformers", line: 5},
		{name: "generator config file with exec plugin", kust: "generators:\n- gen.yaml\n",
			files: map[string]string{"gen.yaml": "apiVersion: example.com/v1\nkind: Curl\nmetadata:\n  name: c\n  annotations:\n    config.kubernetes.io/function: |\n      exec: {path: ./curl.sh}\nurl: HTTP/x\n"},
			field: "config", file: "gen.yaml", line: 1},
		{name: "generator config file with remote files", kust: "generators:\n- gen.yaml\n",
			files: map[string]string{"gen.yaml": "apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata: {name: c}\nfiles:\n- HTTP/app.conf\n"},
			field: "config ConfigMapGenerator.files", file: "gen.yaml", line: 5},
		{name: "generators kustomization dir", kust: "generators:\n- gens\n",
			files: map[string]string{"gens/kustomization.yaml": "resources:\n- gen.yaml\n", "gens/gen.yaml": "apiVersion: builtin\nkind: PatchTransformer\nmetadata: {name: p}\npath: HTTP/p.yaml\n"},
			field: "config PatchTransformer.path", file: "gens/gen.yaml", line: 4},
		{name: "generators kustomization dir patching its configs", kust: "generators:\n- gens\n",
			files: map[string]string{"gens/kustomization.yaml": "resources:\n- gen.yaml\npatches:\n- target: {kind: ConfigMapGenerator}\n  patch: |-\n    - op: replace\n      path: /files/0\n      value: HTTP/app.conf\n",
				"gens/gen.yaml": "apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata: {name: c}\nfiles: [gen.yaml]\n"},
			field: "patches", file: "gens/kustomization.yaml", line: 3},
		{name: "nested base", kust: "resources:\n- base\nnamePrefix: x-\n",
			files: map[string]string{"base/kustomization.yaml": "resources:\n- deployment.yaml\npatches:\n- path: HTTP/patch.yaml\n", "base/deployment.yaml": kustomizeDeployment},
			field: "patches[0].path", file: "base/kustomization.yaml", line: 4},
		{name: "component", kust: "resources:\n- deployment.yaml\ncomponents:\n- comp\n",
			files: map[string]string{"comp/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nconfigMapGenerator:\n- name: c\n  envs: [HTTP/a.env]\n"},
			field: "configMapGenerator[0].envs", file: "comp/kustomization.yaml", line: 5},
		{name: "URL behind an alias", kust: "metadata:\n  name: &u HTTP/pod.yaml\nresources:\n- deployment.yaml\n- *u\n", field: "resources", line: 2},
		{name: "list behind an alias", kust: "metadata:\n  annotations:\n    a: &l [HTTP/pod.yaml]\nresources: *l\n", field: "resources", line: 3},
		{name: "path behind a merge key", kust: "metadata:\n  annotations: &m {path: HTTP/p.yaml}\nresources:\n- deployment.yaml\npatches:\n- <<: *m\n", field: "patches[0].path", line: 2},
		// kustomize decodes with encoding/json, which matches keys case
		// folded: each of these is fetched as written above.
		{name: "Resources capitalised", kust: "Resources:\n- deployment.yaml\n- HTTP/pod.yaml\n", field: "Resources", line: 3},
		{name: "resources with a long s", kust: "re\u017fources:\n- ssh://git@TCP/org/repo.git\n", field: "re\u017fources", line: 2},
		{name: "BASES", kust: "BASES:\n- github.com/org/repo/deploy\n", field: "BASES", line: 2},
		{name: "patches Path", kust: "resources:\n- deployment.yaml\nPatches:\n- path: deployment.yaml\n  Path: HTTP/patch.yaml\n", field: "Patches[0].path", line: 5},
		{name: "openapi PATH", kust: "resources:\n- deployment.yaml\nOpenAPI:\n  PATH: HTTP/schema.json\n", field: "openapi.path", line: 4},
		{name: "configMapGenerator Files", kust: "ConfigMapGenerator:\n- name: c\n  Files:\n  - HTTP/app.conf\n", field: "ConfigMapGenerator[0].files", line: 4},
		{name: "inline transformer Path", kust: "resources:\n- deployment.yaml\ntransformers:\n- |\n  apiVersion: builtin\n  kind: PatchTransformer\n  metadata: {name: p}\n  Path: HTTP/patch.yaml\n", field: "transformers PatchTransformer.path", line: 8},
		{name: "inline helm generator beside a Kind", kust: "generators:\n- |\n  apiVersion: builtin\n  kind: HelmChartInflationGenerator\n  Kind: ConfigMapGenerator\n  metadata: {name: h}\n  repo: HTTP/charts\n", field: "generators", line: 3},
		{name: "missing local path", kust: "resources:\n- deployment.yaml\n- nothere\n", field: "resources", line: 3},
		{name: "absolute path outside", kust: "resources:\n- OUTSIDE/deployment.yaml\n", field: "resources", line: 2},
		{name: "dotdot outside", kust: "resources:\n- ../outside/deployment.yaml\n", field: "resources", line: 2},
		{name: "dotdot outside patch", kust: "resources:\n- deployment.yaml\npatches:\n- path: ../outside/deployment.yaml\n", field: "patches[0].path", line: 4},
		{name: "kustomization file symlink outside", kust: "resources:\n- base\n", files: map[string]string{"base/web.yaml": kustomizeDeployment},
			field: "kustomization file", file: "base/kustomization.yaml", line: 0},
		{name: "symlink outside", kust: "resources:\n- link/deployment.yaml\n", field: "resources", line: 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			httpURL, tcpAddr, accepted := offlineListeners(t)
			top := t.TempDir()
			tree := filepath.Join(top, "tree")
			outside := filepath.Join(top, "outside")
			files := map[string]string{"kustomization.yaml": strings.ReplaceAll(c.kust, "OUTSIDE", outside), "deployment.yaml": kustomizeDeployment}
			for k, v := range c.files {
				files[k] = v
			}
			writeTree(t, tree, files, httpURL, tcpAddr)
			writeTree(t, outside, map[string]string{"deployment.yaml": kustomizeDeployment}, httpURL, tcpAddr)
			if err := os.Symlink(outside, filepath.Join(tree, "link")); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(tree, "base")); err == nil && c.file == "base/kustomization.yaml" && c.line == 0 {
				// The base's kustomization is a symlink to one outside.
				writeTree(t, outside, map[string]string{"kustomization.yaml": "resources:\n- deployment.yaml\n"}, httpURL, tcpAddr)
				if err := os.Symlink(filepath.Join(outside, "kustomization.yaml"), filepath.Join(tree, "base", "kustomization.yaml")); err != nil {
					t.Fatal(err)
				}
			}
			out, errOut, code := run(t, "", "check", tree, "-o", "json")
			if n := accepted(); n != 0 {
				t.Errorf("the local listeners accepted %d connections, want none", n)
			}
			if code != ExitError {
				t.Errorf("exit %d, want %d; stderr: %s", code, ExitError, errOut)
			}
			want := filepath.Join(tree, "kustomization.yaml")
			if c.file != "" {
				want = filepath.Join(tree, filepath.FromSlash(c.file))
			}
			found := false
			for _, f := range checkOutput(t, out).Findings {
				if f.Rule == ruleUnreadable && f.File == want && f.Line == c.line && strings.HasPrefix(f.Message, c.field+":") &&
					(c.name == "missing local path" || strings.Contains(f.Fix, "kustomize build DIR | ward check -")) {
					found = true
				}
				if f.Object != "" && f.Rule != ruleUnreadable {
					t.Errorf("a finding on an object (%s %s): nothing may be built when a reference is refused", f.Rule, f.Object)
				}
			}
			if !found {
				t.Errorf("no input/unreadable finding at %s:%d naming %s:\n%s", want, c.line, c.field, out)
			}
		})
	}
}

// TestKustomizePlain: a tree of kustomizations that only list resources
// is read without kustomize, with the same objects, and findings inside a
// pod template point at the field's own line (a build only gives the
// object's first line).
func TestKustomizePlain(t *testing.T) {
	tree := t.TempDir()
	writeTree(t, tree, map[string]string{
		"kustomization.yaml":      "resources:\n- base\n- policy.yaml\n",
		"policy.yaml":             "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: shop}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n",
		"base/kustomization.yaml": "resources:\n- web.yaml\n",
		"base/web.yaml":           strings.Replace(kustomizeDeployment, "        image: nginx:1.25\n", "        image: nginx:1.25\n        securityContext:\n          privileged: true\n", 1),
		"unlisted.yaml":           "apiVersion: v1\nkind: Pod\nmetadata: {name: stray}\nspec: {containers: [{name: c, image: x}]}\n",
	}, "", "")
	out, errOut, code := run(t, "", "check", tree, "-o", "json")
	if code != ExitFindings {
		t.Fatalf("exit %d, want %d; stderr: %s", code, ExitFindings, errOut)
	}
	res := checkOutput(t, out)
	if res.Summary.Objects != 2 || res.Summary.InputErrors != 0 {
		t.Errorf("objects %d, input errors %d; want 2 and 0 (the unlisted file is not part of the kustomization)", res.Summary.Objects, res.Summary.InputErrors)
	}
	found := false
	for _, f := range res.Findings {
		if f.Rule == "pss/privileged" {
			found = f.Object == "shop/Deployment/web" && f.File == filepath.Join(tree, "base", "web.yaml") && f.Line == 17
		}
	}
	if !found {
		t.Errorf("no pss/privileged finding on shop/Deployment/web at base/web.yaml:17 (the privileged field):\n%s", out)
	}
	if reach, _, code := run(t, "", "reach", tree); code != ExitOK || !strings.Contains(reach, "shop/Deployment/web") {
		t.Errorf("ward reach on a plain kustomization: exit %d\n%s", code, reach)
	}
}

// TestKustomizeNested: the kustomizations and charts kept under the
// directory of a kustomization that does not build on them are rendered
// too, whether that kustomization is the path given or one met walking a
// tree: an overlay under the root kustomization of a repository that
// makes the base privileged, or a chart beside it, is deployed on its own
// and must not pass unread.
func TestKustomizeNested(t *testing.T) {
	const privilegedPatch = "patches:\n- target: {kind: Deployment}\n  patch: |-\n    - op: add\n      path: /spec/template/spec/containers/0/securityContext\n      value: {privileged: true}\n"
	base := map[string]string{
		"base/kustomization.yaml": "resources:\n- web.yaml\n",
		"base/web.yaml":           kustomizeDeployment,
	}
	tests := []struct {
		name   string
		files  map[string]string
		path   string // given to ward check, under the tree
		object string // the object that must get pss/privileged
	}{
		{
			name: "overlay under the kustomization given",
			files: map[string]string{
				"kustomization.yaml":               "resources:\n- base\n",
				"overlays/prod/kustomization.yaml": "namespace: prod\nresources:\n- ../../base\n" + privilegedPatch,
			},
			path: ".", object: "prod/Deployment/web",
		},
		{
			name: "overlay under a kustomization met walking",
			files: map[string]string{
				"app/kustomization.yaml":               "resources:\n- ../base\n",
				"app/overlays/prod/kustomization.yaml": "namespace: prod\nresources:\n- ../../../base\n" + privilegedPatch,
			},
			path: ".", object: "prod/Deployment/web",
		},
		{
			name: "chart under the kustomization given",
			files: map[string]string{
				"kustomization.yaml":       "resources:\n- base\n",
				"chart/Chart.yaml":         "apiVersion: v2\nname: agent\nversion: 0.1.0\n",
				"chart/templates/pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: agent}\nspec:\n  containers:\n  - {name: c, image: x, securityContext: {privileged: true}}\n",
			},
			path: ".", object: "default/Pod/agent",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree := t.TempDir()
			writeTree(t, tree, base, "", "")
			writeTree(t, tree, tt.files, "", "")
			out, errOut, code := run(t, "", "check", filepath.Join(tree, tt.path), "-o", "json")
			if code != ExitFindings {
				t.Errorf("exit %d, want %d; stderr: %s", code, ExitFindings, errOut)
			}
			res := checkOutput(t, out)
			found := false
			for _, f := range res.Findings {
				found = found || f.Rule == "pss/privileged" && f.Object == tt.object
			}
			if !found || res.Summary.InputErrors != 0 {
				t.Errorf("pss/privileged on %s: %v, input errors %d; want the finding and no error:\n%s", tt.object, found, res.Summary.InputErrors, out)
			}
		})
	}
}

// TestKustomizeCycle: kustomizations that only reference each other (or
// themselves) are each some other's base, yet no build reaches them: they
// are built, and kustomize's cycle error is an input error, never a clean
// run that read none of them.
func TestKustomizeCycle(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
	}{
		{
			name: "two",
			files: map[string]string{
				"a/kustomization.yaml": "resources:\n- web.yaml\n- ../b\n",
				"b/kustomization.yaml": "resources:\n- ../a\n",
			},
		},
		{
			name:  "itself",
			files: map[string]string{"a/kustomization.yaml": "resources:\n- web.yaml\n- .\n"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree := t.TempDir()
			writeTree(t, tree, tt.files, "", "")
			writeTree(t, tree, map[string]string{
				"a/web.yaml":     strings.Replace(kustomizeDeployment, "        image: nginx:1.25\n", "        image: nginx:1.25\n        securityContext:\n          privileged: true\n", 1),
				"namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n",
			}, "", "")
			out, errOut, code := run(t, "", "check", tree, "-o", "json")
			if code != ExitError {
				t.Errorf("exit %d, want %d; stderr: %s", code, ExitError, errOut)
			}
			res := checkOutput(t, out)
			found := false
			for _, f := range res.Findings {
				found = found || f.Rule == ruleUnreadable && strings.Contains(f.Message, "cycle detected")
			}
			if !found {
				t.Errorf("no input/unreadable finding naming the cycle:\n%s", out)
			}
		})
	}
}

// TestKustomizeUnnamed: a file with Kubernetes objects in the directory of
// a kustomization that no kustomization names is not deployed by
// kustomize and not read: it is announced on stderr. Files named as
// resources, patches (which look like objects) or through an overlay's
// base are not; neither are files without objects.
func TestKustomizeUnnamed(t *testing.T) {
	const pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: stray}\nspec: {containers: [{name: c, image: x}]}\n"
	patch := "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec: {minReadySeconds: 5}\n"
	tests := []struct {
		name  string
		files map[string]string
		warn  []string // files announced, relative to the tree
	}{
		{
			name: "unlisted sibling",
			files: map[string]string{
				"kustomization.yaml": "resources:\n- web.yaml\n",
				"web.yaml":           kustomizeDeployment,
				"stray.yaml":         pod,
				"notes.yaml":         "owner: team-a\n",
			},
			warn: []string{"stray.yaml"},
		},
		{
			name: "unlisted in a subdirectory",
			files: map[string]string{
				"kustomization.yaml": "resources:\n- web.yaml\n",
				"web.yaml":           kustomizeDeployment,
				"old/stray.json":     `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stray"}}`,
			},
			warn: []string{"old/stray.json"},
		},
		{
			name: "patch and base named",
			files: map[string]string{
				"kustomization.yaml":      "resources:\n- base\npatches:\n- path: patch.yaml\n",
				"patch.yaml":              patch,
				"base/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- web.yaml\n",
				"base/web.yaml":           kustomizeDeployment,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree := t.TempDir()
			writeTree(t, tree, tt.files, "", "")
			_, errOut, code := run(t, "", "check", tree, "-o", "json")
			if code == ExitError {
				t.Fatalf("exit %d; stderr: %s", code, errOut)
			}
			var got []string
			for _, l := range strings.Split(errOut, "\n") {
				if f, ok := strings.CutPrefix(l, "ward: warning: "+tree+string(filepath.Separator)); ok && strings.Contains(f, ": not read: ") {
					got = append(got, filepath.ToSlash(f[:strings.Index(f, ": not read: ")]))
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.warn, ",") {
				t.Errorf("files announced as not read: %q, want %q; stderr:\n%s", got, tt.warn, errOut)
			}
		})
	}
}

// TestKustomizationFileGiven: a kustomization file given as PATH, with
// the apiVersion and kind that kustomize edit writes, was read as a
// manifest holding one unmodelled object: exit 0, score 100, though the
// directory it builds deploys a host-network pod. It is an input error
// naming the directory to give, whatever its name.
func TestKustomizationFileGiven(t *testing.T) {
	for _, name := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		t.Run(name, func(t *testing.T) {
			tree := t.TempDir()
			writeTree(t, tree, map[string]string{
				name:       "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- web.yaml\npatches:\n- target: {kind: Deployment}\n  patch: |-\n    - {op: add, path: /spec/template/spec/hostNetwork, value: true}\n",
				"web.yaml": kustomizeDeployment,
			}, "", "")
			out, errOut, code := run(t, "", "check", filepath.Join(tree, name), "-o", "json")
			if code != ExitError {
				t.Errorf("exit %d, want %d; stderr: %s", code, ExitError, errOut)
			}
			found := false
			for _, f := range checkOutput(t, out).Findings {
				found = found || f.Rule == ruleUnreadable && f.File == filepath.Join(tree, name) && strings.Contains(f.Fix, tree)
			}
			if !found {
				t.Errorf("no input/unreadable finding at %s naming the directory:\n%s", name, out)
			}
		})
	}
}

// TestKustomizationObjectAsManifest: a Kustomization or Component met
// among manifests (standard input, a file of another name) was skipped as
// an object Ward does not model: `cat kustomization.yaml | ward check -`
// passed at 100/100 with exit 0 whatever its directory deploys. It is an
// input error naming what to give instead.
func TestKustomizationObjectAsManifest(t *testing.T) {
	const kust = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- web.yaml\n"
	const comp = "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\npatches:\n- path: host.yaml\n"
	list := "apiVersion: v1\nkind: List\nitems:\n- apiVersion: kustomize.config.k8s.io/v1beta1\n  kind: Kustomization\n  resources: [web.yaml]\n"
	jsonDoc := `{"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": ["web.yaml"]}` + "\n"
	for name, src := range map[string]string{"kustomization": kust, "component": comp, "list item": list, "json": jsonDoc} {
		t.Run(name, func(t *testing.T) {
			out, errOut, code := run(t, src, "check", "-", "-o", "json")
			if code != ExitError {
				t.Errorf("stdin: exit %d, want %d; stderr: %s", code, ExitError, errOut)
			}
			found := false
			for _, f := range checkOutput(t, out).Findings {
				found = found || f.Rule == ruleUnreadable && strings.Contains(f.Fix, "kustomize build DIR | ward check -")
			}
			if !found {
				t.Errorf("stdin: no input/unreadable finding:\n%s", out)
			}
			tree := t.TempDir()
			writeTree(t, tree, map[string]string{"base.yaml": src, "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"}, "", "")
			if _, errOut, code := run(t, "", "check", tree); code != ExitError {
				t.Errorf("%s: exit %d, want %d; stderr: %s", tree, code, ExitError, errOut)
			}
		})
	}
}
