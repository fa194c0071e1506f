package assertion

import (
	"fmt"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
)

// unknownLabels returns why the verdict on the pair (s, d) may differ on
// the cluster, or "": a namespace of the pair is not declared in the
// input, so Ward gives it only its kubernetes.io/metadata.name label, and
// a peer of a policy that applies to the pair has a namespaceSelector
// that reads other labels. On the cluster that namespace may carry them
// ({team: web} admitting it, or env: prod for a NotIn excluding it), so
// the pair's verdict is the input's guess, not the cluster's.
func unknownLabels(set *manifest.Set, risky []*manifest.Policy, s, d *netpol.Endpoint) string {
	if len(risky) == 0 || s.IsExternal() || d.IsExternal() {
		return ""
	}
	// The ingress rules of d's policies read s's namespace; the egress
	// rules of s's policies read d's.
	if why := unknownIn(set, risky, d.Workload, s.Workload, networkingv1.PolicyTypeIngress); why != "" {
		return why
	}
	return unknownIn(set, risky, s.Workload, d.Workload, networkingv1.PolicyTypeEgress)
}

// UnknownLabelPolicies returns the policies with a peer whose namespaceSelector
// is undetermined on some namespace the input does not declare: the only
// ones unknownLabels need look at (none, in most inputs).
func UnknownLabelPolicies(set *manifest.Set) []*manifest.Policy {
	var undeclared []string
	listed := map[string]bool{}
	for _, ns := range set.Namespaces {
		listed[ns.Name] = true
		if !ns.Declared {
			undeclared = append(undeclared, ns.Name)
		}
	}
	for _, w := range set.Workloads {
		if !listed[w.Namespace] {
			listed[w.Namespace] = true
			undeclared = append(undeclared, w.Namespace) // not listed at all: as undeclared
		}
	}
	if len(undeclared) == 0 {
		return nil
	}
	var out []*manifest.Policy
policies:
	for _, p := range set.Policies {
		for _, dir := range []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress} {
			for _, peers := range rulePeers(p, dir) {
				for _, peer := range peers {
					if peer.NamespaceSelector == nil {
						continue
					}
					sel, err := metav1.LabelSelectorAsSelector(peer.NamespaceSelector)
					if err != nil {
						continue
					}
					for _, n := range undeclared {
						if undetermined(sel, n) {
							out = append(out, p)
							continue policies
						}
					}
				}
			}
		}
	}
	return out
}

// unknownIn looks at the rules of direction dir of the policies that
// select self for a peer whose namespaceSelector is undetermined on the
// (undeclared) namespace of remote and whose podSelector matches it.
func unknownIn(set *manifest.Set, risky []*manifest.Policy, self, remote *manifest.Workload, dir networkingv1.PolicyType) string {
	if ns := set.Namespace(remote.Namespace); ns != nil && ns.Declared {
		return ""
	}
	for _, p := range risky {
		if p.Namespace != self.Namespace || !isolates(p, dir) || !matches(&p.Spec.PodSelector, self.Labels) {
			continue
		}
		for i, peers := range rulePeers(p, dir) {
			for j, peer := range peers {
				if peer.NamespaceSelector == nil || (peer.PodSelector != nil && !matches(peer.PodSelector, remote.Labels)) {
					continue
				}
				sel, err := metav1.LabelSelectorAsSelector(peer.NamespaceSelector)
				if err != nil || !undetermined(sel, remote.Namespace) {
					continue
				}
				field := "from"
				if dir == networkingv1.PolicyTypeEgress {
					field = "to"
				}
				return fmt.Sprintf("namespace %s is not declared in the input, so its labels are unknown, and the namespaceSelector {%s} of %s/NetworkPolicy/%s (%s:%d) reads them",
					remote.Namespace, sel, p.Namespace, p.Name, p.Source.File,
					p.Line(fmt.Sprintf("spec.%s[%d].%s[%d]", directionField(dir), i, field, j)))
			}
		}
	}
	return ""
}

func directionField(dir networkingv1.PolicyType) string {
	if dir == networkingv1.PolicyTypeEgress {
		return "egress"
	}
	return "ingress"
}

// undetermined reports whether sel's verdict on namespace name depends on
// labels other than kubernetes.io/metadata.name: no requirement on that
// label rules it out, and some requirement reads another label.
func undetermined(sel labels.Selector, name string) bool {
	reqs, _ := sel.Requirements()
	other := false
	for _, r := range reqs {
		if r.Key() == manifest.MetadataNameLabel {
			if !r.Matches(labels.Set{manifest.MetadataNameLabel: name}) {
				return false
			}
			continue
		}
		other = true
	}
	return other
}

func matches(ls *metav1.LabelSelector, l map[string]string) bool {
	sel, err := metav1.LabelSelectorAsSelector(ls)
	return err == nil && sel.Matches(labels.Set(l))
}

// isolates applies the API server's defaulting of policyTypes.
func isolates(p *manifest.Policy, dir networkingv1.PolicyType) bool {
	if len(p.Spec.PolicyTypes) == 0 {
		return dir == networkingv1.PolicyTypeIngress || len(p.Spec.Egress) > 0
	}
	for _, t := range p.Spec.PolicyTypes {
		if t == dir {
			return true
		}
	}
	return false
}

func rulePeers(p *manifest.Policy, dir networkingv1.PolicyType) [][]networkingv1.NetworkPolicyPeer {
	var out [][]networkingv1.NetworkPolicyPeer
	if dir == networkingv1.PolicyTypeIngress {
		for _, r := range p.Spec.Ingress {
			out = append(out, r.From)
		}
		return out
	}
	for _, r := range p.Spec.Egress {
		out = append(out, r.To)
	}
	return out
}

// unmodelledPods returns why side s may select pods the network model
// leaves out, or "": those a custom resource's operator creates from the
// pod specs it carries (a KEDA ScaledJob, an Argo Workflow), in s's
// namespace, whose template labels s's selector matches (or whose pod
// spec does not decode, labels unknown). A verdict on s without them
// says nothing of theirs: "nothing in ci reaches db" passed while the
// ScaledJob's pods in ci reached it.
func unmodelledPods(set *manifest.Set, s Selector) string {
	if s.CIDR.IsValid() {
		return ""
	}
	for _, sk := range set.Skipped {
		for _, w := range sk.Pods {
			if s.Namespace != "" && w.Namespace != s.Namespace {
				continue
			}
			if s.Labels != nil && !s.Labels.Matches(labels.Set(w.Labels)) {
				continue
			}
			return fmt.Sprintf("%s %s/%s (%s) carries a pod spec (%s) whose pods match it and are not in the network model", sk.Kind, w.Namespace, sk.Name, sk.Source, w.Embedded)
		}
		if len(sk.Pods) == 0 && len(sk.PodSpecs)+len(sk.PodSpecErrors) > 0 {
			// Not decoded (by this command, or at all): labels unknown.
			if s.Namespace != "" && sk.Namespace != "" && sk.Namespace != s.Namespace {
				continue
			}
			return fmt.Sprintf("%s %s (%s) carries pod specs whose pods are not in the network model", sk.Kind, sk.Name, sk.Source)
		}
	}
	return ""
}
