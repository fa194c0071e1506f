// Package ratelimit limits request rates per key and sheds load when
// latency climbs.
//
// Limiter keeps one token bucket (golang.org/x/time/rate) per key (a
// SPIFFE ID, a JWT subject, a client IP or a header value, chosen by a
// KeyFunc) in a map bounded to MaxKeys entries: when full, the least
// recently used key is dropped, so a flood of distinct keys costs memory
// only up to the bound (and each new key starts with a full bucket, which
// is the trade-off of any bounded limiter). A key over 64 bytes is kept
// as its SHA-256 (here and in Redis), so that the bound is one of bytes
// too: header values of 64 KiB made 65,536 buckets hold 4 GiB. A refused request gets 429 with
// a Retry-After header in whole seconds. In dry-run mode nothing is refused:
// the decision is only reported (for rollouts).
//
// Concurrency is an adaptive concurrency limiter in the spirit of
// Netflix's gradient limiter: it admits up to a limit of requests in
// flight, and moves the limit with the ratio of the best observed latency
// to the recent latency, so that queueing (latency climbing above the
// floor) lowers the limit and requests beyond it are shed with 503 instead
// of piling up.
package ratelimit
