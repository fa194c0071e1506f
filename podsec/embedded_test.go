package podsec_test

import (
	"strings"
	"testing"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/podsec"
)

// argoWorkflow runs a privileged container as ServiceAccount shop/runner
// in each of two templates.
const argoWorkflow = `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: wf, namespace: shop}
spec:
  serviceAccountName: runner
  templates:
  - name: a
    container:
      image: x
      securityContext: {privileged: true} #priv-a
  - name: b
    container:
      image: x
      securityContext: {privileged: true} #priv-b
`

// TestAuditEmbeddedPods: the pod specs of a custom resource are audited as
// pod templates: the findings name the custom resource, say which pod
// spec, and point at the line in it.
func TestAuditEmbeddedPods(t *testing.T) {
	fs := audit(t, argoWorkflow, podsec.Options{})
	got := map[int]string{}
	for _, f := range fs {
		if f.Rule == "pss/privileged" {
			if f.Object != "shop/Workflow/wf" {
				t.Errorf("object %q", f.Object)
			}
			got[f.Line] = f.Message
		}
	}
	for marker, path := range map[string]string{"#priv-a": "spec.templates[0].container", "#priv-b": "spec.templates[1].container"} {
		if m := got[lineOf(t, argoWorkflow, marker)]; !strings.HasPrefix(m, "shop/Workflow/wf (pod spec "+path+") fails") {
			t.Errorf("%s: message %q", marker, m)
		}
	}
}

// TestAuditEmbeddedPodsRBAC: a custom resource's pods that run as a
// ServiceAccount hold its rights, as a workload's do: cluster-admin bound
// to it is critical and names the custom resource, once.
func TestAuditEmbeddedPodsRBAC(t *testing.T) {
	doc := argoWorkflow + crb("runner-admin", "cluster-admin", "[{kind: ServiceAccount, name: runner, namespace: shop}]", "")
	var found bool
	for _, f := range audit(t, doc, podsec.Options{}) {
		if f.Rule != "rbac/cluster-admin-binding" {
			continue
		}
		found = true
		if f.Severity != finding.Critical || strings.Count(f.Message, "shop/Workflow/wf") != 1 {
			t.Errorf("%s %s: %s", f.Rule, f.Severity, f.Message)
		}
	}
	if !found {
		t.Error("no rbac/cluster-admin-binding finding")
	}
}

// TestAuditPodTemplate: a core v1 PodTemplate, which controllers create
// pods from, is audited as the pod spec it carries: a privileged container
// in it is reported, never a clean pass.
func TestAuditPodTemplate(t *testing.T) {
	doc := "apiVersion: v1\nkind: PodTemplate\nmetadata: {name: tpl, namespace: shop}\ntemplate:\n  spec:\n    containers:\n    - name: a\n      image: x\n      securityContext: {privileged: true} #priv\n"
	var found bool
	for _, f := range audit(t, doc, podsec.Options{}) {
		if f.Rule == "pss/privileged" {
			found = true
			if f.Object != "shop/PodTemplate/tpl" || f.Line != lineOf(t, doc, "#priv") || !strings.HasPrefix(f.Message, "shop/PodTemplate/tpl (pod spec template.spec) fails") {
				t.Errorf("finding %+v", f)
			}
		}
	}
	if !found {
		t.Fatal("privileged container of a PodTemplate not reported")
	}
}

// TestAuditPastSkippedCap: a hostPath PersistentVolume and a PodTemplate
// after more than manifest.MaxErrorsPerFile skipped documents of a file are
// audited all the same, never dropped with the skipped documents that are
// only counted.
func TestAuditPastSkippedCap(t *testing.T) {
	doc := strings.Repeat("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n---\n", manifest.MaxErrorsPerFile+10) +
		"apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: root}\nspec:\n  hostPath: {path: /} #hp\n---\n" +
		"apiVersion: v1\nkind: PodTemplate\nmetadata: {name: tpl, namespace: shop}\ntemplate:\n  spec:\n    containers:\n    - name: a\n      image: x\n      securityContext: {privileged: true} #priv\n"
	got := map[string]int{}
	for _, f := range audit(t, doc, podsec.Options{}) {
		got[f.Rule] = f.Line
	}
	if got["pod/hostpath-persistent-volume"] != lineOf(t, doc, "#hp") {
		t.Errorf("hostPath PersistentVolume past the cap: %v", got)
	}
	if got["pss/privileged"] != lineOf(t, doc, "#priv") {
		t.Errorf("PodTemplate past the cap: %v", got)
	}
}
