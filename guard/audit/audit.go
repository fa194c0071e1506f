package audit

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardsec/ward/internal/auditctx"
	"github.com/wardsec/ward/internal/reqstate"
)

// Decisions.
const (
	Allow = "allow"
	Deny  = "deny"
)

// Verdict is what a deciding middleware records about a request.
type Verdict struct {
	Decision  string // Allow or Deny
	Reason    string // why, for people: "policy shop/allow-web rule 0: principal matched"
	Rule      string // a stable label for metrics: "authz/shop/allow-web", "ratelimit", "ipallow"
	Principal string // the authenticated identity, when known
	// Peer is the verified identity of the connection (a SPIFFE ID),
	// recorded as "peer" when Principal names another identity (a
	// token's subject): the record keeps who connected.
	Peer     string
	ClientIP netip.Addr
	Audited  bool // an AUDIT policy matched
	// WAF lists the WAF rules that matched without blocking; it is kept
	// beside the rule that decided, never instead of it.
	WAF string
	// Route names the gateway route that served the request.
	Route string
	// Outcome says how the request ended when it did not reach an
	// upstream answer: "client closed", "upstream timeout".
	Outcome string
	// DryRun names what a check in dry-run mode would have refused
	// ("ratelimit: rate limit exceeded"); like WAF, it is kept beside
	// the rule that decided.
	DryRun string
}

type state struct {
	mu sync.Mutex
	v  Verdict
	id string
}

// ctxKey is the key of the request's state, which guard's middlewares
// record their decisions in through internal/auditctx (they do not
// import this package).
type ctxKey = auditctx.Key

// Record is Set of a decision, for guard's middlewares' Handlers.
func (st *state) Record(decision, rule, reason string, audited bool) {
	st.set(Verdict{Decision: decision, Rule: rule, Reason: reason, Audited: audited})
}

// Set records v for the request of ctx: a Deny is never overwritten by a
// later Allow; empty fields keep earlier values. Without Handler it does
// nothing.
func Set(ctx context.Context, v Verdict) {
	st, ok := ctx.Value(ctxKey{}).(*state)
	if !ok {
		return
	}
	st.set(v)
}

func (st *state) set(v Verdict) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.v.Decision == Deny && v.Decision != Deny {
		v.Decision, v.Reason, v.Rule = "", "", ""
	}
	if v.Decision != "" {
		st.v.Decision, st.v.Reason, st.v.Rule = v.Decision, v.Reason, v.Rule
	}
	if v.Principal != "" {
		st.v.Principal = v.Principal
	}
	if v.Peer != "" {
		st.v.Peer = v.Peer
	}
	if v.ClientIP.IsValid() {
		st.v.ClientIP = v.ClientIP
	}
	st.v.Audited = st.v.Audited || v.Audited
	if v.WAF != "" {
		st.v.WAF = v.WAF
	}
	if v.Outcome != "" {
		st.v.Outcome = v.Outcome
	}
	if v.DryRun != "" {
		st.v.DryRun = v.DryRun
	}
	if v.Route != "" {
		st.v.Route = v.Route
	}
}

// RequestID returns the id of the request of ctx, as in its audit record
// and its response's X-Request-Id; "" without Handler.
func RequestID(ctx context.Context) string {
	if st, ok := ctx.Value(ctxKey{}).(*state); ok {
		return st.id
	}
	return ""
}

// Logger writes decision records and counts them.
type Logger struct {
	out      io.Writer
	outMu    sync.Mutex // one record per Write, records not interleaved
	now      func() time.Time
	decided  *prometheus.CounterVec
	duration *prometheus.HistogramVec
	trustID  atomic.Pointer[func(*http.Request) bool]

	// counters caches decided's counters by (decision, rule), and
	// observers duration's by decision: WithLabelValues hashes the labels
	// and takes a lock on every call.
	counters  sync.Map // counterKey -> prometheus.Counter
	observers sync.Map // string -> prometheus.Observer
}

type counterKey struct{ decision, rule string }

// SetTrustRequestID sets which requests' own X-Request-Id is kept (when
// short and plain): f reports whether the request came from a trusted
// hop. Requests it refuses get a new random id, so that a client cannot
// choose the id its record is filed under. Without it (or with nil) every
// request's id is kept. It is safe for concurrent use.
func (l *Logger) SetTrustRequestID(f func(*http.Request) bool) {
	if f == nil {
		l.trustID.Store(nil)
		return
	}
	l.trustID.Store(&f)
}

