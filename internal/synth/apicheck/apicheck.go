// Package apicheck decodes Kubernetes manifests strictly into their
// k8s.io/api types and checks them against the Kubernetes API server's
// validation rules that Ward's inputs depend on: names, labels, selectors,
// container and NetworkPolicy ports, ipBlocks, and the consistency of a
// cluster dump's owner references and pod IPs.
//
// It exists for tests: of the synthetic clusters internal/synth generates
// and of the manifests under examples/. It is not a replacement for the API
// server's validation and checks only what those tests need.
package apicheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"

	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	sigsjson "sigs.k8s.io/json"
)

// Object is one decoded object: a pointer to a k8s.io/api type such as
// *corev1.Pod, with where it came from.
type Object struct {
	Kind string
	Obj  any
	File string
	Doc  int // 0-based document index in the file (item index in a List)
}

func (o Object) String() string {
	m := meta(o.Obj)
	return fmt.Sprintf("%s#%d %s %s/%s", o.File, o.Doc, o.Kind, m.Namespace, m.Name)
}

var kinds = map[string]func() any{
	"Namespace":     func() any { return new(corev1.Namespace) },
	"Pod":           func() any { return new(corev1.Pod) },
	"Service":       func() any { return new(corev1.Service) },
	"Deployment":    func() any { return new(appsv1.Deployment) },
	"StatefulSet":   func() any { return new(appsv1.StatefulSet) },
	"DaemonSet":     func() any { return new(appsv1.DaemonSet) },
	"ReplicaSet":    func() any { return new(appsv1.ReplicaSet) },
	"NetworkPolicy": func() any { return new(networkingv1.NetworkPolicy) },
}

// Decode decodes every object in data: a multi-document YAML stream, or a
// JSON object which may be a v1 List. YAML documents are parsed with
// go.yaml.in/yaml/v3 and converted to JSON; every object is then decoded
// with sigs.k8s.io/json in strict mode (as the API server decodes), so an
// unknown, misspelled or duplicated field is an error. Empty documents are
// skipped; documents of other kinds are an error.
func Decode(file string, data []byte) ([]Object, error) {
	var docs [][]byte
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '{' {
		var list struct {
			Kind  string            `json:"kind"`
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(trimmed, &list); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if list.Kind == "List" {
			for _, it := range list.Items {
				docs = append(docs, it)
			}
		} else {
			docs = append(docs, trimmed)
		}
	} else {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var n yaml.Node
			err := dec.Decode(&n)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: document %d: %w", file, len(docs), err)
			}
			var v any
			if err := n.Decode(&v); err != nil {
				return nil, fmt.Errorf("%s: document %d: %w", file, len(docs), err)
			}
			b, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("%s: document %d: %w", file, len(docs), err)
			}
			docs = append(docs, b)
		}
	}
	var objs []Object
	for i, doc := range docs {
		if string(doc) == "null" {
			continue // an empty document
		}
		var tm metav1.TypeMeta
		if err := json.Unmarshal(doc, &tm); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", file, i, err)
		}
		mk, ok := kinds[tm.Kind]
		if !ok {
			return nil, fmt.Errorf("%s: document %d: unexpected kind %q", file, i, tm.Kind)
		}
		obj := mk()
		strict, err := sigsjson.UnmarshalStrict(doc, obj)
		if err == nil {
			err = errors.Join(strict...)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d (%s): %w", file, i, tm.Kind, err)
		}
		objs = append(objs, Object{Kind: tm.Kind, Obj: obj, File: file, Doc: i})
	}
	return objs, nil
}

func meta(obj any) *metav1.ObjectMeta {
	switch o := obj.(type) {
	case *corev1.Namespace:
		return &o.ObjectMeta
	case *corev1.Pod:
		return &o.ObjectMeta
	case *corev1.Service:
		return &o.ObjectMeta
	case *appsv1.Deployment:
		return &o.ObjectMeta
	case *appsv1.StatefulSet:
		return &o.ObjectMeta
	case *appsv1.DaemonSet:
		return &o.ObjectMeta
	case *appsv1.ReplicaSet:
		return &o.ObjectMeta
	case *networkingv1.NetworkPolicy:
		return &o.ObjectMeta
	}
	return &metav1.ObjectMeta{}
}

