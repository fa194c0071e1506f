package istio

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Group is the API group of Istio's security objects.
const Group = "security.istio.io"

// Versions are the apiVersions Ward decodes.
var Versions = []string{Group + "/v1", Group + "/v1beta1"}

// TypeMeta is the apiVersion and kind of an object.
type TypeMeta struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
}

// ObjectMeta is the part of a Kubernetes object's metadata Ward uses, with
// the API's JSON names. It is declared here, rather than taken from
// k8s.io/apimachinery, so that this package, which the guard library
// shares, imports nothing from Kubernetes.
type ObjectMeta struct {
	Name        string            `json:"name,omitempty"`
	Namespace   string            `json:"namespace,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Mutual TLS modes of PeerAuthentication.
const (
	ModeUnset      = "UNSET"
	ModeDisable    = "DISABLE"
	ModePermissive = "PERMISSIVE"
	ModeStrict     = "STRICT"
)

// Actions of AuthorizationPolicy. An empty action means ALLOW.
const (
	ActionAllow  = "ALLOW"
	ActionDeny   = "DENY"
	ActionAudit  = "AUDIT"
	ActionCustom = "CUSTOM"
)

// PeerAuthentication sets the mutual TLS mode of the workloads it selects:
// mesh-wide in the root namespace without selector, namespace-wide without
// selector, or per workload.
type PeerAuthentication struct {
	TypeMeta
	ObjectMeta `json:"metadata,omitempty"`
	Spec       PeerAuthenticationSpec `json:"spec"`
}

// PeerAuthenticationSpec is the spec of a PeerAuthentication.
type PeerAuthenticationSpec struct {
	Selector *WorkloadSelector `json:"selector,omitempty"`
	Mtls     *MutualTLS        `json:"mtls,omitempty"`
	// PortLevelMtls overrides the mode per port (keys are port numbers).
	PortLevelMtls map[string]*MutualTLS `json:"portLevelMtls,omitempty"`
}

// WorkloadSelector selects pods by labels in the policy's namespace.
type WorkloadSelector struct {
	MatchLabels map[string]string `json:"matchLabels,omitempty"`
}

// MutualTLS is a mutual TLS mode.
type MutualTLS struct {
	Mode string `json:"mode,omitempty"`
}

// Mode returns the PeerAuthentication's mode, UNSET when it sets none.
func (p *PeerAuthentication) Mode() string {
	if p.Spec.Mtls == nil || p.Spec.Mtls.Mode == "" {
		return ModeUnset
	}
	return p.Spec.Mtls.Mode
}

// AuthorizationPolicy allows, denies or audits requests to the workloads
// it selects.
type AuthorizationPolicy struct {
	TypeMeta
	ObjectMeta `json:"metadata,omitempty"`
	Spec       AuthorizationPolicySpec `json:"spec"`
}

// AuthorizationPolicySpec is the spec of an AuthorizationPolicy.
type AuthorizationPolicySpec struct {
	Selector *WorkloadSelector `json:"selector,omitempty"`
	// TargetRef and TargetRefs bind the policy to a Gateway or Service
	// instead of a selector.
	TargetRef  *PolicyTargetReference  `json:"targetRef,omitempty"`
	TargetRefs []PolicyTargetReference `json:"targetRefs,omitempty"`
	Rules      []Rule                  `json:"rules,omitempty"`
	// Action is ALLOW when empty.
	Action   string    `json:"action,omitempty"`
	Provider *Provider `json:"provider,omitempty"`
}

// PolicyTargetReference names the object a policy applies to.
type PolicyTargetReference struct {
	Group     string `json:"group,omitempty"`
	Kind      string `json:"kind,omitempty"`
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}

// Provider names the external authorizer of a CUSTOM policy.
type Provider struct {
	Name string `json:"name,omitempty"`
}

// Rule matches a request when every non-empty field matches: any From,
// any To and every When.
type Rule struct {
	From []From      `json:"from,omitempty"`
	To   []To        `json:"to,omitempty"`
	When []Condition `json:"when,omitempty"`
}

// From is a set of sources.
type From struct {
	Source Source `json:"source"`
}

// Source matches the peer and request identity. Within a field any value
// matches; fields are ANDed; Not* fields exclude.
type Source struct {
	Principals           []string `json:"principals,omitempty"`
	NotPrincipals        []string `json:"notPrincipals,omitempty"`
	RequestPrincipals    []string `json:"requestPrincipals,omitempty"`
	NotRequestPrincipals []string `json:"notRequestPrincipals,omitempty"`
	Namespaces           []string `json:"namespaces,omitempty"`
	NotNamespaces        []string `json:"notNamespaces,omitempty"`
	IPBlocks             []string `json:"ipBlocks,omitempty"`
	NotIPBlocks          []string `json:"notIpBlocks,omitempty"`
	RemoteIPBlocks       []string `json:"remoteIpBlocks,omitempty"`
	NotRemoteIPBlocks    []string `json:"notRemoteIpBlocks,omitempty"`
	// ServiceAccounts match the peer certificate's Kubernetes service
	// account, "<namespace>/<name>" or "<name>" in the policy's
	// namespace, exactly (no wildcard); not with principals or
	// namespaces (Istio 1.26).
	ServiceAccounts    []string `json:"serviceAccounts,omitempty"`
	NotServiceAccounts []string `json:"notServiceAccounts,omitempty"`
	// TrustDomains match the peer certificate's trust domain, with
	// exact, prefix, suffix and presence values.
	TrustDomains    []string `json:"trustDomains,omitempty"`
	NotTrustDomains []string `json:"notTrustDomains,omitempty"`
}

// To is a set of operations.
type To struct {
	Operation Operation `json:"operation"`
}

// Operation matches the request's host, port, method and path.
type Operation struct {
	Hosts      []string `json:"hosts,omitempty"`
	NotHosts   []string `json:"notHosts,omitempty"`
	Ports      []string `json:"ports,omitempty"`
	NotPorts   []string `json:"notPorts,omitempty"`
	Methods    []string `json:"methods,omitempty"`
	NotMethods []string `json:"notMethods,omitempty"`
	Paths      []string `json:"paths,omitempty"`
	NotPaths   []string `json:"notPaths,omitempty"`
}

// Condition matches a request attribute ("request.headers[x-team]",
// "source.ip", "request.auth.claims[iss]", ...).
type Condition struct {
	Key       string   `json:"key"`
	Values    []string `json:"values,omitempty"`
	NotValues []string `json:"notValues,omitempty"`
}

// DryRunAnnotation set to true ("true", "1", "t"...: strconv.ParseBool)
// makes Istio evaluate a policy and log its decision without enforcing
// it.
const DryRunAnnotation = "istio.io/dry-run"

// DryRun reports whether the policy is only evaluated, never enforced
// (DryRunAnnotation).
func (a *AuthorizationPolicy) DryRun() bool {
	dry, err := strconv.ParseBool(a.Annotations[DryRunAnnotation])
	return err == nil && dry
}

// Action returns the policy's action, ALLOW when it names none.
func (a *AuthorizationPolicy) Action() string {
	if a.Spec.Action == "" {
		return ActionAllow
	}
	return a.Spec.Action
}

// AllowsNothing reports whether a is the "allow-nothing" baseline: an
// ALLOW policy without rules, which denies every request to the workloads
// it selects unless another ALLOW policy matches.
func (a *AuthorizationPolicy) AllowsNothing() bool {
	return a.Action() == ActionAllow && len(a.Spec.Rules) == 0
}

// FieldError is an invalid field, with its path in the object.
type FieldError struct {
	Path string
	Msg  string
}

func (e FieldError) Error() string { return e.Path + ": " + e.Msg }

var modes = []string{ModeUnset, ModeDisable, ModePermissive, ModeStrict}

// Validate checks what the API server's validation would reject and Ward
// relies on: known modes and numeric port keys.
func (p *PeerAuthentication) Validate() []FieldError {
	var errs []FieldError
	if m := p.Spec.Mtls; m != nil && m.Mode != "" && !slices.Contains(modes, m.Mode) {
		errs = append(errs, FieldError{"spec.mtls.mode", fmt.Sprintf("unknown mode %q (want one of UNSET, DISABLE, PERMISSIVE, STRICT)", m.Mode)})
	}
	for _, port := range sortedKeys(p.Spec.PortLevelMtls) {
		path := "spec.portLevelMtls." + port
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			errs = append(errs, FieldError{path, fmt.Sprintf("port %q is not a number from 1 to 65535", port)})
		}
		if m := p.Spec.PortLevelMtls[port]; m != nil && m.Mode != "" && !slices.Contains(modes, m.Mode) {
			errs = append(errs, FieldError{path + ".mode", fmt.Sprintf("unknown mode %q", m.Mode)})
		}
	}
	// Istio takes a selector without labels for none: the policy is then
	// namespace- or mesh-wide, and has no port-level modes.
	if (p.Spec.Selector == nil || len(p.Spec.Selector.MatchLabels) == 0) && len(p.Spec.PortLevelMtls) > 0 {
		errs = append(errs, FieldError{"spec.portLevelMtls", "requires a workload selector with labels"})
	}
	if p.Spec.PortLevelMtls != nil && len(p.Spec.PortLevelMtls) == 0 {
		errs = append(errs, FieldError{"spec.portLevelMtls", "must have at least one port when set"})
	}
	errs = append(errs, p.Spec.Selector.validate()...)
	return errs
}

// validate checks a selector's labels as Istio does: no empty key, no
// wildcard.
func (s *WorkloadSelector) validate() []FieldError {
	if s == nil {
		return nil
	}
	var errs []FieldError
	for _, k := range sortedKeys(s.MatchLabels) {
		switch v := s.MatchLabels[k]; {
		case k == "":
			errs = append(errs, FieldError{"spec.selector.matchLabels", "empty label key"})
		case strings.Contains(k, "*") || strings.Contains(v, "*"):
			errs = append(errs, FieldError{"spec.selector.matchLabels." + k, "wildcards are not supported in selectors"})
		}
	}
	return errs
}

// Validate checks what Istio's validation rejects of the policy as a
// whole: the action, the provider of CUSTOM policies and what they may
// match, rules for DENY and CUSTOM, one of selector, targetRef and
// targetRefs, the selector's labels and the targets' kinds; and, of the
// rules, ports, condition keys and service accounts. (Package guard/authz
// checks the rest of the rules.)
func (a *AuthorizationPolicy) Validate() []FieldError {
	var errs []FieldError
	switch a.Spec.Action {
	case "", ActionAllow, ActionDeny, ActionAudit:
		if a.Spec.Provider != nil {
			errs = append(errs, FieldError{"spec.provider", "only a CUSTOM policy names a provider"})
		}
	case ActionCustom:
		if a.Spec.Provider == nil || a.Spec.Provider.Name == "" {
			errs = append(errs, FieldError{"spec.provider.name", "a CUSTOM policy needs a provider"})
		}
		errs = append(errs, a.customRules()...)
	default:
		errs = append(errs, FieldError{"spec.action", fmt.Sprintf("unknown action %q (want ALLOW, DENY, AUDIT or CUSTOM)", a.Spec.Action)})
	}
	if (a.Spec.Action == ActionDeny || a.Spec.Action == ActionCustom) && len(a.Spec.Rules) == 0 {
		errs = append(errs, FieldError{"spec.rules", fmt.Sprintf("a %s policy without rules never matches; write `rules: [{}]` to match every request", a.Spec.Action)})
	}
	errs = append(errs, a.targets()...)
	for i, r := range a.Spec.Rules {
		for j, from := range r.From {
			errs = append(errs, from.Source.validate(fmt.Sprintf("spec.rules[%d].from[%d].source", i, j))...)
		}
		for j, to := range r.To {
			for field, ports := range map[string][]string{"ports": to.Operation.Ports, "notPorts": to.Operation.NotPorts} {
				for k, p := range ports {
					if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
						errs = append(errs, FieldError{fmt.Sprintf("spec.rules[%d].to[%d].operation.%s[%d]", i, j, field, k), fmt.Sprintf("port %q is not a number from 1 to 65535", p)})
					}
				}
			}
		}
		for j, c := range r.When {
			if c.Key == "" {
				errs = append(errs, FieldError{fmt.Sprintf("spec.rules[%d].when[%d].key", i, j), "required"})
			}
		}
	}
	slices.SortFunc(errs, func(a, b FieldError) int { return strings.Compare(a.Path, b.Path) })
	return errs
}

// targets checks the selector, targetRef and targetRefs as Istio does:
// one of them at most, no empty label key or wildcard in the selector, and
// targets named, in the policy's namespace, of a kind a policy can bind
// to.
func (a *AuthorizationPolicy) targets() []FieldError {
	var errs []FieldError
	set := 0
	if a.Spec.Selector != nil {
		set++
	}
	if a.Spec.TargetRef != nil {
		set++
	}
	if len(a.Spec.TargetRefs) > 0 {
		set++
	}
	if set > 1 {
		errs = append(errs, FieldError{"spec", "only one of selector, targetRef or targetRefs can be set"})
	}
	errs = append(errs, a.Spec.Selector.validate()...)
	if r := a.Spec.TargetRef; r != nil {
		errs = append(errs, r.validate("spec.targetRef")...)
	}
	for i := range a.Spec.TargetRefs {
		errs = append(errs, a.Spec.TargetRefs[i].validate(fmt.Sprintf("spec.targetRefs[%d]", i))...)
	}
	return errs
}

// targetKinds are the kinds, by group ("" for the core group), a policy's
// targetRef may name.
var targetKinds = map[[2]string]bool{
	{"", "Service"}: true, {"networking.istio.io", "ServiceEntry"}: true,
	{"gateway.networking.k8s.io", "Gateway"}: true, {"gateway.networking.k8s.io", "GatewayClass"}: true,
}

func (r *PolicyTargetReference) validate(path string) []FieldError {
	var errs []FieldError
	if r.Name == "" {
		errs = append(errs, FieldError{path + ".name", "required"})
	}
	if r.Namespace != "" {
		errs = append(errs, FieldError{path + ".namespace", "must not be set: a policy cannot name a target in another namespace"})
	}
	group := r.Group
	if group == "core" {
		group = ""
	}
	if !targetKinds[[2]string{group, r.Kind}] {
		errs = append(errs, FieldError{path + ".kind", fmt.Sprintf("%s/%s is not a target a policy binds to (Service, networking.istio.io/ServiceEntry, gateway.networking.k8s.io/Gateway or GatewayClass)", r.Group, r.Kind)})
	}
	return errs
}

// customRules reports what a CUSTOM policy's rules cannot match on, as
// Istio rejects it: the peer's and the request's identity.
func (a *AuthorizationPolicy) customRules() []FieldError {
	var errs []FieldError
	for i, r := range a.Spec.Rules {
		for j, from := range r.From {
			s := from.Source
			for _, f := range []struct {
				name string
				set  bool
			}{
				{"namespaces", len(s.Namespaces) > 0}, {"notNamespaces", len(s.NotNamespaces) > 0},
				{"serviceAccounts", len(s.ServiceAccounts) > 0}, {"notServiceAccounts", len(s.NotServiceAccounts) > 0},
				{"principals", len(s.Principals) > 0}, {"notPrincipals", len(s.NotPrincipals) > 0},
				{"requestPrincipals", len(s.RequestPrincipals) > 0}, {"notRequestPrincipals", len(s.NotRequestPrincipals) > 0},
			} {
				if f.set {
					errs = append(errs, FieldError{fmt.Sprintf("spec.rules[%d].from[%d].source.%s", i, j, f.name), "not supported with the CUSTOM action"})
				}
			}
		}
		for j, c := range r.When {
			switch {
			case c.Key == "source.namespace", c.Key == "source.serviceAccount", c.Key == "source.principal", strings.HasPrefix(c.Key, "request.auth."):
				errs = append(errs, FieldError{fmt.Sprintf("spec.rules[%d].when[%d].key", i, j), fmt.Sprintf("%s is not supported with the CUSTOM action", c.Key)})
			}
		}
	}
	return errs
}

// validate checks the service accounts as Istio's CRD schema does: at
// most 16 of at most 320 characters each, "<namespace>/<name>" or
// "<name>" without a wildcard, and not beside principals or namespaces.
func (s *Source) validate(path string) []FieldError {
	var errs []FieldError
	for field, sas := range map[string][]string{"serviceAccounts": s.ServiceAccounts, "notServiceAccounts": s.NotServiceAccounts} {
		if len(sas) > 16 {
			errs = append(errs, FieldError{path + "." + field, fmt.Sprintf("%d service accounts: at most 16", len(sas))})
		}
		for k, sa := range sas {
			ns, name, two := strings.Cut(sa, "/")
			switch {
			case len(sa) > 320:
				errs = append(errs, FieldError{fmt.Sprintf("%s.%s[%d]", path, field, k), "longer than 320 characters"})
			case strings.Contains(sa, "*"):
				errs = append(errs, FieldError{fmt.Sprintf("%s.%s[%d]", path, field, k), fmt.Sprintf("%q: no wildcard is allowed in a service account", sa)})
			case sa == "" || two && (ns == "" || name == "" || strings.Contains(name, "/")):
				errs = append(errs, FieldError{fmt.Sprintf("%s.%s[%d]", path, field, k), fmt.Sprintf("%q is not <namespace>/<name> or <name>", sa)})
			}
		}
	}
	if (len(s.ServiceAccounts) > 0 || len(s.NotServiceAccounts) > 0) &&
		(len(s.Principals) > 0 || len(s.NotPrincipals) > 0 || len(s.Namespaces) > 0 || len(s.NotNamespaces) > 0) {
		errs = append(errs, FieldError{path, "serviceAccounts cannot be set with principals or namespaces"})
	}
	return errs
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