// New returns a Logger writing JSON records to w and registering its
// metrics with reg (nil: not registered).
func New(w io.Writer, reg prometheus.Registerer) (*Logger, error) {
	l := &Logger{
		out: w,
		now: time.Now,
		decided: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ward_guard_decisions_total", Help: "Request decisions by result and rule.",
		}, []string{"decision", "rule"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ward_guard_request_duration_seconds", Help: "Request latency by decision.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"decision"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{l.decided, l.duration} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return l, nil
}

type recorder struct {
	http.ResponseWriter
	status int
	idHdr  [1]string        // X-Request-Id's value in the response header, in the same allocation
	st     state            // the request's verdict, in the same allocation
	ctx    reqstate.Context // the request's context, with st (same allocation)
}

// WriteHeader records the first final status: an informational response
// (103 Early Hints, 102 Processing, which ReverseProxy forwards from the
// upstream) is followed by the real one. 101 is final: the connection
// switches protocols.
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer
// (flushing, hijacking for WebSockets).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// requestID returns the client's X-Request-Id when it is short and plain,
// else a new random one.
func requestID(r *http.Request, trust *func(*http.Request) bool) string {
	if id := r.Header.Get("X-Request-Id"); id != "" && len(id) <= 64 && (trust == nil || (*trust)(r)) {
		ok := true
		for i := 0; i < len(id); i++ {
			c := id[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
				ok = false
				break
			}
		}
		if ok {
			return id
		}
	}
	// Unique, not secret: math/rand/v2's generator is the runtime's
	// ChaCha8, seeded from the operating system, without crypto/rand's
	// system call per request (a getrandom before Linux 6.11).
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], rand.Uint64()) // #nosec G404 -- a request ID needs uniqueness, not secrecy
	return hex.EncodeToString(b[:])
}

// Handler records the verdict the middlewares inside it Set and writes one
// record when the response is done. Requests no middleware decided are
// logged as allowed with reason "no rule applied".
//
// A record is one JSON object on a line, the same bytes as slog's
// JSONHandler writes for the message "decision" and these attributes in
// this order: time, level, msg, decision, reason, rule, principal,
// method (method_truncated and method_bytes when cut), path (the same),
// status, latency (nanoseconds), request_id, then
// client_ip, audited, route, waf, outcome, dry_run and peer when set
// (peer when it is not the principal). It is encoded
// here, into a reused buffer, because slog's generic path cost as much
// as the checks (TestRecordMatchesSlog holds the two to the same bytes).
func (l *Logger) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := l.now()
		id := requestID(r, l.trustID.Load())
		rec := &recorder{ResponseWriter: w}
		rec.st.id = id
		rec.idHdr[0] = id
		w.Header()["X-Request-Id"] = rec.idHdr[:1:1] // a full slice: an Add reallocates

		// One request state for the later middlewares' values too
		// (client IP, JWT claims): one copy of the request, not one each.
		rec.ctx.Init(r.Context())
		reqstate.Set(&rec.ctx, ctxKey{}, &rec.st)
		// A handler that panics (net/http's ReverseProxy does, with
		// http.ErrAbortHandler, when a response is cut off mid-body: the
		// client hung up, the upstream stalled or failed) is recorded
		// too, as it unwinds: a client must not be able to leave no
		// record by resetting its connection.
		completed := false
		defer func() {
			if !completed {
				l.finish(rec, r, start, true)
			}
		}()
		next.ServeHTTP(rec, r.WithContext(&rec.ctx))
		completed = true
		l.finish(rec, r, start, false)
	})
}

// outcomeAborted is the outcome of a request whose handler did not
// return (it panicked) and which set no outcome of its own.
const outcomeAborted = "response aborted"

// finish writes the record of a request and counts it; aborted says its
// handler panicked.
func (l *Logger) finish(rec *recorder, r *http.Request, start time.Time, aborted bool) {
	end := l.now()
	elapsed := end.Sub(start)
	rec.st.mu.Lock()
	v := rec.st.v
	rec.st.mu.Unlock()
	if v.Decision == "" {
		v.Decision, v.Reason = Allow, "no rule applied"
	}
	if aborted && v.Outcome == "" {
		v.Outcome = outcomeAborted
	}
	if rec.status == 0 {
		rec.status = http.StatusOK
		if aborted {
			// Nothing was sent; a recovering handler outside
			// answers 500, or the connection is dropped.
			rec.status = http.StatusInternalServerError
		}
	}
	l.write(end, &v, r, rec.status, elapsed, rec.st.id)
	l.counter(v.Decision, v.Rule).Inc()
	l.observer(v.Decision).Observe(elapsed.Seconds())
}

func (l *Logger) counter(decision, rule string) prometheus.Counter {
	k := counterKey{decision, rule}
	if c, ok := l.counters.Load(k); ok {
		return c.(prometheus.Counter)
	}
	c, _ := l.counters.LoadOrStore(k, l.decided.WithLabelValues(decision, rule))
	return c.(prometheus.Counter)
}

