package regfile

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	file := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(file("target", []byte("via a link")), link); err != nil {
		t.Fatal(err)
	}
	zero := filepath.Join(dir, "zero")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		limit      int64
		want       string
		err        error
	}{
		{"regular", file("a", []byte("hello")), 0, "hello", nil},
		{"empty", file("e", nil), 0, "", nil},
		{"at the limit", file("l", []byte("12345")), 5, "12345", nil},
		{"over the limit", file("o", []byte("123456")), 5, "", ErrTooLarge},
		{"symbolic link", link, 0, "via a link", nil},
		{"named pipe", fifo, 0, "", ErrNotRegular},
		{"/dev/zero", zero, 0, "", ErrNotRegular},
		{"directory", dir, 0, "", ErrNotRegular},
		{"missing", filepath.Join(dir, "none"), 0, "", os.ErrNotExist},
	}
	for _, tt := range tests {
		done := make(chan struct{})
		var got []byte
		var err error
		go func() {
			defer close(done)
			got, err = Read(tt.path, tt.limit)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: Read still blocked after 5 s", tt.name)
		}
		if string(got) != tt.want || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
			t.Errorf("%s: Read = %q, %v; want %q, %v", tt.name, got, err, tt.want, tt.err)
		}
	}
}
