package cli

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unicode/utf16"

	"github.com/google/go-cmp/cmp"

	"github.com/wardsec/ward/manifest"
)

// shopCopy links a temporary directory to examples/shop and returns the
// link, as users link their manifests into a repository.
func shopLink(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	link := filepath.Join(dir, "shop")
	if err := os.Symlink(filepath.Join(root, "examples", "shop"), link); err != nil {
		t.Fatal(err)
	}
	return link
}

// TestSymlinkedInput: a symbolic link to a directory, named on the command
// line or met inside a walked directory, is read like the directory.
func TestSymlinkedInput(t *testing.T) {
	link := shopLink(t)
	parent := filepath.Dir(link) // holds only the link
	for _, args := range [][]string{
		{"reach", "-o", "json"},
		{"check", "-o", "json", "--config", "examples/shop/ward.yaml"},
		{"fw", "plan", "--inventory", "firewall/testdata/shop-inventory.yaml"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			want, errOut, wantCode := run(t, "", append(args, "examples/shop")...)
			if wantCode == ExitError {
				t.Fatalf("examples/shop: exit %d: %s", wantCode, errOut)
			}
			for _, p := range []string{link, parent} {
				got, errOut, code := run(t, "", append(args, p)...)
				if code != wantCode {
					t.Errorf("%s: exit %d, want %d as for examples/shop; stderr: %s", p, code, wantCode, errOut)
				}
				got = strings.ReplaceAll(got, p+"/", "examples/")
				got = strings.ReplaceAll(got, link, "examples/shop")
				if args[0] == "check" {
					if a, b := len(manifestFindings(t, want)), len(manifestFindings(t, got)); a != b {
						t.Errorf("%s: %d findings, want %d as for examples/shop", p, b, a)
					}
					continue
				}
				if got != want {
					t.Errorf("%s: output differs from examples/shop's:\n%s", p, got)
				}
			}
		})
	}
}

