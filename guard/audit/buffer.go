package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// ErrFull is returned by BufferedWriter.Write for a record dropped because
// the buffer is full (the output does not keep up, or is stalled).
var ErrFull = errors.New("audit: buffer full, record dropped")

// DefaultBufferBytes is a BufferedWriter's default bound on pending
// records: 1 MiB, a few thousand records.
const DefaultBufferBytes = 1 << 20

// BufferOptions configure a BufferedWriter.
type BufferOptions struct {
	// Interval between flushes (at least a millisecond; 100 ms when 0).
	Interval time.Duration
	// MaxBytes bounds the records pending (DefaultBufferBytes when 0).
	// A record that does not fit is dropped and counted.
	MaxBytes int
	// StallAfter is how long a single write to the output may take before
	// Healthy reports the output stalled (5 s when 0).
	StallAfter time.Duration
	// OnError, when set, is called from the writer's own goroutines
	// (never from a request) when a write to the output fails or stalls
	// (takes longer than StallAfter), or records were dropped since the
	// last call; it is called at most every 10 s.
	OnError func(msg string, dropped uint64, err error)
}

// BufferedWriter batches records for an output where each write is a
// system call (a file, standard output): a write per request costs more
// than the rest of the audit. Records reach the output within Interval,
// when 64 KiB (or half of MaxBytes, if less) are pending, and on Flush
// or Close; a crash loses at most that much, the trade-off every access
// log makes (Envoy flushes every second).
//
// Write never waits for the output: records go to a bounded in-memory
// buffer that a separate goroutine writes out (as Envoy's access log flush
// thread). When the output stalls (an unread pipe) or fails (a full disk)
// the buffer fills, and further records are dropped and counted (Dropped)
// rather than blocking the request that writes them; Healthy reports it,
// for readiness. It is safe for concurrent use.
type BufferedWriter struct {
	w    io.Writer
	opts BufferOptions

	mu      sync.Mutex // guards pending and spare; never held during I/O
	pending []byte
	spare   []byte

	wmu     sync.Mutex // serializes writes to w
	torn    bool       // the output ends in a record cut off by a failed write (wmu)
	writing atomic.Int64
	dropped atomic.Uint64
	errors  atomic.Uint64
	lastErr atomic.Pointer[error]
	// troubled is set while Healthy has reported trouble and the output
	// has not caught up since.
	troubled atomic.Bool

	rmu      sync.Mutex // guards reported and lastLog
	reported uint64
	lastLog  time.Time

	kick chan struct{}
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// NewBufferedWriter starts flushing to w every interval (at least a
// millisecond), with the default bound.
func NewBufferedWriter(w io.Writer, interval time.Duration) *BufferedWriter {
	return NewBufferedWriterOptions(w, BufferOptions{Interval: max(interval, time.Millisecond)})
}

// NewBufferedWriterOptions starts flushing to w as opts say.
func NewBufferedWriterOptions(w io.Writer, opts BufferOptions) *BufferedWriter {
	if opts.Interval <= 0 {
		opts.Interval = 100 * time.Millisecond
	}
	opts.Interval = max(opts.Interval, time.Millisecond)
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultBufferBytes
	}
	if opts.StallAfter <= 0 {
		opts.StallAfter = 5 * time.Second
	}
	b := &BufferedWriter{w: w, opts: opts, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go b.run()
	if opts.OnError != nil {
		go b.watch()
	}
	return b
}

// watch reports a stalled output from a goroutine of its own: the
// flushing one is stuck in the write, and only reported once the write
// returned, so an output stalled for good (an unread pipe) dropped
// records without a log line.
func (b *BufferedWriter) watch() {
	t := time.NewTicker(b.opts.StallAfter)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
		if w := b.writing.Load(); w != 0 && time.Since(time.Unix(0, w)) > b.opts.StallAfter {
			b.report(errStalled)
		}
	}
}

// errStalled is what a write that takes longer than StallAfter is
// reported as.
var errStalled = errors.New("audit: output stalled")

func (b *BufferedWriter) run() {
	defer close(b.done)
	t := time.NewTicker(b.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			_ = b.Flush()
			return
		case <-t.C:
		case <-b.kick:
		}
		_ = b.Flush()
	}
}

