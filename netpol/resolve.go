package netpol

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/portset"
)

// Target is an endpoint named on the command line, with the ports that the
// name implies (a Service's target ports); Ports is empty when the name
// implies none.
type Target struct {
	Endpoint *Endpoint
	Ports    portset.Set
	// Via describes how the name was resolved, e.g. "svc:api/catalog".
	Via string
}

// ResolveError is a name that does not resolve or resolves ambiguously.
type ResolveError struct {
	Arg        string
	Msg        string
	Candidates []string
}

func (e *ResolveError) Error() string {
	if len(e.Candidates) > 0 {
		return fmt.Sprintf("%q: %s: %s", e.Arg, e.Msg, strings.Join(e.Candidates, ", "))
	}
	return fmt.Sprintf("%q: %s", e.Arg, e.Msg)
}

// Resolve turns a name into endpoints: "namespace/name" (a workload),
// "namespace/Kind/name" (when the name alone is ambiguous), an IP address
// (the pod owning it, else the external range holding it), or
// "svc:namespace/name" (the workloads a Service selects, with the Service's
// target ports). port, when not empty, is a Service port that is
// translated to target ports.
func (e *Engine) Resolve(arg string, port portset.Set) ([]Target, error) {
	if ip, err := netip.ParseAddr(arg); err == nil {
		return []Target{{Endpoint: e.EndpointOfIP(ip), Ports: port}}, nil
	}
	if rest, ok := strings.CutPrefix(arg, "svc:"); ok {
		return e.resolveService(arg, rest, port)
	}
	parts := strings.Split(arg, "/")
	var ns, kind, name string
	switch len(parts) {
	case 2:
		ns, name = parts[0], parts[1]
	case 3:
		ns, kind, name = parts[0], parts[1], parts[2]
	default:
		return nil, &ResolveError{Arg: arg, Msg: "want namespace/name, namespace/Kind/name, an IP address or svc:namespace/name"}
	}
	var found []*manifest.Workload
	var near []string
	for _, w := range e.set.Workloads {
		if w.Namespace == ns && w.Name == name && (kind == "" || strings.EqualFold(w.Kind, kind)) {
			found = append(found, w)
		} else if w.Name == name || (w.Namespace == ns && strings.Contains(w.Name, name)) {
			near = append(near, w.ID())
		}
	}
	switch {
	case len(found) == 0:
		msg := "no such workload"
		if len(near) > 0 {
			msg += "; similar"
		}
		return nil, &ResolveError{Arg: arg, Msg: msg, Candidates: near}
	case len(found) > 1:
		var c []string
		for _, w := range found {
			c = append(c, w.ID())
		}
		return nil, &ResolveError{Arg: arg, Msg: "ambiguous; use namespace/Kind/name", Candidates: c}
	}
	var out []Target
	for _, ep := range e.byWorkload[found[0]] {
		out = append(out, Target{Endpoint: ep, Ports: port})
	}
	return out, nil
}

func (e *Engine) resolveService(arg, ref string, port portset.Set) ([]Target, error) {
	ns, name, ok := strings.Cut(ref, "/")
	if !ok {
		return nil, &ResolveError{Arg: arg, Msg: "want svc:namespace/name"}
	}
	var svc *manifest.Service
	for _, s := range e.set.Services {
		if s.Namespace == ns && s.Name == name {
			svc = s
		}
	}
	if svc == nil {
		return nil, &ResolveError{Arg: arg, Msg: "no such Service"}
	}
	if len(svc.Selector) == 0 {
		return nil, &ResolveError{Arg: arg, Msg: "the Service has no selector, so Ward cannot tell which pods back it"}
	}
	sel := labels.SelectorFromSet(svc.Selector)
	var out []Target
	for _, w := range e.set.Workloads {
		if w.Namespace != ns || !sel.Matches(labels.Set(w.Labels)) {
			continue
		}
		var rs []portset.Range
		for _, sp := range svc.Ports {
			proto := portset.TCP
			if sp.Protocol != "" {
				p, err := portset.ParseProtocol(string(sp.Protocol))
				if err != nil {
					continue
				}
				proto = p
			}
			if sp.Port < portset.MinPort || sp.Port > portset.MaxPort {
				continue
			}
			if !port.Empty() && !port.Contains(proto, uint16(sp.Port)) { // #nosec G115 -- checked to lie in 1..65535 above
				continue
			}
			if r, ok := targetPort(sp.TargetPort, sp.Port, proto, w); ok {
				rs = append(rs, r)
			}
		}
		tp := portset.Of(rs...)
		if tp.Empty() {
			continue
		}
		for _, ep := range e.byWorkload[w] {
			out = append(out, Target{Endpoint: ep, Ports: tp, Via: arg})
		}
	}
	if len(out) == 0 {
		msg := "the Service selects no workload in the input"
		if !port.Empty() {
			msg = fmt.Sprintf("the Service has no port %s backed by a workload in the input", port)
		}
		return nil, &ResolveError{Arg: arg, Msg: msg}
	}
	return out, nil
}

func targetPort(tp intstr.IntOrString, svcPort int32, proto portset.Protocol, w *manifest.Workload) (portset.Range, bool) {
	switch {
	case tp.Type == intstr.String && tp.StrVal != "":
		for _, p := range w.Ports {
			if p.Name == tp.StrVal && strings.EqualFold(string(p.Protocol), proto.String()) && p.Port >= 1 && p.Port <= 65535 {
				return portset.Range{Proto: proto, Lo: uint16(p.Port), Hi: uint16(p.Port)}, true
			}
		}
		return portset.Range{}, false
	case tp.Type == intstr.Int && tp.IntVal != 0:
		svcPort = tp.IntVal
	}
	if svcPort < 1 || svcPort > 65535 {
		return portset.Range{}, false
	}
	return portset.Range{Proto: proto, Lo: uint16(svcPort), Hi: uint16(svcPort)}, true
}

// WorkloadIDs returns the IDs of every workload, sorted, for messages that
// list what exists.
func (e *Engine) WorkloadIDs() []string {
	ids := make([]string, 0, len(e.set.Workloads))
	for _, w := range e.set.Workloads {
		ids = append(ids, w.ID())
	}
	slices.Sort(ids)
	return ids
}
