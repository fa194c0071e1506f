package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wardsec/ward/guard/audit"
	"github.com/wardsec/ward/guard/harden"
	"github.com/wardsec/ward/internal/filestamp"
	"github.com/wardsec/ward/internal/regfile"
)

// Server runs a proxy from a configuration file: the listener, the admin
// endpoints, reloads without dropping requests, and graceful shutdown.
type Server struct {
	path     string
	log      *slog.Logger
	audit    *audit.Logger
	auditBuf *audit.BufferedWriter
	reg      *prometheus.Registry

	cur      atomic.Pointer[Proxy]
	mu       sync.Mutex                 // serializes reloads
	stamps   map[string]filestamp.Stamp // of the files the running configuration names
	reloads  prometheus.Counter
	failures prometheus.Counter
	conns    connSet
	sink     *fileSink // nil unless audit.output is a file
	refuse   bool      // audit.whenFull: refuse
	refused  prometheus.Counter
	notReady atomic.Pointer[string] // the last cause /readyz logged
}

// NewServer loads the configuration at path and builds the proxy; a
// configuration that does not load is an error (exit 2 in `ward proxy`).
//
// Audit records go to auditOut (standard output in `ward proxy`) unless
// the configuration's audit.output names a file or "off".
func NewServer(path string, log *slog.Logger, auditOut io.Writer) (*Server, error) {
	cfg, err := LoadConfig(path)
	if err != nil {
		return nil, err
	}
	s := &Server{path: path, log: log, refuse: cfg.Audit.WhenFull == "refuse",
		reloads:  prometheus.NewCounter(prometheus.CounterOpts{Name: "ward_proxy_reloads_total", Help: "Configuration reloads applied."}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "ward_proxy_reload_failures_total", Help: "Configuration reloads refused (the previous configuration stays)."}),
		refused:  prometheus.NewCounter(prometheus.CounterOpts{Name: "ward_audit_refused_total", Help: "Requests refused with 503 because the audit output did not keep up (audit.whenFull: refuse)."}),
	}
	switch out := cfg.Audit.Output; out {
	case "", "stdout":
	case "off":
		auditOut = io.Discard
	default:
		sink, err := openFileSink(cfg.Path(out))
		if err != nil {
			return nil, &Error{File: path, Err: fmt.Errorf("audit.output: %w", err)}
		}
		s.sink, auditOut = sink, sink
	}
	// Records are batched: a write per request would cost more than every
	// check together. They reach the output within 100 ms and at
	// shutdown, from a goroutine of their own: a stalled output never
	// blocks a request (records are dropped and counted instead).
	buf := audit.NewBufferedWriterOptions(auditOut, audit.BufferOptions{
		Interval: 100 * time.Millisecond, MaxBytes: cfg.Audit.BufferBytes,
		OnError: func(msg string, dropped uint64, err error) {
			log.Error(msg, "dropped", dropped, "err", err)
		},
	})
	s.auditBuf = buf
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(s.reloads, s.failures, s.refused,
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ward_audit_dropped_total", Help: "Audit records dropped: the buffer was full or a write to the output failed."},
			func() float64 { return float64(buf.Dropped()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ward_audit_write_errors_total", Help: "Failed writes to the audit output."},
			func() float64 { return float64(buf.WriteErrors()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ward_audit_pending_bytes", Help: "Audit records waiting for the output."},
			func() float64 { return float64(buf.Pending()) }))
	s.reg = reg
	closeAll := func() {
		_ = buf.Close()
		if s.sink != nil {
			_ = s.sink.Close()
		}
	}
	a, err := audit.New(buf, reg)
	if err != nil {
		closeAll()
		return nil, err
	}
	s.audit = a
	p, err := s.build()
	if err != nil {
		closeAll()
		return nil, err
	}
	a.SetTrustRequestID(p.TrustedPeer)
	s.cur.Store(p)
	return s, nil
}

// loadConfig reads the configuration (a variable for tests).
var loadConfig = LoadConfig

func (s *Server) build() (*Proxy, error) {
	// Every file is stamped before it is read: a change made after the
	// stamp is seen by the next poll. The configuration was stamped
	// after it was read, and a new version written in between (a
	// ConfigMap update swapping it and its policies together, say) was
	// taken as loaded: its policies applied, its own changes (a SPIFFE
	// ID no longer allowed) never did.
	before := statFiles([]string{s.path})
	cfg, err := loadConfig(s.path)
	if err != nil {
		s.stamps = before // a broken file is not read again until it changes
		return nil, err
	}
	stamps := statFiles(watchedFiles(cfg))
	stamps[s.path] = before[s.path]
	s.stamps = stamps
	p, err := New(cfg, Options{Log: s.log, Audit: s.audit, Previous: s.cur.Load()})
	if err != nil {
		return nil, err
	}
	for _, w := range p.Warnings() {
		s.log.Warn("configuration", "file", s.path, "warning", w)
	}
	return p, nil
}

// Close releases a server that will not Serve (after a --check): the
// audit flusher and the proxy's connections.
func (s *Server) Close() error {
	err := errors.Join(s.cur.Load().Close(), s.auditBuf.Close())
	if s.sink != nil {
		err = errors.Join(err, s.sink.Close())
	}
	return err
}

// Config returns the configuration in use.
func (s *Server) Config() *Config { return s.cur.Load().cfg }

// Reload reads the configuration again. When it does not load, the
// running configuration stays and the error (with file and line) is
// returned and logged. Requests in flight finish on the configuration
// they started with; the requests of open tunnels (WebSocket) are
// checked again, and the tunnels the new configuration refuses closed.
func (s *Server) Reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sink != nil {
		s.sink.Reopen() // SIGHUP reopens the audit file, for log rotation
	}
	p, err := s.build()
	if err == nil {
		if err = dropsSection(s.cur.Load().cfg, p.cfg); err != nil {
			_ = p.Close()
		}
	}
	if err != nil {
		s.failures.Inc()
		s.log.Error("reload refused; the running configuration stays", "err", err)
		return err
	}
	old := s.cur.Swap(p)
	old.retired.Store(true) // before the streams are re-checked (closeRefused)
	s.audit.SetTrustRequestID(p.TrustedPeer)
	ot, nt := old.cfg.Timeouts, p.cfg.Timeouts
	ot.MaxConnectionAge, nt.MaxConnectionAge = 0, 0 // read per request
	if old.cfg.Listen != p.cfg.Listen || old.cfg.Admin != p.cfg.Admin || (old.tls == nil) != (p.tls == nil) || old.cfg.Audit != p.cfg.Audit || ot != nt {
		s.log.Warn("listen, admin, audit, listener timeouts and TLS on/off changes take effect at restart")
	}
	s.reloads.Inc()
	s.log.Info("configuration reloaded", "file", s.path)
	if n := s.conns.closeRevoked(p); n > 0 {
		s.log.Info("closed connections of peers the configuration no longer admits", "connections", n)
	}
	n, undecided, err := s.conns.closeRefused(p)
	if n > 0 {
		s.log.Info("closed tunnels and long requests the configuration now refuses", "requests", n)
	}
	if undecided > 0 {
		s.log.Warn("open tunnels and long requests with a bearer token left open: their JWT keys cannot be fetched to check them again", "requests", undecided, "err", err)
	}
	// Connections to Redis of the old proxy close once requests using it
	// are done; a generous delay is enough for that.
	time.AfterFunc(time.Minute, func() { _ = old.Close() })
	return nil
}

// ServeHTTP serves a request with the current proxy. With audit.whenFull:
// refuse, a request that could not be recorded gets 503 instead.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 2 {
		defer s.noteStream(r, time.Now())
	}
	if limit := time.Duration(s.Config().Timeouts.MaxConnectionAge); limit > 0 && s.conns.age(r) > limit {
		// HTTP/1.1 closes after this response; HTTP/2 sends GOAWAY.
		w.Header().Set("Connection", "close")
	}
	if s.refuse && s.auditBuf.Healthy() != nil {
		s.refused.Inc()
		auditRefused.ServeHTTP(w, r)
		return
	}
	if r.Header.Get("Upgrade") != "" {
		// A WebSocket tunnel outlives http.Server's connection tracking;
		// a reload that revokes its peer must still find it, and its
		// bearer token's expiry (noted by the JWT check) ends it.
		fwd := new(forwarded)
		r = r.WithContext(context.WithValue(r.Context(), forwardedKey{}, fwd))
		defer s.conns.tunnel(r, fwd)()
	}
	s.cur.Load().Handler().ServeHTTP(w, r)
}

