package cli

import (
	"encoding/base64"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixtureSecrets are the secret values of testdata/secrets, as written
// there (and, for binaryData, decoded too).
var fixtureSecrets = []string{
	"Tr0ub4dor-and-3-horses", "ghp_Q7mZ3kP9xL2vN8bR4tY6wC1sD5fH0jA2uE7i", "Corr3ct-Battery-Staple", "sk_live_9aZ8bY7cX6dW5eV4fU3gT2hS",
	"Mail-P4ss-Quokka-77", "Jdbc-P4ss-Wombat-42", "Zk3pQ9rT2vX8mN4bL7cH1sD6fG0jA5wEyU2iO9qR", "MHcCAQEEIPxq3k9Vm2Lr7Tz4Wn8Yb5Hc1Jd6Fg0Ks3Qa9Ue2Ri7oAoGCCqGSM49",
	"eG94Yi0xMTExLTIyMjItU2VjcmV0QmluYXJ5VG9rZW4=", "xoxb-1111-2222-SecretBinaryToken",
	"Pg-Secret-Kangaroo-19", "Repl-Secret-Emu-23",
	"npm_Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56Qr78", "Dock3r-Api-Key-Platypus-5", "AKIAZ7Q3K9P2L8M4N6B1",
	"ghp_R8nW4kT2yB6vM1cX9zL3qP7sD0fH5jA8uE2o", "Mysql-P4ss-Numbat-31", "Curl-P4ss-Bilby-88", "Args-P4ss-Dingo-64", "Cmd-P4ss-Wallaby-56",
}

// TestNoSecretWritten runs ward over inputs holding known secrets (pod
// environment, ConfigMap data and binaryData, Compose environment,
// Dockerfile ENV, ARG and RUN command lines) with every output format, explain and reach, and
// debug logging, and checks that no secret value, nor a distinctive part
// of one, appears in anything ward writes: standard output, standard
// error, and files (the run's directory, HOME and the cache directories
// are scanned for files ward created or changed).
func TestNoSecretWritten(t *testing.T) {
	decoded, err := base64.StdEncoding.DecodeString("eG94Yi0xMTExLTIyMjItU2VjcmV0QmluYXJ5VG9rZW4=")
	if err != nil || string(decoded) != "xoxb-1111-2222-SecretBinaryToken" {
		t.Fatalf("fixture binaryData decodes to %q, %v", decoded, err)
	}
	// A copy of the fixtures in a directory of its own, with HOME and the
	// cache there too, so that every file ward writes can be found.
	src := filepath.Join(root, "internal", "cli", "testdata", "secrets")
	dir := t.TempDir()
	work := filepath.Join(dir, "in")
	if err := os.CopyFS(work, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	t.Setenv("HOME", home)
	t.Setenv("XDG_CACHE_HOME", filepath.Join(home, ".cache"))
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("TMPDIR", filepath.Join(dir, "tmp"))
	for _, d := range []string{home, filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	before := snapshot(t, dir)

	runs := [][]string{
		{"-v", "check", work},
		{"-v", "check", work, "-o", "json", "--show-suppressed"},
		{"-v", "check", work, "-o", "sarif"},
		{"-v", "check", filepath.Join(work, "workloads.yaml"), "--pss-level", "baseline"},
		{"-v", "explain", filepath.Join(work, "workloads.yaml"), "--from", "shop/Rollout/web", "--to", "shop/Deployment/api", "--port", "8080/TCP"},
		{"-v", "reach", filepath.Join(work, "workloads.yaml"), "-o", "json"},
	}
	findings := 0
	for _, args := range runs {
		out, errOut, code := run(t, "", args...)
		if code == ExitError {
			t.Errorf("ward %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		if args[1] == "check" && args[len(args)-1] != "baseline" {
			// The run must have judged the secrets, or the test proves
			// nothing.
			for _, rule := range []string{"pod/secret-in-env", "configmap/secret-in-data", "compose/secret-in-environment", "dockerfile/secret-in-env", "dockerfile/secret-in-run", "pod/secret-in-args", "compose/secret-in-command"} {
				if !strings.Contains(out, rule) {
					t.Errorf("ward %s: no %s finding", strings.Join(args, " "), rule)
				}
			}
			findings++
		}
		if !strings.Contains(errOut, "level=DEBUG") && !strings.Contains(errOut, "DEBUG") {
			t.Errorf("ward %s: no debug log on stderr:\n%s", strings.Join(args, " "), errOut)
		}
		leaks(t, "ward "+strings.Join(args, " ")+" stdout", out)
		leaks(t, "ward "+strings.Join(args, " ")+" stderr", errOut)
	}
	if findings != 3 {
		t.Fatalf("%d check runs judged the secrets, want 3", findings)
	}
	after := snapshot(t, dir)
	for path, content := range after {
		if old, ok := before[path]; ok && old == content {
			continue
		}
		leaks(t, "file "+path, content)
	}
}

// snapshot reads every regular file under dir.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(path) // #nosec G304 -- a file of the test's own temporary directory
		files[path] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// leaks fails the test for every fixture secret, or distinctive part of
// one (its first and last 10 characters), found in text.
func leaks(t *testing.T, where, text string) {
	t.Helper()
	for _, s := range fixtureSecrets {
		for _, part := range []string{s, s[:10], s[len(s)-10:]} {
			if strings.Contains(text, part) {
				t.Errorf("%s shows (part of) secret %q: %q", where, s, part)
				break
			}
		}
	}
}

// TestCheckTrustedRegistries: ward.yaml's audit.registries.trusted reaches
// the pod, Dockerfile and Compose audits; without it they are silent.
func TestCheckTrustedRegistries(t *testing.T) {
	const dir = "internal/cli/testdata/secrets"
	got := func(args ...string) map[string]bool {
		out, errOut, code := run(t, "", append([]string{"check", "-o", "json"}, args...)...)
		if code == ExitError {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		m := map[string]bool{}
		for _, f := range checkOutput(t, out).Findings {
			if strings.HasSuffix(f.Rule, "/untrusted-registry") {
				m[f.Rule+" "+filepath.Base(f.File)+" "+f.Object] = true
			}
		}
		return m
	}
	want := map[string]bool{
		// ghcr.io/other/web: not registry.example.com nor docker.io/library.
		"pod/untrusted-registry workloads.yaml shop/Rollout/web": true,
		// FROM quay.io/someone/static:1; golang:1.23 is an official image.
		"dockerfile/untrusted-registry Dockerfile stage 1": true,
		// bitnami/redis is docker.io/bitnami/redis; postgres is official.
		"compose/untrusted-registry compose.yaml service cache": true,
	}
	if diff := cmpMaps(want, got(dir)); diff != "" {
		t.Errorf("with the fixture's ward.yaml: %s", diff)
	}
	// Another ward.yaml without a list: the rules are silent.
	empty := filepath.Join(t.TempDir(), "ward.yaml")
	if err := os.WriteFile(empty, []byte("audit: {digest: info}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if m := got(dir, "--config", empty); len(m) != 0 {
		t.Errorf("without a trusted list: %v", m)
	}
}

// cmpMaps describes how got differs from want, or returns "".
func cmpMaps(want, got map[string]bool) string {
	var b strings.Builder
	for k := range want {
		if !got[k] {
			b.WriteString("missing " + k + "; ")
		}
	}
	for k := range got {
		if !want[k] {
			b.WriteString("unexpected " + k + "; ")
		}
	}
	return b.String()
}
