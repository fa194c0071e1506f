package manifest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"unicode/utf16"

	"github.com/google/go-cmp/cmp"
)

func nsYAML(name string) string {
	return "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + name + "\n"
}

// crOnly ends the lines of s but the last with a lone "\r".
func crOnly(s string) string {
	return strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\r") + "\n"
}

// writeFiles writes files (path relative to dir: content) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// names returns the names of the objects of s, with their files relative
// to dir.
func names(s *Set, dir string) []string {
	var got []string
	for _, o := range s.Objects {
		got = append(got, meta(o.Obj).GetName()+"@"+strings.TrimPrefix(o.Source.File, dir+"/"))
	}
	return got
}

// TestLoadSymlinks: symbolic links to directories are followed, whether
// named on the command line or met in a walk; a loop is walked once and
// reported as a warning, and a directory reached twice is read once.
func TestLoadSymlinks(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"real/a.yaml":      nsYAML("a"),
		"real/sub/b.yaml":  nsYAML("b"),
		"tree/c.yaml":      nsYAML("c"),
		"tree/file.yaml":   nsYAML("d"),
		"other/e.yaml":     nsYAML("e"),
		"tree/.hid/x.yaml": nsYAML("x"),
	})
	symlink(t, "../real", filepath.Join(dir, "tree", "linked")) // a directory outside the tree
	symlink(t, ".", filepath.Join(dir, "tree", "self"))         // a loop
	symlink(t, "../other", filepath.Join(dir, "tree", "o1"))    // the same directory twice
	symlink(t, "../other", filepath.Join(dir, "tree", "o2"))    //
	symlink(t, "tree", filepath.Join(dir, "link"))              // the root itself is a link
	s, err := Load(Options{}, filepath.Join(dir, "link"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"c@link/c.yaml", "d@link/file.yaml", "a@link/linked/a.yaml", "b@link/linked/sub/b.yaml", "e@link/o1/e.yaml"}
	if diff := cmp.Diff(want, names(s, dir)); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
	var warned []string
	for _, w := range s.Warnings {
		if !errors.Is(w, ErrWalkedTwice) {
			t.Errorf("warning %v does not match ErrWalkedTwice", w)
		}
		warned = append(warned, strings.TrimPrefix(w.File, dir+"/"))
	}
	if diff := cmp.Diff([]string{"link/o2", "link/self"}, warned); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

// TestLoadSizeLimit: no input is read past the size limit, whatever it is
// (a file, standard input, a device), and the error says so.
func TestLoadSizeLimit(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	writeFiles(t, dir, map[string]string{"big.yaml": nsYAML("big") + "# " + strings.Repeat("a", 200) + "\n", "small.yaml": nsYAML("s")})
	tests := []struct {
		name  string
		opts  Options
		paths []string
	}{
		{"file", Options{MaxFileSize: 100}, []string{big}},
		{"file in a directory", Options{MaxFileSize: 100}, []string{dir}},
		{"stdin", Options{MaxFileSize: 100, Stdin: strings.NewReader(nsYAML(strings.Repeat("a", 200)))}, []string{"-"}},
		{"endless device", Options{MaxFileSize: 1 << 20}, []string{"/dev/zero"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.opts, tt.paths...)
			errs := joined(err)
			if len(errs) != 1 {
				t.Fatalf("got %d errors, want 1: %v", len(errs), err)
			}
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrTooLarge) || !errors.Is(err, ErrRead) {
				t.Fatalf("error %v: want an *Error matching ErrTooLarge and ErrRead", err)
			}
			if want := tt.paths[0]; tt.paths[0] == dir && e.File != big || tt.paths[0] != dir && e.File != want {
				t.Errorf("error names %q", e.File)
			}
		})
	}
	// Under the limit, all is read.
	s, err := Load(Options{MaxFileSize: 300}, dir)
	if err != nil || len(s.Objects) != 2 {
		t.Errorf("Load under the limit: %d objects, error %v", len(s.Objects), err)
	}
}

