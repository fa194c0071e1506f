package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// Defaults of Config.
const (
	DefaultQueue       = 4096
	DefaultBatch       = 100
	DefaultTimeout     = 10 * time.Second
	DefaultMaxBackoff  = 30 * time.Second
	DefaultGiveUpAfter = 5 * time.Minute
	minBackoff         = 250 * time.Millisecond
)

// Config says where and how alerts are delivered.
type Config struct {
	// URL is the endpoint: https, or http only to a loopback address
	// (alerts name workloads and addresses; they do not cross a network
	// in clear text).
	URL string
	// Secret, when set, signs each body: the X-Ward-Signature header
	// carries "sha256=" and the hex HMAC-SHA256 of the body under it
	// (GitHub's scheme), so the receiver can check where it came from.
	Secret []byte
	// Header is added to every request (an Authorization header, say).
	// Its values are never logged.
	Header http.Header
	// Client sends the requests (a client with DefaultTimeout if nil).
	Client *http.Client
	// Queue is how many alerts wait at most (DefaultQueue if 0); beyond,
	// new alerts are dropped and counted.
	Queue int
	// Batch is the most alerts one request carries (DefaultBatch if 0).
	Batch int
	// MaxBackoff caps the wait between retries (DefaultMaxBackoff if 0).
	MaxBackoff time.Duration
	// GiveUpAfter is how long one batch is retried before it is dropped
	// and counted (DefaultGiveUpAfter if 0).
	GiveUpAfter time.Duration
	// OnError, when set, hears of each failed attempt and each drop.
	OnError func(error)
}

// Stats count what became of the alerts.
type Stats struct {
	Delivered uint64 // alerts the endpoint accepted (2xx)
	Dropped   uint64 // alerts given up: queue full, refused (4xx) or retried past GiveUpAfter
	Attempts  uint64 // requests sent
	Retries   uint64 // requests that were retries
}

// Sender delivers alert lines (JSON objects, one per Write) to a webhook
// in batches, as a JSON array, off the caller's path: Write never blocks
// on the network. Failed requests are retried with capped exponential
// backoff and jitter (honouring Retry-After); 4xx answers other than 408
// and 429 are not retried. Every alert is either delivered or counted as
// dropped.
type Sender struct {
	cfg   Config
	ch    chan []byte
	done  chan struct{}
	stop  context.CancelFunc
	ctx   context.Context
	mu    sync.Mutex
	stats Stats

	cmu    sync.RWMutex // held for reading by Write, for writing by Close
	closed bool
}

