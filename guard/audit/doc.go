// Package audit writes one structured record per request decision and
// counts decisions in Prometheus metrics.
//
// Handler wraps the middlewares that decide (authorization, rate limits,
// allowlists): each records its verdict with Set on the request's context,
// and Handler writes, when the response is done, one log/slog JSON record
// with the time, decision, reason, rule, principal, client IP, method,
// path, status, latency and request id. The Handlers of guard's own
// middlewares record theirs: a refusal by ipallow ("ipallow"), jwt
// ("jwt"), ratelimit ("ratelimit", "concurrency"), waf ("waf"),
// harden.Limits or harden.Bodiless ("limits"), and authz's decision either way
// ("authz/<namespace>/<name>" of the policy that decided, else "authz");
// their Check functions and Decide record nothing. A request no
// middleware decided is recorded as allowed, "no rule applied" (so was,
// once, every request that guard's Handlers refused). A method longer
// than 64 bytes and a path longer than 8 KiB are cut, with
// method_truncated (or path_truncated) true and method_bytes
// (path_bytes) the length sent: a cut is never marked in the value,
// which a client chooses. The record holds no header, no
// cookie, no query string and no body: tokens and secrets that clients put
// there never reach the log (a test sends some and greps the log).
//
// BufferedWriter batches records for a file or standard output from a
// goroutine of its own, with a bounded buffer: a stalled or failing output
// never blocks a request; records it cannot take are dropped and counted,
// and Healthy reports it for readiness.
//
// A client's X-Request-Id names its record unless Logger.SetTrustRequestID
// says the client is not trusted to choose it (then a random id is used).
//
// Metrics: ward_guard_decisions_total{decision, rule} and
// ward_guard_request_duration_seconds{decision}.
package audit
