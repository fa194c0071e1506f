package podsec

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/manifest"
)

// exposure checks how Services and Ingresses expose workloads: external
// IPs, load balancers open to every address, Ingresses without TLS, and
// ingress-nginx annotations that run configuration or lift
// authentication.
func (a *auditor) exposure(set *manifest.Set) {
	for _, o := range set.Objects {
		switch v := o.Obj.(type) {
		case *corev1.Service:
			a.serviceExposure(v, o)
		case *networkingv1.Ingress:
			a.ingress(v, o)
		}
	}
}

func objectID(kind, namespace, name string) string {
	return manifest.Ref{Kind: kind, Namespace: namespace, Name: name}.String()
}

// internalLBAnnotations mark a LoadBalancer Service as internal to the
// cloud network on the major providers: annotation and value.
var internalLBAnnotations = map[string]string{
	"service.beta.kubernetes.io/aws-load-balancer-internal":              "true",
	"service.beta.kubernetes.io/aws-load-balancer-scheme":                "internal",
	"service.beta.kubernetes.io/azure-load-balancer-internal":            "true",
	"networking.gke.io/load-balancer-type":                               "internal",
	"cloud.google.com/load-balancer-type":                                "internal",
	"service.beta.kubernetes.io/oci-load-balancer-internal":              "true",
	"service.kubernetes.io/ibm-load-balancer-cloud-provider-ip-type":     "private",
	"service.beta.kubernetes.io/openstack-internal-load-balancer":        "true",
	"service.beta.kubernetes.io/alibaba-cloud-loadbalancer-address-type": "intranet",
}

// internalLB reports whether a Service's annotations make its load
// balancer internal, and names the annotation.
func internalLB(annotations map[string]string) (string, bool) {
	keys := make([]string, 0, len(annotations))
	for k := range annotations {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if want, ok := internalLBAnnotations[k]; ok && strings.EqualFold(strings.TrimSpace(annotations[k]), want) {
			return k, true
		}
	}
	return "", false
}

// openRange reports whether a CIDR admits every address.
func openRange(cidr string) bool {
	c := strings.TrimSpace(cidr)
	return c == "0.0.0.0/0" || c == "::/0"
}

func (a *auditor) serviceExposure(svc *corev1.Service, o manifest.Object) {
	file := o.Source.File
	id := objectID("Service", svc.Namespace, svc.Name)
	if ips := svc.Spec.ExternalIPs; len(ips) > 0 {
		a.report(ruleExternalIPs, finding.High, file, o.Line("spec.externalIPs"), id,
			fmt.Sprintf("%s sets spec.externalIPs (%s): every node sends traffic for those addresses to this Service, whoever owns them "+
				"(CVE-2020-8554: a Service can intercept the traffic of any address it names)", id, strings.Join(ips, ", ")),
			fmt.Sprintf("remove spec.externalIPs from %s and use a LoadBalancer or an Ingress; block the field cluster-wide with the DenyServiceExternalIPs admission plugin", id))
	}
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return
	}
	ranges := svc.Spec.LoadBalancerSourceRanges
	annotated, line := false, o.Line("spec.loadBalancerSourceRanges")
	if len(ranges) == 0 {
		if v := strings.TrimSpace(svc.Annotations[corev1.AnnotationLoadBalancerSourceRangesKey]); v != "" {
			ranges, annotated = strings.Split(v, ","), true
			line = o.Line("metadata.annotations." + corev1.AnnotationLoadBalancerSourceRangesKey)
		}
	}
	open := slices.ContainsFunc(ranges, openRange)
	if len(ranges) > 0 && !open {
		return
	}
	if len(ranges) == 0 {
		line = o.Line("spec.type")
	}
	sev := finding.Medium
	why := "sets no loadBalancerSourceRanges"
	if open {
		why = "allows every address in loadBalancerSourceRanges"
		if annotated {
			why = "allows every address in its " + corev1.AnnotationLoadBalancerSourceRangesKey + " annotation"
		}
	}
	reach := "anyone on the internet who finds the load balancer's address can connect"
	if ann, ok := internalLB(svc.Annotations); ok {
		sev = finding.Low
		reach = "the load balancer is internal (" + ann + "), so every address of the cloud network and the networks peered with it can connect"
	}
	a.report(ruleLBSourceRanges, sev, file, line, id,
		fmt.Sprintf("%s (type LoadBalancer) %s: %s", id, why, reach),
		fmt.Sprintf("set spec.loadBalancerSourceRanges of %s to the client networks that need it (for instance [203.0.113.0/24])", id))
}

// nginxPrefix is the prefix of ingress-nginx's annotations.
const nginxPrefix = "nginx.ingress.kubernetes.io/"

// nginxSnippets are ingress-nginx's annotations that insert raw NGINX
// configuration.
var nginxSnippets = []string{"configuration-snippet", "server-snippet", "auth-snippet", "stream-snippet", "modsecurity-snippet"}

