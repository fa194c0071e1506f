package compose

import (
	"cmp"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
)

// Labels with which Docker and Compose tell `ward fw --docker` (package
// dockerinv) which Pod a container is.
const (
	labelNamespace = "ward.dev/namespace"
	labelProject   = "com.docker.compose.project"
	labelService   = "com.docker.compose.service"
	labelOneoff    = "com.docker.compose.oneoff"
	labelNumber    = "com.docker.compose.container-number"
)

// embeddedDNS reports compose/embedded-dns-bypasses-policy for every
// service on Compose networks whose NetworkPolicies of policies, applied
// as `ward fw --docker` would, allow it no DNS.
func (a *audit) embeddedDNS(policies *manifest.Set) error {
	if policies == nil || len(policies.Policies) == 0 {
		return nil
	}
	project := a.name
	services := a.services
	var pods []any
	for _, name := range slices.Sorted(maps.Keys(services)) {
		s := services[name]
		if s.NetworkMode != "" {
			// host, none, bridge, or another container's stack: no
			// Compose network, so not this resolver, or not this pod.
			continue
		}
		pods = append(pods, servicePod(project, name, s))
	}
	// A service whose Pod is invalid (a ward.dev/namespace that is not a
	// label value) is one `ward fw --docker` refuses: leave it out.
	ps, _ := manifest.FromObjects("default", pods...)
	set := &manifest.Set{Workloads: ps.Workloads, Policies: policies.Policies, Namespaces: slices.Clone(policies.Namespaces)}
	for _, n := range ps.Namespaces {
		if policies.Namespace(n.Name) == nil {
			set.Namespaces = append(set.Namespaces, n)
		}
	}
	slices.SortFunc(set.Namespaces, func(a, b *manifest.Namespace) int { return cmp.Compare(a.Name, b.Name) })
	eng, err := netpol.Compile(set)
	if err != nil {
		return fmt.Errorf("compose: %w", err)
	}
	selecting := map[*manifest.Workload][]*manifest.Policy{}
	for _, pol := range set.Policies {
		if !egressTyped(pol.NetworkPolicy) {
			continue
		}
		for _, ep := range eng.Selected(pol) {
			selecting[ep.Workload] = append(selecting[ep.Workload], pol)
		}
	}
	for _, w := range set.Workloads {
		pols := selecting[w]
		if len(pols) == 0 || slices.ContainsFunc(pols, allowsDNS) {
			continue
		}
		ids := make([]string, len(pols))
		for j, p := range pols {
			ids[j] = p.Namespace + "/" + p.Name
		}
		a.report(ruleEmbeddedDNS, finding.Medium, w.Name, a.pos.serviceLine(w.Name),
			"NetworkPolicy %s allows pod %s/%s no DNS (53/UDP or 53/TCP), but Docker's embedded resolver (127.0.0.11) answers it "+
				"inside the container, where no firewall sees the query: the names and addresses of the containers on its networks, and other names through dockerd",
			strings.Join(ids, ", "), w.Namespace, w.Name)
	}
	return nil
}

// servicePod is the Pod `ward fw --docker` sees for the first container of
// service s of project: its namespace is the ward.dev/namespace label,
// else the project; its labels are the service's labels that a Pod could
// carry and those Compose puts on the container.
func servicePod(project, name string, s types.ServiceConfig) *corev1.Pod {
	labels := map[string]string{}
	for k, v := range s.Labels {
		if len(validation.IsQualifiedName(k)) == 0 && len(validation.IsValidLabelValue(v)) == 0 {
			labels[k] = v
		}
	}
	for k, v := range map[string]string{labelProject: project, labelService: name, labelOneoff: "False", labelNumber: "1"} {
		if len(validation.IsValidLabelValue(v)) == 0 {
			labels[k] = v
		}
	}
	ns := project
	if v := s.Labels[labelNamespace]; v != "" {
		ns = v
	}
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: name}}},
	}
}

// projectName is the Compose project of the files (first is the first
// file's path, all their positions), as docker compose names it without
// -p: the COMPOSE_PROJECT_NAME of env (the .env file's variables), else
// the last top-level name the files set (interpolated from env), else
// the name of the first file's directory; normalized as Compose does.
// `docker compose -p` and a COMPOSE_PROJECT_NAME of the environment
// compose runs in, which Audit cannot know, would override it.
func projectName(first string, all []*positions, env map[string]string) string {
	lookupEnv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	name := ""
	for _, pos := range all {
		for _, root := range pos.docs {
			if _, v := lookup(root, "name", 0); v != nil && v.Kind == yaml.ScalarNode {
				if s, err := substitute(v.Value, lookupEnv); err == nil && s != "" {
					name = s
				}
			}
		}
	}
	if v := env["COMPOSE_PROJECT_NAME"]; v != "" {
		name = v
	}
	if name == "" {
		dir := filepath.Dir(first)
		if abs, err := filepath.Abs(dir); err == nil {
			dir = abs
		}
		name = filepath.Base(dir)
	}
	return loader.NormalizeProjectName(name)
}

// egressTyped reports whether p restricts egress: its policyTypes name
// Egress or, without policyTypes, it has egress rules.
func egressTyped(p *networkingv1.NetworkPolicy) bool {
	if len(p.Spec.PolicyTypes) == 0 {
		return len(p.Spec.Egress) > 0
	}
	return slices.Contains(p.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
}

// allowsDNS reports whether an egress rule of p may allow DNS to some
// destination: a rule without ports, or with a TCP or UDP port range
// holding 53, or a named port (which some destination may resolve to 53).
func allowsDNS(p *manifest.Policy) bool {
	for _, r := range p.Spec.Egress {
		if len(r.Ports) == 0 {
			return true
		}
		for _, port := range r.Ports {
			proto := corev1.ProtocolTCP
			if port.Protocol != nil {
				proto = *port.Protocol
			}
			if proto != corev1.ProtocolTCP && proto != corev1.ProtocolUDP {
				continue
			}
			switch {
			case port.Port == nil, port.Port.Type == intstr.String:
				return true
			case port.EndPort != nil:
				if port.Port.IntVal <= 53 && 53 <= *port.EndPort {
					return true
				}
			case port.Port.IntVal == 53:
				return true
			}
		}
	}
	return false
}
