// Package proxy is `ward proxy`: a sidecar or gateway reverse proxy that
// puts the guard library in front of a service that cannot change its
// code. A YAML configuration (docs/proxy.md), validated at load with
// file:line errors, chooses TLS or SPIFFE mutual TLS on the listener, the
// upstream, and the checks: client IP behind trusted proxies, CIDR allow
// and deny lists, JWT bearer tokens, Istio AuthorizationPolicies, rate and
// concurrency limits, size limits and timeouts, per route when the
// configuration has routes; every decision is logged (package
// guard/audit) and counted.
//
// The rule it holds everywhere: the request that is authorized and
// inspected is byte for byte the one forwarded. A canonical-request step
// runs before every check: it merges slashes and forwards the merged
// path, puts the Host in one form (lower case, no trailing dot) and
// forwards that, refuses encoded slashes, backslashes, dot segments,
// Hosts readers would split or read otherwise and lower-case methods
// with 400, removes identity headers a client could
// forge and Upgrade protocols not allowed. The attacks that once got
// through are kept as tests (attack_test.go) that replay them against an
// upstream recording the raw bytes it receives.
package proxy
