package source

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/wardsec/ward/srcpos"
	"github.com/wardsec/ward/watch/event"
)

// DefaultMaxLine is the longest line read by default: Hubble flows with
// many labels and proxy records are a few KiB; anything near this is not
// a record.
const DefaultMaxLine = 256 << 10

// DefaultPoll is how often a followed file is checked for new data and
// rotation.
const DefaultPoll = 200 * time.Millisecond

// Decoder turns one line (without its newline) into at most one event.
type Decoder interface {
	// Decode fills e from line. It reports emit false for a line that is
	// valid but holds no event (a Hubble node status), lost > 0 for a
	// record counting events the producer lost, and an error (without
	// position: the caller adds file and line) for a bad line. e is reset
	// by the caller before each call.
	Decode(line []byte, e *event.Event) (emit bool, lost uint64, err error)
}

// Lines is a Source reading one record per line from a file, standard
// input or a followed file.
type Lines struct {
	// Label names the source: "hubble", "proxy-audit".
	Label string
	// Path is the file to read; "-" (with In set) for standard input.
	Path string
	// In is read instead of opening Path (standard input, tests).
	In io.Reader
	// Follow keeps reading as the file grows and across rotation: a
	// rename followed by a new file at Path (logrotate's default) or a
	// truncation in place (copytruncate). It needs Path, not In.
	Follow bool
	// Poll is how often a followed file is checked (DefaultPoll if 0).
	Poll time.Duration
	// MaxLine bounds a line's length (DefaultMaxLine if 0): a longer one
	// is reported and skipped, never buffered whole.
	MaxLine int
	// Decoder decodes each line.
	Decoder Decoder
}

// Name returns label:path.
func (l *Lines) Name() string { return l.Label + ":" + l.Path }

// lineReader reads bounded lines from one open file, counting them.
type lineReader struct {
	br      *bufio.Reader
	line    int   // lines read so far
	offset  int64 // bytes consumed
	partial []byte
	long    bool // inside a line already reported as too long
}

// next returns the next complete line (without "\n" or "\r\n"). At EOF
// it returns io.EOF, keeping an unterminated tail in partial. tooLong is
// set (with the line number) for a line over the limit, which is skipped.
func (r *lineReader) next(max int) (line []byte, tooLong bool, err error) {
	for {
		chunk, err := r.br.ReadSlice('\n')
		r.offset += int64(len(chunk))
		switch {
		case err == nil:
			if r.long {
				r.long = false
				r.partial = r.partial[:0]
				r.line++
				return nil, true, nil
			}
			r.line++
			if len(r.partial) > 0 {
				if len(r.partial)+len(chunk) > max+2 {
					r.partial = r.partial[:0]
					return nil, true, nil
				}
				r.partial = append(r.partial, chunk...)
				chunk = r.partial
				r.partial = r.partial[:0]
			}
			if line := trimEOL(chunk); len(line) <= max {
				return line, false, nil
			}
			return nil, true, nil
		case errors.Is(err, bufio.ErrBufferFull), errors.Is(err, io.EOF):
			if !r.long {
				if len(r.partial)+len(chunk) > max+2 { // room for "\r\n"
					r.long = true
					r.partial = r.partial[:0]
				} else {
					r.partial = append(r.partial, chunk...)
				}
			}
			if errors.Is(err, io.EOF) {
				return nil, false, io.EOF
			}
		default:
			return nil, false, err
		}
	}
}

// tail returns the unterminated text at EOF and forgets it; tooLong when
// it was over the limit.
func (r *lineReader) tail(max int) (line []byte, tooLong bool, ok bool) {
	switch {
	case r.long:
		r.long = false
		r.line++
		return nil, true, true
	case len(r.partial) > 0:
		r.line++
		line = trimEOL(r.partial)
		r.partial = r.partial[:0]
		if len(line) > max {
			return nil, true, true
		}
		return line, false, true
	}
	return nil, false, false
}

