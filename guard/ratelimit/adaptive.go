package ratelimit

import (
	"errors"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/wardsec/ward/internal/auditctx"
)

// ErrShed is returned by Concurrency.Acquire when the limit is reached.
var ErrShed = errors.New("overloaded: request shed")

// ConcurrencyConfig configures an adaptive concurrency limiter. The
// defaults are those of Netflix concurrency-limits' Gradient2Limit.
type ConcurrencyConfig struct {
	// Initial, Min and Max bound the limit (defaults 20, 4, 1000).
	Initial, Min, Max int
	// Smoothing weighs each new limit against the current one (0-1,
	// default 0.2).
	Smoothing float64
	// Tolerance is how much the short-term latency may exceed the
	// long-term average before the limit shrinks (default 1.5).
	Tolerance float64
	// LongWindow is the number of sample windows the long-term latency
	// average spans (default 600).
	LongWindow int
	// Queue is added to the limit at each update, the headroom that lets
	// it grow (default 4).
	Queue float64
	// Window bounds a sample window: it closes after MinSamples samples
	// once Window has passed, or after 10 Windows with any sample
	// (defaults 1 s and 10 samples, as concurrency-limits' WindowedLimit).
	Window     time.Duration
	MinSamples int
	// Now is the clock (tests).
	Now func() time.Time
}

// Concurrency is an adaptive limit on requests in flight, after Netflix
// concurrency-limits' Gradient2Limit: each window of samples gives a
// short-term latency (the window's average); an exponential average over
// LongWindow windows gives the long-term one, pulled down quickly when
// latency recovers after overload. The gradient
// Tolerance x long / short, clamped to [0.5, 1], scales the limit, plus
// Queue of headroom, smoothed:
//
//	limit = limit x (1 - Smoothing) + (limit x gradient + Queue) x Smoothing
//
// While fewer than half the limit are in flight the limit does not move
// (the load, not the upstream, sets the latency then). Unlike an all-time
// minimum latency, which never decays and drives the limit down to its
// floor, the long-term average follows the upstream's normal latency.
//
// Written here rather than taken from the Go port of concurrency-limits
// (platinummonkey/go-concurrency-limits), which brings a metrics
// framework and a strategy layer for a 60-line algorithm.
//
// It is safe for concurrent use.
type Concurrency struct {
	cfg ConcurrencyConfig

	mu       sync.Mutex
	limit    float64
	inflight int
	// long-term latency (seconds): a plain average over the first 10
	// windows, then exponential
	long, longN float64
	// current window
	winStart time.Time
	winSum   float64
	winN     int
	winMaxIn int
}

// NewConcurrency returns a limiter with the defaults filled in, also for
// values out of range or NaN.
func NewConcurrency(cfg ConcurrencyConfig) *Concurrency {
	if cfg.Min <= 0 {
		cfg.Min = 4
	}
	if cfg.Max <= 0 {
		cfg.Max = 1000
	}
	cfg.Min = min(cfg.Min, cfg.Max)
	if cfg.Initial <= 0 {
		cfg.Initial = 20
	}
	cfg.Initial = min(max(cfg.Initial, cfg.Min), cfg.Max)
	// The comparisons are written so that NaN (strconv.ParseFloat's and
	// YAML's .nan) takes the default: it fails every comparison, and a
	// NaN limit admitted every request.
	if !(cfg.Smoothing > 0 && cfg.Smoothing <= 1) {
		cfg.Smoothing = 0.2
	}
	if !(cfg.Tolerance >= 1) {
		cfg.Tolerance = 1.5
	}
	if cfg.LongWindow <= 0 {
		cfg.LongWindow = 600
	}
	if !(cfg.Queue > 0) || math.IsInf(cfg.Queue, 1) {
		cfg.Queue = 4
	}
	if cfg.Window <= 0 {
		cfg.Window = time.Second
	}
	if cfg.MinSamples <= 0 {
		cfg.MinSamples = 10
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Concurrency{cfg: cfg, limit: float64(cfg.Initial)}
}

// Limit returns the current limit.
func (c *Concurrency) Limit() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return int(c.limit)
}

// Acquire admits a request, or returns ErrShed. On success the caller must
// call done when the request ends.
func (c *Concurrency) Acquire() (done func(), err error) {
	c.mu.Lock()
	if float64(c.inflight) >= math.Floor(c.limit) {
		c.mu.Unlock()
		return nil, ErrShed
	}
	c.inflight++
	c.winMaxIn = max(c.winMaxIn, c.inflight)
	c.mu.Unlock()
	start := c.cfg.Now()
	return func() { c.release(start, c.cfg.Now()) }, nil
}

// release records a latency sample and, when its window closes, adapts
// the limit.
func (c *Concurrency) release(start, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inflight--
	rtt := max(now.Sub(start), time.Microsecond)
	if c.winN == 0 {
		c.winStart = start
	}
	c.winSum += rtt.Seconds()
	c.winN++
	age := now.Sub(c.winStart)
	if !(c.winN >= c.cfg.MinSamples && age >= c.cfg.Window) && age < 10*c.cfg.Window {
		return
	}
	short := c.winSum / float64(c.winN)
	maxIn := c.winMaxIn
	c.winSum, c.winN, c.winMaxIn = 0, 0, c.inflight
	c.update(short, maxIn)
}

// update is Gradient2Limit.onSample for one window.
func (c *Concurrency) update(short float64, inflight int) {
	if c.longN < 10 {
		c.longN++
		c.long += (short - c.long) / c.longN
	} else {
		f := 2 / (float64(c.cfg.LongWindow) + 1)
		c.long = c.long*(1-f) + short*f
	}
	if c.long/short > 2 {
		// Latency is back to normal after long overload: pull the
		// long-term average down rather than wait for it.
		c.long *= 0.95
	}
	if float64(inflight) < c.limit/2 {
		return // application-limited: the latency says nothing of the limit
	}
	gradient := max(0.5, min(1, c.cfg.Tolerance*c.long/short))
	next := c.limit*gradient + c.cfg.Queue
	next = c.limit*(1-c.cfg.Smoothing) + next*c.cfg.Smoothing
	if math.IsNaN(next) {
		return // never a NaN limit, which Acquire's comparison admits past
	}
	c.limit = min(max(next, float64(c.cfg.Min)), float64(c.cfg.Max))
}

// Handler sheds requests beyond the limit with 503 Service Unavailable
// and Retry-After: 1.
func (c *Concurrency) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		done, err := c.Acquire()
		if err != nil {
			auditctx.Deny(r.Context(), "concurrency", "overloaded: concurrency limit reached")
			Shed(w)
			return
		}
		defer done()
		next.ServeHTTP(w, r)
	})
}

// Shed answers a request the limiter refused: 503 with Retry-After: 1.
func Shed(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	http.Error(w, "overloaded", http.StatusServiceUnavailable)
}
