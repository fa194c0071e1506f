package ratelimit

import (
	"errors"
	"math"
	"net/http"
	"sync"
	"time"
)

// ErrShed is returned by Concurrency.Acquire when the limit is reached.
var ErrShed = errors.New("overloaded: request shed")

// ConcurrencyConfig configures an adaptive concurrency limiter.
type ConcurrencyConfig struct {
	// Initial, Min and Max bound the limit (defaults 20, 1, 1000).
	Initial, Min, Max int
	// Smoothing weighs each new sample in the recent latency (0-1,
	// default 0.2).
	Smoothing float64
	// Tolerance is how much the recent latency may exceed the best before
	// the limit shrinks (default 2: twice the floor).
	Tolerance float64
	// Now is the clock (tests).
	Now func() time.Time
}

// Concurrency is an adaptive limit on requests in flight. It is safe for
// concurrent use.
type Concurrency struct {
	cfg ConcurrencyConfig

	mu       sync.Mutex
	limit    float64
	inflight int
	best     time.Duration // lowest latency seen (decays slowly)
	recent   float64       // smoothed latency, seconds
}

// NewConcurrency returns a limiter with the defaults filled in.
func NewConcurrency(cfg ConcurrencyConfig) *Concurrency {
	if cfg.Min <= 0 {
		cfg.Min = 1
	}
	if cfg.Max <= 0 {
		cfg.Max = 1000
	}
	if cfg.Initial <= 0 {
		cfg.Initial = 20
	}
	cfg.Initial = min(max(cfg.Initial, cfg.Min), cfg.Max)
	if cfg.Smoothing <= 0 || cfg.Smoothing > 1 {
		cfg.Smoothing = 0.2
	}
	if cfg.Tolerance < 1 {
		cfg.Tolerance = 2
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
	c.mu.Unlock()
	start := c.cfg.Now()
	return func() { c.release(c.cfg.Now().Sub(start)) }, nil
}

// release records a latency sample and adapts the limit: the gradient
// best/recent (at most 1) scales the limit down when latency rises beyond
// the tolerance; otherwise the limit grows by a square-root step.
func (c *Concurrency) release(rtt time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inflight--
	if rtt <= 0 {
		rtt = time.Microsecond
	}
	if c.best == 0 || rtt < c.best {
		c.best = rtt
	}
	s := rtt.Seconds()
	if c.recent == 0 {
		c.recent = s
	} else {
		c.recent = (1-c.cfg.Smoothing)*c.recent + c.cfg.Smoothing*s
	}
	gradient := c.cfg.Tolerance * c.best.Seconds() / c.recent
	if gradient < 1 {
		c.limit *= max(gradient, 0.5)
	} else {
		c.limit += math.Sqrt(c.limit) / c.limit
	}
	c.limit = min(max(c.limit, float64(c.cfg.Min)), float64(c.cfg.Max))
}

// Handler sheds requests beyond the limit with 503 Service Unavailable
// and Retry-After: 1.
func (c *Concurrency) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		done, err := c.Acquire()
		if err != nil {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return
		}
		defer done()
		next.ServeHTTP(w, r)
	})
}
