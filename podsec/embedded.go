package podsec

import (
	"fmt"
	"strings"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/manifest"
)

// embedded audits the pod specs that custom resources carry for the
// pods their operators create (manifest.Skipped.Pods: KEDA ScaledJob,
// Argo Workflow templates, Kubeflow jobs...) as the pod template of a
// workload: the Pod Security Standards and the pod/ rules, with their
// pod-level fields unset where the spec does not set them, as for any
// pod template. The findings name the custom resource and, in the
// message, the path of the pod spec. pod/exposed-unisolated does not
// apply (the pods are not in the network model, so no Service is known to
// select them), nor pod/deviates-from-template.
func (a *auditor) embedded(set *manifest.Set) {
	for _, w := range embeddedPods(set) {
		if w == nil || w.Template == nil {
			continue
		}
		start := len(a.out)
		a.pss(w)
		a.hardening(w)
		id := w.ID()
		at := id + " (pod spec " + w.Embedded + ")"
		for i := start; i < len(a.out); i++ {
			if m := a.out[i].Message; strings.Contains(m, id) {
				a.out[i].Message = strings.Replace(m, id, at, 1)
			} else {
				a.out[i].Message = at + ": " + m
			}
		}
	}
}

// embeddedPods returns the pod specs of the custom resources of set
// (manifest.Skipped.Pods). The RBAC audit counts them among the workloads
// that run as a ServiceAccount.
func embeddedPods(set *manifest.Set) []*manifest.Workload {
	var out []*manifest.Workload
	for _, s := range set.Skipped {
		out = append(out, s.Pods...)
	}
	return out
}

// hostPathVolumes reports the PersistentVolumes of set whose volume source
// is hostPath (manifest.Skipped.HostPath): a claim bound to one mounts a
// path of the node, which the checks of the pod spec never see.
func (a *auditor) hostPathVolumes(set *manifest.Set) {
	for _, s := range set.Skipped {
		if s.HostPath == "" {
			continue
		}
		id := manifest.Ref{Kind: "PersistentVolume", Name: s.Name}.String()
		a.report(ruleHostPathPV, finding.High, s.Source.File, s.HostPathLine, id,
			fmt.Sprintf("%s is a hostPath volume of node path %s: a pod whose persistentVolumeClaim binds to it mounts that path of its node, which the Pod Security Standards allow", id, s.HostPath),
			"back the volume with a CSI driver's storage class or a local volume on a dedicated disk instead of hostPath")
	}
}
