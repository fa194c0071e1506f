package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestComposeByContentEncodings: a Compose file found by its content is
// one in every encoding the loader reads (before: with a byte order mark,
// in UTF-16 or with \r line breaks, it passed for a document that is not
// a Kubernetes object, input/skipped, and its services went unchecked).
func TestComposeByContentEncodings(t *testing.T) {
	const text = "name: shop\nservices:\n  web:\n    image: nginx\n    privileged: true\n"
	utf16 := func(le bool) string {
		b := []byte{0xFE, 0xFF}
		if le {
			b = []byte{0xFF, 0xFE}
		}
		for _, r := range text {
			if le {
				b = append(b, byte(r), 0)
			} else {
				b = append(b, 0, byte(r))
			}
		}
		return string(b)
	}
	for _, tc := range []struct{ name, src string }{
		{"plain", text},
		{"utf-8 bom", "\ufeff" + text},
		{"utf-8 bom, services first", "\ufeff" + strings.TrimPrefix(text, "name: shop\n")},
		{"crlf", strings.ReplaceAll(text, "\n", "\r\n")},
		{"cr", strings.ReplaceAll(text, "\n", "\r")},
		{"utf-16le", utf16(true)},
		{"utf-16be", utf16(false)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "app.yaml")
			if err := os.WriteFile(path, []byte(tc.src), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{dir, path} {
				out, errOut, code := run(t, "", "check", p)
				if code != ExitFindings || !strings.Contains(out, "compose/privileged") {
					t.Errorf("check %s: exit %d, want %d and compose/privileged:\n%s%s", p, code, ExitFindings, out, errOut)
				}
			}
		})
	}
}

// TestComposeNotRead: check says on stderr which files a Compose file
// names that it audits on their own but not with it (before: nothing, and
// a service extending a privileged one of another file passed clean).
func TestComposeNotRead(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "compose.yaml")
	for name, src := range map[string]string{
		"compose.yaml": "include:\n  - other.yaml\nservices:\n  web:\n    image: nginx\n    extends:\n      file: base.yml\n      service: base\n",
		"other.yaml":   "services:\n  db:\n    image: postgres\n",
		"base.yml":     "services:\n  base:\n    image: nginx\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, _ := run(t, "", "check", dir)
	for _, want := range []string{
		"ward: warning: " + path + ":2: include other.yaml is audited on its own, not merged into this project",
		"ward: warning: " + path + ":6: service web extends a service of base.yml, which is not read",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr = %q, want %q", errOut, want)
		}
	}
	if strings.Contains(out, "input/unreadable") {
		t.Errorf("a file checked is reported unread:\n%s", out)
	}
}

// TestComposeReferencesUnchecked: a file an include entry or an extends
// names that is not among the Compose files checked (a name the walk does
// not find, outside the paths given, missing, remote) is an
// input/unreadable finding at the entry, and check exits 2 (before: a
// warning on stderr, and a privileged service included from stack.conf
// passed with exit 0).
func TestComposeReferencesUnchecked(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "compose.yaml")
	for name, src := range map[string]string{
		"compose.yaml": "include:\n  - stack.conf\n  - oci://registry.example/stack:1\nservices:\n  web:\n    image: nginx\n    user: \"1000\"\n    extends:\n      file: ../shared/base.yml\n      service: base\n",
		"stack.conf":   "services:\n  db:\n    image: postgres\n    privileged: true\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, code := run(t, "", "check", "-o", "json", dir)
	if code != ExitError {
		t.Errorf("exit %d, want %d (input errors):\n%s%s", code, ExitError, out, errOut)
	}
	for _, line := range []int{2, 3, 8} {
		want := `"rule": "input/unreadable",` + "\n" + `      "severity": "high",` + "\n" + `      "file": "` + path + `",` + "\n" + `      "line": ` + strconv.Itoa(line) + ","
		if !strings.Contains(out, want) {
			t.Errorf("no input/unreadable at %s:%d:\n%s", path, line, out)
		}
	}
}

