package refeval

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/wardsec/ward/manifest"
)

// nameLabel is the label every namespace carries with its name.
const nameLabel = "kubernetes.io/metadata.name"

// FromObjects reads a cluster from the typed objects RandomObjects makes
// (Namespaces, Deployments, Pods, NetworkPolicies) by itself, sharing no
// code with package manifest's assembly, and returns an evaluator for its
// policies and the pods of its workloads. Objects without a namespace
// belong to defaultNS.
//
// A Pod whose controller owner reference names a Deployment of the input,
// or a ReplicaSet "<deployment>-<hash>" of one whose selector matches the
// Pod's labels (kubectl dumps leave ReplicaSets out), is an instance of
// that Deployment: it adds its IPs, and the Deployment's template gives
// labels, ports and hostNetwork. Any other Pod is a workload of its own. A
// workload has one Pod per known IP, or one without IP when none is known.
func FromObjects(defaultNS string, objs []any) (*Evaluator, []Pod, error) {
	nsOf := func(m metav1.Object) string {
		if m.GetNamespace() == "" {
			return defaultNS
		}
		return m.GetNamespace()
	}
	nsLabels := map[string]map[string]string{}
	deployments := map[string]*appsv1.Deployment{} // by namespace/name
	var order []string                             // workload IDs in input order
	type workload struct {
		labels    map[string]string
		spec      *corev1.PodSpec
		ips       []netip.Addr
		namespace string
	}
	workloads := map[string]*workload{}
	var pods []*corev1.Pod
	var policies []*networkingv1.NetworkPolicy
	for _, o := range objs {
		switch v := o.(type) {
		case *corev1.Namespace:
			l := map[string]string{}
			for k, val := range v.Labels {
				l[k] = val
			}
			l[nameLabel] = v.Name
			nsLabels[v.Name] = l
		case *appsv1.Deployment:
			ns := nsOf(v)
			id := ns + "/Deployment/" + v.Name
			deployments[ns+"/"+v.Name] = v
			workloads[id] = &workload{labels: v.Spec.Template.Labels, spec: &v.Spec.Template.Spec, namespace: ns}
			order = append(order, id)
		case *corev1.Pod:
			pods = append(pods, v)
		case *networkingv1.NetworkPolicy:
			c := *v
			c.Namespace = nsOf(v)
			policies = append(policies, &c)
		default:
			return nil, nil, fmt.Errorf("refeval: unsupported object %T", o)
		}
	}
	for _, p := range pods {
		ns := nsOf(p)
		owner := ""
		if ref, ok := controller(p.OwnerReferences); ok {
			switch {
			case ref.Kind == "Deployment" && deployments[ns+"/"+ref.Name] != nil:
				owner = ref.Name
			case ref.Kind == "ReplicaSet":
				if cut := strings.LastIndexByte(ref.Name, '-'); cut > 0 {
					if d := deployments[ns+"/"+ref.Name[:cut]]; d != nil && selectorMatches(d.Spec.Selector, p.Labels) {
						owner = d.Name
					}
				}
			}
		}
		id := ns + "/Pod/" + p.Name
		if owner != "" {
			id = ns + "/Deployment/" + owner
		} else {
			workloads[id] = &workload{labels: p.Labels, spec: &p.Spec, namespace: ns}
			order = append(order, id)
		}
		w := workloads[id]
		for _, s := range append([]string{p.Status.PodIP}, podIPs(p)...) {
			if a, err := netip.ParseAddr(s); err == nil && !slices.Contains(w.ips, a.Unmap()) {
				w.ips = append(w.ips, a.Unmap())
			}
		}
	}
	var out []Pod
	for _, id := range order {
		w := workloads[id]
		pod := Pod{Namespace: w.namespace, Workload: id, Labels: w.labels, HostNetwork: w.spec.HostNetwork}
		for _, c := range w.spec.Containers {
			for _, cp := range c.Ports {
				proto := cp.Protocol
				if proto == "" {
					proto = corev1.ProtocolTCP
				}
				pod.Ports = append(pod.Ports, manifest.Port{Name: cp.Name, Port: cp.ContainerPort, Protocol: proto, Container: c.Name})
			}
		}
		if len(w.ips) == 0 {
			out = append(out, pod)
			continue
		}
		slices.SortFunc(w.ips, netip.Addr.Compare)
		for _, ip := range w.ips {
			p := pod
			p.IP = ip
			out = append(out, p)
		}
	}
	return newEvaluator(nsLabels, policies), out, nil
}

// controller returns the controller owner reference, or else the first.
func controller(refs []metav1.OwnerReference) (metav1.OwnerReference, bool) {
	for _, r := range refs {
		if r.Controller != nil && *r.Controller {
			return r, true
		}
	}
	if len(refs) > 0 {
		return refs[0], true
	}
	return metav1.OwnerReference{}, false
}

func podIPs(p *corev1.Pod) []string {
	var out []string
	for _, ip := range p.Status.PodIPs {
		out = append(out, ip.IP)
	}
	return out
}

// selectorMatches reports whether a Deployment's selector matches pod
// labels; a Deployment without one selects nothing here.
func selectorMatches(sel *metav1.LabelSelector, l map[string]string) bool {
	if sel == nil {
		return false
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && s.Matches(labels.Set(l))
}