// Write queues p, one or more whole records. It returns ErrFull, and
// drops p, when the buffer cannot take it; it never blocks on the output.
func (b *BufferedWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	if len(b.pending)+len(p) > b.opts.MaxBytes {
		b.mu.Unlock()
		b.dropped.Add(uint64(max(bytes.Count(p, []byte{'\n'}), 1)))
		// Healthy reports trouble until the output has caught up: the
		// next flush empties the buffer into a write the output may
		// never finish, and the buffer, refilling, looked healthy
		// (under half full, the write not yet StallAfter old) while
		// records had just been lost.
		b.troubled.Store(true)
		return 0, ErrFull
	}
	b.pending = append(b.pending, p...)
	n := len(b.pending)
	b.mu.Unlock()
	// Flush early when 64 KiB are pending, or half the buffer when it is
	// smaller (at 64 KiB a buffer of 64 KiB would wait for the interval
	// full, dropping records).
	if n >= min(64<<10, b.opts.MaxBytes/2) {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// Flush writes what is pending and returns the output's error, if any.
// It waits for the output (unlike Write).
func (b *BufferedWriter) Flush() error {
	b.wmu.Lock()
	defer b.wmu.Unlock()
	b.mu.Lock()
	buf := b.pending
	b.pending = b.spare[:0]
	b.spare = nil
	b.mu.Unlock()
	var err error
	if len(buf) > 0 {
		b.writing.Store(time.Now().UnixNano())
		if b.torn {
			// End the record a failed write cut off, so that the next
			// one starts a line of its own.
			if _, err = b.w.Write([]byte{'\n'}); err == nil {
				b.torn = false
			}
		}
		n := 0
		if err == nil {
			n, err = b.w.Write(buf)
		}
		b.writing.Store(0)
		if err != nil {
			// A full disk takes part of a write: the records written
			// whole are kept, the others lost, the one cut off
			// among them. The count was of every record in the write,
			// and the next record was appended to the cut one, so a
			// reader lost it too without a count.
			n = min(max(n, 0), len(buf))
			b.errors.Add(1)
			b.dropped.Add(uint64(bytes.Count(buf[n:], []byte{'\n'}))) // #nosec G115 -- a count of bytes in a buffer, never negative
			b.torn = b.torn || (n > 0 && buf[n-1] != '\n')
			b.lastErr.Store(&err)
		} else {
			b.lastErr.Store(nil)
		}
	}
	b.mu.Lock()
	if cap(buf) <= 4*b.opts.MaxBytes {
		b.spare = buf[:0]
	}
	b.mu.Unlock()
	b.report(err)
	return err
}

// report calls OnError, at most every 10 s.
func (b *BufferedWriter) report(err error) {
	if b.opts.OnError == nil {
		return
	}
	b.rmu.Lock()
	defer b.rmu.Unlock()
	d := b.dropped.Load()
	if (err == nil && d == b.reported) || time.Since(b.lastLog) < 10*time.Second {
		return
	}
	b.lastLog = time.Now()
	msg := "audit records dropped: the output does not keep up"
	switch {
	case errors.Is(err, errStalled):
		msg = "audit output stalled; records are dropped while it lasts"
	case err != nil:
		msg = "audit output failed; records dropped"
	}
	b.opts.OnError(msg, d-b.reported, err)
	b.reported = d
}

// Dropped returns the number of records dropped so far: refused by a full
// buffer or lost in a failed write.
func (b *BufferedWriter) Dropped() uint64 { return b.dropped.Load() }

// WriteErrors returns the number of failed writes to the output.
func (b *BufferedWriter) WriteErrors() uint64 { return b.errors.Load() }

// Pending returns the number of bytes waiting.
func (b *BufferedWriter) Pending() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.pending)
}

// Healthy reports why records are being lost, or nil: a write to the
// output that has taken longer than StallAfter, a buffer more than half
// full, or a last write that failed. Once it has reported one, or a
// record has been dropped, it keeps reporting trouble until the output
// has caught up: no write in progress and the buffer at most a quarter
// full (a flush that moved the buffer into a write the output does not
// finish would otherwise look healthy until StallAfter).
func (b *BufferedWriter) Healthy() error {
	err := b.health()
	if err != nil {
		b.troubled.Store(true)
		return err
	}
	if b.troubled.Load() {
		if b.writing.Load() != 0 || b.Pending() > b.opts.MaxBytes/4 {
			return errors.New("audit: output catching up")
		}
		b.troubled.Store(false)
	}
	return nil
}

func (b *BufferedWriter) health() error {
	if t := b.writing.Load(); t != 0 && time.Since(time.Unix(0, t)) > b.opts.StallAfter {
		return errors.New("audit: output stalled")
	}
	if b.Pending() > b.opts.MaxBytes/2 {
		return errors.New("audit: buffer filling up")
	}
	if e := b.lastErr.Load(); e != nil {
		return fmt.Errorf("audit: output failed: %w", *e)
	}
	return nil
}

// Close stops the flushing goroutine and flushes, waiting for the output
// as long as it takes.
func (b *BufferedWriter) Close() error {
	return b.Shutdown(context.Background())
}

// Shutdown stops the flushing goroutine and flushes what is pending, but
// waits for the output only until ctx ends; it then returns an error that
// says how many records were lost. A write stuck in the output (an unread
// pipe) is abandoned, never waited for.
func (b *BufferedWriter) Shutdown(ctx context.Context) error {
	b.once.Do(func() { close(b.stop) })
	select {
	case <-b.done:
		if e := b.lastErr.Load(); e != nil {
			return *e
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit: output stalled at shutdown; %d bytes of records lost: %w", b.Pending(), ctx.Err())
	}
}
