package manifest

import (
	"strings"
	"testing"
)

// TestFieldLines checks that Options.FieldLines maps pod template fields to
// their lines for each template path, and that without it only the
// object's own line is known.
func TestFieldLines(t *testing.T) {
	const doc = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations:
    ignore.ward.dev/pod.read-only-root-fs: "tmpfs is mounted"
spec:
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: web:1
        securityContext:
          runAsNonRoot: true
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: report
spec:
  schedule: "@daily"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: report
            image: report:1
---
apiVersion: v1
kind: Pod
metadata:
  name: debug
spec:
  containers:
  - name: sh
    image: busybox
`
	load := func(lines bool) map[string]*Workload {
		s, err := Load(Options{FieldLines: lines, Stdin: strings.NewReader(doc)}, "-")
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]*Workload{}
		for _, w := range s.Workloads {
			m[w.Name] = w
		}
		return m
	}
	ws := load(true)
	tests := []struct {
		workload, path string
		template       string
		line           int
	}{
		{"web", "spec.containers[0].securityContext.runAsNonRoot", "spec.template", 16},
		{"web", "spec.containers[0].securityContext.readOnlyRootFilesystem", "spec.template", 15}, // absent: its parent
		{"web", "spec.containers[0].image", "spec.template", 14},
		{"web", "metadata.labels", "spec.template", 10},
		{"report", "spec.containers[0].image", "spec.jobTemplate.spec.template", 31},
		{"report", "spec.nothing", "spec.jobTemplate.spec.template", 27},
		{"debug", "spec.containers[0].image", "", 40},
	}
	for _, tt := range tests {
		w := ws[tt.workload]
		if got := w.TemplatePath(); got != tt.template {
			t.Errorf("%s: TemplatePath() = %q, want %q", tt.workload, got, tt.template)
		}
		if got := w.TemplateLine(tt.path); got != tt.line {
			t.Errorf("%s: TemplateLine(%q) = %d, want %d", tt.workload, tt.path, got, tt.line)
		}
	}
	if got := ws["web"].Annotations["ignore.ward.dev/pod.read-only-root-fs"]; got != "tmpfs is mounted" {
		t.Errorf("Annotations = %v", ws["web"].Annotations)
	}
	// Without FieldLines, the object's line.
	if got := load(false)["web"].TemplateLine("spec.containers[0].image"); got != 1 {
		t.Errorf("without FieldLines: TemplateLine = %d, want 1", got)
	}
}