// TestLoadNonRegular: a named pipe named on the command line is read (as
// `ward check <(helm template ...)` passes it); one met in a directory walk
// is skipped with a warning instead of blocking forever.
func TestLoadNonRegular(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"ok.yaml": nsYAML("ok")})
	fifo := filepath.Join(dir, "pipe.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	s, err := Load(Options{}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"ok@ok.yaml"}, names(s, dir)); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
	if len(s.Warnings) != 1 || s.Warnings[0].File != fifo || !errors.Is(s.Warnings[0], ErrNotRegular) {
		t.Errorf("warnings = %v, want one for %s matching ErrNotRegular", s.Warnings, fifo)
	}

	done := make(chan error, 1)
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0) // blocks until Load opens it
		if err == nil {
			_, err = f.WriteString(nsYAML("piped"))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		done <- err
	}()
	s, err = Load(Options{}, fifo)
	if werr := <-done; werr != nil {
		t.Fatal(werr)
	}
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"piped@pipe.yaml"}, names(s, dir)); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
}

// utf16Bytes encodes s as UTF-16 with a byte order mark, as Windows
// PowerShell 5's ">" writes files.
func utf16Bytes(s string, bigEndian bool) []byte {
	var out []byte
	put := func(u uint16) {
		if bigEndian {
			out = append(out, byte(u>>8), byte(u))
		} else {
			out = append(out, byte(u), byte(u>>8))
		}
	}
	put(0xFEFF)
	for _, u := range utf16.Encode([]rune(s)) {
		put(u)
	}
	return out
}

// TestParseEncodings: every document is read whatever the line endings,
// encoding, byte order marks or JSON framing, with the right lines.
func TestParseEncodings(t *testing.T) {
	three := "---\n" + nsYAML("a") + "---\n" + nsYAML("b") + "---\n" + nsYAML("c")
	crlf := strings.ReplaceAll(three, "\n", "\r\n")
	nsJSON := func(name string) string {
		return `{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "` + name + `"}}`
	}
	pretty := "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"Namespace\",\n  \"metadata\": {\"name\": \"NAME\"}\n}\n"
	tests := []struct {
		name  string
		input []byte
		want  []int // line of each object: a, b, c
	}{
		// kubectl cuts at "---" lines ended by "\n" only (TestParseDocumentMarkers).
		{"cr only in documents", []byte("---\n" + crOnly(nsYAML("a")) + "---\n" + crOnly(nsYAML("b")) + "---\n" + crOnly(nsYAML("c"))), []int{2, 7, 12}},
		{"utf-16le with bom", utf16Bytes(crlf, false), []int{2, 7, 12}},
		{"utf-16be with bom", utf16Bytes(three, true), []int{2, 7, 12}},
		{"utf-8 bom on every document", []byte("\ufeff" + nsYAML("a") + "---\n\ufeff" + nsYAML("b") + "---\n\ufeff" + nsYAML("c")), []int{1, 6, 11}},
		{"utf-8 bom after a comment", []byte("# c\n---\n" + nsYAML("a") + "---\n# c\n\ufeff" + nsYAML("b") + "---\n" + nsYAML("c")), []int{3, 9, 14}},
		{"json lines", []byte(nsJSON("a") + "\n" + nsJSON("b") + "\n" + nsJSON("c") + "\n"), []int{1, 2, 3}},
		{"json concatenated", []byte(nsJSON("a") + nsJSON("b") + " " + nsJSON("c")), []int{1, 1, 1}},
		{"json pretty stream", []byte(strings.ReplaceAll(pretty, "NAME", "a") + strings.ReplaceAll(pretty, "NAME", "b") + "\n" + strings.ReplaceAll(pretty, "NAME", "c")), []int{1, 6, 12}},
		// A stream there is read by kubectl to its first value only
		// (TestParseDocumentMarkers).
		{"json value in a yaml document", []byte(three[:len(three)-len(nsYAML("c"))] + nsJSON("c")), []int{2, 7, 12}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(Options{}, "in.yaml", tt.input)
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, o := range s.Objects {
				got = append(got, o.Source.Line)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("object lines (-want +got):\n%s", diff)
			}
			if len(s.Skipped) != 0 {
				t.Errorf("skipped: %+v", s.Skipped)
			}
		})
	}
}

