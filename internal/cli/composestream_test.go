package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/wardsec/ward/report"
)

const (
	streamCompose = "services:\n  web:\n    image: nginx:1.27\n    privileged: true\n"
	streamPod     = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: nginx:1.27\n"
)

// TestComposeStream: standard input and named pipes are judged as the
// same bytes in a file are (before: a Compose file on standard input was
// "no manifests found in -: no ... Compose file", exit 2, and one after
// Kubernetes objects a skipped document, exit 0 with a privileged
// service unchecked). A Compose document among Kubernetes objects, which
// docker compose refuses and kubectl cannot apply, is input/unreadable at
// its line, in a file as on standard input.
func TestComposeStream(t *testing.T) {
	mixed := streamPod + "---\n" + streamCompose
	for _, tc := range []struct {
		name, src string
		code      int
		rule      string // a finding the run must give
		line      int    // its line
	}{
		{"compose", streamCompose, ExitFindings, "compose/privileged", 4},
		{"kubernetes then compose", mixed, ExitError, ruleUnreadable, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "app.yaml")
			if err := os.WriteFile(file, []byte(tc.src), 0o600); err != nil {
				t.Fatal(err)
			}
			fifo := filepath.Join(dir, "pipe")
			inputs := map[string]string{"-": tc.src, file: ""}
			if err := syscall.Mkfifo(fifo, 0o600); err == nil {
				inputs[fifo] = ""
				// The writer gives the data to the first reader, then
				// opens the pipe again and closes it at once, so that a
				// second open (a pipe read twice: ward check hung) reads
				// nothing and the run fails fast on its result instead
				// of blocking until the go test timeout. When the runs
				// are done, an open for reading lets the last open
				// return.
				stop, stopped := make(chan struct{}), make(chan struct{})
				go func() {
					defer close(stopped)
					for first := true; ; first = false {
						f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
						if err != nil {
							return
						}
						select {
						case <-stop:
							_ = f.Close()
							return
						default:
						}
						if first {
							_, _ = f.WriteString(tc.src)
						}
						_ = f.Close()
					}
				}()
				defer func() {
					close(stop)
					if r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
						<-stopped
						_ = r.Close()
					}
				}()
			}
			for p, stdin := range inputs {
				out, errOut, code := run(t, stdin, "check", p, "-o", "json")
				var res report.CheckResult
				if err := json.Unmarshal([]byte(out), &res); err != nil {
					t.Fatalf("check %s: %v\n%s%s", p, err, out, errOut)
				}
				found := false
				for _, f := range res.Findings {
					found = found || f.Rule == tc.rule && f.Line == tc.line && f.File == p
				}
				if code != tc.code || !found {
					t.Errorf("check %s: exit %d, want %d and %s at line %d:\n%s%s", p, code, tc.code, tc.rule, tc.line, out, errOut)
				}
				if tc.rule == ruleUnreadable && !strings.Contains(out, "pod/") {
					t.Errorf("check %s: the Pod was not audited:\n%s", p, out)
				}
			}
		})
	}
}

// TestComposeListedByDotEnv: a directory walked whose .env sets
// COMPOSE_FILE brings in the files it lists whatever their names, as
// docker compose run there loads them (before: stack.conf was never
// looked at, and with Kubernetes manifests beside it the check passed).
func TestComposeListedByDotEnv(t *testing.T) {
	for _, tc := range []struct{ name, list, base string }{
		{"one file", "stack.conf", ""},
		{"after a file of another name", "base.conf:stack.conf", "base.conf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string]string{
				".env":       "COMPOSE_FILE=" + tc.list + "\n",
				"stack.conf": streamCompose,
				"pod.yaml":   streamPod,
			}
			if tc.base != "" {
				files[tc.base] = "services:\n  web:\n    image: nginx:1.27\n"
			}
			for name, src := range files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			out, errOut, code := run(t, "", "check", dir, "-o", "json")
			var res report.CheckResult
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("%v\n%s%s", err, out, errOut)
			}
			found := false
			for _, f := range res.Findings {
				found = found || f.Rule == "compose/privileged" && f.File == filepath.Join(dir, "stack.conf") && f.Line == 4
			}
			if code != ExitFindings || !found {
				t.Errorf("exit %d, want %d and compose/privileged at stack.conf:4:\n%s%s", code, ExitFindings, out, errOut)
			}
		})
	}
}