func (a *auditor) ingress(ing *networkingv1.Ingress, o manifest.Object) {
	id := objectID("Ingress", ing.Namespace, ing.Name)
	a.ingressTLS(ing, id, o)
	file := o.Source.File

	keys := make([]string, 0, len(ing.Annotations))
	for k := range ing.Annotations {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		name, ok := strings.CutPrefix(k, nginxPrefix)
		if !ok {
			continue
		}
		v := strings.ToLower(strings.TrimSpace(ing.Annotations[k]))
		line := o.Line("metadata.annotations." + k)
		switch {
		case slices.Contains(nginxSnippets, name):
			a.report(ruleNginxSnippet, finding.High, file, line, id,
				fmt.Sprintf("%s sets the annotation %s: raw NGINX configuration that the controller, which can read every Secret of the cluster, runs as its own "+
					"(CVE-2021-25742: a snippet reads the controller's service account token and so every Secret)", id, k),
				fmt.Sprintf("remove %s from %s and use the dedicated annotations or a ConfigMap the cluster admins own; keep allow-snippet-annotations false on the controller", k, id))
		case injects(ing.Annotations[k]) != "":
			a.report(ruleNginxSnippet, finding.High, file, line, id,
				fmt.Sprintf("%s sets the annotation %s to a value with %s: ingress-nginx writes annotation values into nginx.conf, so this one injects "+
					"configuration like a snippet (CVE-2023-5043, CVE-2023-5044; CVE-2021-25742 for what it can then read)", id, k, injects(ing.Annotations[k])),
				fmt.Sprintf("write %s of %s without NGINX syntax, or move the configuration to the controller's ConfigMap; keep annotation validation (strict-validate-path-type, annotations-risk-level) on in the controller", k, id))
		case name == "enable-global-auth" && v == "false":
			a.report(ruleNginxAuthBypass, finding.Medium, file, line, id,
				fmt.Sprintf("%s sets %s: \"false\": its paths skip the external authentication (global-auth-url) every other Ingress goes through", id, k),
				fmt.Sprintf("remove %s from %s, or protect its paths with an auth-url of their own", k, id))
		case name == "satisfy" && v == "any":
			a.report(ruleNginxAuthBypass, finding.Medium, file, line, id,
				fmt.Sprintf("%s sets %s: any: a request that passes either the address allowlist or the authentication gets in, so an allowed address needs no credentials", id, k),
				fmt.Sprintf("remove %s from %s (the default, all, requires both)", k, id))
		case name == "auth-tls-verify-client" && (v == "off" || v == "optional_no_ca"):
			if _, mtls := ing.Annotations[nginxPrefix+"auth-tls-secret"]; mtls {
				a.report(ruleNginxAuthBypass, finding.Medium, file, line, id,
					fmt.Sprintf("%s sets %s: %s next to auth-tls-secret: client certificates are not verified against the CA, so mutual TLS authenticates no one", id, k, v),
					fmt.Sprintf("set %s: \"on\" on %s", k, id))
			}
		}
	}
}

// injects says what in an ingress-nginx annotation value (other than a
// snippet's) would inject NGINX configuration: a directive terminator, a
// block, a line break, or a path into the controller's own secrets; ""
// when none.
func injects(value string) string {
	switch {
	case strings.ContainsAny(value, "\n\r"):
		return "a line break"
	case strings.ContainsRune(value, ';'):
		return "a ';' (end of an NGINX directive)"
	case strings.ContainsAny(value, "{}"):
		return "a brace (an NGINX block)"
	case strings.Contains(value, "/var/run/secrets"), strings.Contains(value, "/run/secrets"):
		return "a path to the controller's secrets"
	}
	return ""
}

// tlsCovers reports whether a tls host entry covers host: equal, or a
// wildcard *.example.com for one label of example.com.
func tlsCovers(pattern, host string) bool {
	pattern, host = strings.ToLower(pattern), strings.ToLower(host)
	if pattern == host {
		return true
	}
	if rest, ok := strings.CutPrefix(pattern, "*."); ok {
		label, domain, found := strings.Cut(host, ".")
		return found && label != "" && domain == rest
	}
	return false
}

func (a *auditor) ingressTLS(ing *networkingv1.Ingress, id string, o manifest.Object) {
	fix := fmt.Sprintf("add spec.tls to %s with the hosts it serves and a certificate Secret (cert-manager can issue it), and redirect HTTP to HTTPS", id)
	if len(ing.Spec.TLS) == 0 {
		a.report(ruleIngressNoTLS, finding.Medium, o.Source.File, o.Line("spec"), id,
			fmt.Sprintf("%s has no spec.tls: it serves plain HTTP, so credentials and session cookies cross the network readable and alterable", id), fix)
		return
	}
	var uncovered []string
	line := 0
	for i, r := range ing.Spec.Rules {
		if r.Host == "" || slices.Contains(uncovered, r.Host) {
			continue
		}
		covered := slices.ContainsFunc(ing.Spec.TLS, func(t networkingv1.IngressTLS) bool {
			return len(t.Hosts) == 0 || slices.ContainsFunc(t.Hosts, func(h string) bool { return tlsCovers(h, r.Host) })
		})
		if !covered {
			uncovered = append(uncovered, r.Host)
			if line == 0 {
				line = o.Line(fmt.Sprintf("spec.rules[%d].host", i))
			}
		}
	}
	if len(uncovered) > 0 {
		a.report(ruleIngressNoTLS, finding.Medium, o.Source.File, line, id,
			fmt.Sprintf("%s serves %s over plain HTTP: no spec.tls entry lists the host", id, strings.Join(uncovered, ", ")), fix)
	}
}