// TestParseEncodingErrors: a broken JSON value in a stream, or a UTF-16
// file cut mid-character, is an error at its line, and the rest loads.
func TestParseEncodingErrors(t *testing.T) {
	ok := `{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ok"}}`
	tests := []struct {
		name    string
		input   []byte
		line    int
		objects int
	}{
		{"broken value in a json stream", []byte(ok + "\n{\"apiVersion\": \"v1\",\n \"kind\": \"Namespace\",\n \"metadata\": {\"name\": \"x\"}\n"), 5, 1},
		{"odd utf-16", append(utf16Bytes(nsYAML("a"), false), 'x'), 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(Options{}, "in.json", tt.input)
			var e *Error
			if !errors.As(err, &e) || e.Line != tt.line || !errors.Is(err, ErrSyntax) {
				t.Fatalf("error %v, want an ErrSyntax *Error at line %d", err, tt.line)
			}
			if len(s.Objects) != tt.objects {
				t.Errorf("%d objects, want %d", len(s.Objects), tt.objects)
			}
		})
	}
}

// TestLoadTypedLists: the items of a typed List from the API server
// (PodList, NamespaceList: `kubectl get --raw`, client libraries) carry no
// kind or apiVersion; they take the List's kind without "List" and its
// apiVersion. Items with their own keep them.
func TestLoadTypedLists(t *testing.T) {
	yamlList := `apiVersion: v1
kind: PodList
metadata: {resourceVersion: "1"}
items:
- metadata: {name: web-1, namespace: shop, labels: {app: web}}
  spec: {containers: [{name: web, image: web:1}]}
  status: {podIP: 10.0.0.1}
- metadata: {name: db, namespace: shop}
  spec: {containers: [{name: db, image: db:1}]}
- apiVersion: v1
  kind: Namespace
  metadata: {name: shop}
`
	jsonList := `{
  "apiVersion": "apps/v1",
  "kind": "DeploymentList",
  "items": [
    {"metadata": {"name": "api", "namespace": "shop"},
     "spec": {"template": {"metadata": {"labels": {"app": "api"}}, "spec": {"containers": [{"name": "api"}]}}}},
    {"metadata": {"name": "worker", "namespace": "shop"},
     "spec": {"template": {"metadata": {"labels": {"app": "worker"}}, "spec": {"containers": [{"name": "w"}]}}}}
  ]
}
`
	plainList := "apiVersion: v1\nkind: List\nitems:\n- metadata: {name: lost}\n"
	want := []objectSummary{
		{"Pod", "shop/web-1", Source{File: "pods.yaml", Line: 5}},
		{"Pod", "shop/db", Source{File: "pods.yaml", Line: 8}},
		{"Namespace", "/shop", Source{File: "pods.yaml", Line: 10}},
		{"Deployment", "shop/api", Source{File: "deploys.json", Line: 5}},
		{"Deployment", "shop/worker", Source{File: "deploys.json", Line: 7}},
	}
	for _, split := range []bool{false, true} {
		t.Run(map[bool]string{false: "whole", true: "split"}[split], func(t *testing.T) {
			if split {
				defer func(old int) { splitMinBytes = old }(splitMinBytes)
				splitMinBytes = 0
			}
			var got []objectSummary
			var skipped []Skipped
			for _, f := range []struct{ name, text string }{{"pods.yaml", yamlList}, {"deploys.json", jsonList}, {"plain.yaml", plainList}} {
				s, err := Parse(Options{}, f.name, []byte(f.text))
				var e *Error
				switch {
				case f.name != "plain.yaml" && err != nil:
					t.Fatal(err)
				// An item of a plain List has no kind to take: kubectl
				// fails on it.
				case f.name == "plain.yaml" && (!errors.As(err, &e) || e.Line != 4 || !errors.Is(err, ErrType)):
					t.Errorf("plain.yaml: error %v, want a type error at line 4", err)
				}
				got = append(got, summarizeObjects(s)...)
				skipped = append(skipped, s.Skipped...)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
			if len(skipped) != 0 {
				t.Errorf("skipped = %+v, want nothing", skipped)
			}
		})
	}
}

// TestLoadKeepsInvalidWorkload: a workload with an invalid container port
// gives the error at the port's line and is still loaded for the audits
// (its hostPort and securityContext are read), without the bad port in
// the network model.
func TestLoadKeepsInvalidWorkload(t *testing.T) {
	const in = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: web:1
        securityContext: {procMount: Unmasked}
        ports:
        - {name: http, containerPort: 8080}
        - {hostPort: 9090}
---
apiVersion: v1
kind: Pod
metadata: {namespace: shop}
spec:
  containers: [{name: c, image: c:1}]
`
	s, err := Parse(Options{}, "in.yaml", []byte(in))
	errs := joined(err)
	if len(errs) != 2 {
		t.Fatalf("got %d errors, want 2 (the port, the nameless pod): %v", len(errs), err)
	}
	var e *Error
	if !errors.As(errs[0], &e) || e.Line != 14 || e.Object != "shop/Deployment/web" || !errors.Is(e, ErrInvalid) {
		t.Errorf("first error = %v, want shop/Deployment/web's port at line 14", errs[0])
	}
	if len(s.Workloads) != 1 || s.Workloads[0].ID() != "shop/Deployment/web" {
		t.Fatalf("workloads = %v, want the Deployment kept (and the nameless Pod dropped)", s.Workloads)
	}
	w := s.Workloads[0]
	if diff := cmp.Diff([]Port{{Name: "http", Port: 8080, Protocol: "TCP", Container: "web"}}, w.Ports); diff != "" {
		t.Errorf("ports (-want +got):\n%s", diff)
	}
	c := w.Template.Spec.Containers[0]
	if len(c.Ports) != 2 || c.Ports[1].HostPort != 9090 || c.SecurityContext == nil || c.SecurityContext.ProcMount == nil {
		t.Errorf("the template is not kept whole for the audit: %+v", c)
	}
}

// TestLoadCapsErrors: a file of many broken documents gives the first
// MaxErrorsPerFile errors and one that counts the rest; other files keep
// theirs.
func TestLoadCapsErrors(t *testing.T) {
	dir := t.TempDir()
	const n = 1000
	writeFiles(t, dir, map[string]string{
		"broken.yaml":  strings.Repeat("x: [\n---\n", n),
		"skipped.yaml": strings.Repeat("just: values\n---\n", n),
		"one.yaml":     "x: [\n",
	})
	s, err := Load(Options{}, dir)
	errs := joined(err)
	if len(errs) != MaxErrorsPerFile+2 {
		t.Fatalf("got %d errors, want %d", len(errs), MaxErrorsPerFile+2)
	}
	var e *Error
	if !errors.As(errs[MaxErrorsPerFile-1], &e) || e.Line != 2*MaxErrorsPerFile {
		t.Errorf("error %d = %v, want the one at line %d: the first errors, in order", MaxErrorsPerFile, errs[MaxErrorsPerFile-1], 2*MaxErrorsPerFile)
	}
	if !errors.As(errs[MaxErrorsPerFile], &e) || !errors.Is(e, ErrTooManyErrors) || e.File != filepath.Join(dir, "broken.yaml") ||
		!strings.Contains(e.Error(), fmt.Sprintf("%d more in this file", n-MaxErrorsPerFile)) {
		t.Errorf("error %d = %v, want one counting the %d others of broken.yaml", MaxErrorsPerFile+1, errs[MaxErrorsPerFile], n-MaxErrorsPerFile)
	}
	if !errors.As(errs[MaxErrorsPerFile+1], &e) || e.File != filepath.Join(dir, "one.yaml") {
		t.Errorf("last error = %v, want one.yaml's", errs[MaxErrorsPerFile+1])
	}
	if len(s.Skipped) != MaxErrorsPerFile+1 || !strings.Contains(s.Skipped[MaxErrorsPerFile].Reason, fmt.Sprintf("%d more documents skipped", n-MaxErrorsPerFile)) {
		t.Errorf("%d skipped, last %+v; want %d and a count of the rest", len(s.Skipped), s.Skipped[len(s.Skipped)-1], MaxErrorsPerFile+1)
	}
}

// TestWithWorkloads: policies evaluated against another input's
// workloads: that input's workloads, pods, Services and namespaces join,
// its policies do not, and what both declare is taken once, from the
// policies' side.
func TestWithWorkloads(t *testing.T) {
	policies := `apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {from: policies}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: shop}
spec: {podSelector: {}}
`
	workloads := `apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {from: workloads}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: web:1}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: web-1
  namespace: shop
  labels: {app: web} # its template's: a Pod relabelled would be a workload of its own
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: x, controller: true}]
spec: {containers: [{name: web, image: web:1}]}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {selector: {app: web}, ports: [{port: 80}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all, namespace: shop}
spec: {podSelector: {}, ingress: [{}]}
`
	p, err := Parse(Options{}, "policies.yaml", []byte(policies))
	if err != nil {
		t.Fatal(err)
	}
	w, err := Parse(Options{}, "workloads.yaml", []byte(workloads))
	if err != nil {
		t.Fatal(err)
	}
	m := p.WithWorkloads(w)
	var got []string
	for _, o := range m.Objects {
		got = append(got, o.Kind+" "+o.Source.String())
	}
	want := []string{"Namespace policies.yaml:1", "NetworkPolicy policies.yaml:5", "Deployment workloads.yaml:5", "Pod workloads.yaml:13", "Service workloads.yaml:23"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
	if len(m.Workloads) != 1 || m.Workloads[0].Instances != 1 || !m.PodIPsKnown || len(m.Services) != 1 || len(m.Policies) != 1 {
		t.Errorf("merged set: workloads %v, services %v, policies %v", m.Workloads, m.Services, m.Policies)
	}
	if ns := m.Namespace("shop"); ns == nil || ns.Labels["from"] != "policies" {
		t.Errorf("namespace shop = %+v, want the policies' own", ns)
	}
	if len(p.Workloads) != 0 || len(w.Policies) != 1 {
		t.Errorf("the inputs changed")
	}
}

// TestLoadEmptyPaths: Load names the paths and rendered streams that held
// no Kubernetes object and gave no error, whatever the other paths held.
func TestLoadEmptyPaths(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"ns.yaml":           nsYAML("a"),
		"empty.yaml":        "",
		"comments.yaml":     "# only\n---\n",
		"values/v.yaml":     "replicas: 3\n",
		"docs/README.md":    "# hi\n",
		"bad.yaml":          "a: [b\n",
		"mixed/ns.yaml":     nsYAML("b"),
		"mixed/values.yaml": "replicas: 3\n",
	})
	paths := []string{"ns.yaml", "empty.yaml", "comments.yaml", "values", "docs", "bad.yaml", "mixed", "-"}
	for i, p := range paths {
		if p != "-" {
			paths[i] = filepath.Join(dir, p)
		}
	}
	set, _ := Load(Options{Stdin: strings.NewReader(""), Rendered: []Rendered{
		{Name: "full", Data: []byte(nsYAML("c"))},
		{Name: "none", Data: []byte("# nothing rendered\n")},
	}}, paths...)
	want := []string{paths[1], paths[2], paths[3], paths[4], "-"}
	if diff := cmp.Diff(want, set.EmptyPaths); diff != "" {
		t.Errorf("EmptyPaths (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"none"}, set.EmptyRendered); diff != "" {
		t.Errorf("EmptyRendered (-want +got):\n%s", diff)
	}
}

// TestParseTrailingContent: text after a document's root value (JSON with
// trailing garbage, a JSON line with more after it, YAML after a flow
// mapping) is a syntax error at its line, never dropped: yaml.v3's
// Unmarshal reads the first value and ignores the rest (before: the
// privileged Pod below was lost, no error, exit 0).
func TestParseTrailingContent(t *testing.T) {
	ns := `{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ok"}}`
	pod := `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "securityContext": {"privileged": true}}]}}`
	tests := []struct {
		name  string
		input string
		line  int
	}{
		{"json then a word", ns + " garbage", 1},
		{"json then a bracket", ns + " ]", 1},
		{"json lines, garbage after the second", ns + "\n" + pod + " xx\n", 2},
		{"json then yaml", ns + "\nkind: Pod\n", 2},
		{"flow sequence then yaml", "[1]\nb: 2\n", 2},
		{"flow mapping then a sequence", "{a: 1}\n- x\n", 2},
		{"string then yaml", "\"s\"\nb: 1\n", 2},
		{"yaml, then a flow mapping at the top", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n{b: 1}\n", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(Options{}, "in.yaml", []byte(tt.input))
			var e *Error
			if !errors.As(err, &e) || e.Line != tt.line || !errors.Is(err, ErrSyntax) {
				t.Fatalf("error %v, want an ErrSyntax *Error at line %d", err, tt.line)
			}
			for _, o := range s.Objects {
				if o.Kind == "Pod" {
					t.Errorf("the Pod of a document that does not parse was kept")
				}
			}
		})
	}
	// What parses stays as it was: a JSON stream, a document ended by "...".
	for _, in := range []string{ns + "\n" + pod + "\n", ns + "\n...\n", "# c\n" + ns + " # c\n"} {
		if _, err := Parse(Options{}, "in.yaml", []byte(in)); err != nil {
			t.Errorf("%q: %v", in, err)
		}
	}
}