// TestComposeDotEnv: the .env file beside a Compose file, which docker
// compose reads for interpolation, is read too (before: ${PRIV} and
// ${NET} interpolated to nothing and a privileged service on the host
// network, run as root, passed at exit 0); a .env that does not parse is
// input/unreadable, naming the file and line. (${PRIV} has a default:
// privileged from a variable set nowhere is judged true, see
// compose.TestUnknownPrivileged.)
func TestComposeDotEnv(t *testing.T) {
	const src = `services:
  web:
    image: nginx:1.27
    user: "${APP_USER:-1000}"
    privileged: ${PRIV:-false}
    network_mode: ${NET:-bridge}
    read_only: true
    cap_drop: [ALL]
    security_opt: ["no-new-privileges:true"]
    mem_limit: 64m
    cpus: 1
    pids_limit: 100
`
	dir := t.TempDir()
	path := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := run(t, "", "check", path); code != ExitOK {
		t.Fatalf("without .env: exit %d, want %d:\n%s%s", code, ExitOK, out, errOut)
	}
	env := filepath.Join(dir, ".env")
	if err := os.WriteFile(env, []byte("# the production settings\nPRIV=true\nNET=host\nAPP_USER=root\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, path} {
		out, errOut, code := run(t, "", "check", p)
		if code != ExitFindings {
			t.Errorf("check %s with .env: exit %d, want %d:\n%s%s", p, code, ExitFindings, out, errOut)
		}
		for _, rule := range []string{"compose/privileged", "compose/host-network", "compose/user-root"} {
			if !strings.Contains(out, rule) {
				t.Errorf("check %s with .env: no %s:\n%s%s", p, rule, out, errOut)
			}
		}
	}
	if err := os.WriteFile(env, []byte("PRIV=true\nNOT A VARIABLE\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, "", "check", path)
	if code != ExitError || !strings.Contains(out, "input/unreadable") || !strings.Contains(out, ".env") {
		t.Errorf("check with a bad .env: exit %d, want %d and input/unreadable naming .env:\n%s%s", code, ExitError, out, errOut)
	}
}

// TestComposeOverrideByContent: an override file beside compose.yaml
// (docker compose -f compose.yaml -f prod.yaml), whose services set no
// image or build, is a Compose file and is audited (before: it was an
// input/skipped document, info, and its privileged host-network service
// passed at exit 0).
func TestComposeOverrideByContent(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"compose.yaml": "services:\n  web:\n    image: nginx:1.27\n    user: \"1000\"\n",
		"prod.yaml":    "services:\n  web:\n    privileged: true\n    network_mode: host\n",
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, code := run(t, "", "check", dir)
	if code != ExitFindings || !strings.Contains(out, "prod.yaml") || !strings.Contains(out, "compose/privileged") || !strings.Contains(out, "compose/host-network") {
		t.Errorf("check %s: exit %d, want %d and prod.yaml's compose/privileged and compose/host-network:\n%s%s", dir, code, ExitFindings, out, errOut)
	}
}

// TestDockerfileFrontendWarned: check warns of a Dockerfile built by a
// frontend other than Docker's (# syntax=), which it judges as a plain
// Dockerfile.
func TestDockerfileFrontendWarned(t *testing.T) {
	path := filepath.Join(t.TempDir(), "Dockerfile")
	if err := os.WriteFile(path, []byte("# syntax=ghcr.io/example/frontend:1\nFROM scratch\nUSER 1000\nHEALTHCHECK CMD [\"/app\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, _ := run(t, "", "check", path)
	if want := "ward: warning: " + path + ":1: # syntax=ghcr.io/example/frontend:1"; !strings.Contains(errOut, want) {
		t.Errorf("stderr = %q, want %q", errOut, want)
	}
}

// TestComposeBuildsDockerfile: a Compose service that builds its image
// from a Dockerfile gets that Dockerfile audited as it builds it: one not
// among the paths given is read, and its build.target stage is judged,
// not its last (a root debug stage behind a non-root final one passed).
// A Dockerfile given too and built at its last stage is not reported
// twice.
func TestComposeBuildsDockerfile(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"compose.yaml": "services:\n  web:\n    image: example/web:1\n    user: \"10001\"\n    build:\n      context: ./app\n      dockerfile: prod.df\n      target: debug\n" +
			"  api:\n    image: example/api:1\n    user: \"10001\"\n    build: ./api\n",
		"app/prod.df":    "FROM debian:12 AS debug\nUSER root\n\nFROM gcr.io/distroless/static-debian12:nonroot\nUSER 65532\n",
		"api/Dockerfile": "FROM debian:12\nUSER 0\n",
	}, "", "")
	keys := func(out string) []string {
		var ks []string
		for _, f := range checkOutput(t, out).Findings {
			if f.Rule == "dockerfile/user-root" {
				ks = append(ks, f.File+":"+strconv.Itoa(f.Line))
			}
		}
		slices.Sort(ks)
		return ks
	}
	out, errOut, code := run(t, "", "check", filepath.Join(dir, "compose.yaml"), "-o", "json")
	want := []string{filepath.Join(dir, "api", "Dockerfile") + ":2", filepath.Join(dir, "app", "prod.df") + ":2"}
	if got := keys(out); code != ExitFindings || !slices.Equal(got, want) {
		t.Errorf("compose.yaml alone: exit %d, dockerfile/user-root at %v, want exit %d and %v; stderr: %s", code, got, ExitFindings, want, errOut)
	}
	// Given too: api's Dockerfile once.
	out, errOut, code = run(t, "", "check", filepath.Join(dir, "compose.yaml"), filepath.Join(dir, "api", "Dockerfile"), "-o", "json")
	if got := keys(out); code != ExitFindings || !slices.Equal(got, want) {
		t.Errorf("with api/Dockerfile: exit %d, dockerfile/user-root at %v, want exit %d and %v; stderr: %s", code, got, ExitFindings, want, errOut)
	}
}

// TestComposeJSON: a Compose file written in JSON (docker compose -f reads
// it) is audited, found by name or by content, beside Kubernetes objects
// or alone, in a directory, a hidden one announced (before: compose.json
// in a directory passed for a document that is not a Kubernetes object,
// input/skipped, and a privileged service on the host network exited 0).
func TestComposeJSON(t *testing.T) {
	const svc = `{"services": {"web": {"image": "nginx", "privileged": true, "network_mode": "host"}}}`
	const cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
	for _, name := range []string{"compose.json", "docker-compose.override.json", "stack.json"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, name)
			if err := os.WriteFile(path, []byte(svc), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "cm.yaml"), []byte(cm), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{dir, path} {
				out, errOut, code := run(t, "", "check", p)
				if code != ExitFindings || !strings.Contains(out, "compose/privileged") || !strings.Contains(out, "compose/host-network") {
					t.Errorf("check %s: exit %d, want %d and compose/privileged, compose/host-network:\n%s%s", p, code, ExitFindings, out, errOut)
				}
			}
		})
	}
	t.Run("hidden", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, ".dev"), 0o700); err != nil {
			t.Fatal(err)
		}
		for name, src := range map[string]string{".dev/stack.json": svc, "cm.yaml": cm} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		_, errOut, _ := run(t, "", "check", dir)
		if !strings.Contains(errOut, "a Compose file ("+filepath.Join(dir, ".dev", "stack.json")+")") {
			t.Errorf("stderr does not name the hidden Compose file:\n%s", errOut)
		}
	})
}