// New checks cfg and starts the sender.
func New(cfg Config) (*Sender, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("webhook URL: %w", err)
	}
	switch {
	case u.Scheme == "https" && u.Host != "":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		return nil, fmt.Errorf("webhook URL %s: want https:// (or http:// to a loopback address)", redact(u))
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: DefaultTimeout}
	}
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultQueue
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.GiveUpAfter <= 0 {
		cfg.GiveUpAfter = DefaultGiveUpAfter
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sender{cfg: cfg, ch: make(chan []byte, cfg.Queue), done: make(chan struct{}), ctx: ctx, stop: cancel}
	go s.loop()
	return s, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// redact drops a URL's user information and query for messages.
func redact(u *url.URL) string {
	c := *u
	c.User, c.RawQuery = nil, ""
	return c.String()
}

// Write queues one alert (a JSON object; a trailing newline is dropped).
// It never blocks: with the queue full, the alert is dropped and counted.
func (s *Sender) Write(p []byte) (int, error) {
	line := bytes.TrimRight(p, "\n")
	if len(line) == 0 {
		return len(p), nil
	}
	s.cmu.RLock()
	defer s.cmu.RUnlock()
	if s.closed {
		s.count(func(st *Stats) { st.Dropped++ })
		return 0, errors.New("webhook: closed")
	}
	select {
	case s.ch <- bytes.Clone(line):
	default:
		s.count(func(st *Stats) { st.Dropped++ })
		s.report(errors.New("webhook: queue full, alert dropped"))
	}
	return len(p), nil
}

// Close delivers what is queued, waiting at most until ctx is done; what
// is left then is dropped and counted.
func (s *Sender) Close(ctx context.Context) Stats {
	s.cmu.Lock()
	if !s.closed {
		s.closed = true
		close(s.ch)
	}
	s.cmu.Unlock()
	select {
	case <-s.done:
	case <-ctx.Done():
		s.stop()
		<-s.done
	}
	return s.Stats()
}

// Stats returns the counts so far.
func (s *Sender) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

func (s *Sender) count(f func(*Stats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}

func (s *Sender) report(err error) {
	if s.cfg.OnError != nil {
		s.cfg.OnError(err)
	}
}

func (s *Sender) loop() {
	defer close(s.done)
	defer s.stop()
	batch := make([][]byte, 0, s.cfg.Batch)
	for line := range s.ch {
		batch = append(batch[:0], line)
	fill:
		for len(batch) < s.cfg.Batch {
			select {
			case l, ok := <-s.ch:
				if !ok {
					break fill
				}
				batch = append(batch, l)
			default:
				break fill
			}
		}
		s.deliver(batch)
	}
}

// deliver sends one batch until it is accepted, refused for good, or
// retried past GiveUpAfter (or the sender is stopped).
func (s *Sender) deliver(batch [][]byte) {
	body := make([]byte, 0, 2+len(batch)*256)
	body = append(body, '[')
	for i, l := range batch {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, l...)
	}
	body = append(body, ']')
	giveUp := time.Now().Add(s.cfg.GiveUpAfter)
	backoff := minBackoff
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			s.count(func(st *Stats) { st.Retries++ })
		}
		s.count(func(st *Stats) { st.Attempts++ })
		wait, err := s.post(body)
		if err == nil {
			s.count(func(st *Stats) { st.Delivered += uint64(len(batch)) })
			return
		}
		var perm permanent
		if errors.As(err, &perm) || time.Now().Add(max(wait, backoff)).After(giveUp) || s.ctx.Err() != nil {
			s.count(func(st *Stats) { st.Dropped += uint64(len(batch)) })
			s.report(fmt.Errorf("webhook: %d alerts dropped: %w", len(batch), err))
			return
		}
		s.report(fmt.Errorf("webhook: attempt %d: %w", attempt+1, err))
		if wait == 0 {
			// Full jitter: a random wait up to the backoff, so that many
			// senders do not retry in step.
			wait = time.Duration(rand.Int64N(int64(backoff))) + minBackoff/2 // #nosec G404 -- jitter, not a secret
			backoff = min(2*backoff, s.cfg.MaxBackoff)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-s.ctx.Done():
			t.Stop()
		}
	}
}

// permanent is a refusal that a retry would not change.
type permanent struct{ error }

// post sends body once. A 429 or 503 with Retry-After says how long to
// wait.
func (s *Sender) post(body []byte) (time.Duration, error) {
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return 0, permanent{err}
	}
	for k, vs := range s.cfg.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "ward-watch")
	if len(s.cfg.Secret) > 0 {
		m := hmac.New(sha256.New, s.cfg.Secret)
		m.Write(body)
		req.Header.Set("X-Ward-Signature", "sha256="+hex.EncodeToString(m.Sum(nil)))
	}
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL may hold a token: say what failed, not where
		}
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return 0, nil
	case c == http.StatusTooManyRequests || c == http.StatusServiceUnavailable:
		return retryAfter(resp.Header.Get("Retry-After")), fmt.Errorf("endpoint answered %s", resp.Status)
	case c == http.StatusRequestTimeout || c >= 500:
		return 0, fmt.Errorf("endpoint answered %s", resp.Status)
	default:
		return 0, permanent{fmt.Errorf("endpoint refused the alerts: %s", resp.Status)}
	}
}

// retryAfter reads a Retry-After header (seconds or an HTTP date), capped
// at an hour; 0 when absent or unreadable.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return min(time.Duration(n)*time.Second, time.Hour)
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(time.Until(t), 0), time.Hour)
	}
	return 0
}
