package audit

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// BufferedWriter batches records for an output where each write is a
// system call (a file, standard output): a write per request costs more
// than the rest of the audit. Records reach the output within Interval,
// when 64 KiB are pending, and on Flush or Close; a crash loses at most
// that much, the trade-off every access log makes (Envoy flushes every
// second). It is safe for concurrent use.
type BufferedWriter struct {
	mu   sync.Mutex
	bw   *bufio.Writer
	stop chan struct{}
	done chan struct{}
	err  error
}

// NewBufferedWriter starts flushing w's buffer every interval (at least a
// millisecond).
func NewBufferedWriter(w io.Writer, interval time.Duration) *BufferedWriter {
	b := &BufferedWriter{bw: bufio.NewWriterSize(w, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	interval = max(interval, time.Millisecond)
	go func() {
		defer close(b.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-b.stop:
				return
			case <-t.C:
				_ = b.Flush() // an error is kept and returned by the next Write
			}
		}
	}()
	return b
}

// Write buffers p.
func (b *BufferedWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return 0, b.err
	}
	return b.bw.Write(p)
}

// Flush writes what is pending.
func (b *BufferedWriter) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.bw.Flush(); err != nil && b.err == nil {
		b.err = err
	}
	return b.err
}

// Close stops the flushing goroutine and flushes.
func (b *BufferedWriter) Close() error {
	select {
	case <-b.stop:
	default:
		close(b.stop)
	}
	<-b.done
	return b.Flush()
}