// TestComposeFileEnv: a COMPOSE_FILE in the .env beside a Compose file
// names files docker compose merges into the project: they are read and
// judged merged, whatever their names (before: a privileged override
// named there, prod.conf, was only said unread on stderr, and the check
// passed); one that is not there is said on stderr.
func TestComposeFileEnv(t *testing.T) {
	dir := t.TempDir()
	for name, src := range map[string]string{
		"compose.yaml":   "services:\n  web:\n    image: nginx\n",
		"ci.compose.yml": "services:\n  web:\n    user: \"1000\"\n",
		"prod.conf":      "services:\n  web:\n    privileged: true\n",
		".env":           "COMPOSE_FILE=compose.yaml:ci.compose.yml:prod.conf:gone.yml\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, code := run(t, "", "check", "-o", "json", dir)
	if want := `"file": "` + filepath.Join(dir, "prod.conf") + `",` + "\n" + `      "line": 3,`; code != ExitFindings || !strings.Contains(out, want) || !strings.Contains(out, "compose/privileged") {
		t.Errorf("exit %d, want %d and compose/privileged at %s:\n%s%s", code, ExitFindings, want, out, errOut)
	}
	if want := "COMPOSE_FILE names gone.yml, which docker compose run in " + dir; !strings.Contains(errOut, want) {
		t.Errorf("stderr = %q, want %q", errOut, want)
	}
	for _, read := range []string{"names compose.yaml", "names ci.compose.yml", "names prod.conf"} {
		if strings.Contains(errOut, read) {
			t.Errorf("stderr = %q: a file checked is said unread", errOut)
		}
	}
}

// TestComposeInChartOrKustomization: a Dockerfile and a Compose file in
// the directory of a kustomization or a Helm chart are checked, as docker
// builds and runs them wherever they lie (before: the walk left every file
// there to kustomize or helm, which never read them, and a privileged
// service passed with exit 0 and a score of 100). In a kustomization a
// Compose file is found by content too; a chart's values file never is.
func TestComposeInChartOrKustomization(t *testing.T) {
	const cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
	const svc = "services:\n  web:\n    image: nginx\n    privileged: true\n"
	const dockerfile = "FROM nginx:1.27\nUSER root\n"
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []string
		not   string
	}{
		{"kustomization", map[string]string{"kustomization.yaml": "resources: [cm.yaml]\n", "cm.yaml": cm, "compose.yaml": svc, "dev.yml": svc, "Dockerfile": dockerfile},
			[]string{"compose.yaml", "dev.yml", "Dockerfile"}, ""},
		// A services key the quick scan misses (an anchor, merged in with
		// <<) in a file kustomize does not read: the loader never met the
		// file either, so findLateComposes could not find it, and the
		// privileged services passed at 100/100.
		{"kustomization, key the quick scan misses", map[string]string{"kustomization.yaml": "resources: [cm.yaml]\n", "cm.yaml": cm,
			"stack.yaml": "&s services:\n  web:\n    image: nginx\n    privileged: true\n", "merged.yml": "x-base: &b\n  services:\n    web: {image: nginx, privileged: true}\n<<: *b\n"},
			[]string{"stack.yaml", "merged.yml"}, ""},
		{"chart", map[string]string{"Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n", "templates/cm.yaml": cm, "docker-compose.yml": svc, "Dockerfile": dockerfile,
			"values.yaml": "services:\n  web:\n    image: nginx\n    privileged: true\n"},
			[]string{"docker-compose.yml", "Dockerfile"}, "values.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, tc.files, "", "")
			out, errOut, code := run(t, "", "check", dir, "-o", "json")
			if code != ExitFindings {
				t.Errorf("exit %d, want %d; stderr: %s", code, ExitFindings, errOut)
			}
			for _, f := range tc.want {
				if !strings.Contains(out, `"file": "`+filepath.Join(dir, f)+`"`) {
					t.Errorf("no finding in %s:\n%s", f, out)
				}
			}
			if tc.not != "" && strings.Contains(out, filepath.Join(dir, tc.not)) {
				t.Errorf("%s checked as a Compose file:\n%s", tc.not, out)
			}
		})
	}
}