// TestLoadListsNotRead: a List whose items Load does not read (nested too
// deep, or a v1 List whose items are missing, misspelt or not a list) is an
// input error at the List, never a skipped document (before: input/skipped
// "v1 List is not modeled", and the Pod inside was lost).
func TestLoadListsNotRead(t *testing.T) {
	pod := `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "securityContext": {"privileged": true}}]}}`
	nested := func(n int) string {
		s := pod
		for range n {
			s = `{"apiVersion": "v1", "kind": "List", "items": [` + s + `]}`
		}
		return s
	}
	tests := []struct {
		name, doc string
		bad       bool
	}{
		{"nested 8 deep", nested(8), false},
		{"nested 9 deep", nested(9), true},
		{"nested 12 deep", nested(12), true},
		{"items a mapping", `{"apiVersion": "v1", "kind": "List", "items": {"a": ` + pod + `}}`, true},
		{"items misspelt", `{"apiVersion": "v1", "kind": "List", "item": [` + pod + `]}`, true},
		{"items a string", "apiVersion: v1\nkind: List\nitems: pods\n", true},
		{"items empty", "apiVersion: v1\nkind: List\nitems: []\n", false},
		{"items null", "apiVersion: v1\nkind: List\nitems:\n", false},
		{"a CRD kind ending in List", "apiVersion: example.com/v1\nkind: AllowList\nmetadata: {name: a}\nspec: {items: {a: 1}}\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(Options{}, "in.yaml", []byte(tt.doc))
			if got := err != nil; got != tt.bad {
				t.Fatalf("error %v, want one: %v", err, tt.bad)
			}
			if tt.bad {
				var e *Error
				if !errors.As(err, &e) || e.Line != 1 {
					t.Errorf("error %v, want an *Error at line 1", err)
				}
			}
			if !tt.bad && strings.Contains(tt.doc, `"Pod"`) && len(s.Workloads) != 1 {
				t.Errorf("%d workloads, want the Pod", len(s.Workloads))
			}
		})
	}
}