// auditRefused answers a request refused because it cannot be recorded
// (audit.whenFull: refuse) with the security headers every response of
// the proxy carries: the refusal comes before the proxy's chain, and went
// out with Go's nosniff alone.
var auditRefused = harden.Headers(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", "1")
	http.Error(w, "service unavailable", http.StatusServiceUnavailable)
}))

// HTTP/2 limits of the listener (docs/proxy.md, "HTTP/2 limits"): Go's
// defaults, but where they are unsafe or were stated nowhere.
const (
	// maxH2Streams is SETTINGS_MAX_CONCURRENT_STREAMS: requests in
	// flight on one connection (Go's default is 250).
	maxH2Streams = 100
	// earlyResetStreams and earlyResetLifetime: a connection whose
	// client reset half of its streams within earlyResetLifetime of
	// their start, once earlyResetStreams/2 were, is closed (rapid
	// reset, CVE-2023-44487; Envoy's premature reset defaults).
	earlyResetStreams  = 500
	earlyResetLifetime = time.Second
)

// http2Config is the listener's HTTP/2 configuration. A connection
// whose writes make no progress for write (the listener's write
// timeout) is closed: without it a client that stops reading the socket
// blocked the connection's writer, so that not even the reset of a
// timed-out stream went out, and held its handlers and their upstream
// exchanges until the route timeout, and the connection for ever.
func http2Config(write time.Duration) *http.HTTP2Config {
	return &http.HTTP2Config{
		MaxConcurrentStreams:      maxH2Streams,
		MaxDecoderHeaderTableSize: 4096,    // HPACK table a client may make the proxy keep
		MaxReadFrameSize:          1 << 20, // Go's default
		WriteByteTimeout:          write,
	}
}