func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte{'\n'})
	return bytes.TrimSuffix(b, []byte{'\r'})
}

// run is one reading pass's state shared with the decoder loop.
type run struct {
	l     *Lines
	sink  event.Sink
	batch []event.Event
	cur   event.Event
	name  string
}

func (r *run) flush() error {
	if len(r.batch) == 0 {
		return nil
	}
	err := r.sink.Deliver(r.batch)
	r.batch = r.batch[:0]
	return err
}

// handle decodes one line read at file:n.
func (r *run) handle(file string, n int, line []byte, tooLong bool) error {
	if tooLong {
		if err := r.flush(); err != nil {
			return err
		}
		r.sink.Problem(event.Problem{Source: r.name, Err: srcpos.At(file, n, "line longer than %d bytes skipped", r.l.maxLine())})
		return nil
	}
	if len(bytes.TrimSpace(line)) == 0 {
		return nil
	}
	r.cur = event.Event{}
	emit, lost, err := r.l.Decoder.Decode(line, &r.cur)
	if err != nil || lost > 0 {
		// Problems keep their place in the stream: what came before is
		// delivered first.
		if ferr := r.flush(); ferr != nil {
			return ferr
		}
	}
	if err != nil {
		r.sink.Problem(event.Problem{Source: r.name, Err: &srcpos.Error{File: file, Line: n, Err: err}})
		return nil
	}
	if lost > 0 {
		r.sink.Problem(event.Problem{Source: r.name, Lost: lost, Err: srcpos.At(file, n, "the producer reports %d events lost", lost)})
	}
	if !emit {
		return nil
	}
	r.batch = append(r.batch, r.cur)
	if len(r.batch) == cap(r.batch) {
		return r.flush()
	}
	return nil
}

func (l *Lines) maxLine() int {
	if l.MaxLine > 0 {
		return l.MaxLine
	}
	return DefaultMaxLine
}

func (l *Lines) poll() time.Duration {
	if l.Poll > 0 {
		return l.Poll
	}
	return DefaultPoll
}

// Run reads until the end of input (a followed file: until ctx is done).
func (l *Lines) Run(ctx context.Context, sink event.Sink) error {
	if l.Decoder == nil {
		return errors.New("source: Lines without a Decoder")
	}
	r := &run{l: l, sink: sink, batch: make([]event.Event, 0, event.BatchSize), name: l.Name()}
	if l.In != nil {
		if l.Follow {
			return fmt.Errorf("%s: follow needs a file, not a stream", l.Name())
		}
		err := l.readAll(ctx, r, l.Path, l.In)
		if ferr := r.flush(); err == nil {
			err = ferr
		}
		return err
	}
	if l.Follow {
		return l.follow(ctx, r)
	}
	f, err := os.Open(l.Path) // #nosec G304 -- the file the user named to read
	if err != nil {
		return &srcpos.Error{File: l.Path, Err: err}
	}
	defer f.Close()
	err = l.readAll(ctx, r, l.Path, f)
	if ferr := r.flush(); err == nil {
		err = ferr
	}
	return err
}

// bufSize is the bufio buffer: lines longer than it are assembled in
// lineReader.partial, up to MaxLine.
const bufSize = 64 << 10

// readAll reads in to its end; an unterminated last line is a record too.
func (l *Lines) readAll(ctx context.Context, r *run, file string, in io.Reader) error {
	lr := &lineReader{br: bufio.NewReaderSize(in, bufSize)}
	for i := 0; ; i++ {
		if i&1023 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		line, long, err := lr.next(l.maxLine())
		if errors.Is(err, io.EOF) {
			if line, long, ok := lr.tail(l.maxLine()); ok {
				return r.handle(file, lr.line, line, long)
			}
			return nil
		}
		if err != nil {
			return &srcpos.Error{File: file, Line: lr.line + 1, Err: err}
		}
		if err := r.handle(file, lr.line, line, long); err != nil {
			return err
		}
	}
}
