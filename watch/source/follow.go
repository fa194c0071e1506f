package source

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"time"

	"github.com/wardsec/ward/srcpos"
	"github.com/wardsec/ward/watch/event"
)

// follow reads Path as it grows, across rotation, until ctx is done.
//
// It polls (one stat per Poll) rather than using inotify: polling sees
// both rotation styles the same way, works on every filesystem (inotify
// misses changes on network mounts) and costs nothing measurable; this is
// also what `tail -F` falls back to.
//
// Rotation by rename: once Path names another file, the old one is read
// to its end (its writer may still have been writing), an unterminated
// last line included, then the new file is read from its start.
// Truncation in place (copytruncate): once the file is shorter than what
// was read, reading restarts at its start; a partial line pending then is
// reported. Lines written between logrotate's copy and its truncation
// are lost by copytruncate itself (logrotate's documentation says so).
func (l *Lines) follow(ctx context.Context, r *run) error {
	f, err := os.Open(l.Path) // #nosec G304 -- the file the user named to follow
	if err != nil {
		return &srcpos.Error{File: l.Path, Err: err}
	}
	defer func() { _ = f.Close() }() // read only: closing cannot lose data
	fi, err := f.Stat()
	if err != nil {
		return &srcpos.Error{File: l.Path, Err: err}
	}
	lr := &lineReader{br: bufio.NewReaderSize(f, bufSize)}
	max := l.maxLine()
	// drain reads complete lines to the current end of f.
	drain := func() error {
		for i := 0; ; i++ {
			if i&1023 == 1023 && ctx.Err() != nil {
				return r.flush()
			}
			line, long, err := lr.next(max)
			if errors.Is(err, io.EOF) {
				return r.flush()
			}
			if err != nil {
				return &srcpos.Error{File: l.Path, Line: lr.line + 1, Err: err}
			}
			if err := r.handle(l.Path, lr.line, line, long); err != nil {
				return err
			}
		}
	}
	t := time.NewTicker(l.poll())
	defer t.Stop()
	for {
		if err := drain(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			if err := r.flush(); err != nil {
				return err
			}
			return ctx.Err()
		case <-t.C:
		}
		st, err := os.Stat(l.Path)
		switch {
		case err != nil:
			// Renamed away, the new file not yet created: keep the old one.
			continue
		case !os.SameFile(st, fi):
			if err := drain(); err != nil {
				return err
			}
			if line, long, ok := lr.tail(max); ok {
				if err := r.handle(l.Path, lr.line, line, long); err != nil {
					return err
				}
				if err := r.flush(); err != nil {
					return err
				}
			}
			nf, err := os.Open(l.Path) // #nosec G304 -- the file the user named to follow
			if err != nil {
				continue // gone again: retry at the next poll
			}
			nfi, err := nf.Stat()
			if err != nil {
				_ = nf.Close() // read only
				continue
			}
			_ = f.Close() // read only, read to its end
			f, fi = nf, nfi
			lr = &lineReader{br: bufio.NewReaderSize(f, bufSize)}
		case st.Size() < lr.offset:
			if len(lr.partial) > 0 || lr.long {
				if err := r.flush(); err != nil {
					return err
				}
				r.sink.Problem(event.Problem{Source: r.name, Err: srcpos.At(l.Path, lr.line+1, "file truncated while this line was incomplete; its start is dropped")})
			}
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return &srcpos.Error{File: l.Path, Err: err}
			}
			lr = &lineReader{br: bufio.NewReaderSize(f, bufSize)}
		}
	}
}