// Check validates one object on its own.
func Check(obj any) error {
	var errs field.ErrorList
	m := meta(obj)
	errs = append(errs, checkMeta(m, obj)...)
	switch o := obj.(type) {
	case *corev1.Pod:
		errs = append(errs, checkPodSpec(&o.Spec, field.NewPath("spec"))...)
		if o.Spec.HostNetwork && o.Status.PodIP != "" && o.Status.PodIP != o.Status.HostIP {
			errs = append(errs, field.Invalid(field.NewPath("status", "podIP"), o.Status.PodIP, "hostNetwork pod IP differs from hostIP"))
		}
		for i, ip := range o.Status.PodIPs {
			if _, err := netip.ParseAddr(ip.IP); err != nil {
				errs = append(errs, field.Invalid(field.NewPath("status", "podIPs").Index(i), ip.IP, err.Error()))
			}
		}
	case *appsv1.Deployment:
		errs = append(errs, checkTemplate(o.Spec.Selector, &o.Spec.Template, field.NewPath("spec"))...)
	case *appsv1.StatefulSet:
		errs = append(errs, checkTemplate(o.Spec.Selector, &o.Spec.Template, field.NewPath("spec"))...)
	case *appsv1.DaemonSet:
		errs = append(errs, checkTemplate(o.Spec.Selector, &o.Spec.Template, field.NewPath("spec"))...)
	case *appsv1.ReplicaSet:
		errs = append(errs, checkTemplate(o.Spec.Selector, &o.Spec.Template, field.NewPath("spec"))...)
	case *corev1.Service:
		for i, p := range o.Spec.Ports {
			path := field.NewPath("spec", "ports").Index(i)
			errs = append(errs, portNum(path.Child("port"), int(p.Port))...)
			if p.Protocol != "" { // defaulted to TCP
				errs = append(errs, protocol(path.Child("protocol"), p.Protocol)...)
			}
			if p.TargetPort.Type == intstr.String {
				errs = append(errs, portName(path.Child("targetPort"), p.TargetPort.StrVal)...)
			}
		}
		errs = append(errs, metav1validation.ValidateLabels(o.Spec.Selector, field.NewPath("spec", "selector"))...)
	case *networkingv1.NetworkPolicy:
		errs = append(errs, NetworkPolicySpec(&o.Spec)...)
	}
	return errs.ToAggregate()
}

func checkMeta(m *metav1.ObjectMeta, obj any) field.ErrorList {
	var errs field.ErrorList
	path := field.NewPath("metadata")
	if _, ok := obj.(*corev1.Namespace); ok {
		for _, msg := range validation.IsDNS1123Label(m.Name) {
			errs = append(errs, field.Invalid(path.Child("name"), m.Name, msg))
		}
		// The API server sets this label; a manifest may leave it out.
		if v, ok := m.Labels["kubernetes.io/metadata.name"]; ok && v != m.Name {
			errs = append(errs, field.Invalid(path.Child("labels"), m.Labels, "kubernetes.io/metadata.name must be the namespace name"))
		}
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(m.Name) {
			errs = append(errs, field.Invalid(path.Child("name"), m.Name, msg))
		}
		for _, msg := range validation.IsDNS1123Label(m.Namespace) {
			errs = append(errs, field.Invalid(path.Child("namespace"), m.Namespace, msg))
		}
	}
	errs = append(errs, metav1validation.ValidateLabels(m.Labels, path.Child("labels"))...)
	return errs
}

