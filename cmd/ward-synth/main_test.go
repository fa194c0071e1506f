package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	args := []string{"-pods", "300", "-policies", "50", "-dump", "-per-file", "200", "-out", dir}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("run(%q) = %d, stderr:\n%s", args, code, &stderr)
	}
	files, err := filepath.Glob(filepath.Join(dir, "cluster-*.yaml"))
	if err != nil || len(files) < 2 {
		t.Fatalf("files in %s: %v (%v), want at least 2", dir, files, err)
	}
	if !strings.Contains(stderr.String(), "Pod            300") {
		t.Errorf("stderr lacks the pod count:\n%s", &stderr)
	}

	// Standard output gets the same objects as one stream.
	stdout.Reset()
	args = []string{"-pods", "300", "-policies", "50", "-dump", "-q"}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("run(%q) = %d", args, code)
	}
	var all []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) > 0 {
			all = append(all, "---\n"...)
		}
		all = append(all, b...)
	}
	if !bytes.Equal(stdout.Bytes(), all) {
		t.Errorf("standard output (%d bytes) differs from the files joined (%d bytes)", stdout.Len(), len(all))
	}
}

func TestRunErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-policies", "10"},
		{"-workloads", "10", "-pods", "10"},
		{"-workloads", "10", "-format", "xml"},
		{"-workloads", "10", "extra"},
		{"-nope"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 2 {
			t.Errorf("run(%q) = %d, want 2", args, code)
		}
		if stderr.Len() == 0 {
			t.Errorf("run(%q) printed no error", args)
		}
	}
}
