// Package proxy is `ward proxy`: a sidecar or gateway reverse proxy that
// puts the guard library in front of a service that cannot change its
// code. A YAML configuration (docs/proxy.md), validated at load with
// file:line errors, chooses TLS or SPIFFE mutual TLS on the listener, the
// upstream, and the checks: client IP behind trusted proxies, CIDR allow
// and deny lists, JWT bearer tokens, Istio AuthorizationPolicies, rate and
// concurrency limits, size limits and timeouts; every decision is logged
// (package guard/audit) and counted.
package proxy
