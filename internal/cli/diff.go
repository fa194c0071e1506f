package cli

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/wardsec/ward/assertion"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
	"github.com/wardsec/ward/report"
)

func diffCmd(e *env) *cobra.Command {
	var out string
	var exitCode bool
	c := &cobra.Command{
		Use:   "diff OLD NEW",
		Short: "Show how reachability changes between two versions",
		Long: `Compare the reachability of two versions of the manifests (files or
directories) and list every pair whose allowed ports differ: added,
removed, or changed. It compares what may flow, not the YAML text.

With --exit-code, exit 1 when anything changed (for CI). When a policy
Ward does not evaluate (Calico's, Cilium's, an AdminNetworkPolicy, a Helm
test hook) is added, changed or removed between the versions, the diff
cannot show what that opens or closes: it exits 2 naming it.`,
		Example: `  ward diff old/ new/
  git show main:deploy.yaml > /tmp/old.yaml && ward diff /tmp/old.yaml deploy.yaml --exit-code`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := outputFlag(out, "text", "json"); err != nil {
				return err
			}
			var engs [2]*netpol.Engine
			var sets [2]*manifest.Set
			for i, p := range args {
				set, err := e.load([]string{p})
				if err != nil {
					return err
				}
				eng, err := e.compile(set)
				if err != nil {
					return err
				}
				engs[i], sets[i] = eng, set
			}
			cs := netpol.Diff(engs[0], engs[1])
			var err error
			if out == "json" {
				if cs == nil {
					cs = []netpol.Change{}
				}
				err = report.JSON(e.stdout, map[string]any{"changes": cs})
			} else {
				err = report.DiffText(e.stdout, cs)
			}
			if err != nil {
				return err
			}
			if moved := unevaluatedChanges(sets[0], sets[1]); len(moved) > 0 {
				// The diff above is that of the policies Ward evaluates; a
				// Calico policy added, changed or removed may open what it
				// does not show, and "no reachability changes" must not
				// pass a gate then.
				return fail(ExitError, errors.New(unevaluatedChangesMessage(moved)))
			}
			if moved := unmodelledPodChanges(sets[0], sets[1]); len(moved) > 0 {
				// A KEDA ScaledJob's or Argo Workflow's pods are not in the
				// network model: a new label or port on them changes
				// what flows without changing the diff above.
				return fail(ExitError, fmt.Errorf("the diff is incomplete: pod specs of custom resources, whose pods are not in the network model, were added, removed or changed in labels, ports or host network between the versions (%s); review what their pods reach and what reaches them by hand",
					strings.Join(moved, "; ")))
			}
			if moved := unknownLabelChanges(sets[0], sets[1]); len(moved) > 0 {
				// A policy admitting {team: web} while web is undeclared
				// matches it on the cluster, not here: "no reachability
				// changes" would be a guess.
				return fail(ExitError, fmt.Errorf("the diff is incomplete: NetworkPolicies added, removed or changed read labels of namespaces the input does not declare, which Ward takes to have none but kubernetes.io/metadata.name (%s); give the Namespace objects to both versions (--workloads)",
					strings.Join(moved, "; ")))
			}
			if exitCode && len(cs) > 0 {
				return fail(ExitFindings, nil)
			}
			return nil
		},
	}
	c.Flags().StringVarP(&out, "output", "o", "text", "output format: text or json")
	c.Flags().BoolVar(&exitCode, "exit-code", false, "exit 1 when reachability changed")
	e.addWorkloadsFlag(c)
	return c
}

// unevaluatedChanges names, printable with file and line, the policies
// Ward does not evaluate that differ between old and new: added, removed,
// or changed in content (Unsupported.Digest).
func unevaluatedChanges(old, new *manifest.Set) []string {
	type key struct{ apiVersion, kind, ns, name, digest string }
	keys := func(s *manifest.Set) map[key]manifest.Unsupported {
		m := map[key]manifest.Unsupported{}
		for _, u := range s.Unsupported {
			if u.Audited {
				continue // Istio's, judged by the mesh audit, not by reachability
			}
			k := key{u.APIVersion, u.Kind, u.Namespace, u.Name, u.Digest}
			if u.Digest == "" {
				k.digest = fmt.Sprintf("unknown %s", u.Source) // never equal to another version's
			}
			m[k] = u
		}
		return m
	}
	return changedObjects(keys(old), keys(new), func(u manifest.Unsupported) string {
		return fmt.Sprintf("%s: %s %s", u.Source, u.Kind, nsName(u.Namespace, u.Name))
	})
}

