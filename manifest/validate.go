package manifest

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/wardsec/ward/guard/authz"
	"github.com/wardsec/ward/ipset"
	"github.com/wardsec/ward/istio"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Kinds of input errors, for errors.Is. Every *Error wraps one of them.
var (
	// ErrRead: a path could not be read.
	ErrRead = errors.New("cannot read input")
	// ErrSyntax: a document is not valid YAML or JSON.
	ErrSyntax = errors.New("invalid syntax")
	// ErrType: a field of a known kind has the wrong type, such as a list
	// where a number belongs.
	ErrType = errors.New("wrong field type")
	// ErrInvalid: a field has a value the API server would reject. A
	// FieldError matches it.
	ErrInvalid = errors.New("invalid field value")
	// ErrDuplicate: two objects have the same kind, namespace and name.
	ErrDuplicate = errors.New("duplicate object")
	// ErrTooLarge: an input is larger than the size limit
	// (Options.MaxFileSize). It comes with ErrRead.
	ErrTooLarge = errors.New("input larger than the size limit")
	// ErrTooManyErrors: a file has more errors than MaxErrorsPerFile; the
	// error counts those not reported.
	ErrTooManyErrors = errors.New("too many errors")
	// ErrNotApplied: a file of a directory holds Kubernetes objects, but
	// kubectl apply -f on that directory skips it: its name ends in
	// .YAML, .Yml, .JSON or another spelling of .yaml, .yml or .json
	// that differs in case, and kubectl matches extensions exactly. Its
	// objects are not read.
	ErrNotApplied = errors.New("not applied by kubectl apply -f on its directory")
)

// Kinds of warnings (Set.Warnings): input left out on purpose.
var (
	// ErrNotRegular: a directory walk met a named pipe, socket or device,
	// which it does not read (reading could block forever or never end).
	// Such files are read when named explicitly.
	ErrNotRegular = errors.New("not a regular file: not read")
	// ErrWalkedTwice: a directory walk reached a directory it had already
	// walked, through a symbolic link (a loop, or two links to one place).
	ErrWalkedTwice = errors.New("directory already read: not read again")
)

// FieldError is a field of an object that the API server would reject.
// Path uses the Policy.Lines format, such as
// "spec.ingress[0].ports[1].endPort".
type FieldError struct {
	Path string
	Msg  string
}

func (e FieldError) Error() string { return e.Path + ": " + e.Msg }

// Is makes a FieldError match ErrInvalid.
func (e FieldError) Is(target error) bool { return target == ErrInvalid }

// ValidatePolicy checks a NetworkPolicy the way the API server would, for
// the fields Ward evaluates: name, selectors, ports, peers, ipBlocks and
// policyTypes. It returns nil for a valid policy.
func ValidatePolicy(p *networkingv1.NetworkPolicy) []FieldError {
	var v validator
	if p.Name == "" {
		v.add("metadata.name", "required")
	}
	v.selector("spec.podSelector", &p.Spec.PodSelector)
	for i, r := range p.Spec.Ingress {
		path := "spec.ingress[" + strconv.Itoa(i) + "]"
		v.ports(path, r.Ports)
		v.peers(path+".from", r.From)
	}
	for i, r := range p.Spec.Egress {
		path := "spec.egress[" + strconv.Itoa(i) + "]"
		v.ports(path, r.Ports)
		v.peers(path+".to", r.To)
	}
	for i, t := range p.Spec.PolicyTypes {
		if t != networkingv1.PolicyTypeIngress && t != networkingv1.PolicyTypeEgress {
			v.add("spec.policyTypes["+strconv.Itoa(i)+"]", fmt.Sprintf("unsupported value %q: must be Ingress or Egress", t))
		}
	}
	if len(p.Spec.PolicyTypes) > 2 {
		v.add("spec.policyTypes", "may not specify more than two policyTypes")
	}
	return v.errs
}

// validator collects FieldErrors.
type validator struct{ errs []FieldError }

func (v *validator) add(path, msg string) { v.errs = append(v.errs, FieldError{Path: path, Msg: msg}) }

