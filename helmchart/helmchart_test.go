package helmchart

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"
)

const shop = "testdata/shop"

// objects decodes every document of c's templates into maps, by
// "template kind/name".
func objects(t *testing.T, c *Chart) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, tpl := range c.Templates {
		for _, doc := range strings.Split(string(tpl.Data), "\n---") {
			var m map[string]any
			if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
				t.Fatalf("%s: %v\n%s", tpl.Name, err, doc)
			}
			if m == nil {
				continue
			}
			md, _ := m["metadata"].(map[string]any)
			out[tpl.Name+" "+m["kind"].(string)+"/"+md["name"].(string)] = m
		}
	}
	return out
}

func keys(m map[string]map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// get walks m along a path of map keys and list indexes.
func get(m any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			mm, _ := m.(map[string]any)
			m = mm[k]
		case int:
			l, _ := m.([]any)
			if k >= len(l) {
				return nil
			}
			m = l[k]
		}
	}
	return m
}

// TestRenderDefaults: the chart's own values, its subchart enabled by
// default (redis, with the parent's values for it) and the one disabled
// by its condition (metrics), helpers, lookup returning empty, and the
// default release name, namespace and Kubernetes version.
func TestRenderDefaults(t *testing.T) {
	c, err := Render(shop, Options{Set: []string{"database.host=db"}})
	if err != nil {
		t.Fatal(err)
	}
	objs := objects(t, c)
	want := []string{
		"shop/charts/redis/templates/statefulset.yaml StatefulSet/release-name-redis",
		"shop/templates/deployment.yaml Deployment/release-name-shop",
		"shop/templates/networkpolicy.yaml NetworkPolicy/release-name-shop-default-deny",
		"shop/templates/networkpolicy.yaml NetworkPolicy/release-name-shop-web",
		"shop/templates/secret.yaml Secret/release-name-shop",
		"shop/templates/service.yaml Service/release-name-shop",
	}
	if diff := cmp.Diff(want, keys(objs), sortStrings); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
	dep := objs[want[1]]
	if ns := get(dep, "metadata", "namespace"); ns != "default" {
		t.Errorf("namespace %v, want default", ns)
	}
	if img := get(dep, "spec", "template", "spec", "containers", 0, "image"); img != "registry.example/shop/web:1.4.2" {
		t.Errorf("image %v, want the chart's appVersion as tag", img)
	}
	if l := get(dep, "metadata", "labels", "app.kubernetes.io/instance"); l != "release-name" {
		t.Errorf("helper label %v, want release-name", l)
	}
	if hn := get(dep, "spec", "template", "spec", "hostNetwork"); hn != nil {
		t.Errorf("hostNetwork %v with hardened: true", hn)
	}
	sec := objs[want[4]]
	if got := get(sec, "metadata", "annotations", "shop.example/found-existing"); got != "no" {
		t.Errorf("lookup found an existing secret (%v): it must return empty offline", got)
	}
	if got, want := get(sec, "metadata", "annotations", "shop.example/kube-version"), DefaultKubeVersion(); got != want {
		t.Errorf(".Capabilities.KubeVersion.Version = %v, want %s (the PSS version)", got, want)
	}
	redis := objs[want[0]]
	if args := get(redis, "spec", "template", "spec", "containers", 0, "args", 0); args != "--requirepass" {
		t.Errorf("redis args[0] = %v: the parent's redis.auth: true must reach the subchart", args)
	}
	for _, tpl := range c.Templates {
		if strings.Contains(tpl.Name, "NOTES") || strings.Contains(tpl.Name, "_helpers") {
			t.Errorf("%s rendered as a template", tpl.Name)
		}
		if _, err := os.Stat(tpl.File); err != nil {
			t.Errorf("%s: file %s: %v", tpl.Name, tpl.File, err)
		}
	}
}

var sortStrings = cmp.Transformer("sort", func(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
})