// TestComposeByContentForms: a Compose file whose services key is written
// in another form YAML allows (flow style, quoted, a blank before the
// colon, an explicit key, JSON in a .yaml file) is found by its content
// (before: the cheap test before IsCompose looked for "services:" at a
// line's start only, and the privileged service passed with exit 0).
func TestComposeByContentForms(t *testing.T) {
	for _, src := range []string{
		"{services: {web: {image: nginx, privileged: true}}}\n",
		"\"services\":\n  web: {image: nginx, privileged: true}\n",
		"'services' :\n  web: {image: nginx, privileged: true}\n",
		"? services\n: web: {image: nginx, privileged: true}\n",
		"# made by a tool\n{\n  \"services\": {\"web\": {\"image\": \"nginx\", \"privileged\": true}}\n}\n",
	} {
		dir := t.TempDir()
		writeTree(t, dir, map[string]string{"stack.yaml": src, "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"}, "", "")
		out, errOut, code := run(t, "", "check", dir)
		if code != ExitFindings || !strings.Contains(out, "compose/privileged") {
			t.Errorf("%q: exit %d, want %d and compose/privileged:\n%s%s", src, code, ExitFindings, out, errOut)
		}
	}
}

// TestComposeKeySpellings: a Compose file whose services key is written
// in a form the cheap scan does not look for (an anchor or a tag on the
// key, an escape in it, blanks before its colon, an explicit key on lines
// of its own, an indented root mapping) went to the manifest loader, which
// skipped it as YAML that is not Kubernetes': a privileged service on the
// host's network passed `ward check DIR` as 100/100 (and, given as a file,
// as an input error only). It is audited as the Compose file it is.
func TestComposeKeySpellings(t *testing.T) {
	const svc = "  web:\n    image: nginx:1.27\n    privileged: true\n    network_mode: host\n"
	const cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
	for name, src := range map[string]string{
		"anchor":   "&a services:\n" + svc,
		"tag":      "!!str services:\n" + svc,
		"escape":   `"serv\x69ces":` + "\n" + svc,
		"unicode":  `"\u0073ervices":` + "\n" + svc,
		"blanks":   "services          :\n" + svc,
		"explicit": "?\n  services\n:\n" + svc,
		"folded":   "? >-\n  services\n:\n" + svc,
		"indented": "  services:\n    web:\n      image: nginx:1.27\n      privileged: true\n      network_mode: host\n",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "stack.yaml")
			if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "cm.yaml"), []byte(cm), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{dir, path} {
				out, errOut, code := run(t, "", "check", p)
				if code != ExitFindings || !strings.Contains(out, "compose/privileged") || !strings.Contains(out, "compose/host-network") {
					t.Errorf("check %s: exit %d, want %d and compose/privileged, compose/host-network:\n%s%s", p, code, ExitFindings, out, errOut)
				}
				if strings.Contains(out, "input/skipped") {
					t.Errorf("check %s: the Compose file is also reported skipped:\n%s", p, out)
				}
			}
			// Given both as a directory and as a file: audited once.
			out, errOut, _ := run(t, "", "check", dir, path, "-o", "json")
			n := 0
			for _, f := range checkOutput(t, out).Findings {
				if f.Rule == "compose/privileged" {
					n++
				}
			}
			if n != 1 {
				t.Errorf("check DIR FILE: %d compose/privileged findings, want 1; stderr: %s", n, errOut)
			}
		})
	}
}