// selector checks a label selector with the apimachinery parser, one
// requirement at a time so that errors point at the faulty one.
func (v *validator) selector(path string, s *metav1.LabelSelector) {
	if s == nil {
		return
	}
	if _, err := metav1.LabelSelectorAsSelector(s); err == nil {
		return
	}
	for _, k := range slices.Sorted(maps.Keys(s.MatchLabels)) {
		one := &metav1.LabelSelector{MatchLabels: map[string]string{k: s.MatchLabels[k]}}
		if _, err := metav1.LabelSelectorAsSelector(one); err != nil {
			v.add(path+".matchLabels."+k, err.Error())
		}
	}
	for i, e := range s.MatchExpressions {
		one := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{e}}
		if _, err := metav1.LabelSelectorAsSelector(one); err != nil {
			v.add(path+".matchExpressions["+strconv.Itoa(i)+"]"+requirementField(e), err.Error())
		}
	}
}

// requirementField names the field of a rejected selector requirement.
func requirementField(e metav1.LabelSelectorRequirement) string {
	switch e.Operator {
	case metav1.LabelSelectorOpIn, metav1.LabelSelectorOpNotIn, metav1.LabelSelectorOpExists, metav1.LabelSelectorOpDoesNotExist:
	default:
		return ".operator"
	}
	if _, err := labels.NewRequirement(e.Key, selection.Exists, nil); err != nil {
		return ".key"
	}
	for j, val := range e.Values {
		if _, err := labels.NewRequirement(e.Key, selection.In, []string{val}); err != nil {
			return ".values[" + strconv.Itoa(j) + "]"
		}
	}
	return ".values"
}

func (v *validator) ports(rule string, ports []networkingv1.NetworkPolicyPort) {
	for i, p := range ports {
		path := rule + ".ports[" + strconv.Itoa(i) + "]"
		if p.Protocol != nil {
			v.protocol(path+".protocol", *p.Protocol)
		}
		numeric := false
		if p.Port != nil {
			if p.Port.Type == intstr.Int {
				numeric = true
				if msgs := validation.IsValidPortNum(int(p.Port.IntVal)); len(msgs) > 0 {
					v.add(path+".port", fmt.Sprintf("invalid port %d: %s", p.Port.IntVal, msgs[0]))
				}
			} else if msgs := validation.IsValidPortName(p.Port.StrVal); len(msgs) > 0 {
				v.add(path+".port", fmt.Sprintf("invalid port name %q: %s", p.Port.StrVal, msgs[0]))
			}
		}
		if p.EndPort != nil {
			switch {
			case p.Port == nil:
				v.add(path+".endPort", "may not be specified when port is not specified")
			case !numeric:
				v.add(path+".endPort", "may not be specified when port is non-numeric")
			case *p.EndPort < p.Port.IntVal:
				v.add(path+".endPort", fmt.Sprintf("must be greater than or equal to port %d", p.Port.IntVal))
			default:
				if msgs := validation.IsValidPortNum(int(*p.EndPort)); len(msgs) > 0 {
					v.add(path+".endPort", fmt.Sprintf("invalid port %d: %s", *p.EndPort, msgs[0]))
				}
			}
		}
	}
}

func (v *validator) protocol(path string, p corev1.Protocol) {
	switch p {
	case corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
	default:
		v.add(path, fmt.Sprintf("unsupported protocol %q: must be TCP, UDP or SCTP", p))
	}
}

func (v *validator) peers(list string, peers []networkingv1.NetworkPolicyPeer) {
	for i, p := range peers {
		path := list + "[" + strconv.Itoa(i) + "]"
		selectors := p.PodSelector != nil || p.NamespaceSelector != nil
		switch {
		case p.IPBlock != nil && selectors:
			v.add(path, "may not specify both ipBlock and another peer")
		case p.IPBlock == nil && !selectors:
			v.add(path, "must specify a peer")
		}
		v.selector(path+".podSelector", p.PodSelector)
		v.selector(path+".namespaceSelector", p.NamespaceSelector)
		if p.IPBlock != nil {
			v.ipBlock(path+".ipBlock", p.IPBlock)
		}
	}
}