// TestRenderValues: a values file over the chart's values, then --set
// (helm's strvals: lists, commas) and --set-string (strings kept as
// strings), in helm's order.
func TestRenderValues(t *testing.T) {
	c, err := Render(shop, Options{
		ReleaseName: "prod", Namespace: "shop", KubeVersion: "1.31.4",
		ValueFiles: []string{filepath.Join(shop, "values-prod.yaml")},
		Set:        []string{"hardened=false,replicaCount=5", "networkPolicy.enabled=false"},
		SetString:  []string{"image.tag=0012", "replicaCount=7"},
	})
	if err != nil {
		t.Fatal(err)
	}
	objs := objects(t, c)
	dep := objs["shop/templates/deployment.yaml Deployment/prod-shop"]
	if dep == nil {
		t.Fatalf("no Deployment prod-shop among %v", keys(objs))
	}
	for _, tc := range []struct {
		path []any
		want any
	}{
		{[]any{"metadata", "namespace"}, "shop"},
		{[]any{"spec", "replicas"}, float64(7)}, // --set-string comes last
		{[]any{"spec", "template", "spec", "hostNetwork"}, true},
		{[]any{"spec", "template", "spec", "containers", 0, "image"}, "registry.example/shop/web:0012"},
		{[]any{"spec", "template", "spec", "containers", 0, "env", 0, "value"}, "db.prod.internal"},
		{[]any{"spec", "template", "spec", "containers", 0, "securityContext", "privileged"}, true},
	} {
		if got := get(dep, tc.path...); got != tc.want {
			t.Errorf("%v = %#v, want %#v", tc.path, got, tc.want)
		}
	}
	if svc := objs["shop/templates/service.yaml Service/prod-shop"]; get(svc, "spec", "type") != "NodePort" {
		t.Errorf("service type %v, want NodePort from values-prod.yaml", get(svc, "spec", "type"))
	}
	if _, ok := objs["shop/charts/metrics/templates/daemonset.yaml DaemonSet/prod-metrics"]; !ok {
		t.Errorf("metrics subchart not rendered although values-prod.yaml enables it: %v", keys(objs))
	}
	for k := range objs {
		if strings.Contains(k, "NetworkPolicy") {
			t.Errorf("%s rendered with networkPolicy.enabled=false", k)
		}
	}
	if got := get(objs["shop/templates/secret.yaml Secret/prod-shop"], "metadata", "annotations", "shop.example/kube-version"); got != "v1.31.4" {
		t.Errorf("kube version %v, want v1.31.4", got)
	}
}

// TestTemplateLines: findings point at the template's own lines.
func TestTemplateLines(t *testing.T) {
	c, err := Render(shop, Options{Set: []string{"database.host=db", "hardened=false"}})
	if err != nil {
		t.Fatal(err)
	}
	var dep Template
	for _, tpl := range c.Templates {
		if tpl.Name == "shop/templates/deployment.yaml" {
			dep = tpl
		}
	}
	src, err := os.ReadFile(dep.File)
	if err != nil {
		t.Fatal(err)
	}
	srcLines := strings.Split(string(src), "\n")
	for i, l := range strings.Split(string(dep.Data), "\n") {
		n := dep.Line(i + 1)
		if n < 1 || n > len(srcLines) {
			t.Fatalf("rendered line %d %q: template line %d out of range", i+1, l, n)
		}
		switch strings.TrimSpace(l) {
		case "hostNetwork: true", "privileged: true", "containers:":
			if srcLines[n-1] != l {
				t.Errorf("rendered line %d %q reported at template line %d %q", i+1, l, n, srcLines[n-1])
			}
		}
		// securityContext: appears in both branches; the else branch ran.
		if strings.TrimSpace(l) == "securityContext:" && n != 35 {
			t.Errorf("securityContext of the else branch at template line %d, want 35", n)
		}
	}
}

func TestLineMap(t *testing.T) {
	src := "a: 1\n{{- if .x }}\nb: 2\n{{- end }}\nc: {{ .c }}\nd: 4\n"
	out := "a: 1\nb: 2\nc: 3\nd: 4\n"
	if diff := cmp.Diff([]int{1, 3, 3, 6, 6}, lineMap([]byte(src), []byte(out))); diff != "" {
		t.Errorf("lineMap (-want +got):\n%s", diff)
	}
	// Nothing literal: every line is reported at line 1.
	if diff := cmp.Diff([]int{1, 1}, lineMap([]byte("{{ toYaml .Values }}"), []byte("a: 1\n"))); diff != "" {
		t.Errorf("lineMap (-want +got):\n%s", diff)
	}
}

// chartError renders dir and returns the *Error it must fail with.
func chartError(t *testing.T, dir string, opts Options) *Error {
	t.Helper()
	c, err := Render(dir, opts)
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Render(%s) = %v, %v; want an *Error", dir, c, err)
	}
	return e
}