func (l *Logger) observer(decision string) prometheus.Observer {
	if o, ok := l.observers.Load(decision); ok {
		return o.(prometheus.Observer)
	}
	o, _ := l.observers.LoadOrStore(decision, l.duration.WithLabelValues(decision))
	return o.(prometheus.Observer)
}

// records are the buffers records are encoded in.
var records = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// write encodes and writes one record.
func (l *Logger) write(t time.Time, v *Verdict, r *http.Request, status int, elapsed time.Duration, id string) {
	bp := records.Get().(*[]byte)
	b := appendRecord((*bp)[:0], t, v, r.Method, r.URL.EscapedPath(), status, elapsed, id)
	if bw, ok := l.out.(*BufferedWriter); ok {
		_, _ = bw.Write(b) // takes its own lock
	} else {
		l.outMu.Lock()
		_, _ = l.out.Write(b)
		l.outMu.Unlock()
	}
	if cap(b) <= 64<<10 {
		*bp = b
		records.Put(bp)
	}
}

// The most bytes of a method and of a path a record holds. A longer one
// is cut to them and followed by "<key>_truncated":true and
// "<key>_bytes":<its length>. The value itself carries no mark: an
// HTTP/2 :method is any field value and a client could send a mark
// (the record used to append "…(+N bytes)", so "GET…(+9000 bytes)",
// sent as such, read as a cut method).
const (
	maxMethodBytes = 64
	maxPathBytes   = 8 << 10
)

// appendCut appends s as appendString does, cut to n bytes and followed
// by the cut's fields when longer.
func appendCut(b []byte, key, s string, n int) []byte {
	if len(s) <= n {
		return appendString(b, key, s)
	}
	b = appendString(b, key, s[:n])
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, `_truncated":true,"`...)
	b = append(b, key...)
	b = append(b, `_bytes":`...)
	return strconv.AppendInt(b, int64(len(s)), 10)
}

// appendRecord appends a record as slog's JSONHandler would write it.
// The path is as sent, never the query: it may carry tokens.
func appendRecord(b []byte, t time.Time, v *Verdict, method, path string, status int, elapsed time.Duration, id string) []byte {
	b = append(b, `{"time":`...)
	if y := t.Year(); y < 0 || y >= 10000 {
		// As slog: RFC 3339 has four-digit years only.
		b = append(b, `"!ERROR:time.Time year outside of range [0,9999]"`...)
	} else {
		b = append(b, '"')
		b = t.Round(0).AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	b = append(b, `,"level":"INFO","msg":"decision"`...)
	b = appendString(b, "decision", v.Decision)
	b = appendString(b, "reason", v.Reason)
	b = appendString(b, "rule", v.Rule)
	b = appendString(b, "principal", v.Principal)
	// A method is any token and a path any length, as long as the
	// request line allows (64 KiB, refused or not): a record per request
	// that size would crowd out the others (a buffered writer's
	// MaxBytes). Their start and length say enough.
	b = appendCut(b, "method", method, maxMethodBytes)
	b = appendCut(b, "path", path, maxPathBytes)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `,"latency":`...)
	b = strconv.AppendInt(b, int64(elapsed), 10)
	b = appendString(b, "request_id", id)
	if a := v.ClientIP; a.IsValid() {
		if a.Zone() != "" {
			b = appendString(b, "client_ip", a.String()) // a zone is any text
		} else {
			b = append(b, `,"client_ip":"`...)
			b = append(a.AppendTo(b), '"') // digits, letters, '.' and ':'
		}
	}
	if v.Audited {
		b = append(b, `,"audited":true`...)
	}
	if v.Route != "" {
		b = appendString(b, "route", v.Route)
	}
	if v.WAF != "" {
		b = appendString(b, "waf", v.WAF)
	}
	if v.Outcome != "" {
		b = appendString(b, "outcome", v.Outcome)
	}
	if v.DryRun != "" {
		b = appendString(b, "dry_run", v.DryRun)
	}
	if v.Peer != "" && v.Peer != v.Principal {
		b = appendString(b, "peer", v.Peer)
	}
	return append(b, "}\n"...)
}

// appendString appends ,"key":"value" (key needs no escaping).
func appendString(b []byte, key, s string) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':', '"')
	b = appendEscaped(b, s)
	return append(b, '"')
}

// appendEscaped escapes s as slog's JSONHandler does (encoding/json's
// rules without HTML escaping: quote, backslash and control characters,
// U+2028 and U+2029, and invalid UTF-8 as U+FFFD, as slog writes it since Go 1.26).
func appendEscaped(b []byte, s string) []byte {
	const digits = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', digits[c>>4], digits[c&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, "\ufffd"...) // as slog since Go 1.26 (go.dev/cl/687116)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', digits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}