func (v *validator) ipBlock(path string, b *networkingv1.IPBlock) {
	if b.CIDR == "" {
		v.add(path+".cidr", "required")
		return
	}
	cidr, err := ipset.ParsePrefix(b.CIDR)
	if err != nil {
		v.add(path+".cidr", err.Error())
	}
	for i, e := range b.Except {
		ep := path + ".except[" + strconv.Itoa(i) + "]"
		except, err := ipset.ParsePrefix(e)
		switch {
		case err != nil:
			v.add(ep, err.Error())
		case !cidr.IsValid():
		case except.Addr().BitLen() != cidr.Addr().BitLen() || except.Bits() <= cidr.Bits() || !cidr.Contains(except.Addr()):
			v.add(ep, fmt.Sprintf("%s must be a strict subset of cidr %s", e, b.CIDR))
		}
	}
}

// checkObject validates a decoded object of a known kind: the name, and the
// fields Ward evaluates.
func istioErrors(name string, errs []istio.FieldError) []FieldError {
	var out []FieldError
	if name == "" {
		out = append(out, FieldError{"metadata.name", "required"})
	}
	for _, e := range errs {
		out = append(out, FieldError{e.Path, e.Msg})
	}
	return out
}

func checkObject(obj any) []FieldError {
	switch o := obj.(type) {
	case *networkingv1.NetworkPolicy:
		return ValidatePolicy(o)
	case *peerAuthentication:
		return istioErrors(o.Name, o.istio().Validate())
	case *authorizationPolicy:
		// Istio's validation of the rules too (guard/authz checks them
		// as the webhook does): a policy it rejects is not in force.
		var errs []istio.FieldError
		for _, pe := range authz.Validate(o.istio()) {
			errs = append(errs, istio.FieldError{Path: pe.Path, Msg: pe.Msg})
		}
		return istioErrors(o.Name, errs)
	}
	var v validator
	m := meta(obj)
	if m == nil {
		return nil
	}
	if m.GetName() == "" {
		v.add("metadata.name", "required")
	}
	switch o := obj.(type) {
	case *corev1.Service:
		for i, p := range o.Spec.Ports {
			path := "spec.ports[" + strconv.Itoa(i) + "]"
			if msgs := validation.IsValidPortNum(int(p.Port)); len(msgs) > 0 {
				v.add(path+".port", fmt.Sprintf("invalid port %d: %s", p.Port, msgs[0]))
			}
			if p.Protocol != "" {
				v.protocol(path+".protocol", p.Protocol)
			}
		}
	case *corev1.Pod:
		if o.Status.PodIP != "" {
			if _, err := netip.ParseAddr(o.Status.PodIP); err != nil {
				v.add("status.podIP", fmt.Sprintf("invalid IP %q", o.Status.PodIP))
			}
		}
		for i, ip := range o.Status.PodIPs {
			if _, err := netip.ParseAddr(ip.IP); err != nil {
				v.add("status.podIPs["+strconv.Itoa(i)+"].ip", fmt.Sprintf("invalid IP %q", ip.IP))
			}
		}
	}
	if t, spec := podTemplate(obj); t != nil {
		v.containers(spec+".containers", t.Spec.Containers)
		v.containers(spec+".initContainers", t.Spec.InitContainers)
	}
	return v.errs
}

// checkInput is checkObject for an object read from input, which must
// also have what every real object has: a pod template (where the API
// requires one) with at least one container. Without, it is what a
// misspelt template or containers key leaves, since unknown fields are
// dropped: never a workload audited clean. (FromObjects builds objects
// from other sources, such as firewall inventories, that may have none.)
func checkInput(obj any) []FieldError {
	fes := append(checkNames(obj), checkObject(obj)...)
	if t, spec := podTemplate(obj); t != nil && len(t.Spec.Containers) == 0 && templateRequired(obj) {
		fes = append(fes, FieldError{spec + ".containers", "required: a pod has at least one container (is the template or containers key misspelt?)"})
	}
	return fes
}

