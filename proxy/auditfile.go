package proxy

import (
	"errors"
	"os"
	"sync"
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

func openAppend(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600) // #nosec G304 -- the audit file the configuration names
}

// Reopen asks for the file to be reopened before the next write.
func (s *fileSink) Reopen() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reopen = true
}

func (s *fileSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return 0, errors.New("audit file closed")
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
			return 0, err // the old file stays; tried again next time
		}
		_ = s.f.Close()
		s.f, s.reopen = f, false
	}
	return s.f.Write(p)
}

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
