package proxy

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
)

// fileSink is an audit output file, opened for appending, that follows
// log rotation: it is reopened on Reopen (SIGHUP) and when the path names
// another file than the one open (renamed away by logrotate), checked at
// most every second. Only the audit buffer's flushing goroutine writes to
// it.
type fileSink struct {
	path string

	mu      sync.Mutex
	f       *os.File
	reopen  bool
	checked time.Time
}

func openFileSink(path string) (*fileSink, error) {
	f, err := openAppend(path)
	if err != nil {
		return nil, err
	}
	return &fileSink{path: path, f: f, checked: time.Now()}, nil
}

// openAppend opens path for appending, without waiting: a FIFO with no
// reader is an error (ENXIO) rather than an open that blocks until one
// comes, which hung `ward proxy` and its --check at start, and the
// audit output for good when a rotation left a FIFO at the path. Writes
// to a FIFO or pipe then wait in Go's poller, where Close ends them.
func openAppend(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NONBLOCK, 0o600) // #nosec G304 -- the audit file the configuration names
	if st, serr := os.Stat(path); errors.Is(err, syscall.ENXIO) && serr == nil && st.Mode()&os.ModeNamedPipe != 0 {
		return nil, fmt.Errorf("%w (a FIFO that no process reads: start its reader first)", err)
	}
	return f, err
}

// Reopen asks for the file to be reopened before the next write.
func (s *fileSink) Reopen() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reopen = true
}

func (s *fileSink) Write(p []byte) (int, error) {
	f, err := s.current()
	if err != nil {
		return 0, err
	}
	// Outside the lock: a write that waits (a FIFO whose reader stopped
	// reading) must not hold Close, which ends it, for ever. Shutdown
	// abandons such a write after its drain timeout and then closes the
	// file; holding the lock here made that Close wait for the write.
	return f.Write(p)
}

// current returns the file to write to, reopened first when asked or
// when the path names another file.
func (s *fileSink) current() (*os.File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil, errors.New("audit file closed")
	}
	if !s.reopen && time.Since(s.checked) >= time.Second {
		s.checked = time.Now()
		cur, err1 := s.f.Stat()
		st, err2 := os.Stat(s.path)
		s.reopen = err1 != nil || err2 != nil || !os.SameFile(cur, st)
	}
	if s.reopen {
		f, err := openAppend(s.path)
		if err != nil {
			return nil, err // the old file stays; tried again next time
		}
		_ = s.f.Close()
		s.f, s.reopen = f, false
	}
	return s.f, nil
}

// Close closes the file; a write waiting on it (a FIFO or pipe) ends
// with an error.
func (s *fileSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}
