// Package istio holds the Istio security objects Ward reads:
// PeerAuthentication (mutual TLS mode) and AuthorizationPolicy (L7
// authorization rules), in their security.istio.io/v1 and v1beta1 forms.
//
// The types mirror the fields of Istio's API that Ward uses, with the same
// JSON names, so that manifests decode as the API server would read them.
// They are written here rather than imported from istio.io/api or
// istio.io/client-go because those are generated protobuf types that need
// the protobuf runtime and gogo JSON helpers to decode: about thirty
// modules for a dozen plain fields. Unknown fields are ignored.
//
// The hardening audit (package mesh) checks these objects; the guard and
// proxy authorization engine evaluates AuthorizationPolicy rules with the
// same types, so that one policy means the same thing everywhere.
package istio
