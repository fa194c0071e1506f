package ratelimit

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// ErrUnavailable is returned by Redis.Check when Redis cannot be reached
// and the limiter fails closed.
var ErrUnavailable = errors.New("rate limiter unavailable")

// RedisConfig configures a distributed limiter.
type RedisConfig struct {
	Client *redis.Client
	// Rate per Period with Burst, as in Config (Period defaults to a
	// second).
	Rate   int
	Burst  int
	Period time.Duration
	Key    KeyFunc
	// Prefix namespaces the keys in Redis (default "ward:rl:").
	Prefix string
	// FailOpen admits requests when Redis cannot be reached; by default
	// they are refused with 503 (fail closed).
	FailOpen bool
	DryRun   bool
	OnLimit  func(r *http.Request, key string, retryAfter time.Duration)
}

// Redis is a rate limiter shared by every instance that uses the same
// Redis: the generic cell rate algorithm (GCRA, go-redis/redis_rate) runs
// in a Lua script on Redis's own clock, so the instances' clocks do not
// matter.
type Redis struct {
	cfg   RedisConfig
	lim   *redis_rate.Limiter
	limit redis_rate.Limit
}

// NewRedis returns a distributed limiter.
func NewRedis(cfg RedisConfig) (*Redis, error) {
	switch {
	case cfg.Client == nil:
		return nil, errors.New("ratelimit: a Redis client is required")
	case cfg.Rate < 1:
		return nil, fmt.Errorf("ratelimit: rate must be at least 1 per period, not %d", cfg.Rate)
	case cfg.Burst < 1:
		return nil, fmt.Errorf("ratelimit: burst must be at least 1, not %d", cfg.Burst)
	case cfg.Key == nil:
		return nil, errors.New("ratelimit: a key function is required")
	}
	if cfg.Period <= 0 {
		cfg.Period = time.Second
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "ward:rl:"
	}
	return &Redis{cfg: cfg, lim: redis_rate.NewLimiter(cfg.Client),
		limit: redis_rate.Limit{Rate: cfg.Rate, Burst: cfg.Burst, Period: cfg.Period}}, nil
}

// Check is Limiter.Check against Redis. When Redis fails it returns an
// error matching ErrUnavailable, or nil with FailOpen.
func (l *Redis) Check(r *http.Request) error {
	key := l.cfg.Key(r)
	res, err := l.lim.Allow(r.Context(), l.cfg.Prefix+boundedKey(key), l.limit)
	if err != nil {
		if l.cfg.FailOpen {
			return nil
		}
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if res.Allowed > 0 {
		return nil
	}
	if l.cfg.OnLimit != nil {
		l.cfg.OnLimit(r, key, res.RetryAfter)
	}
	if l.cfg.DryRun {
		return nil
	}
	return &LimitError{Key: key, RetryAfter: res.RetryAfter}
}

// Handler answers 429 with Retry-After over the limit, and 503 when Redis
// is unavailable and the limiter fails closed.
func (l *Redis) Handler(next http.Handler) http.Handler {
	return handler(l.Check, next)
}