// TestInputSizeLimit: every input Ward reads, whatever it is, stops at
// --max-input-size with an error naming it and exit 2: /dev/zero as a
// manifest, standard input, --config and --inventory.
func TestInputSizeLimit(t *testing.T) {
	const limit = "--max-input-size=1MiB"
	tests := []struct {
		name  string
		args  []string
		stdin string
		want  string
	}{
		{"manifest", []string{"reach", "/dev/zero", limit}, "", "/dev/zero: cannot read input: input larger than the size limit of 1 MiB"},
		{"manifest in check", []string{"check", "/dev/zero", limit}, "", "input larger than the size limit of 1 MiB"},
		{"stdin", []string{"reach", "-", limit}, strings.Repeat("#", 1<<20+1), "-: cannot read input: input larger than the size limit of 1 MiB"},
		{"config", []string{"check", "examples/shop", "--config", "/dev/zero", limit}, "", "/dev/zero: input larger than the size limit of 1 MiB"},
		{"expect", []string{"assert", "examples/shop", "--expect", "/dev/zero", limit}, "", "/dev/zero: input larger than the size limit of 1 MiB"},
		{"inventory", []string{"fw", "plan", "examples/shop", "--inventory", "/dev/zero", limit}, "", "/dev/zero: cannot read input: input larger than the size limit of 1 MiB"},
		{"bad flag", []string{"reach", "examples/shop", "--max-input-size", "lots"}, "", `--max-input-size: invalid size "lots"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := run(t, tt.stdin, tt.args...)
			if code != ExitError {
				t.Errorf("exit %d, want %d", code, ExitError)
			}
			if !strings.Contains(out+errOut, tt.want) {
				t.Errorf("output %q\nstderr %q\nwant %q", out, errOut, tt.want)
			}
		})
	}
}

// TestRenderSizeLimit: Helm charts and kustomizations are bounded by
// --max-input-size too: a file of theirs over it, or rendered output over
// it, is an input error (exit 2) naming the file, the template (and the
// line of its loop) or the kustomization; within it they are checked.
func TestRenderSizeLimit(t *testing.T) {
	const limit = "--max-input-size=64KiB"
	pod := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers: [{name: c, image: nginx}]\n"
	big := strings.Repeat("# a comment line of padding\n", 2500) // 70 KiB
	chart := "apiVersion: v2\nname: big\nversion: 0.1.0\n"
	tests := []struct {
		name  string
		files map[string]string
		args  []string // after the directory
		want  string   // in the output, after the directory
		msg   string   // in the output too
		code  int
	}{
		{"chart loop", map[string]string{"Chart.yaml": chart,
			"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  x: |\n{{- range until 1000000 }}\n    0123456789abcdef\n{{- end }}\n"},
			nil, "/templates/cm.yaml\n  HIGH         7  input/unreadable", "rendering the chart writes more than 64 KiB", ExitError},
		// Values made by functions are metered too: a string or a list
		// doubled in a loop, measured, stops near the limit.
		{"chart string doubled", map[string]string{"Chart.yaml": chart,
			"templates/t.yaml": "{{ $x := \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" }}{{ range until 30 }}{{ $x = print $x $x }}{{ end }}x: {{ len $x }}\n"},
			nil, "/templates/t.yaml\n  HIGH         1  input/unreadable", "rendering the chart writes more than 64 KiB", ExitError},
		{"chart list doubled", map[string]string{"Chart.yaml": chart,
			"templates/t.yaml": "{{ $l := list 1 }}{{ range until 40 }}{{ $l = list $l $l }}{{ end }}x: {{ len (toJson $l) }}\n"},
			nil, "/templates/t.yaml\n  HIGH         1  input/unreadable", "rendering the chart writes more than 64 KiB", ExitError},
		{"chart values file", map[string]string{"Chart.yaml": chart, "values.yaml": big, "templates/pod.yaml": pod},
			nil, "/values.yaml", "input larger than the size limit of 64 KiB", ExitError},
		{"chart in reach", map[string]string{"Chart.yaml": chart, "templates/pod.yaml": pod + "  # {{ repeat 10000000 \"x\" }}\n"},
			nil, "/templates/pod.yaml:7: helm template: input larger than the size limit", "64 KiB", ExitError},
		{"kustomization resource", map[string]string{"kustomization.yaml": "namespace: shop\nresources: [pod.yaml]\n", "pod.yaml": pod + big},
			nil, "/pod.yaml", "input larger than the size limit of 64 KiB", ExitError},
		{"kustomization output", map[string]string{"kustomization.yaml": "namespace: shop\ncommonAnnotations:\n  pad: \"" + strings.Repeat("x", 40<<10) + "\"\nresources: [pod.yaml, pod2.yaml]\n",
			"pod.yaml": pod, "pod2.yaml": strings.Replace(pod, "web", "api", 1)},
			nil, "/kustomization.yaml", "kustomize build: the output is larger than 64 KiB", ExitError},
		{"chart within the limit", map[string]string{"Chart.yaml": chart, "templates/pod.yaml": pod}, []string{"--fail-on", "critical"}, "", "", 0},
		{"kustomization within the limit", map[string]string{"kustomization.yaml": "namespace: shop\nresources: [pod.yaml]\n", "pod.yaml": pod}, []string{"--fail-on", "critical"}, "", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, tt.files, "", "")
			cmd := "check"
			if strings.HasSuffix(tt.name, "in reach") {
				cmd = "reach"
			}
			out, errOut, code := run(t, "", append([]string{cmd, dir, limit}, tt.args...)...)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stdout %q\nstderr %q", code, tt.code, out, errOut)
			}
			if !strings.Contains(out+errOut, dir+tt.want) || !strings.Contains(out+errOut, tt.msg) {
				t.Errorf("output %q\nstderr %q\nwant %q and %q", out, errOut, dir+tt.want, tt.msg)
			}
		})
	}
}

// TestParseSize checks the --max-input-size forms.
func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1048576": 1 << 20, "512KiB": 512 << 10, "64M": 64 << 20, "2GiB": 2 << 30, "1 TB": 1 << 40, "10b": 10} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1", "GiB", "1.5GiB", "2PiB", "9999999999999GiB"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, got)
		}
	}
}

// TestNoManifests: input that holds no manifest (no Kubernetes object,
// Dockerfile, Compose file or ward.yaml) is an error, exit 2, never a clean
// result about nothing.
func TestNoManifests(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	docs := filepath.Join(dir, "docs")
	values := filepath.Join(dir, "values")
	for name, text := range map[string]string{
		"docs/README.md":     "# Deploying\n\nRun `kubectl apply -f .`.\n",
		"values/values.yaml": "replicas: 3\nimage: web:1\n",
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{empty, docs, filepath.Join(docs, "README.md"), values, "-"} {
		for _, args := range [][]string{
			{"check", in},
			{"check", in, "-o", "json"},
			{"reach", in},
			{"explain", in, "--from", "a/b", "--to", "c/d"},
			{"assert", in, "--expect", "examples/shop/ward.yaml"},
			{"diff", "examples/shop", in},
			{"diff", in, "examples/shop"},
			{"fw", "plan", in, "--inventory", "firewall/testdata/shop-inventory.yaml"},
		} {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				out, errOut, code := run(t, "", args...)
				if code != ExitError {
					t.Errorf("exit %d, want %d", code, ExitError)
				}
				if want := "no manifests found in " + in; !strings.Contains(errOut, want) {
					t.Errorf("stderr = %q, want it to say %q", errOut, want)
				}
				if out != "" {
					t.Errorf("stdout = %q, want nothing", out)
				}
			})
		}
	}
	// A Dockerfile alone is something to check.
	if _, errOut, code := run(t, "", "check", "internal/cli/testdata/audit/mixed/Dockerfile"); code == ExitOK || strings.Contains(errOut, "no manifests") {
		t.Errorf("check of a Dockerfile: exit %d, stderr %q", code, errOut)
	}
}

// TestWalkWarnings: what a directory walk leaves out on purpose is said on
// stderr: a link loop, a named pipe.
func TestWalkWarnings(t *testing.T) {
	link := shopLink(t)
	dir := filepath.Dir(link)
	if err := os.Symlink(".", filepath.Join(dir, "loop")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe.yaml"), 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	for _, cmd := range []string{"reach", "check"} {
		_, errOut, code := run(t, "", cmd, dir)
		if code == ExitError {
			t.Errorf("%s: exit %d: %s", cmd, code, errOut)
		}
		for _, want := range []string{
			"ward: warning: " + dir + "/loop: directory already read: not read again (it is " + dir + ")",
			"ward: warning: " + dir + "/pipe.yaml: not a regular file: not read (named pipe)",
		} {
			if !strings.Contains(errOut, want) {
				t.Errorf("%s: stderr = %q, want %q", cmd, errOut, want)
			}
		}
	}
}

// TestEncodedInput: the shop's manifests give the same reachability
// whatever the encoding and framing a tool wrote them in.
func TestEncodedInput(t *testing.T) {
	var docs []string
	err := filepath.WalkDir(filepath.Join(root, "examples", "shop"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "ward.yaml" || d.Name() == "compose.yaml" || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		b, err := os.ReadFile(p)
		docs = append(docs, string(b))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	plain := "---\n" + strings.Join(docs, "\n---\n")
	want, errOut, code := run(t, plain, "reach", "-", "-o", "json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	utf16le := []byte{0xFF, 0xFE}
	for _, u := range utf16.Encode([]rune(strings.ReplaceAll(plain, "\n", "\r\n"))) {
		utf16le = append(utf16le, byte(u), byte(u>>8))
	}
	for name, in := range map[string]string{
		// kubectl breaks lines at "\n" only: "---" lines end with one.
		"cr only in documents": "---\n" + strings.ReplaceAll(strings.ReplaceAll(strings.TrimPrefix(plain, "---\n"), "\n", "\r"), "\r---\r", "\n---\n"),
		"utf-16 powershell":    string(utf16le),
		"bom on each":          "\ufeff" + strings.ReplaceAll(plain, "---\n", "---\n\ufeff"),
	} {
		t.Run(name, func(t *testing.T) {
			got, errOut, code := run(t, in, "reach", "-", "-o", "json")
			if code != ExitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if got != want {
				t.Errorf("output differs:\n%s", cmp.Diff(want, got))
			}
		})
	}
	// kubectl does not cut at a "---" line after a lone "\r" or a byte
	// order mark, and drops or refuses what follows: an input error.
	for name, in := range map[string]string{
		"cr only":             strings.ReplaceAll(plain, "\n", "\r"),
		"bom before each ---": strings.ReplaceAll(plain, "---\n", "\ufeff---\n"),
	} {
		t.Run(name, func(t *testing.T) {
			if _, errOut, code := run(t, in, "reach", "-", "-o", "json"); code != ExitError || !strings.Contains(errOut, "kubectl and helm do not read this document") {
				t.Errorf("exit %d: %s, want %d and the document kubectl does not read", code, errOut, ExitError)
			}
		})
	}
}

// TestTypedList: `kubectl get --raw /api/v1/pods` output, whose items have
// no kind, gives its pods to reach (before: 0 workloads, exit 0).
func TestTypedList(t *testing.T) {
	const pods = `{"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": [
  {"metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "ports": [{"containerPort": 80}]}]}, "status": {"podIP": "10.0.0.1"}},
  {"metadata": {"name": "db", "namespace": "shop", "labels": {"app": "db"}}, "spec": {"containers": [{"name": "db", "ports": [{"containerPort": 5432}]}]}, "status": {"podIP": "10.0.0.2"}}
]}`
	out, errOut, code := run(t, pods, "reach", "-")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "2 workloads") || !strings.Contains(out, "shop/Pod/db") {
		t.Errorf("reach output:\n%s\nwant the 2 pods of the PodList", out)
	}
}

// TestConfigUnknownKey: a typo in an assertion of ward.yaml stops assert
// and check with the file and line, exit 2.
func TestConfigUnknownKey(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "ward.yaml")
	const doc = "assertions:\n  - name: web never reaches postgres\n    expect: deny\n    from: {namespace: web}\n    to: {namespace: data}\n    port: [\"5432/TCP\"]\n"
	if err := os.WriteFile(cfg, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"assert", "examples/shop", "--expect", cfg}, {"check", "examples/shop", "--config", cfg}} {
		out, errOut, code := run(t, "", args...)
		if code != ExitError || !strings.Contains(errOut, cfg+":6: field port not found") || out != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 2 naming %s:6", args[0], code, out, errOut, cfg)
		}
	}
}

// TestCheckAuditsInvalidWorkload: a workload with one invalid field (a
// port without containerPort) is an input error and is still audited: its
// hostPort and procMount are reported.
func TestCheckAuditsInvalidWorkload(t *testing.T) {
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
        - {hostPort: 9090}
`
	out, errOut, code := run(t, in, "check", "-", "-o", "json")
	if code != ExitError {
		t.Errorf("exit %d, want %d; stderr %s", code, ExitError, errOut)
	}
	rules := map[string]int{}
	for _, f := range checkOutput(t, out).Findings {
		rules[f.Rule] = f.Line
	}
	for rule, line := range map[string]int{"input/invalid": 13, "pss/hostPorts": 13, "pss/procMount_restricted": 11} {
		if got, ok := rules[rule]; !ok || got != line {
			t.Errorf("%s at line %d (found: %v), want line %d", rule, got, ok, line)
		}
	}
}

// TestCheckCapsErrors: a file of many broken documents gives a bounded
// report: the first errors and a count of the rest.
func TestCheckCapsErrors(t *testing.T) {
	out, _, code := run(t, strings.Repeat("x: [\n---\n", 20000), "check", "-", "-o", "json")
	if code != ExitError {
		t.Errorf("exit %d, want %d", code, ExitError)
	}
	res := checkOutput(t, out)
	if res.Summary.InputErrors != manifest.MaxErrorsPerFile+1 || len(out) > 100_000 {
		t.Errorf("%d input errors in %d bytes, want %d", res.Summary.InputErrors, len(out), manifest.MaxErrorsPerFile+1)
	}
	last := res.Findings[len(res.Findings)-1].Message
	if want := fmt.Sprintf("%d more in this file not shown", 20000-manifest.MaxErrorsPerFile); !strings.Contains(out, want) {
		t.Errorf("no finding says %q (last: %q)", want, last)
	}
}

// policyOnly copies the shop's NetworkPolicy files, but those of skip, to
// a new directory.
func policyOnly(t *testing.T, skip string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"web/network-policies.yaml", "api/network-policies.yaml", "api/orders-to-payments.yaml", "data/network-policies.yaml", "payments/network-policies.yaml"} {
		if f == skip {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, "examples", "shop", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, strings.ReplaceAll(f, "/", "-")), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestPolicyOnlyInput: policies without workloads warn on stderr (the exit
// code stays), and --workloads PATH evaluates them against PATH's
// workloads: the same answers as the whole shop.
func TestPolicyOnlyInput(t *testing.T) {
	const shop = "examples/shop"
	pol := policyOnly(t, "")
	fewer := policyOnly(t, "data/network-policies.yaml")
	noWorkloads := "holds no workloads"

	// Without workloads: a warning, and the exit code of before.
	for _, args := range [][]string{
		{"reach", pol},
		{"diff", pol, fewer, "--exit-code"},
		{"check", pol, "--fail-on", "critical"},
		{"assert", pol, "--expect", shop + "/ward.yaml"},
	} {
		_, errOut, code := run(t, "", args...)
		if !strings.Contains(errOut, "ward: warning: "+pol+" "+noWorkloads) {
			t.Errorf("%s: stderr = %q, want a warning that %s %s", args[0], errOut, pol, noWorkloads)
		}
		if code == ExitError {
			t.Errorf("%s: exit %d: %s", args[0], code, errOut)
		}
	}

	// With --workloads: the shop's answers.
	same := []struct {
		name        string
		args, whole []string
	}{
		{"reach", []string{"reach", pol, "--workloads", shop, "-o", "json"}, []string{"reach", shop, "-o", "json"}},
		{"assert", []string{"assert", pol, "--workloads", shop, "--expect", shop + "/ward.yaml", "-o", "json"}, []string{"assert", shop, "-o", "json"}},
		{"diff", []string{"diff", pol, fewer, "--workloads", shop, "--exit-code"}, nil},
	}
	for _, tt := range same {
		t.Run(tt.name, func(t *testing.T) {
			got, errOut, code := run(t, "", tt.args...)
			if strings.Contains(errOut, noWorkloads) {
				t.Errorf("warned with --workloads: %s", errOut)
			}
			if tt.whole == nil { // diff: dropping data's policies opens postgres and redis
				if code != ExitFindings || !strings.Contains(got, "data/") {
					t.Errorf("exit %d, output %q: want the changes to data's reachability", code, got)
				}
				return
			}
			for _, f := range []string{"web/network-policies.yaml", "api/network-policies.yaml", "api/orders-to-payments.yaml", "data/network-policies.yaml", "payments/network-policies.yaml"} {
				got = strings.ReplaceAll(got, filepath.Join(pol, strings.ReplaceAll(f, "/", "-")), shop+"/"+f)
			}
			want, _, wantCode := run(t, "", tt.whole...)
			if code != wantCode || got != want {
				t.Errorf("exit %d (want %d); output differs from %v:\n%s", code, wantCode, tt.whole, cmp.Diff(want, got))
			}
		})
	}

	// check: the assertions and policy lint see the shop's workloads; the
	// shop's own files are not audited through --workloads.
	out, errOut, _ := run(t, "", "check", pol, "--workloads", shop, "--config", shop+"/ward.yaml", "-o", "json")
	whole, _, _ := run(t, "", "check", shop, "-o", "json")
	count := func(out string) (asserts, fromShop int) {
		for _, f := range checkOutput(t, out).Findings {
			if strings.HasPrefix(f.Rule, "assert/") {
				asserts++
			}
			if strings.HasPrefix(f.File, shop) && f.File != shop+"/ward.yaml" {
				fromShop++
			}
		}
		return asserts, fromShop
	}
	a, from := count(out)
	wantA, _ := count(whole)
	if a != wantA || from != 0 || strings.Contains(errOut, noWorkloads) {
		t.Errorf("check --workloads: %d assertion findings (want %d), %d findings in the shop's files (want 0); stderr %q", a, wantA, from, errOut)
	}
}

// TestCertNames: two SPIFFE IDs with the same account name in different
// namespaces get a file each (before: one web.pem holding only the last).
func TestCertNames(t *testing.T) {
	dir := t.TempDir()
	const a, b = "spiffe://example.org/ns/a/sa/web", "spiffe://example.org/ns/b/sa/web"
	out, errOut, code := run(t, "", "cert", "--id", a, "--id", b, "--id", "spiffe://example.org/ns/a/sa/db", "--out", dir)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for file, id := range map[string]string{"a.web.pem": a, "b.web.pem": b, "db.pem": "spiffe://example.org/ns/a/sa/db"} {
		raw, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Errorf("%v; wrote:\n%s", err, out)
			continue
		}
		blk, _ := pem.Decode(raw)
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil || len(cert.URIs) != 1 || cert.URIs[0].String() != id {
			t.Errorf("%s holds %v (%v), want %s", file, cert.URIs, err, id)
		}
	}
	if _, errOut, code := run(t, "", "cert", "--id", a, "--id", a, "--out", dir); code != ExitError || !strings.Contains(errOut, "would both be written") {
		t.Errorf("the same ID twice: exit %d, stderr %q", code, errOut)
	}
}

// TestCertStaleSVIDs: ward cert into the directory of an earlier run that
// would leave SVIDs there it does not rewrite is an error, and writes
// nothing: the new bundle.pem (the CA key is not kept) did not sign them,
// so the proxy then refused their clients (before: a run for one --id
// replaced bundle.pem and left web.pem of the old CA). The same command
// again rewrites every file and is fine.
func TestCertStaleSVIDs(t *testing.T) {
	dir := t.TempDir()
	const api, web = "spiffe://example.org/ns/shop/sa/api", "spiffe://example.org/ns/shop/sa/web"
	if _, errOut, code := run(t, "", "cert", "--id", api, "--id", web, "--out", dir); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	bundle, err := os.ReadFile(filepath.Join(dir, "bundle.pem"))
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, "", "cert", "--id", api, "--out", dir)
	if code != ExitError || !strings.Contains(errOut, "holds web-key.pem, web.pem, issued by the CA of its bundle.pem") || out != "" {
		t.Errorf("one --id of two: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if now, err := os.ReadFile(filepath.Join(dir, "bundle.pem")); err != nil || !bytes.Equal(now, bundle) {
		t.Errorf("bundle.pem rewritten (%v)", err)
	}
	if _, errOut, code := run(t, "", "cert", "--id", web, "--id", api, "--out", dir); code != ExitOK {
		t.Errorf("every --id again: exit %d: %s", code, errOut)
	}
}

// TestVersion: `ward version` works as `ward --version` does.
func TestVersion(t *testing.T) {
	want, _, _ := run(t, "", "--version")
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, errOut, code := run(t, "", args...)
		if code != ExitOK || out != "ward version "+Version+"\n" || out != want {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
}

// TestExplainNames: explain names an address asked about as given (not the
// range holding it), and a bare name is a workload of the default
// namespace (-n), as kubectl reads it.
func TestExplainNames(t *testing.T) {
	const shop = "examples/shop"
	out, errOut, code := run(t, "", "explain", shop, "--from", "payments/payments", "--to", "203.0.113.9", "--port", "443/TCP")
	if code != ExitOK || !strings.HasPrefix(out, "ALLOWED: payments/Deployment/payments -> 203.0.113.9 on 443/TCP\n") || strings.Contains(out, "0.0.0.0/0") {
		t.Errorf("explain --to 203.0.113.9: exit %d, stderr %q, output:\n%s", code, errOut, out)
	}
	want, _, _ := run(t, "", "explain", shop, "--from", "web/frontend", "--to", "api/catalog", "--port", "8080/TCP")
	for _, args := range [][]string{
		{"-n", "web", "--from", "frontend", "--to", "api/catalog"},
		{"-n", "api", "--from", "web/frontend", "--to", "catalog"},
	} {
		got, errOut, code := run(t, "", append([]string{"explain", shop, "--port", "8080/TCP"}, args...)...)
		if code != ExitOK || got != want {
			t.Errorf("%v: exit %d, stderr %q, output differs:\n%s", args, code, errOut, cmp.Diff(want, got))
		}
	}
}

// TestProxyCheck: --check reports a valid configuration on stdout, as a
// result, not on stderr as a warning would be.
func TestProxyCheck(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"proxy.yaml", "policies.yaml"} {
		b, err := os.ReadFile(filepath.Join(root, "examples", "proxy", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, errOut, code := run(t, "", "cert", "--id", "spiffe://example.org/ns/shop/sa/api", "--out", filepath.Join(dir, "certs")); code != ExitOK {
		t.Fatalf("ward cert: %s", errOut)
	}
	cfg := filepath.Join(dir, "proxy.yaml")
	out, errOut, code := run(t, "", "proxy", "--config", cfg, "--check")
	if code != ExitOK || out != cfg+" is valid\n" || errOut != "" {
		t.Errorf("exit %d, stdout %q, stderr %q; want %q on stdout", code, out, errOut, cfg+" is valid\n")
	}
}

// TestExposedAllowAll: a policy that isolates ingress but allows it from
// everywhere (ingress: [{}], as Online Boutique's) does not protect the
// pods a NodePort Service publishes.
func TestExposedAllowAll(t *testing.T) {
	const base = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: web:1, ports: [{containerPort: 8080}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {type: NodePort, selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
`
	for _, tt := range []struct {
		name, rules string
		exposed     bool
	}{
		{"allow all", "  - {}\n", true},
		{"allow all on every port from every address", "  - from: [{ipBlock: {cidr: 0.0.0.0/0}}, {ipBlock: {cidr: '::/0'}}]\n", true},
		{"only the ingress controller", "  - from: [{namespaceSelector: {matchLabels: {name: ingress}}}]\n", false},
		{"allow all on one port", "  - ports: [{port: 8080}]\n", false},
	} {
		out, errOut, _ := run(t, base+tt.rules, "check", "-", "-o", "json", "--fail-on", "critical")
		found := false
		for _, f := range checkOutput(t, out).Findings {
			found = found || f.Rule == "pod/exposed-unisolated"
		}
		if found != tt.exposed {
			t.Errorf("%s: pod/exposed-unisolated reported: %v, want %v (stderr %s)", tt.name, found, tt.exposed, errOut)
		}
	}
}

// TestNoManifestsInOnePath: one path of several that gives nothing to
// check is an input error at that path, as it is alone (before: the other
// paths' findings, exit 0 or 1, as if it had been read). Empty standard
// input is what `ward check deploy/ - < <(failed render)` gets.
func TestNoManifestsInOnePath(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"docs/README.md":                 "# Deploying\n",
		"values/values.yaml":             "replicas: 3\n",
		"empty.yaml":                     "",
		"comments.yaml":                  "# nothing\n---\n---\n",
		"off/Chart.yaml":                 "apiVersion: v2\nname: off\nversion: 0.1.0\n",
		"off/templates/pod.yaml":         "{{- if .Values.on }}\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\n{{- end }}\n",
		"nothing/kustomization.yaml":     "resources: []\n",
		"onlydocker/Dockerfile":          "FROM scratch\nUSER 65532\n",
		"onlycompose/compose.yaml":       "services:\n  web:\n    image: nginx\n",
		"kust/kustomization.yaml":        "resources: [pod.yaml]\n",
		"kust/pod.yaml":                  "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: nginx}]}\n",
		"withdoc/README.md":              "# Deploying\n",
		"withdoc/sub/pod.yaml":           "apiVersion: v1\nkind: Pod\nmetadata: {name: q}\nspec: {containers: [{name: c, image: nginx}]}\n",
		"withdoc/sub/comments-only.yaml": "# nothing\n",
		// A hidden directory's objects are an input error of their own
		// (TestHiddenDirs); a hidden file of no objects leaves the
		// directory empty.
		"emptydir/.keep/placeholder.yaml": "keep: true\n",
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		path, stdin string
		empty       bool
	}{
		{path: "emptydir", empty: true}, // its only file is in a hidden directory
		{path: "docs", empty: true},
		{path: "docs/README.md", empty: true},
		{path: "values", empty: true},
		{path: "empty.yaml", empty: true},
		{path: "comments.yaml", empty: true},
		{path: "off", empty: true},
		{path: "nothing", empty: true},
		{path: "-", stdin: "", empty: true},
		{path: "-", stdin: "# helm template failed\n", empty: true},
		{path: "onlydocker"},
		{path: "onlycompose"},
		{path: "kust"},
		{path: "withdoc"},
		{path: "-", stdin: "apiVersion: v1\nkind: Pod\nmetadata: {name: s}\nspec: {containers: [{name: c, image: nginx}]}\n"},
	} {
		t.Run(tc.path+" "+tc.stdin, func(t *testing.T) {
			p := tc.path
			if p != "-" {
				p = filepath.Join(dir, p)
			}
			out, errOut, code := run(t, tc.stdin, "check", "examples/shop", p, "-o", "json")
			var res struct {
				Findings []struct{ Rule, File, Message string }
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("%v: %s", err, errOut)
			}
			found := false
			for _, f := range res.Findings {
				if f.Rule == ruleUnreadable && f.File == p && strings.Contains(f.Message, "no manifests found in "+p) {
					found = true
				}
			}
			if found != tc.empty {
				t.Errorf("input/unreadable \"no manifests found in %s\": %v, want %v; findings %+v", p, found, tc.empty, res.Findings)
			}
			if tc.empty && code != ExitError {
				t.Errorf("exit %d, want %d", code, ExitError)
			}
			if !tc.empty && code == ExitError {
				t.Errorf("exit %d: %s", code, errOut)
			}
		})
	}
}

// TestUnreadWardYAML: a ward.yaml that check does not read (one in a
// subdirectory, in a second PATH, named as a file, or beside --config) is
// said on stderr; before, its assertions were dropped in silence.
func TestUnreadWardYAML(t *testing.T) {
	dir := t.TempDir()
	const assertion = "assertions:\n  - name: n\n    from: {namespace: a}\n    to: {namespace: b}\n    expect: deny\n"
	pod := "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: a}\nspec: {containers: [{name: c, image: nginx}]}\n"
	for name, text := range map[string]string{
		"a/ward.yaml": assertion, "a/pod.yaml": pod, "a/sub/ward.yaml": assertion,
		"b/ward.yaml": assertion, "b/pod.yaml": pod,
		"c.yaml": assertion,
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for _, tc := range []struct {
		args         []string
		unread, used string
	}{
		{[]string{a}, "a/sub/ward.yaml", "a/ward.yaml"},
		{[]string{a, a + "/"}, "a/sub/ward.yaml", "a/ward.yaml"},
		{[]string{b, "--config", filepath.Join(dir, "c.yaml")}, "b/ward.yaml", "c.yaml"},
		{[]string{filepath.Join(b, "pod.yaml"), filepath.Join(b, "ward.yaml")}, "b/ward.yaml", ""},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, errOut, _ := run(t, "", append([]string{"check"}, tc.args...)...)
			want := "ward: warning: " + filepath.Join(dir, tc.unread) + " is not read: "
			if tc.used != "" {
				want += "the assertions, ignores and settings are those of " + filepath.Join(dir, tc.used)
			}
			if !strings.Contains(errOut, want) {
				t.Errorf("stderr = %q, want %q", errOut, want)
			}
			if tc.used != "" && strings.Contains(errOut, filepath.Join(dir, tc.used)+" is not read") {
				t.Errorf("stderr = %q: the ward.yaml used is said unread", errOut)
			}
		})
	}
}

// TestTwoWardYAMLPaths: two PATH directories that hold a ward.yaml are
// an input error, exit 2 (before: the first one's was read, the other
// said unread on stderr, so a ward.yaml that a pull request added to the
// first directory replaced the assertions and ignores of the second, and
// the gate passed).
func TestTwoWardYAMLPaths(t *testing.T) {
	dir := t.TempDir()
	const assertion = "assertions:\n  - name: n\n    from: {namespace: a}\n    to: {namespace: b}\n    expect: deny\n"
	pod := "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: a}\nspec: {containers: [{name: c, image: nginx}]}\n"
	writeTree(t, dir, map[string]string{
		"a/ward.yaml": "ignore:\n  - rule: \"*\"\n    reason: all reviewed\n", "a/pod.yaml": pod,
		"b/ward.yaml": assertion, "b/pod.yaml": strings.ReplaceAll(pod, "{name: p, namespace: a}", "{name: q, namespace: b}"),
	}, "", "")
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for _, args := range [][]string{{"check", a, b}, {"check", b, a}, {"assert", a, b}} {
		_, errOut, code := run(t, "", args...)
		if code != ExitError || !strings.Contains(errOut, "two PATH directories hold a ward.yaml") {
			t.Errorf("ward %s: exit %d, want %d and both ward.yaml named:\n%s", strings.Join(args, " "), code, ExitError, errOut)
		}
	}
	if _, errOut, code := run(t, "", "check", a, b, "--config", filepath.Join(b, "ward.yaml")); code == ExitError {
		t.Errorf("with --config: exit %d:\n%s", code, errOut)
	}
}

// TestWardYAMLWithObjects: a file named ward.yaml met in a directory
// that holds Kubernetes objects, not Ward's settings, is read as
// manifests, as kubectl apply -R applies it (before: it was taken for a
// second ward.yaml, said unread, and a privileged pod in it passed with
// exit 0 and a score of 100).
func TestWardYAMLWithObjects(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"cm.yaml":       "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
		"sub/ward.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: nginx, securityContext: {privileged: true}}]\n",
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, code := run(t, "", "check", dir)
	if code != ExitFindings || !strings.Contains(out, "pss/privileged") {
		t.Errorf("exit %d, want %d and pss/privileged:\n%s%s", code, ExitFindings, out, errOut)
	}
	if strings.Contains(errOut, "ward.yaml is not read") {
		t.Errorf("stderr = %q: the file of objects is said an unread ward.yaml", errOut)
	}
}

// TestStdinTwice: "-" given twice reads standard input once; the second,
// empty, is one input error, not one per "-".
func TestStdinTwice(t *testing.T) {
	pod := "apiVersion: v1\nkind: Pod\nmetadata: {name: s}\nspec: {containers: [{name: c, image: nginx}]}\n"
	out, errOut, code := run(t, pod, "check", "-", "-", "-o", "json")
	var res struct {
		Summary struct{ InputErrors int }
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, errOut)
	}
	if code != ExitError || res.Summary.InputErrors != 1 {
		t.Errorf("exit %d, %d input errors; want %d, 1", code, res.Summary.InputErrors, ExitError)
	}
}

// TestHiddenDirs: the walk skips hidden directories; one that holds a
// chart, a kustomization, a Compose file or a Dockerfile is announced on
// stderr as not read (werf keeps its chart in .helm/, dev containers
// their Compose file and Dockerfile in .devcontainer/), others (.github,
// .git) are not. One that holds Kubernetes objects, which kubectl apply
// -R and Argo CD read, is an input error (exit 2): a privileged pod put
// in .deploy/ passed with "score 100/100" and a line on stderr.
func TestHiddenDirs(t *testing.T) {
	const pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: x}]}\n"
	tests := []struct {
		name  string
		files map[string]string
		warn  string // the hidden directory announced, relative to the tree, or ""
		holds string
		tool  bool // objects of no kind Ward checks: a warning, not an error
	}{
		{name: "objects", files: map[string]string{".deploy/prod/pod.yaml": pod}, warn: ".deploy", holds: "Kubernetes objects"},
		{name: "privileged pod", files: map[string]string{".x/pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: evil}\nspec: {hostNetwork: true, containers: [{name: c, image: x, securityContext: {privileged: true}}]}\n"}, warn: ".x", holds: "Kubernetes objects"},
		{name: "chart", files: map[string]string{".helm/Chart.yaml": "apiVersion: v2\nname: w\nversion: 0.1.0\n", ".helm/templates/pod.yaml": pod}, warn: ".helm", holds: "a Helm chart"},
		{name: "kustomization", files: map[string]string{".k8s/kustomization.yaml": "resources: [pod.yaml]\n", ".k8s/pod.yaml": pod}, warn: ".k8s", holds: "a kustomization"},
		{name: "compose", files: map[string]string{".devcontainer/docker-compose.yml": "services:\n  app: {image: x, privileged: true}\n"}, warn: ".devcontainer", holds: "a Compose file"},
		{name: "compose by content", files: map[string]string{".ops/prod.yaml": "services:\n  app: {privileged: true}\n"}, warn: ".ops", holds: "a Compose file"},
		// The quick scan misses a services key with an anchor or merged
		// in with <<: such a file was passed over without a word.
		{name: "compose, anchored key", files: map[string]string{".ops/prod.yaml": "&s services:\n  app: {image: x, privileged: true}\n"}, warn: ".ops", holds: "a Compose file"},
		{name: "compose, merged key", files: map[string]string{".ops/prod.yaml": "x-base: &b\n  services:\n    app: {image: x, privileged: true}\n<<: *b\n"}, warn: ".ops", holds: "a Compose file"},
		{name: "compose, indented root", files: map[string]string{".ops/prod.yaml": "  services:\n    app: {image: x, privileged: true}\n"}, warn: ".ops", holds: "a Compose file"},
		{name: "dockerfile", files: map[string]string{".devcontainer/Dockerfile": "FROM debian:12\nUSER root\n"}, warn: ".devcontainer", holds: "a Dockerfile"},
		{name: "workflows", files: map[string]string{".github/workflows/ci.yml": "name: ci\non: push\njobs: {}\n"}},
		// A tool's configuration written as an object of its own API
		// (kind's cluster, a kubeconfig) holds nothing Ward checks: named,
		// not an error.
		{name: "kind config", files: map[string]string{".github/kind-config.yaml": "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes: [{role: control-plane}]\n"}, warn: ".github", holds: "Kubernetes objects", tool: true},
		{name: "kubeconfig", files: map[string]string{".kube/config.yaml": "apiVersion: v1\nkind: Config\nclusters: []\n"}, warn: ".kube", holds: "Kubernetes objects", tool: true},
		// A file that does not parse is not known to hold only a tool's
		// configuration: a pod with a duplicate key, or followed by a
		// broken document, passed with exit 0.
		{name: "objects with a duplicate key", files: map[string]string{".x/pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nmetadata: {name: q}\nspec: {hostNetwork: true, containers: [{name: c, image: x}]}\n"}, warn: ".x", holds: "Kubernetes objects"},
		{name: "objects and a broken document", files: map[string]string{".x/pod.yaml": pod + "---\nfoo: [\n"}, warn: ".x", holds: "Kubernetes objects"},
		// Objects past a Dockerfile in the same hidden directory are found.
		{name: "objects after a Dockerfile", files: map[string]string{".devcontainer/Dockerfile": "FROM debian:12\n", ".devcontainer/z/pod.yaml": pod}, warn: ".devcontainer", holds: "Kubernetes objects"},
		{name: "git", files: map[string]string{".git/pod.yaml": pod}},
		// Past hiddenLimit entries a hidden directory is not looked
		// through: it was passed over without a word, whatever it held.
		{name: "too many entries", files: manyFiles(".big/", hiddenLimit+1, map[string]string{".big/zz/pod.yaml": pod}), warn: ".big", holds: "more than 2000 entries"},
		{name: "many entries, objects first", files: manyFiles(".big/", hiddenLimit+1, map[string]string{".big/0/pod.yaml": pod}), warn: ".big", holds: "Kubernetes objects"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree := t.TempDir()
			writeTree(t, tree, map[string]string{"pod.yaml": pod}, "", "")
			writeTree(t, tree, tt.files, "", "")
			out, errOut, code := run(t, "", "check", tree)
			if tt.holds == "Kubernetes objects" && !tt.tool {
				want := filepath.Join(tree, tt.warn) + "\n"
				if code != ExitError || !strings.Contains(out, want) || !strings.Contains(out, "input/unreadable") ||
					!strings.Contains(out, "hidden directory, which the walk skips and kubectl apply -R reads, holds Kubernetes objects Ward checks") &&
						!strings.Contains(out, "hidden directory, which the walk skips and kubectl apply -R reads, holds a file with apiVersion and kind keys that does not parse") {
					t.Errorf("exit %d, stdout %q; want exit %d and input/unreadable at %s", code, out, ExitError, want)
				}
				return
			}
			if code == ExitError {
				t.Fatalf("exit %d; stderr: %s", code, errOut)
			}
			got := strings.Contains(errOut, "a hidden directory")
			if want := "ward: warning: " + filepath.Join(tree, tt.warn) + ": not read: a hidden directory, which the walk skips, holds " + tt.holds; got != (tt.warn != "") || tt.warn != "" && !strings.Contains(errOut, want) {
				t.Errorf("stderr = %q, want a warning %q: %v", errOut, want, tt.warn != "")
			}
		})
	}
}

// TestHiddenDirObjectsPastBudget: a file of objects met once the parse
// budget is spent is not known to be a tool's configuration: it is an
// input error. Parsed, four kubeconfigs spent the budget and the pod
// after them passed with exit 0.
func TestHiddenDirObjectsPastBudget(t *testing.T) {
	defer func(b int64) { hiddenParseBudget = b }(hiddenParseBudget)
	hiddenParseBudget = 100
	tree := t.TempDir()
	kubeconfig := "apiVersion: v1\nkind: Config\nclusters: []\n---\n"
	writeTree(t, tree, map[string]string{
		"pod.yaml":      "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: x}]}\n",
		".x/a.yaml":     strings.Repeat(kubeconfig, 4),
		".x/z/pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: evil}\nspec: {hostNetwork: true, containers: [{name: c, image: x, securityContext: {privileged: true}}]}\n",
	}, "", "")
	out, _, code := run(t, "", "check", tree)
	if code != ExitError || !strings.Contains(out, "input/unreadable") || !strings.Contains(out, "not parsed (past the 0 MiB parse budget), which may hold objects Ward checks") {
		t.Errorf("exit %d, stdout %q; want exit %d and input/unreadable past the budget", code, out, ExitError)
	}
}

// TestHiddenDirParseBudget: the files of a hidden directory parsed whole
// for a Compose file the quick scan misses are bounded in bytes; a
// directory past the budget, which may hold one among the files not
// parsed, is named as not all looked through, never passed over in
// silence.
func TestHiddenDirParseBudget(t *testing.T) {
	defer func(b int64) { hiddenParseBudget = b }(hiddenParseBudget)
	hiddenParseBudget = 64
	tree := t.TempDir()
	filler := `{"name": "cache entry", "size": 1234567890, "tags": ["a", "b"]}` + "\n"
	writeTree(t, tree, map[string]string{
		"pod.yaml":        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: x}]}\n",
		".cache/a.json":   filler,
		".cache/b.json":   filler,
		".cache/z/x.yaml": "&k services:\n  app: {image: x, privileged: true}\n",
	}, "", "")
	_, errOut, _ := run(t, "", "check", tree)
	if want := filepath.Join(tree, ".cache") + ": not read: a hidden directory, which the walk skips, holds more than"; !strings.Contains(errOut, want) {
		t.Errorf("stderr = %q, want %q", errOut, want)
	}
}

// manyFiles returns files with n empty files more under dir.
func manyFiles(dir string, n int, files map[string]string) map[string]string {
	for i := range n {
		files[dir+"f"+strconv.Itoa(i)+".txt"] = ""
	}
	return files
}

// TestLateComposeNamedPipe: a named pipe given as PATH is read once. Its
// content, YAML that is not Kubernetes', was read again to look for a
// Compose file (findLateComposes): the second open blocked until another
// writer came, so `ward check pipe.yaml` hung once its writer had written,
// and read the next writer's data, here a privileged service, as if it
// were the file's.
func TestLateComposeNamedPipe(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "pipe.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	wrote := make(chan error, 1)
	go func() { // a second writer, there only if the pipe is opened again
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0) // blocks until a reader opens
		if err == nil {
			_, err = f.WriteString("services:\n  web: {image: nginx, privileged: true}\n")
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		wrote <- err
	}()
	e := &env{maxInput: manifest.DefaultMaxFileSize}
	in := &inputs{lateComposes: map[string]bool{}}
	set := &manifest.Set{Skipped: []manifest.Skipped{{Source: manifest.Source{File: fifo, Line: 1}, Reason: "not a Kubernetes object"}}}
	e.findLateComposes(in, set)
	if len(in.lateComposes) != 0 {
		t.Errorf("lateComposes = %v: the pipe was read again", in.lateComposes)
	}
	// Release the writer if the pipe was not opened again.
	r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
}