// checkNames checks metadata.name, metadata.namespace, the labels and the
// annotation keys the way the API server does: a name or namespace it
// refuses (`name: Deny_All`, `namespace: Prod`), or a label (`tier: "web
// app"`), means the object is never created, so such a policy is not in
// force, whatever it says.
func checkNames(obj any) []FieldError {
	m := meta(obj)
	if m == nil {
		return nil
	}
	var v validator
	if name := m.GetName(); name != "" {
		var msgs []string
		switch obj.(type) {
		case *corev1.Namespace, *corev1.Service:
			// A Service's name is a DNS label (RFC 1035, or RFC 1123
			// with RelaxedServiceNameValidation): the laxer of the two.
			msgs = apivalidation.NameIsDNSLabel(name, false)
		case *rbacv1.Role, *rbacv1.ClusterRole, *rbacv1.RoleBinding, *rbacv1.ClusterRoleBinding:
			msgs = content.IsPathSegmentName(name)
		default:
			msgs = apivalidation.NameIsDNSSubdomain(name, false)
		}
		if len(msgs) > 0 {
			v.add("metadata.name", fmt.Sprintf("invalid name %q: %s", name, msgs[0]))
		}
	}
	if ns := m.GetNamespace(); ns != "" && !clusterScoped(kindOf(obj)) {
		if msgs := apivalidation.ValidateNamespaceName(ns, false); len(msgs) > 0 {
			v.add("metadata.namespace", fmt.Sprintf("invalid namespace %q: %s", ns, msgs[0]))
		}
	}
	lbls := m.GetLabels()
	for _, k := range slices.Sorted(maps.Keys(lbls)) {
		if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
			v.add("metadata.labels."+k, fmt.Sprintf("invalid label key %q: %s", k, msgs[0]))
		} else if msgs := validation.IsValidLabelValue(lbls[k]); len(msgs) > 0 {
			v.add("metadata.labels."+k, fmt.Sprintf("invalid label value %q: %s", lbls[k], msgs[0]))
		}
	}
	// Annotation keys are qualified names in any case; their size is not
	// checked, as a dump's last-applied-configuration is dropped by now.
	for _, k := range slices.Sorted(maps.Keys(m.GetAnnotations())) {
		if msgs := validation.IsQualifiedName(strings.ToLower(k)); len(msgs) > 0 {
			v.add("metadata.annotations."+k, fmt.Sprintf("invalid annotation key %q: %s", k, msgs[0]))
		}
	}
	return v.errs
}

// templateRequired reports whether the API requires obj's pod template:
// a ReplicationController's and a DeploymentConfig's may be absent, and a
// Rollout with a workloadRef has none.
func templateRequired(obj any) bool {
	switch o := obj.(type) {
	case *corev1.ReplicationController:
		return o.Spec.Template != nil
	case *DeploymentConfig:
		return o.Spec.Template != nil
	case *Rollout:
		return o.Spec.WorkloadRef == nil
	}
	return true
}

func (v *validator) containers(list string, cs []corev1.Container) {
	for i, c := range cs {
		for j, p := range c.Ports {
			path := list + "[" + strconv.Itoa(i) + "].ports[" + strconv.Itoa(j) + "]"
			if msgs := validation.IsValidPortNum(int(p.ContainerPort)); len(msgs) > 0 {
				v.add(path+".containerPort", fmt.Sprintf("invalid port %d: %s", p.ContainerPort, msgs[0]))
			}
			if p.HostPort != 0 {
				if msgs := validation.IsValidPortNum(int(p.HostPort)); len(msgs) > 0 {
					v.add(path+".hostPort", fmt.Sprintf("invalid port %d: %s", p.HostPort, msgs[0]))
				}
			}
			if p.Protocol != "" {
				v.protocol(path+".protocol", p.Protocol)
			}
			if p.Name != "" {
				if msgs := validation.IsValidPortName(p.Name); len(msgs) > 0 {
					v.add(path+".name", fmt.Sprintf("invalid port name %q: %s", p.Name, msgs[0]))
				}
			}
		}
	}
}

// validProtocol reports whether p is a protocol NetworkPolicy knows.
func validProtocol(p corev1.Protocol) bool {
	return p == corev1.ProtocolTCP || p == corev1.ProtocolUDP || p == corev1.ProtocolSCTP
}