// streamCount is an HTTP/2 connection's count of the streams it served
// and of those its client reset early.
type streamCount struct {
	streams, early atomic.Int64
	closed         atomic.Bool
}

type streamCountKey struct{}

// noteStream counts r's stream, served since start, on its connection,
// and closes the connection when its client resets most streams as soon
// as they start (rapid reset): Go bounds the handlers a connection runs
// at once, not how many it starts, and each raced its reset to the
// upstream.
func (s *Server) noteStream(r *http.Request, start time.Time) {
	sc, ok := r.Context().Value(streamCountKey{}).(*streamCount)
	if !ok {
		return
	}
	n := sc.streams.Add(1)
	if r.Context().Err() == nil || time.Since(start) >= earlyResetLifetime {
		return
	}
	early := sc.early.Add(1)
	if 2*early < max(n, earlyResetStreams) || !sc.closed.CompareAndSwap(false, true) {
		return
	}
	if c, ok := r.Context().Value(connKey{}).(net.Conn); ok {
		s.log.Warn("closed an HTTP/2 connection whose client resets its streams as it opens them (rapid reset)",
			"client", r.RemoteAddr, "streams", n, "reset", early)
		_ = c.Close()
	}
}

// Admin returns the admin handler: /healthz, /readyz and /metrics.
func (s *Server) Admin() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if err := s.cur.Load().Ready(ctx); err != nil {
			msg := err.Error()
			if prev := s.notReady.Swap(&msg); prev == nil || *prev != msg {
				s.log.Error("not ready", "err", err) // once per distinct cause
			}
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		s.notReady.Store(nil)
		if err := s.auditBuf.Healthy(); err != nil {
			// Records are being dropped (or requests refused): send
			// traffic elsewhere until the output keeps up.
			http.Error(w, "not ready: audit output", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	return mux
}

// Serve accepts connections on ln (and admin requests on adminLn, when
// not nil) until ctx ends, then shuts down gracefully: listeners close,
// requests in flight get up to grace to finish.
func (s *Server) Serve(ctx context.Context, ln, adminLn net.Listener, grace time.Duration) error {
	cfg := s.Config()
	if s.cur.Load().TLSConfig() != nil {
		ln = tls.NewListener(ln, &tls.Config{
			MinVersion: tls.VersionTLS12, // replaced per connection by the proxy's own
			GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
				return s.cur.Load().TLSConfig(), nil
			},
		})
	}
	t := cfg.Timeouts
	srv := harden.Server("", s, harden.Timeouts{ReadHeader: time.Duration(t.ReadHeader), Read: time.Duration(t.Read),
		Write: time.Duration(t.Write), Idle: time.Duration(t.Idle)}, s.log)
	// "OPTIONS *" reaches the checks, which refuse it (400) and record
	// it: net/http answered it 200 itself, over HTTP/1.1 and HTTP/2,
	// before any check, with no audit record (also for a client the
	// allow and deny lists refuse, and with audit.whenFull: refuse).
	srv.DisableGeneralOptionsHandler = true
	srv.ConnState = s.conns.track
	srv.ConnContext = s.conns.connContext
	srv.HTTP2 = http2Config(srv.WriteTimeout)
	servers := []*http.Server{srv}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	if adminLn != nil {
		admin := harden.Server("", s.Admin(), harden.Timeouts{}, s.log)
		servers = append(servers, admin)
		go func() { errc <- admin.Serve(adminLn) }()
	}
	go s.conns.reapOld(ctx, func() time.Duration { return time.Duration(s.Config().Timeouts.MaxConnectionAge) }, s.cur.Load)
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	for _, hs := range servers {
		if e := hs.Shutdown(sctx); e != nil && err == nil {
			err = e
		}
	}
	_ = s.cur.Load().Close()
	// The audit output gets what is left of the drain timeout: a stalled
	// one is abandoned, not waited for.
	if e := s.auditBuf.Shutdown(sctx); e != nil {
		s.log.Error("audit records lost at shutdown", "err", e)
	}
	if s.sink != nil {
		_ = s.sink.Close()
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// dropsSection refuses a new configuration that lacks a section the
// running one has, unless it writes that section as "none": a truncated
// or half-written file must not turn a check off. TLS cannot be turned off
// by a reload at all (the listener is TLS until restart).
func dropsSection(old, cfg *Config) error {
	switch {
	case old.TLS != nil && cfg.TLS == nil:
		return &Error{File: cfg.file, Err: errors.New("the tls section is gone; TLS is turned off only by a restart")}
	case old.TLS != nil && old.TLS.SPIFFE != nil && cfg.TLS.SPIFFE == nil:
		return &Error{File: cfg.file, Err: errors.New("tls.spiffe is gone; mutual TLS (the peer's SPIFFE ID) is turned off only by a restart")}
	case old.Authorization != nil && cfg.Authorization == nil && !cfg.Off("authorization"):
		return &Error{File: cfg.file, Err: errors.New("the authorization section is gone (write `authorization: none` to run without)")}
	case old.JWT != nil && cfg.JWT == nil && !cfg.Off("jwt"):
		return &Error{File: cfg.file, Err: errors.New("the jwt section is gone (write `jwt: none` to run without)")}
	}
	// A route that had policies of its own keeps some: its own or the
	// top-level ones.
	for _, o := range old.Routes {
		for _, r := range cfg.Routes {
			if r.Name == o.Name && o.Authorization != nil && r.Authorization == nil && cfg.Authorization == nil {
				return &Error{File: cfg.file, Err: fmt.Errorf("route %s lost its authorization section, and there is no top-level one", r.Name)}
			}
			// Its jwt section only says whether a token is required:
			// lost, the top-level setting would apply instead.
			if r.Name == o.Name && o.JWT != nil && o.JWT.Required && r.JWT == nil && (cfg.JWT == nil || !cfg.JWT.Required) && !cfg.Off("jwt") {
				return &Error{File: cfg.file, Err: fmt.Errorf("route %s lost its jwt section (write `jwt: {required: false}` in it to stop requiring a token)", r.Name)}
			}
		}
	}
	return nil
}

// watchedFiles are the files a configuration names whose change calls for
// a reload: the configuration itself, its policies, JWKS files and CAs.
// (Certificates and SVIDs are re-read by their sources without one.)
func watchedFiles(c *Config) []string {
	files := []string{c.file}
	if a := c.Authorization; a != nil {
		for _, f := range a.Policies {
			files = append(files, c.Path(f))
		}
	}
	if j := c.JWT; j != nil {
		for _, is := range j.Issuers {
			for _, f := range []string{is.JWKSFile, is.JWKSCA} {
				if f != "" {
					files = append(files, c.Path(f))
				}
			}
		}
	}
	if c.Upstream.CA != "" {
		files = append(files, c.Path(c.Upstream.CA))
	}
	for _, r := range c.Routes {
		if a := r.Authorization; a != nil {
			for _, f := range a.Policies {
				files = append(files, c.Path(f))
			}
		}
		if r.Upstream != nil && r.Upstream.CA != "" {
			files = append(files, c.Path(r.Upstream.CA))
		}
	}
	return files
}

// statFiles returns the stamps of the files (the zero stamp for one
// missing). A stamp is the file's device, inode, change time, size and
// modification time: modification time and size alone missed a file
// replaced by another of the same size and modification time (`cp -p`,
// a rename of a prepared file), and a stricter policies file swapped in
// so was never loaded (TestAttackReloadSameSizeSameMtime).
func statFiles(paths []string) map[string]filestamp.Stamp {
	out := make(map[string]filestamp.Stamp, len(paths))
	for _, p := range paths {
		out[p], _ = filestamp.Of(p) // missing: the zero stamp, and its appearance a change
	}
	return out
}

// settleDelay is how long the files must stay the same before a change
// is loaded (a variable for tests).
var settleDelay = time.Second

// readAll returns the contents of the files, "" for one that cannot be
// read (regfile's: a named pipe put in a file's place blocked the
// watcher forever, and no change applied again; /dev/zero exhausted
// memory).
func readAll(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		b, _ := regfile.Read(p, 0)
		out[i] = string(b)
	}
	return out
}

// changedFiles returns the watched files, and whether any changed since
// the running configuration (or the last refused one) was read.
func (s *Server) changedFiles() ([]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	paths := make([]string, 0, len(s.stamps))
	for p := range s.stamps {
		paths = append(paths, p)
	}
	changed := false
	for p, st := range statFiles(paths) {
		if st != s.stamps[p] {
			changed = true
		}
	}
	return paths, changed
}

// Watch reloads the configuration when a file it names changes (polled
// every interval) until ctx ends. A change is loaded once two reads of
// every file settleDelay apart agree, so that a file written in steps is
// not loaded half-written; replace files by an atomic rename all the
// same.
func (s *Server) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		paths, changed := s.changedFiles()
		if !changed {
			continue
		}
		prev := readAll(paths)
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(settleDelay):
			}
			cur := readAll(paths)
			if slices.Equal(prev, cur) {
				break
			}
			prev = cur
		}
		_ = s.Reload()
	}
}
