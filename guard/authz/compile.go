package authz

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/textproto"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/wardsec/ward/istio"
)

// DefaultRootNamespace is Istio's default root namespace, whose policies
// apply to the whole mesh.
const DefaultRootNamespace = "istio-system"

// DryRunAnnotation set to "true" makes Istio evaluate a policy without
// enforcing it; Compile leaves such policies out, with a Warning.
const DryRunAnnotation = "istio.io/dry-run"

// Kinds of policy errors, for errors.Is.
var (
	// ErrInvalid is a policy that Istio's validation would reject.
	ErrInvalid = errors.New("invalid policy")
	// ErrCustom is a CUSTOM policy.
	ErrCustom = errors.New("CUSTOM needs an external authorizer, which ward does not call")
	// ErrUnsupported is a valid Istio policy using a feature ward does not
	// implement (Envoy metadata conditions, for instance). Refusing it is
	// safer than enforcing part of it.
	ErrUnsupported = errors.New("unsupported by ward")
	// ErrNoneApply is no policies at all, or policies of which none
	// applies to the Workload given (another namespace, selectors of
	// labels it lacks): the engine would allow every request, which is
	// what an empty policy file, or a Workload left out or mistyped,
	// gave.
	ErrNoneApply = errors.New("no policy applies to the workload")
)

// PolicyError is a policy that ward cannot enforce as written.
type PolicyError struct {
	Policy string // "namespace/name"
	Path   string // the field, like "spec.rules[0].when[1].key"
	Msg    string
	Err    error // ErrInvalid, ErrCustom or ErrUnsupported
}

func (e *PolicyError) Error() string {
	s := "policy " + e.Policy + ": "
	if e.Path != "" {
		s += e.Path + ": "
	}
	return s + e.Msg
}

func (e *PolicyError) Unwrap() error { return e.Err }

// Warning is a policy ward accepted but will not enforce the way its
// author may expect.
type Warning struct {
	Policy  string // "namespace/name"
	Message string
}

func (w Warning) String() string { return "policy " + w.Policy + ": " + w.Message }

// Workload is the workload a proxy or service fronts, which selects the
// policies that apply to it.
type Workload struct {
	// Namespace is the workload's namespace, "default" when empty.
	Namespace string
	// Labels are the workload's pod labels.
	Labels map[string]string
}

// Options tune Compile. The zero value is Istio's defaults.
type Options struct {
	// RootNamespace is the mesh's root namespace; DefaultRootNamespace
	// when empty.
	RootNamespace string
	// FormBodiesUnread declares that nothing behind Handler takes a
	// request's method or bearer token from its form body: no method
	// override that reads a "_method" field (gorilla/handlers'
	// HTTPMethodOverrideHandler, Buffalo's, Echo's MethodOverride with
	// MethodFromForm) runs after Handler (there is none, or it runs
	// before, and Handler decides on the method it set), and nothing
	// reads an "access_token" field (go-oauth2's BearerAuth). Handler
	// then leaves form bodies unread. Without it, Handler reads a form
	// body (up to MaxFormBody) for those fields when policies read the
	// method or the JWT (see Handler).
	FormBodiesUnread bool
}

// Engine is a compiled, immutable set of the policies that apply to one
// workload. It is safe for concurrent use.
type Engine struct {
	// compiled is set by Compile: the zero Engine, which holds no
	// policy, denies every request rather than allowing it as an
	// engine compiled from no ALLOW policy would.
	compiled           bool
	deny, allow, audit []*policy
	selected           []string
	warnings           []Warning
	// hostRules is set when a DENY or ALLOW policy matches hosts or
	// notHosts, or the Host header in a condition, which compare the
	// Host case-insensitively and without a trailing dot (see Handler).
	hostRules bool
	// tokenRules and peerRules are set when a DENY or ALLOW policy reads
	// the verified JWT (request principals, claims, audiences,
	// presenter) or the peer's SPIFFE ID (principals, namespaces), which
	// Handler's enrich function must fill in.
	tokenRules, peerRules bool
	// claimRules, audienceRules and presenterRules are set when a DENY
	// or ALLOW policy reads the token's claims, audiences or presenter,
	// which Decide reads from Request.Claims unless enrich set Audiences
	// or Presenter.
	claimRules, audienceRules, presenterRules bool
	// remoteRules is set when a DENY or ALLOW policy reads the client
	// address behind trusted proxies (remoteIpBlocks, remote.ip).
	remoteRules bool
	// sourceRules is set when a DENY or ALLOW policy reads the peer
	// address (ipBlocks, source.ip): Handler refuses a request without.
	sourceRules bool
	// sniRules is set when a DENY or ALLOW policy reads connection.sni:
	// Handler refuses a request whose Host is not the server name.
	sniRules bool
	// ruleNames are the audit log's rule labels of the selected
	// policies, "authz/<namespace>/<name>", built once.
	ruleNames map[string]string
	// headerRules are the canonical names of the request headers that a
	// DENY or ALLOW policy reads (request.headers[...]), Host and the
	// pseudo-headers aside: Handler refuses a request that repeats one.
	headerRules []string
	// methodRules is set when a DENY or ALLOW policy reads the method
	// (methods, notMethods, request.headers[:method]): Handler decides a
	// POST as the method an override names too, and reads form bodies
	// for "_method" unless formBodiesUnread.
	methodRules      bool
	formBodiesUnread bool
	// overrideMethods are methods such that every method decides as one
	// of them: the exact values of the policies' methods, the
	// registered methods, and one named nowhere. Handler need not read a
	// form body for "_method" when the request is allowed as each; nil
	// when a policy matches methods by prefix or suffix.
	overrideMethods []string
}

