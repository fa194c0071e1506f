package helmchart

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardsec/ward/manifest"
)

// tgz packs files (path in the archive: content) as helm package does.
func tgz(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, data := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// subTgz is a packaged subchart named name holding a file of size
// zeros, and extra files.
func subTgz(t *testing.T, name string, size int, extra map[string][]byte) []byte {
	files := map[string][]byte{
		name + "/Chart.yaml":  []byte("apiVersion: v2\nname: " + name + "\nversion: 1.0.0\n"),
		name + "/files/zeros": make([]byte, size),
	}
	for k, v := range extra {
		files[name+"/"+k] = v
	}
	return tgz(t, files)
}

// TestArchiveBomb: the archives of a chart's charts/ (and those packed in
// them) are bounded together. Before, helm's loader bounded each one
// alone: a chart of a megabyte whose charts/ held fifteen gzip bombs of
// 95 MB took 2.5 GB of memory, and nested archives multiplied it. Now
// the archive that passes the bound is an input error naming it,
// matching manifest.ErrTooLarge; archives within it render.
func TestArchiveBomb(t *testing.T) {
	const limit = 1 << 20
	tests := []struct {
		name    string
		archive map[string][]byte // charts/NAME: archive
		bad     string            // the archive named, "" when it renders
	}{
		{name: "within", archive: map[string][]byte{"a.tgz": subTgz(t, "a", 300<<10, nil), "b.tgz": subTgz(t, "b", 300<<10, nil)}},
		{name: "together", archive: map[string][]byte{"a.tgz": subTgz(t, "a", 400<<10, nil), "b.tgz": subTgz(t, "b", 400<<10, nil), "c.tgz": subTgz(t, "c", 400<<10, nil)}, bad: "charts/c.tgz"},
		{name: "symlink", archive: map[string][]byte{"a.tgz": subTgz(t, "a", 400<<10, nil), "link": subTgz(t, "b", 800<<10, nil)}, bad: "charts/z.tgz"},
		{name: "nested", archive: map[string][]byte{"a.tgz": subTgz(t, "a", 1, map[string][]byte{"charts/inner.tgz": subTgz(t, "inner", 2<<20, nil)})}, bad: "charts/a.tgz/a/charts/inner.tgz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := write(t, map[string]string{
				"Chart.yaml":       "apiVersion: v2\nname: app\nversion: 0.1.0\n",
				"templates/x.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
			})
			for n, data := range tt.archive {
				if err := os.WriteFile(filepath.Join(dir, "charts", n), data, 0o600); err != nil {
					if err := os.MkdirAll(filepath.Join(dir, "charts"), 0o750); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(filepath.Join(dir, "charts", n), data, 0o600); err != nil {
						t.Fatal(err)
					}
				}
			}
			if data, ok := tt.archive["link"]; ok {
				// An archive outside the chart, through a symlink: helm's
				// loader follows it.
				out := filepath.Join(t.TempDir(), "b.tgz")
				if err := os.WriteFile(out, data, 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Remove(filepath.Join(dir, "charts", "link")); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(out, filepath.Join(dir, "charts", "z.tgz")); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Render(dir, Options{MaxFileSize: limit})
			if tt.bad == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, manifest.ErrTooLarge) || e.File != filepath.Join(dir, tt.bad) {
				t.Fatalf("got %v, want an error matching ErrTooLarge at %s", err, filepath.Join(dir, tt.bad))
			}
			if !strings.Contains(err.Error(), "archives decompress to more than") {
				t.Errorf("error %q does not say why", err)
			}
		})
	}
}

// TestArchiveTraversal: an archive of charts/ whose entry leads out of it
// (../) is an input error naming that archive. Before, it named the
// parent's Chart.yaml, which holds nothing wrong. Nothing is written.
func TestArchiveTraversal(t *testing.T) {
	dir := write(t, map[string]string{
		"Chart.yaml":       "apiVersion: v2\nname: app\nversion: 0.1.0\n",
		"templates/x.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
	})
	out := t.TempDir()
	evil := tgz(t, map[string][]byte{
		"evil/Chart.yaml": []byte("apiVersion: v2\nname: evil\nversion: 1.0.0\n"),
		"evil/templates/../../../../../../../../" + strings.TrimPrefix(out, "/") + "/pwned.yaml": []byte("kind: Pod\n"),
	})
	if err := os.MkdirAll(filepath.Join(dir, "charts"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "charts", "evil.tgz"), evil, 0o600); err != nil {
		t.Fatal(err)
	}
	e := chartError(t, dir, Options{})
	if e.File != filepath.Join(dir, "charts", "evil.tgz") || !strings.Contains(e.Err.Error(), "parent directory") {
		t.Errorf("got %s: %v, want the archive, about its parent directory", e.File, e.Err)
	}
	if ents, _ := os.ReadDir(out); len(ents) > 0 {
		t.Errorf("%s holds %v", out, ents)
	}
}
