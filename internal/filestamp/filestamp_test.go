package filestamp

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// TestStampSeesSameSizeSameMtimeReplacement: each way of replacing a file
// by another of the same size with the same modification time (what
// `cp -p`, `tar -x`, `touch -r` or a rename of a prepared file leave) is
// a change; a file left alone, or only read, is not.
func TestStampSeesSameSizeSameMtimeReplacement(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no inode or change time: a Stamp is the modification time and size")
	}
	mtime := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	write := func(t *testing.T, path, data string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name    string
		change  func(t *testing.T, path string)
		changed bool
	}{
		{"untouched", func(*testing.T, string) {}, false},
		{"read", func(t *testing.T, path string) {
			if _, err := os.ReadFile(path); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"rewritten in place, mtime set back", func(t *testing.T, path string) { write(t, path, "policy-B") }, true},
		{"prepared file renamed over it", func(t *testing.T, path string) {
			tmp := path + ".new"
			write(t, tmp, "policy-B")
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"same mtime set again (touch -r)", func(t *testing.T, path string) {
			if err := os.Chtimes(path, mtime, mtime); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"mode changed", func(t *testing.T, path string) {
			if err := os.Chmod(path, 0o400); err != nil {
				t.Fatal(err)
			}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "policies.yaml")
			write(t, path, "policy-A")
			before, err := Of(path)
			if err != nil {
				t.Fatal(err)
			}
			// Past the change time's granularity (a clock tick on
			// Linux without multigrain timestamps).
			time.Sleep(30 * time.Millisecond)
			tc.change(t, path)
			after, err := Of(path)
			if err != nil {
				t.Fatal(err)
			}
			fi, _ := os.Stat(path)
			if fi.Size() != 8 || !fi.ModTime().Equal(mtime) {
				t.Fatalf("test setup: size %d, mtime %v", fi.Size(), fi.ModTime())
			}
			if got := before != after; got != tc.changed {
				t.Errorf("changed = %v, want %v", got, tc.changed)
			}
		})
	}
}

// TestStampMissing: a missing file's stamp is the zero Stamp, and one
// that appears is a change.
func TestStampMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ca.pem")
	missing, err := Of(path)
	if err == nil || missing != (Stamp{}) || missing.Exists() {
		t.Fatalf("missing file: %+v %v", missing, err)
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := Of(path)
	if err != nil || !st.Exists() || st == missing {
		t.Errorf("created file: %+v %v", st, err)
	}
}
