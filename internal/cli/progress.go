package cli

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// loadProgress shows how far a long load has got on a terminal: after
// the first second, one line redrawn in place at most every quarter of a
// second ("ward: read 120 files, 640 MB"), erased when loading ends, so
// that a run of several seconds on a large dump does not look hung.
// Nothing is written to anything but a terminal (logs and CI output stay
// clean; -v logs the stages).
type loadProgress struct {
	w     io.Writer
	now   func() time.Time
	start time.Time
	mu    sync.Mutex
	last  time.Time // of the last line drawn; zero before the first
}

const (
	progressAfter = time.Second
	progressEvery = 250 * time.Millisecond
)

// newLoadProgress returns a progress display on w, or nil when w is not
// a terminal.
func newLoadProgress(w io.Writer) *loadProgress {
	if !isTerminal(w) {
		return nil
	}
	return &loadProgress{w: w, now: time.Now, start: time.Now()}
}

// update is a manifest.Options.Progress.
func (p *loadProgress) update(files int, bytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.now()
	if t.Sub(p.start) < progressAfter || !p.last.IsZero() && t.Sub(p.last) < progressEvery {
		return
	}
	p.last = t
	noun := "files"
	if files == 1 {
		noun = "file"
	}
	fmt.Fprintf(p.w, "\rward: read %d %s, %d MB\033[K", files, noun, bytes/1e6)
}

// done erases the line, if one was drawn.
func (p *loadProgress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.last.IsZero() {
		fmt.Fprint(p.w, "\r\033[K")
		p.last = time.Time{}
	}
}
