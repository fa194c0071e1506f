package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/wardsec/ward/report"
)

// TestComposeProjectDirs: each directory's own project (what docker
// compose run there without -f loads) is audited with that directory's
// .env, and so is each project a COMPOSE_FILE makes, a file being part of
// several; a Compose file given as PATH that is not its directory's
// default file is audited on its own, as docker compose -f FILE loads it.
func TestComposeProjectDirs(t *testing.T) {
	const (
		privileged = "services:\n  web:\n    image: nginx:1.27\n    privileged: true\n"
		unpriv     = "services:\n  web:\n    image: nginx:1.27\n    privileged: false\n"
		clean      = "services:\n  web:\n    image: nginx:1.27\n"
		netVar     = "services:\n  web:\n    image: nginx:1.27\n    network_mode: ${NET:-bridge}\n"
		listed     = "COMPOSE_FILE=../shared/compose.yaml:compose.local.yaml\n"
	)
	for _, tc := range []struct {
		name  string
		files map[string]string
		args  []string       // relative to the directory; "" is the directory
		code  int            // exit code wanted
		want  map[string]int // "rule file:line" -> how many times
	}{
		{"shared file overridden by another directory's COMPOSE_FILE",
			map[string]string{"shared/compose.yaml": privileged, "app/.env": listed, "app/compose.local.yaml": unpriv},
			[]string{""}, ExitFindings, map[string]int{"compose/privileged shared/compose.yaml:4": 1}},
		{"shared file listed by COMPOSE_FILE, found once",
			map[string]string{"shared/compose.yaml": privileged, "app/.env": listed, "app/compose.local.yaml": clean},
			[]string{""}, ExitFindings, map[string]int{"compose/privileged shared/compose.yaml:4": 1}},
		{"project directory's .env interpolates a listed file",
			map[string]string{"shared/compose.yaml": netVar, "app/.env": listed + "NET=host\n", "app/compose.local.yaml": clean},
			[]string{""}, ExitFindings, map[string]int{"compose/host-network shared/compose.yaml:4": 1}},
		{"broken .env of a listed file's directory",
			map[string]string{"shared/compose.yaml": clean, "shared/.env": "A=1\nB C=2\n", "app/.env": listed, "app/compose.local.yaml": clean},
			[]string{""}, ExitError, map[string]int{"input/unreadable shared/.env:2": 1}},
		{"a file given that is not the default one is audited on its own",
			map[string]string{"compose.yaml": clean, "compose.override.yaml": privileged, "docker-compose.yml": clean},
			[]string{"docker-compose.yml"}, ExitOK, map[string]int{"compose/privileged compose.override.yaml:4": 0}},
		{"the default file given brings its override",
			map[string]string{"compose.yaml": clean, "compose.override.yaml": privileged, "docker-compose.yml": clean},
			[]string{"compose.yaml"}, ExitFindings, map[string]int{"compose/privileged compose.override.yaml:4": 1}},
		{"the directory walked audits its default project",
			map[string]string{"compose.yaml": clean, "compose.override.yaml": privileged, "docker-compose.yml": clean},
			[]string{""}, ExitFindings, map[string]int{"compose/privileged compose.override.yaml:4": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, src := range tc.files {
				p := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			args := []string{"check", "-o", "json"}
			for _, a := range tc.args {
				args = append(args, filepath.Join(dir, a))
			}
			out, errOut, code := run(t, "", args...)
			var res report.CheckResult
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("%v\n%s%s", err, out, errOut)
			}
			got := map[string]int{}
			for _, f := range res.Findings {
				rel, err := filepath.Rel(dir, f.File)
				if err != nil {
					rel = f.File
				}
				got[fmt.Sprintf("%s %s:%d", f.Rule, rel, f.Line)]++
			}
			for k, n := range tc.want {
				if got[k] != n {
					t.Errorf("%s: %d times, want %d", k, got[k], n)
				}
			}
			if code != tc.code || t.Failed() {
				t.Errorf("exit %d, want %d:\n%s%s", code, tc.code, out, errOut)
			}
		})
	}
}
