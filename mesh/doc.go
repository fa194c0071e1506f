// Package mesh audits Istio service mesh security: mutual TLS modes set by
// PeerAuthentication and the allow-nothing AuthorizationPolicy baseline,
// per namespace.
//
// It runs when the input holds Istio security objects or namespaces
// labelled for sidecar injection (istio-injection=enabled or istio.io/rev),
// and follows Istio's precedence: a workload-level PeerAuthentication
// (with a selector) overrides the namespace's (without selector), which
// overrides the mesh-wide one in the root namespace (istio-system unless
// Options.RootNamespace says otherwise); with none, Istio accepts
// plaintext (PERMISSIVE). An UNSET mode inherits from the level above.
package mesh
