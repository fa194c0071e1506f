package podsec

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/pod-security-admission/api"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/internal/registry"
	"github.com/wardsec/ward/manifest"
)

// Options configure Audit. The zero value audits at the restricted level of
// the latest Pod Security Standards version, reports unpinned images as
// info and does not run pod/exposed-unisolated.
type Options struct {
	// Level is the Pod Security Standards level: "baseline" or
	// "restricted"; "" means restricted.
	Level string
	// Version is the Pod Security Standards version, such as "v1.30" or
	// "latest"; "" means latest. A version newer than the library's
	// newest is evaluated as that newest, as the admission controller
	// does.
	Version string
	// DigestSeverity is the severity of pod/image-not-pinned. Its zero
	// value is finding.Info, the default.
	DigestSeverity finding.Severity
	// IngressIsolated reports whether NetworkPolicies isolate w for
	// ingress (`ward check` also requires that they do not let every
	// outside address in on every port). When nil,
	// pod/exposed-unisolated is not run.
	IngressIsolated func(w *manifest.Workload) bool
	// TrustedRegistries are ward.yaml's audit.registries.trusted: registry
	// hosts and repository prefixes (registry.Parse). When empty,
	// pod/untrusted-registry is not run.
	TrustedRegistries []string
}

// Audit checks the pod template of every workload of set, and the spec of
// every Pod of set.DeviatingPods, against the Pod Security Standards and
// Ward's own hardening rules (a Pod of DeviatingPods gets
// pod/deviates-from-template and the findings its workload does not
// already get), and of every pod spec of set.Skipped's Pods (see
// embedded), and the NodePort and
// LoadBalancer Services of set against ingress isolation, its RBAC
// roles and bindings for dangerous rights and who holds them, and its
// ConfigMaps for secrets. It returns the
// findings sorted with finding.Sort. The set is not modified.
//
// The error is non-nil only for invalid options: a Level or Version that
// does not parse, the privileged level, which has no checks, or an invalid
// TrustedRegistries entry.
func Audit(set *manifest.Set, opts Options) ([]finding.Finding, error) {
	a, err := newAuditor(opts)
	if err != nil {
		return nil, err
	}
	if set == nil {
		return nil, nil
	}
	a.accounts = map[string]*corev1.ServiceAccount{}
	for _, o := range set.Objects {
		if sa, ok := o.Obj.(*corev1.ServiceAccount); ok {
			a.accounts[sa.Namespace+"/"+sa.Name] = sa
		}
	}
	owners := map[string]bool{}
	for _, w := range set.DeviatingPods {
		if w != nil && w.Deviation != nil {
			owners[w.Deviation.Owner] = true
		}
	}
	same := map[string]bool{} // the findings of owners, as sameKey writes them
	for _, w := range set.Workloads {
		if w == nil || w.Template == nil || w.Deviation != nil {
			continue // a deviating Pod modelled apart: audited below
		}
		start := len(a.out)
		a.pss(w)
		a.hardening(w)
		if owners[w.ID()] {
			for _, f := range a.out[start:] {
				same[sameKey(f, w.ID())] = true
			}
		}
	}
	for _, w := range set.DeviatingPods {
		if w == nil || w.Template == nil || w.Deviation == nil {
			continue
		}
		a.deviation(w)
		start := len(a.out)
		a.pss(w)
		a.hardening(w)
		// What its workload's template has too is reported there.
		kept := a.out[:start]
		for _, f := range a.out[start:] {
			if !same[sameKey(f, w.ID())] {
				kept = append(kept, f)
			}
		}
		a.out = kept
	}
	a.embedded(set)
	a.hostPathVolumes(set)
	a.exposure(set)
	a.rbac(set)
	a.configMaps(set)
	if opts.IngressIsolated != nil {
		a.exposed(set)
	}
	return finding.Sort(a.out), nil
}

// auditor holds the resolved options and the findings.
type auditor struct {
	opts Options
	// requested is the version asked for; version the one evaluated.
	requested, version api.Version
	checks             []pssCheck
	out                []finding.Finding
	// trusted are the parsed Options.TrustedRegistries.
	trusted registry.Trusted
	// accounts are the input's ServiceAccounts by namespace/name.
	accounts map[string]*corev1.ServiceAccount
}

func newAuditor(opts Options) (*auditor, error) {
	levelName := opts.Level
	if levelName == "" {
		levelName = string(api.LevelRestricted)
	}
	level, err := api.ParseLevel(levelName)
	if err != nil || level == api.LevelPrivileged {
		return nil, fmt.Errorf("podsec: invalid level %q: want baseline or restricted", opts.Level)
	}
	versionName := opts.Version
	if versionName == "" {
		versionName = "latest"
	}
	version, err := api.ParseVersion(versionName)
	if err != nil {
		return nil, fmt.Errorf("podsec: invalid Pod Security Standards version %q: %w", opts.Version, err)
	}
	trusted, err := registry.Parse(opts.TrustedRegistries)
	if err != nil {
		return nil, fmt.Errorf("podsec: trusted registries: %w", err)
	}
	a := &auditor{opts: opts, requested: version, trusted: trusted}
	a.version, a.checks = selectChecks(defaultChecks(), api.LevelVersion{Level: level, Version: version})
	return a, nil
}

func (a *auditor) report(rule string, sev finding.Severity, file string, line int, obj, msg, fix string) {
	a.out = append(a.out, finding.Finding{
		Rule: rule, Severity: sev, File: file, Line: line, Object: obj, Message: msg, Fix: fix,
	})
}

// LatestVersion is the Pod Security Standards version that "latest"
// evaluates, such as "v1.37": the newest revision of the library's checks.
// Other inputs that need a Kubernetes version, such as the rendering of a
// Helm chart, default to it so that both agree.
func LatestVersion() string {
	v, _ := selectChecks(defaultChecks(), api.LevelVersion{Level: api.LevelRestricted, Version: api.LatestVersion()})
	return v.String()
}

// deviation reports a Pod folded into a workload whose spec is not the
// workload's template: the findings that follow name it.
func (a *auditor) deviation(w *manifest.Workload) {
	d := w.Deviation
	also := ""
	if d.Pods > 1 {
		also = fmt.Sprintf(" (and %d other Pods of %s with the same spec, audited as this one)", d.Pods-1, d.Owner)
	}
	model := ""
	if d.Modelled {
		model = "; its labels, host network or named ports differ too, so the network model takes it as a workload of its own"
	}
	a.report(ruleDeviatesTemplate, finding.Medium, w.Source.File, w.Source.Line, w.ID(),
		fmt.Sprintf("%s%s is folded into %s (%s) through its ownerReferences, but its spec differs from that workload's pod template "+
			"beyond what the API server and admission add: it is audited on its own spec, and the findings that %s does not already get name it%s", w.ID(), also, d.Owner, d.OwnerSource, d.Owner, model),
		"find out what created or changed the Pod (kubectl debug, a mutating webhook, a Pod made by hand) and delete it, or audit what the webhook adds")
}

// sameKey identifies a finding about workload id whatever the workload:
// its rule and its message with id taken out. A Pod of DeviatingPods and
// the workload it is folded into share the findings of the same key.
func sameKey(f finding.Finding, id string) string {
	return f.Rule + "\x00" + strings.ReplaceAll(f.Message, id, "\x00")
}
