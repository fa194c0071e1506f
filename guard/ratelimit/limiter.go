package ratelimit

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/wardsec/ward/guard/clientip"
	"github.com/wardsec/ward/internal/auditctx"
)

// KeyFunc returns the key a request is limited by; "" puts it in a shared
// bucket.
type KeyFunc func(*http.Request) string

// Config configures a Limiter.
type Config struct {
	// Rate is the sustained rate in requests per second; Burst the bucket
	// size (at least 1).
	Rate  float64
	Burst int
	// Key selects the bucket.
	Key KeyFunc
	// MaxKeys bounds the number of buckets kept (default 65,536). Keys
	// longer than 64 bytes are kept as their SHA-256 digest, so that
	// memory stays bounded whatever a client sends.
	MaxKeys int
	// DryRun reports refusals (Decision.Limited, OnLimit) but never refuses.
	DryRun bool
	// OnLimit, when set, is called for every request over the limit.
	OnLimit func(r *http.Request, key string, retryAfter time.Duration)
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// ErrLimited is returned by Check for a request over its key's rate.
var ErrLimited = errors.New("rate limit exceeded")

// LimitError carries how long the client should wait.
type LimitError struct {
	Key        string
	RetryAfter time.Duration
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("rate limit exceeded; retry after %s", e.RetryAfter)
}

// Is makes a *LimitError match ErrLimited.
func (e *LimitError) Is(target error) bool { return target == ErrLimited }

// Limiter is a per-key token bucket limiter. It is safe for concurrent
// use.
type Limiter struct {
	cfg Config

	mu    sync.Mutex
	lru   *list.List // of *entry, most recent first
	byKey map[string]*list.Element
}

type entry struct {
	key string
	lim *rate.Limiter
}

// New returns a limiter, or an error for a configuration that would
// refuse everything or nothing by mistake.
func New(cfg Config) (*Limiter, error) {
	switch {
	case cfg.Rate <= 0 || math.IsNaN(cfg.Rate) || math.IsInf(cfg.Rate, 0):
		return nil, fmt.Errorf("ratelimit: rate must be a positive number of requests per second, not %v", cfg.Rate)
	case cfg.Burst < 1:
		return nil, fmt.Errorf("ratelimit: burst must be at least 1, not %d", cfg.Burst)
	case cfg.Key == nil:
		return nil, errors.New("ratelimit: a key function is required")
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = 65536
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Limiter{cfg: cfg, lru: list.New(), byKey: map[string]*list.Element{}}, nil
}

// Len returns the number of buckets kept.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}

// maxKeyLen is the longest key a limiter keeps as it is.
const maxKeyLen = 64

// storedKey is the form a key is kept in: itself up to maxKeyLen bytes,
// otherwise "sha256:" and its digest in hex (71 bytes, so that no key
// kept as it is can equal a digest form). A key is the client's word
// for ByHeader: kept whole, 65,536 header values of 64 KiB (the limit
// of harden.Server; net/http's default is 1 MiB) held 4 GiB.
func storedKey(key string) string {
	if len(key) <= maxKeyLen {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func (l *Limiter) bucket(key string) *rate.Limiter {
	key = storedKey(key)
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.byKey[key]; ok {
		l.lru.MoveToFront(e)
		return e.Value.(*entry).lim
	}
	if l.lru.Len() >= l.cfg.MaxKeys {
		old := l.lru.Back()
		l.lru.Remove(old)
		delete(l.byKey, old.Value.(*entry).key)
	}
	lim := rate.NewLimiter(rate.Limit(l.cfg.Rate), l.cfg.Burst)
	l.byKey[key] = l.lru.PushFront(&entry{key, lim})
	return lim
}

// Allow takes a token for key at the limiter's clock and reports how long
// to wait when there is none.
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	now := l.cfg.Now()
	lim := l.bucket(key)
	res := lim.ReserveN(now, 1)
	if !res.OK() {
		return false, time.Second
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

// Limited reports whether key's bucket is empty at the limiter's clock,
// and how long until it holds a token again, without taking one and
// without making a bucket for a key it has not seen. It is the gate in
// front of a costly step that only failures are charged to (Allow): a
// client whose bearer tokens keep failing verification is refused before
// the next one is verified.
func (l *Limiter) Limited(key string) (bool, time.Duration) {
	l.mu.Lock()
	e, ok := l.byKey[storedKey(key)]
	l.mu.Unlock()
	if !ok {
		return false, 0
	}
	tokens := e.Value.(*entry).lim.TokensAt(l.cfg.Now())
	if tokens >= 1 {
		return false, 0
	}
	return true, time.Duration((1 - tokens) / l.cfg.Rate * float64(time.Second))
}

// Check reports a *LimitError (matching ErrLimited) for a request over its
// key's rate; in dry-run mode it reports nil but still calls OnLimit.
func (l *Limiter) Check(r *http.Request) error {
	key := l.cfg.Key(r)
	ok, wait := l.Allow(key)
	if ok {
		return nil
	}
	if l.cfg.OnLimit != nil {
		l.cfg.OnLimit(r, key, wait)
	}
	if l.cfg.DryRun {
		return nil
	}
	return &LimitError{Key: key, RetryAfter: wait}
}

// Handler answers 429 Too Many Requests with Retry-After (whole seconds,
// at least 1) for requests over the limit.
func (l *Limiter) Handler(next http.Handler) http.Handler {
	return handler(l.Check, next)
}

func handler(check func(*http.Request) error, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := check(r); err != nil {
			auditctx.Deny(r.Context(), "ratelimit", err.Error())
			Refuse(w, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Refuse answers a request that Check refused: 429 Too Many Requests with
// Retry-After in whole seconds (rounded up, at least 1) for a *LimitError,
// 503 with Retry-After: 1 for a limiter that is unavailable. It returns the
// status written.
func Refuse(w http.ResponseWriter, err error) int {
	var le *LimitError
	if errors.As(err, &le) {
		secs := max(int(math.Ceil(le.RetryAfter.Seconds())), 1)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		http.Error(w, "too many requests", http.StatusTooManyRequests)
		return http.StatusTooManyRequests
	}
	w.Header().Set("Retry-After", "1")
	http.Error(w, "rate limiter unavailable", http.StatusServiceUnavailable)
	return http.StatusServiceUnavailable
}

// ByHeader keys requests by a header's value (empty: a shared bucket).
// The value is the client's word unless something in front vouches for
// it: a client that sends a new value with every request gets a full
// bucket every time and is never limited. Key by a header only when a
// proxy before the limiter sets or verifies it; otherwise key by a
// verified identity (a SPIFFE ID, a JWT subject) or the client address
// that clientip resolved.
func ByHeader(name string) KeyFunc {
	return func(r *http.Request) string { return r.Header.Get(name) }
}

// ByClientIP keys requests by their client address: the one
// clientip's Resolver.Handler stored in the context, or the peer address
// of Request.RemoteAddr (without its port) when it did not run. IPv6
// clients are keyed by their /v6Prefix network (64 when v6Prefix is not
// 1 to 128), since one host commonly owns a /64: keyed by the whole
// address, a client stepping through its 2^64 addresses gets a full
// bucket with every request, and its flood of keys evicts everyone
// else's buckets. A client that clientip could not read behind a trusted
// proxy (the invalid address) shares the one bucket "ip:unknown", which
// is stricter, never looser.
func ByClientIP(v6Prefix int) KeyFunc {
	if v6Prefix <= 0 || v6Prefix > 128 {
		v6Prefix = 64
	}
	return func(r *http.Request) string {
		a, ok := clientip.FromContext(r.Context())
		if !ok {
			a = clientip.PeerAddr(r)
		}
		if !a.IsValid() {
			return "ip:unknown"
		}
		a = a.Unmap().WithZone("")
		if a.Is6() {
			if p, err := a.Prefix(v6Prefix); err == nil {
				return "ip:" + p.String()
			}
		}
		var buf [64]byte
		return string(a.AppendTo(append(buf[:0], "ip:"...)))
	}
}