func TestRenderErrors(t *testing.T) {
	for _, tc := range []struct {
		name, dir string
		opts      Options
		file      string
		line      int
		msg       string
	}{
		{"required", shop, Options{}, "testdata/shop/templates/deployment.yaml", 26, "database.host is required"},
		{"bad template", "testdata/bad-template", Options{}, "testdata/bad-template/templates/configmap.yaml", 6, `function "nosuchfunction" not defined`},
		{"missing dependency", "testdata/missing-dep", Options{}, "testdata/missing-dep/Chart.yaml", 0, `dependency "postgres" (repository https://charts.example.invalid/stable) is not in charts/`},
		{"library", "testdata/library", Options{}, "testdata/library/Chart.yaml", 0, "library chart is not installable"},
		{"kube version", shop, Options{KubeVersion: "1.20", Set: []string{"database.host=x"}}, "testdata/shop/Chart.yaml", 0, "chart requires kubeVersion: >=1.25.0-0 which is incompatible with Kubernetes v1.20"},
		{"values file", shop, Options{ValueFiles: []string{"testdata/none.yaml"}}, "testdata/none.yaml", 0, "no such file"},
		{"values syntax", shop, Options{ValueFiles: []string{"testdata/shop/templates/deployment.yaml"}}, "testdata/shop/templates/deployment.yaml", 0, "yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := chartError(t, tc.dir, tc.opts)
			if e.File != tc.file || e.Line != tc.line || !strings.Contains(e.Error(), tc.msg) {
				t.Errorf("got %s:%d %q; want %s:%d and %q", e.File, e.Line, e.Error(), tc.file, tc.line, tc.msg)
			}
		})
	}
	for _, bad := range []Options{{Set: []string{"a[x]=1"}}, {SetString: []string{"={"}}, {KubeVersion: "one"}, {ReleaseName: "Bad_Name"}} {
		if _, err := Render(shop, bad); err == nil {
			t.Errorf("Render with %+v: no error", bad)
		}
	}
	dir := write(t, map[string]string{"Chart.yaml": "apiVersion: v2\nname: v\nversion: 0.1.0\n", "values.yaml": "a: 1\nb: [\n"})
	if e := chartError(t, dir, Options{}); e.File != filepath.Join(dir, "values.yaml") || e.Line != 2 {
		t.Errorf("bad values.yaml: %v, want it at values.yaml:2", e)
	}
	dir = write(t, map[string]string{"Chart.yaml": "apiVersion: v2\nname: [\n"})
	if e := chartError(t, dir, Options{}); e.File != filepath.Join(dir, "Chart.yaml") {
		t.Errorf("bad Chart.yaml: %v", e)
	}
	if _, err := Render("testdata/none", Options{}); err == nil {
		t.Error("Render of a missing directory: no error")
	}
}

// listener counts the connections a local TCP listener accepts; the test
// fails if any arrives.
func listener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
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
	t.Cleanup(func() {
		_ = ln.Close()
		if n.Load() > 0 {
			t.Errorf("%d connections reached the local listener: rendering must never use the network", n.Load())
		}
	})
	return "http://" + ln.Addr().String()
}

