package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestLoadProgress: nothing during the first second, then one line at
// most every quarter of a second, redrawn in place, erased at the end;
// nothing at all on what is not a terminal.
func TestLoadProgress(t *testing.T) {
	if newLoadProgress(&bytes.Buffer{}) != nil {
		t.Fatal("a progress display on a buffer, which is not a terminal")
	}
	var out bytes.Buffer
	clock := time.Unix(1000, 0)
	p := &loadProgress{w: &out, now: func() time.Time { return clock }, start: clock}
	p.update(1, 5e6)
	clock = clock.Add(900 * time.Millisecond)
	p.update(2, 10e6)
	if out.Len() != 0 {
		t.Fatalf("drawn within the first second: %q", out.String())
	}
	p.done()
	if out.Len() != 0 {
		t.Fatalf("erased a line never drawn: %q", out.String())
	}
	clock = clock.Add(200 * time.Millisecond)
	p.update(3, 15e6)
	clock = clock.Add(100 * time.Millisecond)
	p.update(4, 20e6) // too soon after the last line
	clock = clock.Add(300 * time.Millisecond)
	p.update(1, 1e6) // one file: singular
	p.done()
	want := "\rward: read 3 files, 15 MB\033[K\rward: read 1 file, 1 MB\033[K\r\033[K"
	if got := out.String(); got != want {
		t.Errorf("wrote %q, want %q", got, want)
	}
	if strings.Count(out.String(), "\n") != 0 {
		t.Error("a progress line must be redrawn in place, not scroll")
	}
}