// Compile compiles the policies that apply to w, with the default Options.
func Compile(policies []*istio.AuthorizationPolicy, w Workload) (*Engine, error) {
	return Options{}.Compile(policies, w)
}

// Compile checks every policy and compiles those that apply to w, the way
// Istio selects them for a sidecar:
//
//   - a policy in the root namespace applies to every workload of the
//     mesh, or with a selector to every workload whose labels include the
//     selector's matchLabels, in any namespace;
//   - a policy in w's namespace applies to w, or with a selector when w's
//     labels include its matchLabels;
//   - a policy without a namespace is taken to be in w's namespace, as if
//     applied with `kubectl apply -n` for the workload;
//   - a policy with targetRef or targetRefs binds to a Gateway or a
//     Service's waypoint, which a sidecar does not enforce: it is left
//     out, with a Warning, since a DENY policy left out lets requests
//     through;
//   - a policy annotated istio.io/dry-run: "true" is not enforced by
//     Istio: it is left out too, with a Warning.
//
// Any invalid, CUSTOM or unsupported policy fails the whole compilation,
// selected or not: errors.Join of *PolicyError. No policies at all (Load
// of an empty file, or of one holding other kinds) fail it with
// ErrNoneApply, and so do policies of which none applies to w (none
// selected, none left out as dry-run): the engine would allow every
// request, which is what a Workload left out (namespace "default", no labels) gave for
// policies written for namespace shop. Policies that select some
// workloads and not w are still left out without a word when another
// applies.
func (o Options) Compile(policies []*istio.AuthorizationPolicy, w Workload) (*Engine, error) {
	root := o.RootNamespace
	if root == "" {
		root = DefaultRootNamespace
	}
	wns := w.Namespace
	if wns == "" {
		wns = "default"
	}
	if len(policies) == 0 {
		// Istio allows every request to a workload no policy
		// selects, but a service that wraps its handler in an
		// engine means to authorize: no policies here is an empty or
		// truncated file, a directory that held none, documents of
		// another kind, and would allow everything without a word.
		return nil, fmt.Errorf("authz: %w: no policies given, and an engine without policies allows every request (an empty or truncated file, or documents of other kinds); leave authz out to run without authorization", ErrNoneApply)
	}
	e := &Engine{compiled: true}
	var errs []error
	seen := map[string]bool{}
	dryRun := false // a policy applies but is not enforced
	var elsewhere []string
	for i, p := range policies {
		if p == nil {
			errs = append(errs, &PolicyError{Policy: fmt.Sprintf("#%d", i), Msg: "nil policy", Err: ErrInvalid})
			continue
		}
		ns := p.Namespace
		if ns == "" {
			ns = wns
		}
		name := ns + "/" + p.Name
		if seen[name] {
			errs = append(errs, &PolicyError{Policy: name, Msg: "defined twice", Err: ErrInvalid})
			continue
		}
		seen[name] = true
		cp, problems, warnings := compilePolicy(p, name)
		for _, pr := range problems {
			errs = append(errs, pr)
		}
		if len(problems) > 0 {
			continue
		}
		if ns != root && ns != wns {
			elsewhere = append(elsewhere, name)
			continue
		}
		if p.Spec.TargetRef != nil || len(p.Spec.TargetRefs) > 0 {
			e.warnings = append(e.warnings, Warning{name, "targetRef binds the policy to a Gateway or waypoint, not to a workload; ward does not enforce it"})
			continue
		}
		if sel := p.Spec.Selector; sel != nil && !subset(sel.MatchLabels, w.Labels) {
			elsewhere = append(elsewhere, name+" (selector)")
			continue
		}
		for _, m := range warnings {
			e.warnings = append(e.warnings, Warning{name, m})
		}
		if dry, err := strconv.ParseBool(p.Annotations[DryRunAnnotation]); err == nil && dry {
			e.warnings = append(e.warnings, Warning{name, DryRunAnnotation + " is set: the policy is not enforced"})
			dryRun = true
			continue
		}
		e.selected = append(e.selected, name)
		switch cp.action {
		case istio.ActionDeny:
			e.deny = append(e.deny, cp)
		case istio.ActionAudit:
			e.audit = append(e.audit, cp)
		default:
			e.allow = append(e.allow, cp)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(policies) > 0 && len(e.selected) == 0 && !dryRun {
		labels := make([]string, 0, len(w.Labels))
		for k, v := range w.Labels {
			labels = append(labels, k+"="+v)
		}
		slices.Sort(labels)
		if len(elsewhere) > 5 {
			elsewhere = append(elsewhere[:5], "...")
		}
		return nil, fmt.Errorf("authz: %w (namespace %q, labels {%s}): %d policies, none for it: %s",
			ErrNoneApply, wns, strings.Join(labels, ", "), len(policies), strings.Join(elsewhere, ", "))
	}
	byName := func(a, b *policy) int { return strings.Compare(a.name, b.name) }
	slices.SortFunc(e.deny, byName)
	slices.SortFunc(e.allow, byName)
	slices.SortFunc(e.audit, byName)
	slices.Sort(e.selected)
	e.ruleNames = make(map[string]string, len(e.selected))
	for _, name := range e.selected {
		e.ruleNames[name] = "authz/" + name
	}
	uses := func(attrs ...attr) bool { return usesAttr(e.deny, attrs) || usesAttr(e.allow, attrs) }
	e.hostRules = uses(attrHost)
	e.tokenRules = uses(attrRequestPrincipal, attrClaim, attrAudiences, attrPresenter)
	e.peerRules = uses(attrPrincipal, attrNamespace, attrServiceAccount, attrTrustDomain)
	e.claimRules, e.audienceRules, e.presenterRules = uses(attrClaim), uses(attrAudiences), uses(attrPresenter)
	e.remoteRules = uses(attrRemoteIP)
	e.sourceRules = uses(attrSourceIP)
	e.sniRules = uses(attrSNI)
	e.headerRules = headersRead(e.deny, e.allow)
	e.methodRules = uses(attrMethod) || usesHeader(":method", e.deny, e.allow)
	e.formBodiesUnread = o.FormBodiesUnread
	if e.methodRules {
		e.overrideMethods = methodsNamed(e.deny, e.allow)
	}
	slices.SortStableFunc(e.warnings, func(a, b Warning) int { return strings.Compare(a.Policy, b.Policy) })
	return e, nil
}

// usesAttr reports whether a rule of ps has a criterion on one of attrs.
func usesAttr(ps []*policy, attrs []attr) bool {
	in := func(cs []criterion) bool {
		for i := range cs {
			if slices.Contains(attrs, cs[i].attr) {
				return true
			}
		}
		return false
	}
	for _, p := range ps {
		for i := range p.rules {
			r := &p.rules[i]
			if in(r.when) || slices.ContainsFunc(r.from, in) || slices.ContainsFunc(r.to, in) {
				return true
			}
		}
	}
	return false
}

// usesHeader reports whether a rule of ps reads request.headers[name]
// (name as headerKey gives it).
func usesHeader(name string, ps ...[]*policy) bool {
	in := func(cs []criterion) bool {
		return slices.ContainsFunc(cs, func(c criterion) bool { return c.attr == attrHeader && c.header == name })
	}
	for _, pp := range ps {
		for _, p := range pp {
			for i := range p.rules {
				r := &p.rules[i]
				if in(r.when) || slices.ContainsFunc(r.from, in) || slices.ContainsFunc(r.to, in) {
					return true
				}
			}
		}
	}
	return false
}

// methodsNamed returns methods such that any method is decided as one of
// them is: the registered methods, the exact values that the rules of ps
// match methods with (methods, notMethods, request.headers[:method]),
// and a method none names, which stands for every other; nil when a rule
// matches methods with a prefix or suffix pattern.
func methodsNamed(ps ...[]*policy) []string {
	names := []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodTrace, http.MethodConnect}
	ok := true
	add := func(cs []criterion) {
		for i := range cs {
			c := &cs[i]
			if c.attr != attrMethod && (c.attr != attrHeader || c.header != ":method") {
				continue
			}
			for _, pats := range [][]pattern{c.in, c.notIn} {
				for _, pt := range pats {
					switch pt.kind {
					case patExact:
						names = append(names, pt.s)
					case patPresent:
					default:
						ok = false
					}
				}
			}
		}
	}
	for _, pp := range ps {
		for _, p := range pp {
			for i := range p.rules {
				r := &p.rules[i]
				add(r.when)
				for _, cs := range r.from {
					add(cs)
				}
				for _, cs := range r.to {
					add(cs)
				}
			}
		}
	}
	if !ok {
		return nil
	}
	other := "UNNAMED"
	for slices.Contains(names, other) {
		other += "-"
	}
	names = append(names, other)
	slices.Sort(names)
	return slices.Compact(names)
}

// headersRead returns the sorted canonical names of the headers that
// rules of ps read, but Host and the pseudo-headers.
func headersRead(ps ...[]*policy) []string {
	var names []string
	add := func(cs []criterion) {
		for i := range cs {
			if h := cs[i].header; cs[i].attr == attrHeader && h != "Host" && !strings.HasPrefix(h, ":") {
				names = append(names, h)
			}
		}
	}
	for _, pp := range ps {
		for _, p := range pp {
			for i := range p.rules {
				r := &p.rules[i]
				add(r.when)
				for _, cs := range r.from {
					add(cs)
				}
				for _, cs := range r.to {
					add(cs)
				}
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// HeadersRead returns the canonical names of the request headers that
// the DENY and ALLOW policies read (request.headers[...]), sorted, but
// Host and pseudo-headers. A caller that forwards the request should
// refuse one that sends such a header on more than one line, as Handler
// does (ErrRepeatedHeader): Decide matches the lines joined with ",",
// upstreams mostly read the first.
func (e *Engine) HeadersRead() []string { return slices.Clone(e.headerRules) }

// Policies returns the "namespace/name" of the policies that apply to the
// workload, sorted.
func (e *Engine) Policies() []string { return slices.Clone(e.selected) }

// Warnings returns the warnings of compilation: policies left out because
// of targetRef, and values that can never match.
func (e *Engine) Warnings() []Warning { return slices.Clone(e.warnings) }

func subset(sel, labels map[string]string) bool {
	for k, v := range sel {
		if lv, ok := labels[k]; !ok || lv != v {
			return false
		}
	}
	return true
}

// policy is a compiled AuthorizationPolicy.
type policy struct {
	name   string // namespace/name
	action string
	rules  []rule
}

func (p *policy) match(v *view) (ruleIndex, from, to int, ok bool) {
	for i := range p.rules {
		if f, t, ok := p.rules[i].match(v); ok {
			return i, f, t, true
		}
	}
	return -1, -1, -1, false
}

// rule is a compiled rule: some source, some operation and every
// condition must match; an absent list matches.
type rule struct {
	from    [][]criterion
	to      [][]criterion
	when    []criterion
	reasons []string // by from index * max(1, len(to)) + to index
	generic string   // when there are too many combinations to spell
}

func all(cs []criterion, v *view) bool {
	for i := range cs {
		if !cs[i].match(v) {
			return false
		}
	}
	return true
}

func (r *rule) match(v *view) (from, to int, ok bool) {
	from = -1
	if len(r.from) == 0 {
		from = 0
	}
	for i := range r.from {
		if all(r.from[i], v) {
			from = i
			break
		}
	}
	if from < 0 {
		return -1, -1, false
	}
	to = -1
	if len(r.to) == 0 {
		to = 0
	}
	for i := range r.to {
		if all(r.to[i], v) {
			to = i
			break
		}
	}
	if to < 0 || !all(r.when, v) {
		return -1, -1, false
	}
	return from, to, true
}

func (r *rule) reason(from, to int) string {
	if r.reasons == nil {
		return r.generic
	}
	return r.reasons[from*max(1, len(r.to))+to]
}

// maxReasons bounds the reasons spelled out per rule.
const maxReasons = 64

// describe writes the reason of a match of rule i by from[f] and to[t]
// (f or t is -1 for "some").
func describe(action, name string, i int, r *rule, f, t int) string {
	var parts []string
	names := func(cs []criterion) string {
		var ns []string
		for _, c := range cs {
			ns = append(ns, c.name)
		}
		return strings.Join(ns, ", ")
	}
	idx := func(n int) string {
		if n < 0 {
			return "*"
		}
		return strconv.Itoa(n)
	}
	if len(r.from) > 0 {
		s := "from[" + idx(f) + "]"
		if f >= 0 {
			s += " " + names(r.from[f])
		}
		parts = append(parts, s)
	}
	if len(r.to) > 0 {
		s := "to[" + idx(t) + "]"
		if t >= 0 {
			s += " " + names(r.to[t])
		}
		parts = append(parts, s)
	}
	if len(r.when) > 0 {
		parts = append(parts, "when "+names(r.when))
	}
	what := "empty rule matches every request"
	if len(parts) > 0 {
		what = strings.Join(parts, "; ")
	}
	return fmt.Sprintf("%s %s rule %d: %s", action, name, i, what)
}

// Validate reports what Istio's validation rejects in p, as Compile
// reports it (errors matching ErrInvalid), CUSTOM policies included; not
// what Compile refuses as unsupported by ward. A policy without a
// namespace takes default's.
func Validate(p *istio.AuthorizationPolicy) []*PolicyError {
	ns := p.Namespace
	if ns == "" {
		ns = "default"
	}
	c := &compiler{name: ns + "/" + p.Name, ns: ns, action: p.Action()}
	for _, fe := range p.Validate() {
		c.invalid(fe.Path, fe.Msg)
	}
	for i := range p.Spec.Rules {
		c.rule(fmt.Sprintf("spec.rules[%d]", i), &p.Spec.Rules[i])
	}
	var out []*PolicyError
	seen := map[[2]string]bool{}
	for _, pr := range c.problems {
		if k := [2]string{pr.Path, pr.Msg}; errors.Is(pr.Err, ErrInvalid) && !seen[k] {
			seen[k] = true
			out = append(out, pr)
		}
	}
	return out
}

// compilePolicy checks p like Istio's validation webhook (and ward's own
// limits) and compiles it. name is "namespace/name" for messages.
func compilePolicy(p *istio.AuthorizationPolicy, name string) (*policy, []*PolicyError, []string) {
	c := &compiler{name: name, ns: p.Namespace, action: p.Action()}
	for _, fe := range p.Validate() {
		c.invalid(fe.Path, fe.Msg)
	}
	action := p.Action()
	if action == istio.ActionCustom {
		c.problems = append(c.problems, &PolicyError{Policy: name, Path: "spec.action", Msg: ErrCustom.Error(), Err: ErrCustom})
		return nil, c.problems, nil
	}
	spec := &p.Spec
	cp := &policy{name: name, action: action}
	for i := range spec.Rules {
		cp.rules = append(cp.rules, c.rule(fmt.Sprintf("spec.rules[%d]", i), &spec.Rules[i]))
	}
	if len(c.problems) > 0 {
		return nil, c.problems, nil
	}
	for i := range cp.rules {
		r := &cp.rules[i]
		nf, nt := max(1, len(r.from)), max(1, len(r.to))
		if nf*nt > maxReasons {
			r.generic = describe(action, name, i, r, -1, -1)
			continue
		}
		for f := range nf {
			for t := range nt {
				ff, tt := f, t
				if len(r.from) == 0 {
					ff = -1
				}
				if len(r.to) == 0 {
					tt = -1
				}
				r.reasons = append(r.reasons, describe(action, name, i, r, ff, tt))
			}
		}
	}
	return cp, nil, c.warnings
}

type compiler struct {
	name     string
	ns       string // the policy's namespace
	action   string
	problems []*PolicyError
	warnings []string
}

func (c *compiler) invalid(path, msg string) {
	c.problems = append(c.problems, &PolicyError{Policy: c.name, Path: path, Msg: msg, Err: ErrInvalid})
}

func (c *compiler) unsupported(path, msg string) {
	c.problems = append(c.problems, &PolicyError{Policy: c.name, Path: path, Msg: msg, Err: ErrUnsupported})
}

// widen sets cr's wide lists: its values that deny (in a DENY policy)
// or exclude (notX in an ALLOW policy), which may match more readings of
// the request than Istio's one (see criterion).
func (c *compiler) widen(cr *criterion) {
	cr.wideIn = c.action == istio.ActionDeny
	cr.wideNotIn = c.action == istio.ActionAllow
}

func (c *compiler) warn(path, msg string) {
	c.warnings = append(c.warnings, path+": "+msg)
}

func (c *compiler) rule(path string, r *istio.Rule) rule {
	var out rule
	if r.From != nil && len(r.From) == 0 {
		c.invalid(path+".from", "must not be empty (leave it out to match any source)")
	}
	for j := range r.From {
		out.from = append(out.from, c.source(fmt.Sprintf("%s.from[%d].source", path, j), &r.From[j].Source))
	}
	if r.To != nil && len(r.To) == 0 {
		c.invalid(path+".to", "must not be empty (leave it out to match any operation)")
	}
	for j := range r.To {
		out.to = append(out.to, c.operation(fmt.Sprintf("%s.to[%d].operation", path, j), &r.To[j].Operation))
	}
	for j := range r.When {
		if cr, ok := c.condition(fmt.Sprintf("%s.when[%d]", path, j), &r.When[j]); ok {
			out.when = append(out.when, cr)
		}
	}
	return out
}

// nonEmpty reports empty strings among values, which Istio rejects.
func (c *compiler) nonEmpty(path string, values []string) bool {
	ok := true
	for k, v := range values {
		if v == "" {
			c.invalid(fmt.Sprintf("%s[%d]", path, k), "empty value")
			ok = false
		}
	}
	return ok
}

// field names a criterion after the fields that set it.
func field(in, notIn []string, inName, notName string) string {
	switch {
	case len(in) > 0 && len(notIn) > 0:
		return inName + ", " + notName
	case len(in) > 0:
		return inName
	}
	return notName
}

func (c *compiler) patterns(path string, a attr, in, notIn []string, inName, notName string) (criterion, bool) {
	cr := criterion{attr: a, name: field(in, notIn, inName, notName)}
	if len(in) == 0 && len(notIn) == 0 {
		return cr, false
	}
	c.nonEmpty(path+"."+inName, in)
	c.nonEmpty(path+"."+notName, notIn)
	for _, v := range in {
		cr.in = append(cr.in, compilePattern(v))
	}
	for _, v := range notIn {
		cr.notIn = append(cr.notIn, compilePattern(v))
	}
	return cr, true
}

func (c *compiler) source(path string, s *istio.Source) []criterion {
	var out []criterion
	if cr, ok := c.ips(path, attrSourceIP, s.IPBlocks, s.NotIPBlocks, "ipBlocks", "notIpBlocks"); ok {
		out = append(out, cr)
	}
	if cr, ok := c.ips(path, attrRemoteIP, s.RemoteIPBlocks, s.NotRemoteIPBlocks, "remoteIpBlocks", "notRemoteIpBlocks"); ok {
		out = append(out, cr)
	}
	if cr, ok := c.patterns(path, attrPrincipal, s.Principals, s.NotPrincipals, "principals", "notPrincipals"); ok {
		for _, v := range slices.Concat(s.Principals, s.NotPrincipals) {
			if strings.HasPrefix(v, "spiffe://") {
				c.warn(path, fmt.Sprintf("principal %q never matches: principals are written without \"spiffe://\"", v))
			}
		}
		out = append(out, cr)
	}
	if cr, ok := c.patterns(path, attrNamespace, s.Namespaces, s.NotNamespaces, "namespaces", "notNamespaces"); ok {
		c.widen(&cr)
		out = append(out, cr)
	}
	if len(s.ServiceAccounts) > 0 || len(s.NotServiceAccounts) > 0 {
		cr := criterion{attr: attrServiceAccount, name: field(s.ServiceAccounts, s.NotServiceAccounts, "serviceAccounts", "notServiceAccounts")}
		c.nonEmpty(path+".serviceAccounts", s.ServiceAccounts)
		c.nonEmpty(path+".notServiceAccounts", s.NotServiceAccounts)
		for _, v := range slices.Concat(s.ServiceAccounts, s.NotServiceAccounts) {
			if !strings.Contains(v, "/") && c.ns == "" {
				c.invalid(path, fmt.Sprintf("service account %q has no namespace and the policy none to lend it: write <namespace>/%s", v, v))
			}
		}
		for _, v := range s.ServiceAccounts {
			cr.saIn = append(cr.saIn, serviceAccountRegexp(c.ns, v))
		}
		for _, v := range s.NotServiceAccounts {
			cr.saNotIn = append(cr.saNotIn, serviceAccountRegexp(c.ns, v))
		}
		out = append(out, cr)
	}
	if cr, ok := c.patterns(path, attrTrustDomain, s.TrustDomains, s.NotTrustDomains, "trustDomains", "notTrustDomains"); ok {
		out = append(out, cr)
	}
	if cr, ok := c.requestPrincipals(path, s.RequestPrincipals, s.NotRequestPrincipals, "requestPrincipals", "notRequestPrincipals"); ok {
		out = append(out, cr)
	}
	if len(out) == 0 {
		c.invalid(path, "must not be empty")
	}
	return out
}

func (c *compiler) requestPrincipals(path string, in, notIn []string, inName, notName string) (criterion, bool) {
	cr := criterion{attr: attrRequestPrincipal, name: field(in, notIn, inName, notName)}
	if len(in) == 0 && len(notIn) == 0 {
		return cr, false
	}
	c.nonEmpty(path+"."+inName, in)
	c.nonEmpty(path+"."+notName, notIn)
	// Values that deny or exclude also match the principal whole (see
	// rpPattern); values that allow, and a DENY's exclusions, keep
	// Istio's split.
	for _, v := range in {
		p := compileRequestPrincipal(v)
		if c.action == istio.ActionDeny {
			p.widen(v)
		}
		cr.rpIn = append(cr.rpIn, p)
	}
	for _, v := range notIn {
		p := compileRequestPrincipal(v)
		if c.action == istio.ActionAllow {
			p.widen(v)
		}
		cr.rpNotIn = append(cr.rpNotIn, p)
	}
	return cr, true
}

func (c *compiler) ips(path string, a attr, in, notIn []string, inName, notName string) (criterion, bool) {
	cr := criterion{attr: a, name: field(in, notIn, inName, notName)}
	if len(in) == 0 && len(notIn) == 0 {
		return cr, false
	}
	cr.ipIn = c.prefixes(path+"."+inName, in)
	cr.ipNotIn = c.prefixes(path+"."+notName, notIn)
	return cr, true
}

// prefixes parses single IPs and CIDRs, with IPv4-mapped IPv6 ones turned
// into IPv4, as requests' addresses are.
func (c *compiler) prefixes(path string, values []string) []netip.Prefix {
	var out []netip.Prefix
	for k, v := range values {
		var p netip.Prefix
		var err error
		if strings.Contains(v, "/") {
			p, err = netip.ParsePrefix(v)
		} else {
			var a netip.Addr
			a, err = netip.ParseAddr(v)
			if err == nil && a.Zone() != "" {
				err = errors.New("zone not allowed")
			}
			if err == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil {
			c.invalid(fmt.Sprintf("%s[%d]", path, k), fmt.Sprintf("bad IP address or CIDR %q", v))
			continue
		}
		p = p.Masked()
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		out = append(out, p)
	}
	return out
}

func (c *compiler) ports(path string, in, notIn []string, inName, notName string) (criterion, bool) {
	cr := criterion{attr: attrPort, name: field(in, notIn, inName, notName)}
	if len(in) == 0 && len(notIn) == 0 {
		return cr, false
	}
	parse := func(p string, values []string) []int {
		var out []int
		for k, v := range values {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 65535 {
				c.invalid(fmt.Sprintf("%s[%d]", p, k), fmt.Sprintf("port %q is not a number from 1 to 65535", v))
				continue
			}
			out = append(out, n)
		}
		return out
	}
	cr.portIn = parse(path+"."+inName, in)
	cr.portNotIn = parse(path+"."+notName, notIn)
	return cr, true
}

func (c *compiler) operation(path string, o *istio.Operation) []criterion {
	var out []criterion
	if cr, ok := c.ports(path, o.Ports, o.NotPorts, "ports", "notPorts"); ok {
		out = append(out, cr)
	}
	if cr, ok := c.patterns(path, attrMethod, o.Methods, o.NotMethods, "methods", "notMethods"); ok {
		for _, m := range slices.Concat(o.Methods, o.NotMethods) {
			if m != strings.ToUpper(m) {
				c.warn(path, fmt.Sprintf("method %q is not upper case: methods are case-sensitive", m))
			}
		}
		// Methods match exactly (Istio), but net/http's ServeMux,
		// Rails, Express and most frameworks answer HEAD with the GET
		// handler: a DENY of GET alone, or an ALLOW of every method but
		// GET, lets the GET handler run for HEAD.
		switch {
		case c.action == istio.ActionDeny && slices.Contains(o.Methods, "GET") && !slices.Contains(o.Methods, "HEAD"):
			c.warn(path+".methods", "GET is denied but not HEAD, which most frameworks answer with the GET handler: list HEAD too")
		case c.action == istio.ActionAllow && slices.Contains(o.NotMethods, "GET") && !slices.Contains(o.NotMethods, "HEAD"):
			c.warn(path+".notMethods", "GET is excluded but not HEAD, which most frameworks answer with the GET handler: list HEAD too")
		}
		out = append(out, cr)
	}
	if cr, ok := c.patterns(path, attrPath, o.Paths, o.NotPaths, "paths", "notPaths"); ok {
		cr.in = c.paths(path+".paths", o.Paths, cr.in)
		cr.notIn = c.paths(path+".notPaths", o.NotPaths, cr.notIn)
		out = append(out, cr)
	}
	if cr, ok := c.patterns(path, attrHost, o.Hosts, o.NotHosts, "hosts", "notHosts"); ok {
		// A value with a port matches only a Host with one (Istio's
		// "example.com:*" included); clients send most Hosts without
		// one, so a DENY of it alone, or an ALLOW of every host but it,
		// leaves the host without a port to the upstream.
		switch {
		case c.action == istio.ActionDeny:
			c.warnPortOnly(path+".hosts", o.Hosts, "denied")
		case c.action == istio.ActionAllow:
			c.warnPortOnly(path+".notHosts", o.NotHosts, "excluded")
		}
		hostPatterns(&cr)
		out = append(out, cr)
	}
	if len(out) == 0 {
		c.invalid(path, "must not be empty")
	}
	return out
}

// hostPatterns makes cr's patterns compare the Host as hosts values do:
// in lower case, and with the port only when the value names one.
func hostPatterns(cr *criterion) {
	for _, ps := range [][]pattern{cr.in, cr.notIn} {
		for i := range ps {
			ps[i].s = strings.ToLower(ps[i].s)
			ps[i].withPort = hasPort(ps[i].s)
		}
	}
}

// warnPortOnly warns about each host value of values with a port whose
// host name is not listed without one.
func (c *compiler) warnPortOnly(path string, values []string, verb string) {
	for _, v := range values {
		lv := strings.ToLower(strings.TrimSuffix(v, "*"))
		if !hasPort(lv) {
			continue
		}
		name := lv[:strings.LastIndexByte(lv, ':')]
		if !slices.ContainsFunc(values, func(w string) bool { return strings.EqualFold(w, name) }) {
			c.warn(path, fmt.Sprintf("%q is %s only with a port in the Host header, which most clients leave out: list %q too", v, verb, name))
		}
	}
}

// hasPort reports whether a hosts value names a port, like "a.com:8080"
// or "a.com:*" (the "*" is already cut from prefix patterns).
func hasPort(s string) bool {
	if strings.HasPrefix(s, "[") {
		i := strings.IndexByte(s, ']')
		return i >= 0 && strings.HasPrefix(s[i+1:], ":")
	}
	return strings.Count(s, ":") == 1
}

// unsupportedTemplate matches path templates Istio rejects: named
// variables, empty braces and bare "*" or "**" segments
// (pkg/config/security: CheckValidPathTemplate).
var unsupportedTemplate = regexp.MustCompile(`/{\w+=\*[*]?}|{\w*}|/\*[*]?|\*[*]?/`)

// paths compiles path values: templates with "{*}" (one segment) and
// "{**}" (any rest), and escapes made canonical like request paths.
func (c *compiler) paths(path string, values []string, ps []pattern) []pattern {
	for k, v := range values {
		at := fmt.Sprintf("%s[%d]", path, k)
		if strings.Contains(v, "{*}") || strings.Contains(v, "{**}") {
			re, err := compileTemplate(v)
			if err != nil {
				c.invalid(at, err.Error())
				continue
			}
			ps[k] = pattern{kind: patTemplate, s: v, re: re}
			continue
		}
		p := &ps[k]
		p.s = canonicalEscapes(p.s)
		never := strings.ContainsAny(p.s, "?#\\") || strings.Contains(p.s, "//") ||
			strings.Contains(p.s, "%2F") || strings.Contains(p.s, "%5C")
		switch p.kind {
		case patExact:
			n, err := Normalize(p.s)
			never = never || err != nil || n != p.s
		case patPrefix:
			never = never || !strings.HasPrefix(p.s, "/")
		}
		if never {
			c.warn(at, fmt.Sprintf("%q never matches a normalised path (see Normalize)", v))
		}
	}
	return ps
}

// compileTemplate turns an Istio path template into a regular expression:
// "{*}" is one non-empty segment and "{**}" any rest, slashes included
// (Envoy's uri_template matcher).
func compileTemplate(v string) (*regexp.Regexp, error) {
	rest := strings.NewReplacer("{**}", "", "{*}", "").Replace(v)
	if !strings.HasPrefix(v, "/") || strings.ContainsAny(rest, "{}*") || unsupportedTemplate.MatchString(v) {
		return nil, fmt.Errorf("invalid or unsupported path template %q", v)
	}
	if i := strings.Index(v, "{**}"); i >= 0 && strings.Contains(v[i+4:], "{*") {
		return nil, fmt.Errorf("path template %q: {**} must be the last operator", v)
	}
	var b strings.Builder
	b.WriteString("^")
	for s := v; s != ""; {
		switch {
		case strings.HasPrefix(s, "{**}"):
			b.WriteString(".*")
			s = s[4:]
		case strings.HasPrefix(s, "{*}"):
			b.WriteString("[^/]+")
			s = s[3:]
		default:
			i := strings.IndexByte(s[1:], '{')
			if i < 0 {
				i = len(s)
			} else {
				i++
			}
			b.WriteString(regexp.QuoteMeta(canonicalEscapes(s[:i])))
			s = s[i:]
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// condition compiles a `when` condition; see
// https://istio.io/latest/docs/reference/config/security/conditions/.
func (c *compiler) condition(path string, w *istio.Condition) (criterion, bool) {
	key := w.Key
	cr := criterion{name: key}
	if key == "" {
		return cr, false // reported by Validate
	}
	if len(w.Values) == 0 && len(w.NotValues) == 0 {
		c.invalid(path, "at least one of values or notValues must be set for key "+key)
		return cr, false
	}
	strs := func(a attr) (criterion, bool) {
		sc, _ := c.patterns(path, a, w.Values, w.NotValues, "values", "notValues")
		sc.name = key
		return sc, true
	}
	switch {
	case key == "source.ip", key == "remote.ip", key == "destination.ip":
		a := map[string]attr{"source.ip": attrSourceIP, "remote.ip": attrRemoteIP, "destination.ip": attrDestinationIP}[key]
		ic, _ := c.ips(path, a, w.Values, w.NotValues, "values", "notValues")
		ic.name = key
		return ic, true
	case key == "destination.port":
		pc, _ := c.ports(path, w.Values, w.NotValues, "values", "notValues")
		pc.name = key
		return pc, true
	case key == "source.principal":
		return strs(attrPrincipal)
	case key == "source.namespace":
		nc, ok := strs(attrNamespace)
		c.widen(&nc)
		return nc, ok
	case key == "request.auth.principal":
		rc, _ := c.requestPrincipals(path, w.Values, w.NotValues, "values", "notValues")
		rc.name = key
		return rc, true
	case key == "request.auth.audiences":
		return strs(attrAudiences)
	case key == "request.auth.presenter":
		return strs(attrPresenter)
	case key == "connection.sni":
		sc, ok := strs(attrSNI)
		for _, ps := range [][]pattern{sc.in, sc.notIn} {
			for i := range ps {
				ps[i].s = strings.ToLower(ps[i].s)
				if ps[i].kind == patExact {
					ps[i].s = strings.TrimSuffix(ps[i].s, ".")
				}
			}
		}
		return sc, ok
	case strings.HasPrefix(key, "request.headers"):
		names, ok := bracketNames(strings.TrimPrefix(key, "request.headers"))
		if !ok || len(names) != 1 {
			c.invalid(path+".key", fmt.Sprintf("bad key %q: want request.headers[<name>]", key))
			return cr, false
		}
		hc, _ := strs(attrHeader)
		hc.header = headerKey(names[0])
		if strings.HasPrefix(hc.header, ":") && hc.header != ":method" && hc.header != ":path" {
			// net/http keeps no pseudo-header in Header: a DENY of
			// :scheme "http" would read nothing and deny nothing.
			c.unsupported(path+".key", fmt.Sprintf("pseudo-header %q is not supported (only :authority, :method and :path)", names[0]))
			return cr, false
		}
		if hc.header == "Transfer-Encoding" || hc.header == "Trailer" {
			// net/http takes both out of Header once it has framed
			// the body: a DENY of them would deny nothing.
			c.unsupported(path+".key", fmt.Sprintf("header %q is not supported: net/http removes it from the request's headers", names[0]))
			return cr, false
		}
		if hc.header == ":path" {
			// Envoy's :path holds the query, which policies match
			// parameters with; values that deny or exclude see it,
			// and the path alone (see matchPathHeader).
			c.widen(&hc)
		}
		if hc.header == "Host" {
			// The Host read as a header is the Host that hosts
			// matches: compared exactly, "admin.example.com:80" and
			// "[admin.example.com]:80" escaped a DENY of
			// admin.example.com that http.ServeMux, which takes the
			// port off, routed to that host's patterns.
			hc.attr = attrHost
			hostPatterns(&hc)
			switch {
			case c.action == istio.ActionDeny:
				c.warnPortOnly(path+".values", w.Values, "denied")
			case c.action == istio.ActionAllow:
				c.warnPortOnly(path+".notValues", w.NotValues, "excluded")
			}
		}
		return hc, true
	case strings.HasPrefix(key, "request.auth.claims"):
		names, ok := bracketNames(strings.TrimPrefix(key, "request.auth.claims"))
		if !ok {
			c.invalid(path+".key", fmt.Sprintf("bad key %q: want request.auth.claims[<name>] or request.auth.claims[<name>][<nested>]", key))
			return cr, false
		}
		cc, _ := strs(attrClaim)
		cc.claim = names
		return cc, true
	case strings.HasPrefix(key, "experimental.envoy.filters."), strings.HasPrefix(key, "request.experimental.inline.headers"), key == "source.serviceAccount":
		c.unsupported(path+".key", fmt.Sprintf("condition key %q is not supported", key))
	case key == "destination.namespace":
		c.invalid(path+".key", "attribute destination.namespace is replaced by metadata.namespace")
	case strings.HasPrefix(key, "destination.labels"):
		c.invalid(path+".key", "attribute destination.labels is replaced by the workload selector")
	default:
		c.invalid(path+".key", fmt.Sprintf("unknown attribute %q", key))
	}
	return cr, false
}

// bracketNames parses "[a][b]" into a, b.
func bracketNames(s string) ([]string, bool) {
	var names []string
	for s != "" {
		if s[0] != '[' {
			return nil, false
		}
		i := strings.IndexByte(s, ']')
		if i < 2 || strings.ContainsAny(s[1:i], "[") {
			return nil, false
		}
		names = append(names, s[1:i])
		s = s[i+1:]
	}
	return names, len(names) > 0
}

// headerKey is the key of a header in http.Header; pseudo-headers and Host
// are read from the Request's fields.
func headerKey(name string) string {
	switch strings.ToLower(name) {
	case ":authority", "host":
		return "Host"
	case ":method", ":path":
		return strings.ToLower(name)
	}
	return textproto.CanonicalMIMEHeaderKey(name)
}