func checkTemplate(sel *metav1.LabelSelector, t *corev1.PodTemplateSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if sel == nil {
		return append(errs, field.Required(path.Child("selector"), ""))
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	switch {
	case err != nil:
		errs = append(errs, field.Invalid(path.Child("selector"), sel, err.Error()))
	case s.Empty():
		errs = append(errs, field.Invalid(path.Child("selector"), sel, "empty selector"))
	case !s.Matches(labels.Set(t.Labels)):
		errs = append(errs, field.Invalid(path.Child("template", "metadata", "labels"), t.Labels, "selector does not match template labels"))
	}
	errs = append(errs, metav1validation.ValidateLabels(t.Labels, path.Child("template", "metadata", "labels"))...)
	return append(errs, checkPodSpec(&t.Spec, path.Child("template", "spec"))...)
}

func checkPodSpec(spec *corev1.PodSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(spec.Containers) == 0 {
		errs = append(errs, field.Required(path.Child("containers"), ""))
	}
	names := map[string]bool{}
	for i, c := range spec.Containers {
		cpath := path.Child("containers").Index(i)
		for j, p := range c.Ports {
			ppath := cpath.Child("ports").Index(j)
			errs = append(errs, portNum(ppath.Child("containerPort"), int(p.ContainerPort))...)
			if p.Protocol != "" {
				errs = append(errs, protocol(ppath.Child("protocol"), p.Protocol)...)
			}
			if p.Name != "" {
				errs = append(errs, portName(ppath.Child("name"), p.Name)...)
				if names[p.Name] {
					errs = append(errs, field.Duplicate(ppath.Child("name"), p.Name))
				}
				names[p.Name] = true
			}
			if spec.HostNetwork && p.HostPort != 0 && p.HostPort != p.ContainerPort {
				errs = append(errs, field.Invalid(ppath.Child("hostPort"), p.HostPort, "must equal containerPort with hostNetwork"))
			}
		}
	}
	return errs
}

// NetworkPolicySpec validates a NetworkPolicy spec as the API server does
// for the fields Ward evaluates.
func NetworkPolicySpec(spec *networkingv1.NetworkPolicySpec) field.ErrorList {
	var errs field.ErrorList
	path := field.NewPath("spec")
	errs = append(errs, selector(path.Child("podSelector"), &spec.PodSelector)...)
	seen := map[networkingv1.PolicyType]bool{}
	for i, t := range spec.PolicyTypes {
		p := path.Child("policyTypes").Index(i)
		if t != networkingv1.PolicyTypeIngress && t != networkingv1.PolicyTypeEgress {
			errs = append(errs, field.NotSupported(p, t, []string{"Ingress", "Egress"}))
		}
		if seen[t] {
			errs = append(errs, field.Duplicate(p, t))
		}
		seen[t] = true
	}
	for i, r := range spec.Ingress {
		rp := path.Child("ingress").Index(i)
		errs = append(errs, ports(rp.Child("ports"), r.Ports)...)
		errs = append(errs, peers(rp.Child("from"), r.From)...)
	}
	for i, r := range spec.Egress {
		rp := path.Child("egress").Index(i)
		errs = append(errs, ports(rp.Child("ports"), r.Ports)...)
		errs = append(errs, peers(rp.Child("to"), r.To)...)
	}
	return errs
}

func selector(path *field.Path, s *metav1.LabelSelector) field.ErrorList {
	errs := metav1validation.ValidateLabelSelector(s, metav1validation.LabelSelectorValidationOptions{}, path)
	if _, err := metav1.LabelSelectorAsSelector(s); err != nil {
		errs = append(errs, field.Invalid(path, s, err.Error()))
	}
	return errs
}

func ports(path *field.Path, ps []networkingv1.NetworkPolicyPort) field.ErrorList {
	var errs field.ErrorList
	for i, p := range ps {
		pp := path.Index(i)
		if p.Protocol != nil {
			errs = append(errs, protocol(pp.Child("protocol"), *p.Protocol)...)
		}
		if p.Port == nil {
			if p.EndPort != nil {
				errs = append(errs, field.Forbidden(pp.Child("endPort"), "may not be specified when port is not specified"))
			}
			continue
		}
		if p.Port.Type == intstr.String {
			errs = append(errs, portName(pp.Child("port"), p.Port.StrVal)...)
			if p.EndPort != nil {
				errs = append(errs, field.Forbidden(pp.Child("endPort"), "may not be specified when port is a named port"))
			}
			continue
		}
		errs = append(errs, portNum(pp.Child("port"), int(p.Port.IntVal))...)
		if p.EndPort != nil {
			errs = append(errs, portNum(pp.Child("endPort"), int(*p.EndPort))...)
			if *p.EndPort < p.Port.IntVal {
				errs = append(errs, field.Invalid(pp.Child("endPort"), *p.EndPort, "must be greater than or equal to port"))
			}
		}
	}
	return errs
}

func peers(path *field.Path, ps []networkingv1.NetworkPolicyPeer) field.ErrorList {
	var errs field.ErrorList
	for i, p := range ps {
		pp := path.Index(i)
		n := 0
		if p.PodSelector != nil {
			n++
			errs = append(errs, selector(pp.Child("podSelector"), p.PodSelector)...)
		}
		if p.NamespaceSelector != nil {
			n++
			errs = append(errs, selector(pp.Child("namespaceSelector"), p.NamespaceSelector)...)
		}
		if p.IPBlock != nil {
			if n > 0 {
				errs = append(errs, field.Forbidden(pp, "may not specify more than 1 peer type"))
			}
			n++
			errs = append(errs, ipBlock(pp.Child("ipBlock"), p.IPBlock)...)
		}
		if n == 0 {
			errs = append(errs, field.Required(pp, "must specify a peer"))
		}
	}
	return errs
}

func ipBlock(path *field.Path, b *networkingv1.IPBlock) field.ErrorList {
	var errs field.ErrorList
	cidr, err := netip.ParsePrefix(b.CIDR)
	if err != nil {
		return append(errs, field.Invalid(path.Child("cidr"), b.CIDR, err.Error()))
	}
	if cidr.Masked() != cidr {
		errs = append(errs, field.Invalid(path.Child("cidr"), b.CIDR, "host bits must be zero"))
	}
	for i, x := range b.Except {
		xp := path.Child("except").Index(i)
		ex, err := netip.ParsePrefix(x)
		if err != nil {
			errs = append(errs, field.Invalid(xp, x, err.Error()))
			continue
		}
		if ex.Masked() != ex {
			errs = append(errs, field.Invalid(xp, x, "host bits must be zero"))
		}
		if ex.Addr().Is4() != cidr.Addr().Is4() || !cidr.Contains(ex.Addr()) || ex.Bits() <= cidr.Bits() {
			errs = append(errs, field.Invalid(xp, x, "must be a strict subset of cidr"))
		}
	}
	return errs
}

func portNum(path *field.Path, n int) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsValidPortNum(n) {
		errs = append(errs, field.Invalid(path, n, msg))
	}
	return errs
}