// changedObjects names, sorted and printable, the objects (by describe)
// whose keys are in n and not in o ("new or changed") and in o and not
// in n ("removed or changed"): keys carry each object's identity and a
// digest of what counts of its content.
func changedObjects[K comparable, V any](o, n map[K]V, describe func(V) string) []string {
	var out []string
	for k, v := range n {
		if _, ok := o[k]; !ok {
			out = append(out, report.Printable(describe(v)+" (new or changed)"))
		}
	}
	for k, v := range o {
		if _, ok := n[k]; !ok {
			out = append(out, report.Printable(describe(v)+" (removed or changed)"))
		}
	}
	slices.Sort(out)
	return out
}

// unmodelledPodChanges names, printable with file and line, the custom
// resources carrying pod specs (manifest.Skipped.Pods) whose pods differ,
// in what decides reachability, between old and new: added, removed, or
// changed in namespace, labels, container ports or host network. Pod
// specs that do not decode count by their paths and errors, as their
// labels are unknown.
func unmodelledPodChanges(old, new *manifest.Set) []string {
	type key struct{ apiVersion, kind, ns, name, digest string }
	type port struct {
		Name          string
		ContainerPort int32
		HostPort      int32
		Protocol      string
	}
	type pod struct {
		Path, Namespace string
		Labels          map[string]string
		HostNetwork     bool
		Ports           []port
	}
	keys := func(s *manifest.Set) map[key]manifest.Skipped {
		m := map[key]manifest.Skipped{}
		for _, sk := range s.Skipped {
			if len(sk.PodSpecs)+len(sk.PodSpecErrors) == 0 {
				continue
			}
			var pods []pod
			for _, w := range sk.Pods {
				p := pod{Path: w.Embedded, Namespace: w.Namespace, Labels: w.Labels}
				if t := w.Template; t != nil {
					p.HostNetwork = t.Spec.HostNetwork
					for _, cs := range [][]corev1.Container{t.Spec.InitContainers, t.Spec.Containers} {
						for _, c := range cs {
							for _, cp := range c.Ports {
								p.Ports = append(p.Ports, port{cp.Name, cp.ContainerPort, cp.HostPort, cmp.Or(string(cp.Protocol), "TCP")})
							}
						}
					}
				}
				pods = append(pods, p)
			}
			var errs []string
			for _, e := range sk.PodSpecErrors {
				errs = append(errs, e.Path+": "+e.Err)
			}
			k := key{sk.APIVersion, sk.Kind, sk.Namespace, sk.Name, ""}
			if b, err := json.Marshal([]any{pods, errs}); err == nil {
				k.digest = string(b)
			} else {
				k.digest = fmt.Sprintf("unknown %s", sk.Source) // never equal to another version's
			}
			m[k] = sk
		}
		return m
	}
	return changedObjects(keys(old), keys(new), func(sk manifest.Skipped) string {
		return fmt.Sprintf("%s: %s %s", sk.Source, sk.Kind, nsName(sk.Namespace, sk.Name))
	})
}

// nsName is name, after its namespace and a slash when it has one.
func nsName(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}

func unevaluatedChangesMessage(moved []string) string {
	n := len(moved)
	const most = 5
	more := ""
	if n > most {
		more = fmt.Sprintf(" and %d more", n-most)
		moved = moved[:most]
	}
	noun := "policies"
	if n == 1 {
		noun = "policy"
	}
	return fmt.Sprintf("the diff is incomplete: %d %s that Ward does not evaluate changed between the versions and may open or close what the diff shows (%s%s); review them by hand",
		n, noun, strings.Join(moved, "; "), more)
}

// unknownLabelChanges names the NetworkPolicies, added, removed or changed
// between old and new, that read labels of a namespace one of the
// versions does not declare (assertion.UnknownLabelPolicies).
func unknownLabelChanges(old, new *manifest.Set) []string {
	key := func(p *manifest.Policy) string {
		b, err := json.Marshal([]any{p.Namespace, p.Name, p.Labels, p.Spec})
		if err != nil {
			return fmt.Sprintf("unknown %s", p.Source) // never equal to another version's
		}
		return string(b)
	}
	keys := func(s *manifest.Set) map[string]bool {
		m := map[string]bool{}
		for _, p := range s.Policies {
			m[key(p)] = true
		}
		return m
	}
	ok, nk := keys(old), keys(new)
	var out []string
	for _, v := range []struct {
		set   *manifest.Set
		other map[string]bool
	}{{new, ok}, {old, nk}} {
		for _, p := range assertion.UnknownLabelPolicies(v.set) {
			if !v.other[key(p)] {
				out = append(out, report.Printable(fmt.Sprintf("%s: %s/NetworkPolicy/%s", p.Source, p.Namespace, p.Name)))
			}
		}
	}
	slices.Sort(out)
	return out
}
