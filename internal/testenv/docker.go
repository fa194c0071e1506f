package testenv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Cmd runs name with args in dir, within five minutes, and returns its
// combined output.
func Cmd(dir, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...) // #nosec G204 -- test tools (docker, docker-compose, go, nft) with the test's own arguments
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// ServerImage builds the Go program in directory pkg as a static binary
// and an image tagged tag holding only it (FROM scratch, as /server, its
// entrypoint): no registry is needed. The image is removed when the test
// ends. It returns the binary's path, for the host's own use.
func ServerImage(t testing.TB, pkg, tag string) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "server")
	build := exec.Command("go", "build", "-o", bin, ".") // #nosec G204 -- a fixed command
	build.Dir = pkg
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY server /server\nENTRYPOINT [\"/server\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if out, err := Cmd(dir, "docker", "rmi", "-f", tag); err != nil {
			t.Errorf("docker rmi %s: %v\n%s", tag, err, out)
		}
	})
	if out, err := Cmd(dir, "docker", "build", "-q", "-t", tag, dir); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	return bin
}

// ComposeUp writes a Compose file into a directory of its own, brings the
// project up, and takes it down (volumes and orphans included) when the
// test ends. It returns the docker-compose arguments that select the
// project ("-p", project, "-f", file).
func ComposeUp(t testing.TB, project, compose string) []string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "docker-compose.yml")
	if err := os.WriteFile(file, []byte(compose), 0o600); err != nil {
		t.Fatal(err)
	}
	dc := []string{"-p", project, "-f", file}
	t.Cleanup(func() {
		if out, err := Cmd(filepath.Dir(file), "docker-compose", append(dc, "down", "-v", "--remove-orphans", "--timeout", "1")...); err != nil {
			t.Errorf("docker-compose down: %v\n%s", err, out)
		}
	})
	if out, err := Cmd(filepath.Dir(file), "docker-compose", append(dc, "up", "-d")...); err != nil {
		t.Fatalf("docker-compose up: %v\n%s", err, strings.TrimSpace(out))
	}
	return dc
}
