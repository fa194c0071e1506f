package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func nsYAML(name string) string {
	return "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + name + "\n"
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
	writeFiles(t, dir, map[string]string{"big.yaml": nsYAML(strings.Repeat("a", 200)), "small.yaml": nsYAML("s")})
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