// TestComposeProjectMerged: compose.yaml and the override file beside it,
// which docker compose run in their directory merges into one project,
// are judged merged, whether the directory or compose.yaml alone is
// given (before: each file alone, and a service of compose.yaml joining
// the network namespace of one the override puts on the host's, or a
// service of the override joining one of compose.yaml, passed clean).
func TestComposeProjectMerged(t *testing.T) {
	dir := t.TempDir()
	for name, src := range map[string]string{
		"compose.yaml":          "services:\n  vpn:\n    image: wireguard\n  app:\n    image: nginx\n    network_mode: service:vpn\n  db:\n    image: busybox\n    network_mode: host\n",
		"compose.override.yaml": "services:\n  vpn:\n    network_mode: host\n  tap:\n    image: busybox\n    network_mode: service:db\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{dir, filepath.Join(dir, "compose.yaml")} {
		out, errOut, code := run(t, "", "check", "-o", "json", p)
		if code != ExitFindings {
			t.Errorf("check %s: exit %d, want %d:\n%s%s", p, code, ExitFindings, out, errOut)
		}
		for _, want := range []string{
			`"file": "` + filepath.Join(dir, "compose.yaml") + `",` + "\n" + `      "line": 6,`,
			`"file": "` + filepath.Join(dir, "compose.override.yaml") + `",` + "\n" + `      "line": 6,`,
		} {
			if !strings.Contains(out, want) {
				t.Errorf("check %s: output lacks %s:\n%s%s", p, want, out, errOut)
			}
		}
	}
}

// TestComposeFileEnvOnly: a directory whose .env sets COMPOSE_FILE to a
// file that is not among those found (prod.conf) is audited as docker
// compose run there loads it (before: prod.conf, privileged, was only
// said unread on stderr and check passed, exit 0).
func TestComposeFileEnvOnly(t *testing.T) {
	dir := t.TempDir()
	for name, src := range map[string]string{
		"compose.yaml": "services:\n  web:\n    image: nginx\n    user: \"1000\"\n",
		"prod.conf":    "services:\n  web:\n    image: nginx\n    privileged: true\n",
		".env":         "COMPOSE_FILE=prod.conf\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, code := run(t, "", "check", "-o", "json", dir)
	if want := `"file": "` + filepath.Join(dir, "prod.conf") + `",` + "\n" + `      "line": 4,`; code != ExitFindings || !strings.Contains(out, want) {
		t.Errorf("exit %d, want %d and a finding at prod.conf:4:\n%s%s", code, ExitFindings, out, errOut)
	}
}