func portName(path *field.Path, name string) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsValidPortName(name) {
		errs = append(errs, field.Invalid(path, name, msg))
	}
	return errs
}

func protocol(path *field.Path, p corev1.Protocol) field.ErrorList {
	switch p {
	case corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
		return nil
	}
	return field.ErrorList{field.NotSupported(path, p, []string{"TCP", "UDP", "SCTP"})}
}

// Cluster checks what spans objects: unique names per kind and namespace,
// owner references that resolve (kind, name and uid) to an object in
// objs, and pod IPs used by at most one non-hostNetwork pod. Owner
// references are checked only when objs hold the owner's kind (a dump).
func Cluster(objs []Object) error {
	type key struct{ kind, ns, name string }
	byKey := map[key]*metav1.ObjectMeta{}
	kindsPresent := map[string]bool{}
	var errs []error
	for _, o := range objs {
		m := meta(o.Obj)
		k := key{o.Kind, m.Namespace, m.Name}
		if byKey[k] != nil {
			errs = append(errs, fmt.Errorf("%s: duplicate object", o))
		}
		byKey[k] = m
		kindsPresent[o.Kind] = true
	}
	ips := map[string]string{}
	for _, o := range objs {
		m := meta(o.Obj)
		for _, ref := range m.OwnerReferences {
			if !kindsPresent[ref.Kind] {
				continue
			}
			owner := byKey[key{ref.Kind, m.Namespace, ref.Name}]
			switch {
			case owner == nil:
				errs = append(errs, fmt.Errorf("%s: owner %s/%s not found", o, ref.Kind, ref.Name))
			case owner.UID != ref.UID:
				errs = append(errs, fmt.Errorf("%s: owner %s/%s uid %s, want %s", o, ref.Kind, ref.Name, ref.UID, owner.UID))
			}
		}
		if p, ok := o.Obj.(*corev1.Pod); ok && !p.Spec.HostNetwork && p.Status.PodIP != "" {
			if prev, dup := ips[p.Status.PodIP]; dup {
				errs = append(errs, fmt.Errorf("%s: pod IP %s also used by %s", o, p.Status.PodIP, prev))
			}
			ips[p.Status.PodIP] = o.String()
		}
	}
	return errors.Join(errs...)
}
