package kustomize

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/kustomize/api/krusty"

	"github.com/wardsec/ward/manifest"
)

// write writes files (path: content) under dir.
func write(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func deployment(ns, name string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %s
  namespace: %s
  labels: {app: %s}
spec:
  replicas: 2
  selector:
    matchLabels: {app: %s}
  template:
    metadata:
      labels: {app: %s, tier: "web"}
    spec:
      containers:
      - name: c
        image: nginx:1.25
        ports:
        - containerPort: 8080
          protocol: TCP
        securityContext: {privileged: true, runAsUser: 0}
`, name, ns, name, name, name)
}

const policy = `# the policy
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata:
  name: deny
  namespace: shop
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  ingress:
  - from:
    - namespaceSelector:
        matchLabels: {team: "a"}
    ports:
    - {port: 8080}
`

// view is what the differential test compares of a loaded object.
type view struct {
	Kind, File string
	Line       int
	Obj        map[string]any
}

// load reads what Build returned as Ward's CLI does, and returns the
// objects and skipped documents, without kustomize's origin annotation.
func load(t *testing.T, dir string, res Result) (objs []view, skipped []string) {
	t.Helper()
	opts := manifest.Options{FieldLines: true}
	if res.Data != nil {
		opts.Rendered = []manifest.Rendered{{Name: dir + " (kustomize build)", Dir: dir, Data: res.Data}}
	}
	set, err := manifest.Load(opts, res.Files...)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	for _, o := range set.Objects {
		data, err := json.Marshal(o.Obj)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		if md, ok := m["metadata"].(map[string]any); ok {
			if a, ok := md["annotations"].(map[string]any); ok {
				delete(a, manifest.OriginAnnotation)
				if len(a) == 0 {
					delete(md, "annotations")
				}
			}
		}
		objs = append(objs, view{Kind: o.Kind, File: o.Source.File, Line: o.Source.Line, Obj: m})
	}
	for _, s := range set.Skipped {
		s.Source = manifest.Source{} // rendered location vs file:line: see TestPlainMatchesKrusty
		skipped = append(skipped, fmt.Sprint(s))
	}
	return objs, skipped
}

// TestPlainMatchesKrusty: on kustomization trees that only list
// resources, reading the files directly gives the same objects, in the
// same order, at the same file and line, as a full kustomize build.
func TestPlainMatchesKrusty(t *testing.T) {
	cases := map[string]struct {
		files map[string]string
		dir   string // the directory built, under the tree
	}{
		"one file, several documents": {files: map[string]string{
			"kustomization.yaml": "resources:\n- all.yaml\n",
			"all.yaml":           "---\n# web\n" + deployment("shop", "web") + "---\n" + policy + "---\n\n---\n" + deployment("shop", "api"),
		}},
		"overlay of bases, bases before resources in the file": {dir: "overlays/prod", files: map[string]string{
			"overlays/prod/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nbases:\n- ../../base\nresources:\n- extra.yaml\n- ../../other\n",
			"overlays/prod/extra.yaml":         deployment("prod", "extra"),
			"base/kustomization.yaml":          "resources:\n- web.yaml\n- policy.yaml\n",
			"base/web.yaml":                    deployment("shop", "web"),
			"base/policy.yaml":                 policy,
			"other/kustomization.yml":          "resources:\n- nested\n",
			"other/nested/Kustomization":       "resources:\n- svc.json\n",
			"other/nested/svc.json":            `{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}`,
		}},
		"lists, cluster objects and namespaces": {files: map[string]string{
			"kustomization.yaml": "resources:\n- ns.yaml\n- list.yaml\n",
			"ns.yaml":            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels: {team: a, \"pod-security.kubernetes.io/enforce\": restricted}\n",
			"list.yaml":          "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: p, namespace: shop, labels: {app: p}}\n  spec:\n    hostNetwork: true\n    containers: [{name: c, image: busybox, ports: [{containerPort: 53, protocol: UDP}]}]\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: cm, namespace: shop}\n  data: {a: \"1\"}\n",
		}},
		"quoting, numbers and no namespace": {files: map[string]string{
			"kustomization.yaml": "resources:\n  - \"pods.yaml\"\n",
			"pods.yaml":          "apiVersion: v1\nkind: Pod\nmetadata:\n  name: 'q'\n  annotations: {num: \"0777\", b: \"true\"}\nspec:\n  containers:\n  - name: c\n    image: \"x:1\"\n    args: [\"--port=8080\", '1e3']\n    ports: [{containerPort: 0x1F90}]\n",
		}},
		"empty kustomization": {files: map[string]string{"kustomization.yaml": "resources: []\n"}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			write(t, root, c.files)
			dir := filepath.Join(root, filepath.FromSlash(c.dir))
			if c.dir == "" {
				dir = root
			}
			fast, err := Build(dir, root, 0)
			if err != nil || fast.Data != nil {
				t.Fatalf("Build: %v, data %t: want the plain path", err, fast.Data != nil)
			}
			data, err := krustyBuild(dir, root, 0)
			if err != nil {
				t.Fatalf("krusty: %v", err)
			}
			wantObjs, wantSkipped := load(t, dir, Result{Data: data})
			gotObjs, gotSkipped := load(t, dir, fast)
			// The krusty path locates an object by searching its source
			// file for its kind and name (line 0 when that fails, as for
			// JSON files and List items); the plain path knows the line.
			for i := range wantObjs {
				if i < len(gotObjs) && wantObjs[i].Line == 0 && gotObjs[i].Line > 0 {
					wantObjs[i].Line = gotObjs[i].Line
				}
			}
			if diff := cmp.Diff(wantObjs, gotObjs); diff != "" {
				t.Errorf("objects differ from a kustomize build (-krusty +plain):\n%s", diff)
			}
			if diff := cmp.Diff(wantSkipped, gotSkipped); diff != "" {
				t.Errorf("skipped documents differ (-krusty +plain):\n%s", diff)
			}
			if len(c.files) > 1 && len(gotObjs) == 0 {
				t.Error("no objects: the comparison proves nothing")
			}
		})
	}
}

// TestPlainOnlyWithoutTransformations: any key that makes kustomize
// change, add or drop objects sends the tree to kustomize, wherever it is
// in the tree.
func TestPlainOnlyWithoutTransformations(t *testing.T) {
	for _, extra := range []string{
		"namePrefix: x-", "nameSuffix: -x", "namespace: n", "commonLabels: {a: b}", "labels: [{pairs: {a: b}}]",
		"commonAnnotations: {a: b}", "images: [{name: nginx, newTag: '2'}]", "replicas: [{name: web, count: 3}]",
		"patches: [{path: p.yaml}]", "patchesStrategicMerge: [p.yaml]", "configMapGenerator: [{name: c, literals: [a=b]}]",
		"buildMetadata: [managedByLabel]", "sortOptions: {order: legacy}", "components: [comp]", "kind: Component",
		"vars: []", "replacements: []", "generatorOptions: {disableNameSuffixHash: true}",
	} {
		for _, where := range []string{"top", "base"} {
			t.Run(where+" "+extra, func(t *testing.T) {
				root := t.TempDir()
				files := map[string]string{
					"kustomization.yaml":      "resources:\n- base\n",
					"base/kustomization.yaml": "resources:\n- web.yaml\n",
					"base/web.yaml":           deployment("shop", "web"),
				}
				files[map[string]string{"top": "kustomization.yaml", "base": "base/kustomization.yaml"}[where]] += extra + "\n"
				write(t, root, files)
				if files, ok := plainFiles(root, 0); ok {
					t.Errorf("plain (%v): %q must be built by kustomize", files, extra)
				}
			})
		}
	}
}

// TestRootedFS: the file system kustomize gets reads nothing outside the
// root, symlinks resolved, and writes nothing.
func TestRootedFS(t *testing.T) {
	top := t.TempDir()
	root, outside := filepath.Join(top, "root"), filepath.Join(top, "outside")
	write(t, root, map[string]string{"kustomization.yaml": "resources: [a.yaml]\n", "a.yaml": "a: 1\n"})
	write(t, outside, map[string]string{"secret": "s\n"})
	if err := os.Symlink(outside, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	fs, err := newRootedFS(root)
	if err != nil {
		t.Fatal(err)
	}
	if data, err := fs.ReadFile(filepath.Join(root, "a.yaml")); err != nil || string(data) != "a: 1\n" {
		t.Errorf("inside: %q, %v", data, err)
	}
	if data, err := fs.ReadFile(filepath.Join(root, "kustomization.yaml")); err != nil || !strings.Contains(string(data), "originAnnotations") {
		t.Errorf("kustomization without origin annotations: %q, %v", data, err)
	}
	for _, p := range []string{filepath.Join(outside, "secret"), filepath.Join(root, "link", "secret"), filepath.Join(root, "..", "outside", "secret"), "/etc/hostname"} {
		if _, err := fs.ReadFile(p); !errors.Is(err, errOutside) {
			t.Errorf("ReadFile(%s): %v, want refused", p, err)
		}
		if _, err := fs.Open(p); !errors.Is(err, errOutside) {
			t.Errorf("Open(%s): %v, want refused", p, err)
		}
		if fs.Exists(p) || fs.IsDir(filepath.Dir(p)) && !strings.HasPrefix(filepath.Dir(p), root+string(filepath.Separator)) {
			t.Errorf("Exists/IsDir(%s) true outside the root", p)
		}
	}
	if _, err := fs.ReadDir(outside); !errors.Is(err, errOutside) {
		t.Errorf("ReadDir outside: %v", err)
	}
	if err := fs.WriteFile(filepath.Join(root, "new"), []byte("x")); !errors.Is(err, errReadOnly) {
		t.Errorf("WriteFile: %v", err)
	}
	if err := fs.RemoveAll(root); !errors.Is(err, errReadOnly) {
		t.Errorf("RemoveAll: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "a.yaml")); err != nil {
		t.Errorf("the tree changed: %v", err)
	}
}

// TestCheckAllowsLocal: a tree whose references are all local (files,
// directories through .., inline patches and builtin configurations)
// passes the scan and builds.
func TestCheckAllowsLocal(t *testing.T) {
	root := t.TempDir()
	write(t, root, map[string]string{
		"base/kustomization.yaml": "resources:\n- web.yaml\n",
		"base/web.yaml":           deployment("shop", "web"),
		"overlays/prod/kustomization.yaml": `resources:
- ../../base
patches:
- path: patch.yaml
- patch: |
    - op: replace
      path: /spec/replicas
      value: 3
  target: {kind: Deployment, name: web}
patchesStrategicMerge:
- |
  apiVersion: apps/v1
  kind: Deployment
  metadata: {name: web, namespace: shop}
  spec: {minReadySeconds: 5}
configMapGenerator:
- name: conf
  files: [app.conf, renamed=app.conf]
  envs: [app.env]
transformers:
- |
  apiVersion: builtin
  kind: LabelTransformer
  metadata: {name: l}
  labels: {env: prod}
  fieldSpecs: [{path: metadata/labels, create: true}]
`,
		"overlays/prod/patch.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  template:\n    spec:\n      hostNetwork: true\n",
		"overlays/prod/app.conf":   "a=b\n",
		"overlays/prod/app.env":    "A=B\n",
	})
	res, err := Build(filepath.Join(root, "overlays", "prod"), root, 0)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	set, err := manifest.Parse(manifest.Options{}, "build", res.Data)
	if err != nil || len(set.Workloads) != 1 || !set.Workloads[0].HostNetwork ||
		!strings.Contains(string(res.Data), "env: prod") || !strings.Contains(string(res.Data), "minReadySeconds: 5") || !strings.Contains(string(res.Data), "replicas: 3") {
		t.Errorf("the build lost the overlay: %v\n%s", err, res.Data)
	}
}

// TestRoot: the root is the top of the enclosing git work tree, else the
// path given (its directory, for a file).
func TestRoot(t *testing.T) {
	top := t.TempDir()
	write(t, top, map[string]string{"repo/.git/HEAD": "ref: refs/heads/main\n", "repo/deploy/overlays/prod/kustomization.yaml": "resources: []\n", "plain/k/kustomization.yaml": "resources: []\n"})
	if got := Root(filepath.Join(top, "repo", "deploy", "overlays", "prod")); got != filepath.Join(top, "repo") {
		t.Errorf("inside a work tree: %s", got)
	}
	if got := Root(filepath.Join(top, "plain", "k")); got != filepath.Join(top, "plain", "k") {
		t.Errorf("outside a work tree: %s", got)
	}
	if got := Root(filepath.Join(top, "plain", "k", "kustomization.yaml")); got != filepath.Join(top, "plain", "k") {
		t.Errorf("a file outside a work tree: %s", got)
	}
}

// TestIsRemote: kustomize's remote forms are recognised, local paths are
// not.
func TestIsRemote(t *testing.T) {
	for _, r := range []string{
		"https://example.com/a.yaml", "http://127.0.0.1:8080/x", "ssh://git@host/org/repo", "git::https://host/org/repo",
		"file:///etc/passwd", "git@github.com:org/repo", "deploy@host:org/repo.git", "host:org/repo", "github.com/org/repo",
		"gitlab.com/org/repo/deploy", "bitbucket.org/org/repo", "example.org/org/repo?ref=v1", "example.org/org/repo.git",
		"example.org/org/repo//deploy", "dev.azure.com/org/project/_git/repo", "HTTPS://EXAMPLE.COM/A",
		"deploy@host/org/repo", "github.com:org/repo", "host/org/repo?timeout=1s", "example.org/tfs/_git/repo/deploy",
	} {
		if isRemote(r) == "" {
			t.Errorf("%q: not recognised as remote", r)
		}
	}
	for _, l := range []string{"deployment.yaml", "../../base", "./base", "base/deploy.yaml", "my.git.yaml", "a.gitignore", "dir/sub", "dir/a@b.yaml"} {
		if why := isRemote(l); why != "" {
			t.Errorf("%q: %s, want local", l, why)
		}
	}
}

// TestPlainMatchesKrustyRandom: the differential test on random trees of
// resources-only kustomizations (nested directories, bases and
// resources, several kinds, comments and separators placed at random).
func TestPlainMatchesKrustyRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 1))
	serial := 0
	doc := func() string {
		serial++
		ns := fmt.Sprintf("ns%d", rng.IntN(3))
		name := fmt.Sprintf("o%d", serial)
		var d string
		switch rng.IntN(6) {
		case 0:
			d = deployment(ns, name)
		case 1:
			d = strings.ReplaceAll(policy, "name: deny", "name: "+name)
		case 2:
			d = fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata:\n  name: %s\n  namespace: %s\nspec:\n  selector: {app: %s}\n  ports:\n  - port: %d\n", name, ns, name, 80+rng.IntN(1000))
		case 3:
			d = fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n  labels: {team: t%d}\n", name, rng.IntN(4))
		case 4:
			d = fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  namespace: %s\n  labels: {app: %s}\nspec:\n  hostNetwork: %t\n  containers:\n  - name: c\n    image: busybox\n", name, ns, name, rng.IntN(2) == 0)
		default:
			d = fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: %s\ndata:\n  k: \"%d\"\n", name, ns, rng.IntN(100))
		}
		if rng.IntN(3) == 0 {
			d = "# comment\n" + d
		}
		return d
	}
	for i := range 12 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			root := t.TempDir()
			files := map[string]string{}
			var tree func(dir string, depth int)
			tree = func(dir string, depth int) {
				var res, bases []string
				for f := range 1 + rng.IntN(3) {
					var docs []string
					for range 1 + rng.IntN(4) {
						docs = append(docs, doc())
					}
					name := fmt.Sprintf("f%d.yaml", f)
					content := strings.Join(docs, "---\n")
					if rng.IntN(2) == 0 {
						content = "---\n" + content
					}
					files[dir+name] = content
					res = append(res, name)
				}
				if depth < 3 {
					for s := range rng.IntN(3) {
						sub := fmt.Sprintf("d%d", s)
						tree(dir+sub+"/", depth+1)
						if rng.IntN(3) == 0 {
							bases = append(bases, sub)
						} else {
							res = append(res, sub)
						}
					}
				}
				rng.Shuffle(len(res), func(a, b int) { res[a], res[b] = res[b], res[a] })
				k := "resources:\n- " + strings.Join(res, "\n- ") + "\n"
				if len(bases) > 0 {
					k = "bases:\n- " + strings.Join(bases, "\n- ") + "\n" + k
				}
				files[dir+"kustomization.yaml"] = k
			}
			tree("", 0)
			write(t, root, files)
			fast, err := Build(root, root, 0)
			if err != nil || fast.Data != nil {
				t.Fatalf("Build: %v, data %t: want the plain path", err, fast.Data != nil)
			}
			data, err := krustyBuild(root, root, 0)
			if err != nil {
				t.Fatalf("krusty: %v", err)
			}
			want, wantSkipped := load(t, root, Result{Data: data})
			got, gotSkipped := load(t, root, fast)
			if len(got)+len(gotSkipped) < len(fast.Files) {
				t.Errorf("%d objects from %d files: the comparison proves little", len(got)+len(gotSkipped), len(fast.Files))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("objects differ from a kustomize build (-krusty +plain):\n%s", diff)
			}
			if diff := cmp.Diff(wantSkipped, gotSkipped); diff != "" {
				t.Errorf("skipped documents differ (-krusty +plain):\n%s", diff)
			}
		})
	}
}

// TestExpansionBomb: a tree where each level lists the next twice would
// make kustomize build 2^depth kustomizations; the scan refuses it at
// once and the plain path leaves it alone.
func TestExpansionBomb(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{}
	dir := ""
	for range 40 {
		files[dir+"kustomization.yaml"] = "resources:\n- n\n- ./n\n"
		dir += "n/"
	}
	files[dir+"kustomization.yaml"] = "resources:\n- pod.yaml\n"
	files[dir+"pod.yaml"] = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: x}]}\n"
	write(t, root, files)
	done := make(chan error, 1)
	go func() { done <- Check(root, root) }()
	select {
	case err := <-done:
		var me *manifest.Error
		if !errors.Is(err, ErrTooMany) || !errors.As(err, &me) || me.File != filepath.Join(root, "kustomization.yaml") {
			t.Errorf("Check: %v, want ErrTooMany at the top kustomization", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Check still running after 10 s")
	}
	if _, ok := plainFiles(root, 0); ok {
		t.Error("plain: a base reached through two paths")
	}
}

// TestMultipleFiles: a directory with more than one kustomization file is
// refused, as kustomize refuses it, whether it is the one built or a base:
// reading only the first would leave the resources the other lists
// unread, a clean result from input never read.
func TestMultipleFiles(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		build string // the directory built
		file  string // the kustomization the error names
	}{
		{
			name: "built",
			files: map[string]string{
				"app/kustomization.yaml": "resources:\n- web.yaml\n",
				"app/kustomization.yml":  "resources:\n- admin.yaml\n",
			},
			build: "app", file: "app/kustomization.yaml",
		},
		{
			name: "base",
			files: map[string]string{
				"app/kustomization.yaml": "resources:\n- ../base\n",
				"base/kustomization.yml": "resources:\n- web.yaml\n",
				"base/Kustomization":     "resources:\n- admin.yaml\n",
			},
			build: "app", file: "base/kustomization.yml",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			write(t, root, tt.files)
			for _, d := range []string{"app", "base"} {
				write(t, root, map[string]string{d + "/web.yaml": deployment("shop", "web"), d + "/admin.yaml": deployment("shop", "admin")})
			}
			dir := filepath.Join(root, tt.build)
			if _, err := krustyBuild(dir, root, 0); err == nil {
				t.Fatal("kustomize builds the tree: the test no longer shows what kustomize refuses")
			}
			res, err := Build(dir, root, 0)
			var me *manifest.Error
			if !errors.Is(err, ErrMultiple) || !errors.As(err, &me) || me.File != filepath.Join(root, tt.file) {
				t.Errorf("Build = %v, %v; want ErrMultiple at %s", res, err, tt.file)
			}
		})
	}
}

// TestReferencesSpelling: kustomize reads one of two spellings of a field
// that fold to the same name ("resources" and "reſources"): a base named
// only by the other is not built through the kustomization, so
// References names no base for it and the base is built on its own.
func TestReferencesSpelling(t *testing.T) {
	tests := []struct {
		name string
		kust string
		want []string
	}{
		{name: "resources", kust: "resources:\n- base\n- web.yaml\n", want: []string{"base"}},
		{name: "bases and components", kust: "bases:\n- base\ncomponents:\n- comp\n", want: []string{"base", "comp"}},
		{name: "long s beside resources", kust: "resources:\n- base\nre\u017fources:\n- web.yaml\n"},
		{name: "capitalised", kust: "Resources:\n- base\n"},
		{name: "BASES", kust: "resources:\n- web.yaml\nBASES:\n- base\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			write(t, root, map[string]string{
				"kustomization.yaml":      tt.kust,
				"web.yaml":                deployment("shop", "web"),
				"base/kustomization.yaml": "resources:\n- web.yaml\n",
				"base/web.yaml":           deployment("shop", "base"),
				"comp/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n",
			})
			var got []string
			for _, r := range References(root, 0) {
				rel, _ := filepath.Rel(root, r)
				got = append(got, rel)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("References (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSizeLimit: Build under a size limit (64 KiB here) refuses, with a
// *manifest.Error matching manifest.ErrTooLarge, any file of the tree
// larger than it (named), a build that reads more than it in all (a base
// counted once per load), and a build whose output passes it (named by the
// kustomization file and the object that passes it). Within the limit,
// kustomizations build as before.
func TestSizeLimit(t *testing.T) {
	const limit = 64 << 10
	big := strings.Repeat("# a comment line of padding\n", 2500) // 70 KiB
	cm := func(name string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\ndata:\n  a: \"1\"\n"
	}
	var cms []string
	many := map[string]string{}
	for i := range 20 {
		n := fmt.Sprintf("cm%d.yaml", i)
		cms = append(cms, n)
		many[n] = cm(fmt.Sprintf("cm%d", i))
	}
	// Ten overlays of one 10 KiB base: 100 KiB read, 10 KiB on disk.
	loads := map[string]string{"base/kustomization.yaml": "resources: [cm.yaml]\n",
		"base/cm.yaml": cm("c") + "  pad: \"" + strings.Repeat("x", 10<<10) + "\"\n"}
	var mids []string
	for i := range 10 {
		d := fmt.Sprintf("mid%d", i)
		mids = append(mids, d)
		loads[d+"/kustomization.yaml"] = fmt.Sprintf("namePrefix: p%d-\nresources: [../base]\n", i)
	}
	loads["kustomization.yaml"] = "resources: [" + strings.Join(mids, ", ") + "]\n"
	for _, tc := range []struct {
		name   string
		files  map[string]string
		file   string // the file named
		object string
	}{
		{"kustomization file", map[string]string{"kustomization.yaml": "resources: [cm.yaml]\n" + big, "cm.yaml": cm("c")}, "kustomization.yaml", ""},
		{"resource file", map[string]string{"kustomization.yaml": "namespace: shop\nresources: [cm.yaml]\n", "cm.yaml": cm("c") + big}, "cm.yaml", ""},
		{"patch file", map[string]string{"kustomization.yaml": "resources: [cm.yaml]\npatches:\n- path: patch.yaml\n", "cm.yaml": cm("c"), "patch.yaml": cm("c") + big}, "patch.yaml", ""},
		{"generator source", map[string]string{"kustomization.yaml": "configMapGenerator:\n- name: g\n  files: [big.txt]\n", "big.txt": big}, "big.txt", ""},
		{"base loaded ten times", loads, "base/cm.yaml", ""},
		{"output", func() map[string]string {
			m := map[string]string{"kustomization.yaml": "commonAnnotations:\n  pad: \"" + strings.Repeat("x", 5<<10) + "\"\nresources: [" + strings.Join(cms, ", ") + "]\n"}
			for k, v := range many {
				m[k] = v
			}
			return m
		}(), "kustomization.yaml", "ConfigMap.v1.[noGrp]/cm12.[noNs]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			write(t, root, tc.files)
			_, err := Build(root, root, limit)
			var me *manifest.Error
			if !errors.As(err, &me) || !errors.Is(err, manifest.ErrTooLarge) {
				t.Fatalf("Build: %v; want a *manifest.Error matching manifest.ErrTooLarge", err)
			}
			if want := filepath.Join(root, filepath.FromSlash(tc.file)); me.File != want || me.Object != tc.object {
				t.Errorf("error at %s (object %q), want %s (object %q): %v", me.File, me.Object, want, tc.object, err)
			}
			if !strings.Contains(err.Error(), "64 KiB") {
				t.Errorf("error %q does not give the limit", err)
			}
		})
	}
	// Within the limit: the same trees build, plain or through kustomize.
	for name, files := range map[string]map[string]string{
		"plain":       {"kustomization.yaml": "resources: [cm.yaml]\n", "cm.yaml": cm("c")},
		"transformed": {"kustomization.yaml": "namespace: shop\nresources: [cm.yaml]\npatches:\n- path: patch.yaml\n", "cm.yaml": cm("c"), "patch.yaml": cm("c")},
	} {
		root := t.TempDir()
		write(t, root, files)
		if res, err := Build(root, root, limit); err != nil || len(res.Files)+len(res.Data) == 0 {
			t.Errorf("%s: %v, %+v", name, err, res)
		}
	}
}

// TestOutput: output writes what ResMap.AsYaml writes, within the limit.
func TestOutput(t *testing.T) {
	root := t.TempDir()
	write(t, root, map[string]string{"kustomization.yaml": "namespace: shop\nresources: [d.yaml, p.yaml]\n",
		"d.yaml": deployment("a", "web"), "p.yaml": policy})
	fs, err := newRootedFS(root)
	if err != nil {
		t.Fatal(err)
	}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, root)
	if err != nil {
		t.Fatal(err)
	}
	want, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	got, err := output(m, root, int64(len(want)))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("output differs from AsYaml (-want +got):\n%s", diff)
	}
	if _, err := output(m, root, int64(len(want))-1); !errors.Is(err, manifest.ErrTooLarge) {
		t.Errorf("one byte under: %v, want manifest.ErrTooLarge", err)
	}
}

// TestPlainYAML11Scalars: kustomize reads an unquoted yes or on as a
// string and writes it quoted, where Ward's loader reads it as kubectl
// does, as a boolean (an env value: yes is refused by the API server when
// applied with kubectl -f). A tree whose resources hold one is built, so
// that what Ward reads is what kustomize applies: the env value and the
// label are strings, and hostNetwork: on is the string "on", refused.
func TestPlainYAML11Scalars(t *testing.T) {
	root := t.TempDir()
	write(t, root, map[string]string{
		"kustomization.yaml": "resources:\n- pod.yaml\n",
		"pod.yaml":           "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels: {app: on}\nspec:\n  containers:\n  - name: c\n    image: x\n    env: [{name: E, value: yes}]\n",
	})
	s := built(t, root)
	if len(s.Workloads) != 1 {
		t.Fatalf("workloads %+v", s.Workloads)
	}
	w := s.Workloads[0]
	if got := w.Template.Spec.Containers[0].Env[0].Value; got != "yes" || w.Labels["app"] != "on" {
		t.Errorf("env %q, label %q: want the strings kustomize applies", got, w.Labels["app"])
	}
}

// TestPlainYAML11Keys: kustomize keeps an unquoted key on: as the
// string "on" (and writes it quoted), where Ward's loader reads it as
// kubectl does, as the key "true". A policy selecting {on: x} and a pod
// labelled "on": x match after kustomize's build; the plain path read
// the policy's key as "true" and the pod as unselected, and a pod
// labelled "true": x as selected. Such a tree is built.
func TestPlainYAML11Keys(t *testing.T) {
	for _, key := range []string{"on", "Yes", "n", "1"} {
		t.Run(key, func(t *testing.T) {
			root := t.TempDir()
			write(t, root, map[string]string{
				"kustomization.yaml": "resources:\n- pod.yaml\n",
				"pod.yaml":           "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels:\n    " + key + ": x\nspec:\n  containers:\n  - name: c\n    image: x\n",
			})
			s := built(t, root)
			if len(s.Workloads) != 1 {
				t.Fatalf("workloads %+v", s.Workloads)
			}
			if got := s.Workloads[0].Labels; got[key] != "x" {
				t.Errorf("labels %v: want %s=x, as kustomize applies it", got, key)
			}
		})
	}
	if yaml11Keys.MatchString("metadata:\n  labels: {app: web}\n  image: x:1\n  ip: 10.0.0.1\n  t: 10:30\n") {
		t.Error("plain string keys take the build")
	}
}

// TestPlainMergeKeys: kustomize applies merge keys as yaml.v3 does, the
// mapping's own keys winning, where Ward's loader applies them in the
// order of the text, as kubectl does: privileged: true followed by
// <<: {privileged: false} is privileged after kustomize's build, and was
// not on the plain path. Such a tree is built.
func TestPlainMergeKeys(t *testing.T) {
	root := t.TempDir()
	write(t, root, map[string]string{
		"kustomization.yaml": "resources:\n- pod.yaml\n",
		"pod.yaml":           "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: x\n    securityContext:\n      privileged: true\n      <<: {privileged: false}\n",
	})
	s := built(t, root)
	if len(s.Workloads) != 1 {
		t.Fatalf("workloads %+v", s.Workloads)
	}
	if p := s.Workloads[0].Template.Spec.Containers[0].SecurityContext.Privileged; p == nil || !*p {
		t.Errorf("privileged %v: want true, as kustomize applies it", p)
	}
}

// built builds the kustomization at root, which must take kustomize's
// build rather than the plain path, and parses its output.
func built(t *testing.T, root string) *manifest.Set {
	t.Helper()
	r, err := Build(root, root, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.Data == nil {
		t.Fatal("the plain path read the files as written: want kustomize's build")
	}
	s, err := manifest.Parse(manifest.Options{}, "out.yaml", r.Data)
	if err != nil {
		t.Fatalf("%v\n%s", err, r.Data)
	}
	return s
}

// TestPlainLocalConfig: kustomize leaves out of its build an object
// annotated config.kubernetes.io/local-config, so a default-deny policy
// so annotated is never applied; the plain path read it as written and
// counted it. Such a tree is built.
func TestPlainLocalConfig(t *testing.T) {
	root := t.TempDir()
	write(t, root, map[string]string{
		"kustomization.yaml": "resources:\n- all.yaml\n",
		"all.yaml":           strings.Replace(policy, "metadata:\n", "metadata:\n  annotations: {config.kubernetes.io/local-config: \"true\"}\n", 1) + "---\n" + deployment("shop", "web"),
	})
	s := built(t, root)
	if len(s.Policies) != 0 || len(s.Workloads) != 1 {
		t.Errorf("policies %d, workloads %d: want the Deployment only, as kustomize builds", len(s.Policies), len(s.Workloads))
	}
}