func write(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestOffline: dependencies, values files and schemas that name a server
// (a local listener here) are refused or taken from the disk, and the
// server receives nothing.
func TestOffline(t *testing.T) {
	url := listener(t)
	const sub = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: sub\n"
	chartYAML := "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n  - name: sub\n    version: 1.0.0\n    repository: " + url + "/charts\n"

	// Not in charts/: refused, naming Chart.yaml.
	dir := write(t, map[string]string{"Chart.yaml": chartYAML})
	e := chartError(t, dir, Options{})
	if e.File != filepath.Join(dir, "Chart.yaml") || !errors.Is(e, ErrRemote) || !strings.Contains(e.Error(), url) {
		t.Errorf("missing dependency: %v", e)
	}

	// In charts/: rendered from there.
	dir = write(t, map[string]string{
		"Chart.yaml":                          chartYAML,
		"charts/sub/Chart.yaml":               "apiVersion: v2\nname: sub\nversion: 1.0.0\n",
		"charts/sub/templates/configmap.yaml": sub,
		"values.schema.json":                  `{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "properties": {"x": {"type": "string"}}}`,
	})
	c, err := Render(dir, Options{SetString: []string{"x=1"}})
	if err != nil || len(c.Templates) != 1 || c.Templates[0].File != filepath.Join(dir, "charts/sub/templates/configmap.yaml") {
		t.Errorf("vendored dependency: %+v, %v", c, err)
	}

	// A values file by URL is refused.
	if _, err := Render(dir, Options{ValueFiles: []string{url + "/values.yaml"}}); !errors.Is(err, ErrRemote) {
		t.Errorf("values file by URL: %v, want ErrRemote", err)
	}

	// A schema that references a document by URL: refused, not fetched.
	dir = write(t, map[string]string{
		"Chart.yaml":         "apiVersion: v2\nname: app\nversion: 0.1.0\n",
		"templates/cm.yaml":  sub,
		"values.schema.json": `{"type": "object", "properties": {"x": {"$ref": "` + url + `/schema.json"}}}`,
	})
	e = chartError(t, dir, Options{})
	if e.File != filepath.Join(dir, "values.schema.json") || !strings.Contains(e.Error(), "renders charts offline") {
		t.Errorf("remote schema reference: %v", e)
	}
	// A local schema is enforced.
	dir = write(t, map[string]string{
		"Chart.yaml":         "apiVersion: v2\nname: app\nversion: 0.1.0\n",
		"templates/cm.yaml":  sub,
		"values.schema.json": `{"type": "object", "properties": {"x": {"type": "integer"}}}`,
	})
	e = chartError(t, dir, Options{SetString: []string{"x=abc"}})
	if e.File != filepath.Join(dir, "values.schema.json") || !strings.Contains(e.Error(), "schema") {
		t.Errorf("schema violation: %v", e)
	}
}

func TestIsChart(t *testing.T) {
	if !IsChart(shop) || IsChart(filepath.Join(shop, "templates")) || IsChart("testdata/none") {
		t.Error("IsChart")
	}
}

// TestArchivedSubchart: a subchart packed as charts/NAME-VERSION.tgz (as
// `helm dependency build` leaves it), or under any other .tgz name, is
// rendered, and its templates are named by the archive's path.
func TestArchivedSubchart(t *testing.T) {
	for _, renamed := range []bool{false, true} {
		t.Run(fmt.Sprint("renamed=", renamed), func(t *testing.T) { testArchivedSubchart(t, renamed) })
	}
}

func testArchivedSubchart(t *testing.T, renamed bool) {
	dir := t.TempDir()
	files := map[string]string{}
	err := filepath.WalkDir(shop, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(shop, p)
		data, err := os.ReadFile(p) // #nosec G304 -- test data
		files[filepath.ToSlash(rel)] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, text := range files {
		if rest, ok := strings.CutPrefix(name, "charts/redis/"); ok {
			if err := tw.WriteHeader(&tar.Header{Name: "redis/" + rest, Mode: 0o600, Size: int64(len(text))}); err != nil {
				t.Fatal(err)
			}
			if _, err := tw.Write([]byte(text)); err != nil {
				t.Fatal(err)
			}
			delete(files, name)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	// helm loads any .tgz of charts/: the file's name need not be the
	// chart's (before: its templates were named charts/redis/..., a file
	// that does not exist).
	archive := "redis-0.2.0.tgz"
	if renamed {
		archive = "vendored.tgz"
	}
	files["charts/"+archive] = buf.String()
	for name, text := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c, err := Render(dir, Options{Set: []string{"database.host=db"}})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tpl := range c.Templates {
		if tpl.Name == "shop/charts/redis/templates/statefulset.yaml" {
			found = tpl.File == filepath.Join(dir, "charts", archive, "templates", "statefulset.yaml")
		}
	}
	if !found {
		t.Errorf("archived subchart not rendered or misnamed: %+v", c.Templates)
	}
}

// TestCRDFiles: helm install creates what crds/ holds, whatever its kind
// (a privileged Deployment there is installed before the templates), so
// Render returns those files as written, with their lines, for the chart
// and its enabled subcharts; a subchart disabled by its condition
// installs nothing.
func TestCRDFiles(t *testing.T) {
	const pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\nspec:\n  hostNetwork: true\n  containers:\n  - name: c\n    image: x\n    securityContext: {privileged: true}\n"
	tests := []struct {
		name  string
		files map[string]string
		want  []string // Name, File relative to the chart, CRD
	}{
		{
			name: "chart",
			files: map[string]string{
				"Chart.yaml":        "apiVersion: v2\nname: app\nversion: 0.1.0\n",
				"crds/hidden.yaml":  strings.Replace(pod, "%s", "hidden", 1),
				"crds/empty.yaml":   "\n",
				"crds/notes.txt":    "not a manifest extension: helm leaves it out\n",
				"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
			},
			want: []string{"app/crds/hidden.yaml crds/hidden.yaml true", "app/templates/cm.yaml templates/cm.yaml false"},
		},
		{
			name: "subcharts",
			files: map[string]string{
				"Chart.yaml":                        "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n- {name: web, version: 0.1.0, condition: web.enabled}\n- {name: metrics, version: 0.1.0, condition: metrics.enabled}\n",
				"values.yaml":                       "web: {enabled: true}\nmetrics: {enabled: false}\n",
				"templates/cm.yaml":                 "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
				"charts/web/Chart.yaml":             "apiVersion: v2\nname: web\nversion: 0.1.0\n",
				"charts/web/crds/sub.yaml":          strings.Replace(pod, "%s", "sub", 1),
				"charts/metrics/Chart.yaml":         "apiVersion: v2\nname: metrics\nversion: 0.1.0\n",
				"charts/metrics/crds/disabled.yaml": strings.Replace(pod, "%s", "disabled", 1),
			},
			want: []string{"app/charts/web/crds/sub.yaml charts/web/crds/sub.yaml true", "app/templates/cm.yaml templates/cm.yaml false"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := write(t, tt.files)
			c, err := Render(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, tpl := range c.Templates {
				rel, _ := filepath.Rel(dir, tpl.File)
				got = append(got, fmt.Sprintf("%s %s %v", tpl.Name, filepath.ToSlash(rel), tpl.CRD))
				if tpl.CRD {
					if want := tt.files[filepath.ToSlash(rel)]; string(tpl.Data) != want {
						t.Errorf("%s: data %q, want the file as written %q", tpl.Name, tpl.Data, want)
					}
					if l := tpl.Line(6); l != 6 {
						t.Errorf("%s: line 6 maps to %d, want 6", tpl.Name, l)
					}
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("templates (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCRDCapabilities: helm install creates the CRDs of crds/ and asks
// the cluster for its API versions again before rendering, so a template
// gated on .Capabilities.APIVersions.Has for one of them is installed:
// Render serves the versions of the chart's and its enabled subcharts'
// CRDs, and no others.
func TestCRDCapabilities(t *testing.T) {
	const crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: foos.%[1]s}\nspec:\n  group: %[1]s\n  names: {kind: Foo, plural: foos}\n  scope: Namespaced\n  versions:\n  - {name: v1alpha1, served: true, storage: false}\n  - {name: v1, served: true, storage: true}\n"
	gate := func(v string) string {
		return "{{- if .Capabilities.APIVersions.Has \"" + v + "\" }}\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + strings.NewReplacer("/", "-", ".", "-").Replace(strings.ToLower(v)) + "}\n{{- end }}\n"
	}
	files := map[string]string{
		"Chart.yaml":                 "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n- {name: metrics, version: 0.1.0, condition: metrics.enabled}\n",
		"values.yaml":                "metrics: {enabled: false}\n",
		"crds/foo.yaml":              "# a comment first\n" + fmt.Sprintf(crd, "evil.example"),
		"charts/metrics/Chart.yaml":  "apiVersion: v2\nname: metrics\nversion: 0.1.0\n",
		"charts/metrics/crds/x.yaml": fmt.Sprintf(crd, "metrics.example"),
		"templates/gv.yaml":          gate("evil.example/v1"),
		"templates/gvk.yaml":         gate("evil.example/v1/Foo"),
		"templates/alpha.yaml":       gate("evil.example/v1alpha1/Foo"),
		"templates/other.yaml":       gate("other.example/v1"),
		"templates/disabled.yaml":    gate("metrics.example/v1"),
	}
	c, err := Render(write(t, files), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tpl := range c.Templates {
		if !tpl.CRD {
			got = append(got, tpl.Name)
		}
	}
	want := []string{"app/templates/alpha.yaml", "app/templates/gv.yaml", "app/templates/gvk.yaml"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rendered templates (-want +got):\n%s", diff)
	}
}

// TestCluster: a template that renders otherwise on a cluster serving an
// API version it asks for by name is named in Cluster, with the versions
// (before: a pod privileged only where cert-manager.io/v1 is served passed
// as rendered offline, unprivileged, without a word); one that renders
// the same, or nothing offline (Unknown's), is not, nor is any when the
// versions are given.
func TestCluster(t *testing.T) {
	const pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: c, image: nginx, securityContext: {privileged: %s}}\n"
	tests := []struct {
		name     string
		template string
		opts     Options
		cluster  bool
		other    string // templates/y.yaml, if any
	}{
		{name: "value", template: fmt.Sprintf(pod, `{{ .Capabilities.APIVersions.Has "cert-manager.io/v1" }}`), cluster: true},
		{name: "branch", template: "{{- if $.Capabilities.APIVersions.Has \"cert-manager.io/v1\" }}\n" + fmt.Sprintf(pod, "true") + "{{- else }}\n" + fmt.Sprintf(pod, "false") + "{{- end }}\n", cluster: true},
		{name: "given", template: fmt.Sprintf(pod, `{{ .Capabilities.APIVersions.Has "cert-manager.io/v1" }}`), opts: Options{APIVersions: []string{"cert-manager.io/v1"}}},
		{name: "built in", template: fmt.Sprintf(pod, `{{ not (.Capabilities.APIVersions.Has "apps/v1") }}`)},
		{name: "same output", template: "{{- $x := .Capabilities.APIVersions.Has \"cert-manager.io/v1\" }}\n" + fmt.Sprintf(pod, "false")},
		{name: "nothing offline", template: "{{- if .Capabilities.APIVersions.Has \"cert-manager.io/v1\" }}\n" + fmt.Sprintf(pod, "true") + "{{- end }}\n"},
		// A template that differs from render to render only (a
		// randAlphaNum password, a timestamp) in a chart that asks for a
		// version elsewhere was named too: the second render was compared
		// with the random one.
		{name: "random", template: fmt.Sprintf(pod, "false") + "# {{ randAlphaNum 12 }} {{ uuidv4 }} {{ now }}\n", other: "{{- if .Capabilities.APIVersions.Has \"cert-manager.io/v1\" }}\n" + strings.ReplaceAll(fmt.Sprintf(pod, "false"), "name: p", "name: q") + "{{- end }}\n"},
		{name: "random and version", template: fmt.Sprintf(pod, `{{ .Capabilities.APIVersions.Has "cert-manager.io/v1" }}`) + "# {{ randAlphaNum 12 }}\n", cluster: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{
				"Chart.yaml":       "apiVersion: v2\nname: app\nversion: 0.1.0\n",
				"templates/x.yaml": tt.template,
			}
			if tt.other != "" {
				files["templates/y.yaml"] = tt.other
			}
			c, err := Render(write(t, files), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			if tt.cluster {
				want = []string{"app/templates/x.yaml"}
				if diff := cmp.Diff([]string{"cert-manager.io/v1"}, c.ClusterVersions); diff != "" {
					t.Errorf("ClusterVersions (-want +got):\n%s", diff)
				}
			}
			if diff := cmp.Diff(want, c.Cluster); diff != "" {
				t.Errorf("Cluster (-want +got):\n%s", diff)
			}
		})
	}
}

// TestUnknown: a template that renders nothing although it asks the
// cluster (lookup, .Capabilities.APIVersions) is named in Unknown, since
// on a real cluster it may render objects; one that renders nothing for
// its values is not, nor is a partial. Options.APIVersions are served.
func TestUnknown(t *testing.T) {
	const cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
	tests := []struct {
		name     string
		template string
		opts     Options
		rendered bool
		unknown  bool
	}{
		{name: "api versions", template: "{{- if .Capabilities.APIVersions.Has \"monitoring.coreos.com/v1\" }}\n" + cm + "{{- end }}\n", unknown: true},
		{name: "api versions given", template: "{{- if .Capabilities.APIVersions.Has \"monitoring.coreos.com/v1\" }}\n" + cm + "{{- end }}\n",
			opts: Options{APIVersions: []string{"monitoring.coreos.com/v1"}}, rendered: true},
		{name: "lookup", template: "{{- if lookup \"v1\" \"Namespace\" \"\" \"prod\" }}\n" + cm + "{{- end }}\n", unknown: true},
		{name: "lookup rendering", template: "{{- if not (lookup \"v1\" \"Namespace\" \"\" \"prod\") }}\n" + cm + "{{- end }}\n", rendered: true},
		{name: "values", template: "{{- if .Values.enabled }}\n" + cm + "{{- end }}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := write(t, map[string]string{
				"Chart.yaml":            "apiVersion: v2\nname: app\nversion: 0.1.0\n",
				"templates/x.yaml":      tt.template,
				"templates/_lookup.tpl": "{{- define \"app.ns\" }}{{ lookup \"v1\" \"Namespace\" \"\" \"prod\" }}{{ end }}\n",
			})
			c, err := Render(dir, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(c.Templates) == 1; got != tt.rendered {
				t.Errorf("rendered %v, want %v", got, tt.rendered)
			}
			var want []string
			if tt.unknown {
				want = []string{"app/templates/x.yaml"}
			}
			if diff := cmp.Diff(want, c.Unknown); diff != "" {
				t.Errorf("Unknown (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLookup: a template that renders otherwise when lookup finds what it
// asks for, directly or through a helper, is named in Lookup (before: a
// pod privileged only where a namespace exists, or one rendered only
// then by a helper's lookup, passed as rendered offline without a word);
// one that renders the same, one in Unknown, and one that only differs
// from render to render (randAlphaNum) are not, though one random and
// gated on lookup is; a chart that does not render so is LookupErr.
func TestLookup(t *testing.T) {
	const pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: c, image: nginx, securityContext: {privileged: %s}}\n"
	tests := []struct {
		name     string
		template string
		lookup   bool
		err      bool
	}{
		{name: "value", template: fmt.Sprintf(pod, `{{ if lookup "v1" "Namespace" "" "kube-system" }}true{{ else }}false{{ end }}`), lookup: true},
		{name: "helper", template: "{{- if include \"app.gate\" . }}\n" + fmt.Sprintf(pod, "true") + "{{- end }}\n", lookup: true},
		{name: "list", template: fmt.Sprintf(pod, `{{ if (lookup "v1" "Pod" "" "").items }}true{{ else }}false{{ end }}`), lookup: true},
		{name: "same output", template: "{{- $x := lookup \"v1\" \"Namespace\" \"\" \"kube-system\" }}\n" + fmt.Sprintf(pod, "false")},
		{name: "unknown", template: "{{- if lookup \"v1\" \"Namespace\" \"\" \"kube-system\" }}\n" + fmt.Sprintf(pod, "true") + "{{- end }}\n"},
		{name: "random", template: "{{- $x := lookup \"v1\" \"Namespace\" \"\" \"kube-system\" }}\n" + fmt.Sprintf(pod, "false") + "# {{ randAlphaNum 12 }}\n"},
		{name: "random and lookup", template: fmt.Sprintf(pod, `{{ if lookup "v1" "Namespace" "" "kube-system" }}true{{ else }}false{{ end }}`) + "# {{ randAlphaNum 12 }} {{ uuidv4 }} {{ now }}\n", lookup: true},
		{name: "no lookup", template: fmt.Sprintf(pod, "false")},
		// The usual way of keeping a generated password: it read the
		// data of an object without any, and the chart was said not to
		// render when lookup finds the Secret (LookupErr).
		{name: "secret data", template: "{{- $s := lookup \"v1\" \"Secret\" \"default\" \"pw\" }}\n" + fmt.Sprintf(pod, "false") + "# {{ if $s }}{{ $s.data.password }}{{ index $s.data \"password\" }}{{ end }}\n"},
		{name: "error", template: fmt.Sprintf(pod, `{{ if lookup "v1" "Namespace" "" "kube-system" }}{{ fail "found" }}{{ end }}false`), err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := write(t, map[string]string{
				"Chart.yaml":          "apiVersion: v2\nname: app\nversion: 0.1.0\n",
				"templates/x.yaml":    tt.template,
				"templates/_gate.tpl": "{{- define \"app.gate\" }}{{ if lookup \"v1\" \"Namespace\" \"\" \"kube-system\" }}yes{{ end }}{{ end }}\n",
			})
			c, err := Render(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			if tt.lookup {
				want = []string{"app/templates/x.yaml"}
			}
			if diff := cmp.Diff(want, c.Lookup); diff != "" {
				t.Errorf("Lookup (-want +got):\n%s", diff)
			}
			if (c.LookupErr != nil) != tt.err {
				t.Errorf("LookupErr = %v, want error %v", c.LookupErr, tt.err)
			}
		})
	}
}

// TestComputed: a template that renders otherwise on a cluster serving
// API versions the chart asks for in a way Ward cannot list (computed,
// from values, sprig's has over the set) is named in Computed (before: a
// privileged pod gated so, in a helper or not, passed as rendered offline
// without a word); one that asks by a version written out (Cluster's),
// or renders the same, is not.
func TestComputed(t *testing.T) {
	const pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: c, image: nginx, securityContext: {privileged: %s}}\n"
	tests := []struct {
		name     string
		template string
		computed bool
	}{
		{name: "values", template: fmt.Sprintf(pod, `{{ .Capabilities.APIVersions.Has .Values.api }}`), computed: true},
		{name: "helper", template: "{{- if include \"app.has\" . }}\n" + fmt.Sprintf(pod, "true") + "{{- end }}\n", computed: true},
		{name: "has", template: fmt.Sprintf(pod, `{{ has .Values.api $.Capabilities.APIVersions }}`), computed: true},
		{name: "concat", template: fmt.Sprintf(pod, `{{ has "monitoring.coreos.com/v1" (concat .Capabilities.APIVersions (list "x/v1")) }}`), computed: true},
		{name: "written out", template: fmt.Sprintf(pod, `{{ .Capabilities.APIVersions.Has "cert-manager.io/v1" }}`)},
		{name: "same output", template: "{{- $x := .Capabilities.APIVersions.Has .Values.api }}\n" + fmt.Sprintf(pod, "false")},
		{name: "random", template: "{{- $x := .Capabilities.APIVersions.Has .Values.api }}\n" + fmt.Sprintf(pod, "false") + "# {{ randAlphaNum 12 }}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{
				"Chart.yaml":       "apiVersion: v2\nname: app\nversion: 0.1.0\n",
				"values.yaml":      "api: monitoring.coreos.com/v1\n",
				"templates/x.yaml": tt.template,
			}
			if tt.name == "helper" {
				files["templates/_has.tpl"] = "{{- define \"app.has\" }}{{ if .Capabilities.APIVersions.Has (printf \"%s/v1\" \"monitoring.coreos.com\") }}yes{{ end }}{{ end }}\n"
			}
			c, err := Render(write(t, files), Options{})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			if tt.computed {
				want = []string{"app/templates/x.yaml"}
			}
			if diff := cmp.Diff(want, c.Computed); diff != "" {
				t.Errorf("Computed (-want +got):\n%s", diff)
			}
			if c.ComputedErr != nil {
				t.Errorf("ComputedErr = %v", c.ComputedErr)
			}
		})
	}
}

// variantNames lists vs as "name: templates" or "name: error".
func variantNames(vs []Variant) []string {
	var out []string
	for _, v := range vs {
		if v.Err != nil {
			out = append(out, v.Name+": error")
			continue
		}
		out = append(out, v.Name+": "+strings.Join(v.Templates, ","))
	}
	return out
}

// TestKubeVersions: a template gated on .Capabilities.KubeVersion
// (semverCompare on GitVersion or Version, directly or through a helper,
// or a comparison of Minor) is rendered for the versions on each side of
// the gate and named with those for which it renders otherwise (before:
// a NetworkPolicy or a runAsNonRoot dropped on an older cluster passed
// as rendered for the default version, without a word); versions older
// than MinKubeVersion, or that the chart's kubeVersion refuses, are not
// tried, and a chart that fails to render for one says so.
func TestKubeVersions(t *testing.T) {
	const np = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n"
	const pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  securityContext: {runAsNonRoot: %s}\n  containers: [{name: c, image: nginx}]\n"
	tests := []struct {
		name, template, kubeVersion, constraint string
		exact                                   bool
		want                                    []string
	}{
		{name: "exact", template: "{{- if semverCompare \">=1.29-0\" .Capabilities.KubeVersion.GitVersion }}\n" + np + "{{- end }}\n", exact: true},
		{name: "semverCompare", template: "{{- if semverCompare \">=1.29-0\" .Capabilities.KubeVersion.GitVersion }}\n" + np + "{{- end }}\n",
			want: []string{"v1.28.0: app/templates/x.yaml"}},
		{name: "helper", template: fmt.Sprintf(pod, `{{ semverCompare ">=1.30-0" (include "app.kube" .) }}`),
			want: []string{"v1.29.0: app/templates/x.yaml"}},
		{name: "semver", template: "{{- if (semver .Capabilities.KubeVersion.Version).LessThan (semver \"1.32.0\") }}\n" + fmt.Sprintf(pod, "false") + "{{- end }}\n",
			want: []string{"v1.31.0: app/templates/x.yaml"}},
		{name: "minor", template: "{{- if ge (int .Capabilities.KubeVersion.Minor) 31 }}\n" + np + "{{- end }}\n",
			want: []string{"v1.30.0: app/templates/x.yaml"}},
		{name: "older given", template: "{{- if semverCompare \">=1.29-0\" $.Capabilities.KubeVersion.Version }}\n" + np + "{{- end }}\n", kubeVersion: "1.28.4",
			want: []string{"v1.29.0: app/templates/x.yaml", "v1.29.1: app/templates/x.yaml"}},
		{name: "same output", template: "{{- $x := semverCompare \">=1.29-0\" .Capabilities.KubeVersion.GitVersion }}\n" + np},
		{name: "too old", template: "{{- if semverCompare \">=1.14-0\" .Capabilities.KubeVersion.GitVersion }}\n" + np + "{{- end }}\n"},
		{name: "kubeVersion refuses", template: "{{- if semverCompare \">=1.29-0\" .Capabilities.KubeVersion.GitVersion }}\n" + np + "{{- end }}\n", constraint: ">=1.29.0-0"},
		{name: "no gate", template: "{{- if semverCompare \">=1.29-0\" .Values.v }}\n" + np + "{{- end }}\n"},
		{name: "error", template: "{{- if semverCompare \"<1.30-0\" .Capabilities.KubeVersion.Version }}{{ fail \"too old\" }}{{ end }}\n" + np,
			want: []string{"v1.29.0: error"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chartYAML := "apiVersion: v2\nname: app\nversion: 0.1.0\n"
			if tt.constraint != "" {
				chartYAML += "kubeVersion: " + strconvQuote(tt.constraint) + "\n"
			}
			dir := write(t, map[string]string{
				"Chart.yaml":          chartYAML,
				"values.yaml":         "v: 1.0.0\n",
				"templates/x.yaml":    tt.template,
				"templates/_kube.tpl": "{{- define \"app.kube\" }}{{ .Capabilities.KubeVersion.Version }}{{ end }}\n",
			})
			c, err := Render(dir, Options{KubeVersion: tt.kubeVersion, ExactKubeVersion: tt.exact})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, variantNames(c.KubeVersions)); diff != "" {
				t.Errorf("KubeVersions (-want +got):\n%s", diff)
			}
		})
	}
}

func strconvQuote(s string) string { return `"` + s + `"` }

// TestValuesFiles: a values file of the chart directory besides
// values.yaml (values-prod.yaml, values/*.yaml, ci/*.yaml) that is not
// given is rendered with and named when templates render otherwise
// (before: a deploy with -f values-prod.yaml that turns the
// NetworkPolicy off passed as rendered from the defaults, without a
// word); one given with -f, one that changes nothing, and files that are
// not values files are not named; one that does not render says so.
func TestValuesFiles(t *testing.T) {
	const np = "{{- if .Values.networkPolicy.enabled }}\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n{{- end }}\n"
	tests := []struct {
		name  string
		files map[string]string
		given []string
		want  []string
	}{
		{name: "values-prod", files: map[string]string{"values-prod.yaml": "networkPolicy: {enabled: false}\n"}, want: []string{"values-prod.yaml: app/templates/np.yaml"}},
		{name: "suffix", files: map[string]string{"prod-values.yaml": "networkPolicy: {enabled: false}\n", "staging.Values.yml": "networkPolicy: {enabled: false}\n"}, want: []string{"prod-values.yaml: app/templates/np.yaml", "staging.Values.yml: app/templates/np.yaml"}},
		{name: "values dir", files: map[string]string{"values/eu/prod.yml": "networkPolicy: {enabled: false}\n"}, want: []string{"values/eu/prod.yml: app/templates/np.yaml"}},
		{name: "ci", files: map[string]string{"ci/off-values.yaml": "networkPolicy: {enabled: false}\n", "ci/on-values.yaml": "networkPolicy: {enabled: true}\n"}, want: []string{"ci/off-values.yaml: app/templates/np.yaml"}},
		{name: "given", files: map[string]string{"values-prod.yaml": "networkPolicy: {enabled: false}\n"}, given: []string{"values-prod.yaml"}},
		{name: "other files", files: map[string]string{"README.yaml": "networkPolicy: {enabled: false}\n", "values.yaml.orig": "networkPolicy: {enabled: false}\n"}},
		{name: "error", files: map[string]string{"values-bad.yaml": "networkPolicy: [\n"}, want: []string{"values-bad.yaml: error"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{
				"Chart.yaml":        "apiVersion: v2\nname: app\nversion: 0.1.0\n",
				"values.yaml":       "networkPolicy: {enabled: true}\n",
				"templates/np.yaml": np,
			}
			maps.Copy(files, tt.files)
			dir := write(t, files)
			var opts Options
			for _, g := range tt.given {
				opts.ValueFiles = append(opts.ValueFiles, filepath.Join(dir, g))
			}
			c, err := Render(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, w := range tt.want {
				want = append(want, filepath.Join(dir, w))
			}
			if diff := cmp.Diff(want, variantNames(c.ValuesFiles)); diff != "" {
				t.Errorf("ValuesFiles (-want +got):\n%s", diff)
			}
		})
	}
}
