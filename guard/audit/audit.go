package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
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
	ClientIP  netip.Addr
	Audited   bool // an AUDIT policy matched
	// WAF lists the WAF rules that matched without blocking; it is kept
	// beside the rule that decided, never instead of it.
	WAF string
	// Route names the gateway route that served the request.
	Route string
	// Outcome says how the request ended when it did not reach an
	// upstream answer: "client closed", "upstream timeout".
	Outcome string
}

type state struct {
	mu sync.Mutex
	v  Verdict
	id string
}

type ctxKey struct{}

// Set records v for the request of ctx: a Deny is never overwritten by a
// later Allow; empty fields keep earlier values. Without Handler it does
// nothing.
func Set(ctx context.Context, v Verdict) {
	st, ok := ctx.Value(ctxKey{}).(*state)
	if !ok {
		return
	}
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
	log      *slog.Logger
	now      func() time.Time
	decided  *prometheus.CounterVec
	duration *prometheus.HistogramVec
	trustID  atomic.Pointer[func(*http.Request) bool]
}

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
		log: slog.New(slog.NewJSONHandler(w, nil)),
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
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
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
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Handler records the verdict the middlewares inside it Set and writes one
// record when the response is done. Requests no middleware decided are
// logged as allowed with reason "no rule applied".
func (l *Logger) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := l.now()
		id := requestID(r, l.trustID.Load())
		st := &state{id: id}
		w.Header().Set("X-Request-Id", id)
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), ctxKey{}, st)))
		elapsed := l.now().Sub(start)
		st.mu.Lock()
		v := st.v
		st.mu.Unlock()
		if v.Decision == "" {
			v.Decision, v.Reason = Allow, "no rule applied"
		}
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		attrs := []slog.Attr{
			slog.String("decision", v.Decision),
			slog.String("reason", v.Reason),
			slog.String("rule", v.Rule),
			slog.String("principal", v.Principal),
			slog.String("method", r.Method),
			slog.String("path", r.URL.EscapedPath()), // as sent, never the query: it may carry tokens
			slog.Int("status", rec.status),
			slog.Duration("latency", elapsed),
			slog.String("request_id", id),
		}
		if v.ClientIP.IsValid() {
			attrs = append(attrs, slog.String("client_ip", v.ClientIP.String()))
		}
		if v.Audited {
			attrs = append(attrs, slog.Bool("audited", true))
		}
		if v.Route != "" {
			attrs = append(attrs, slog.String("route", v.Route))
		}
		if v.WAF != "" {
			attrs = append(attrs, slog.String("waf", v.WAF))
		}
		if v.Outcome != "" {
			attrs = append(attrs, slog.String("outcome", v.Outcome))
		}
		l.log.LogAttrs(r.Context(), slog.LevelInfo, "decision", attrs...)
		l.decided.WithLabelValues(v.Decision, v.Rule).Inc()
		l.duration.WithLabelValues(v.Decision).Observe(elapsed.Seconds())
	})
}
