package kustomize

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardsec/ward/manifest"
)

// BenchmarkPlainVsKrusty loads the same 1000 Deployments in 10 files
// listed by a kustomization both ways in each iteration, Build and
// manifest.Load included: the plain path (Ward's loader reads the files)
// and a full kustomize build of the same tree. It reports both times and
// their ratio; bench/kustomize measures the whole command at larger sizes.
func BenchmarkPlainVsKrusty(b *testing.B) {
	root := b.TempDir()
	files := map[string]string{}
	var k strings.Builder
	k.WriteString("resources:\n")
	for f := range 10 {
		var docs []string
		for i := range 100 {
			docs = append(docs, deployment(fmt.Sprintf("ns%d", f), fmt.Sprintf("web%d", i)))
		}
		name := fmt.Sprintf("f%02d.yaml", f)
		files[name] = strings.Join(docs, "---\n")
		fmt.Fprintf(&k, "- %s\n", name)
	}
	files["kustomization.yaml"] = k.String()
	write(b, root, files)
	dir := filepath.Clean(root)
	var plain, krusty time.Duration
	for b.Loop() {
		start := time.Now()
		res, err := Build(dir, root, 0)
		if err != nil || res.Files == nil {
			b.Fatalf("Build: %v (want the plain path)", err)
		}
		if set, err := manifest.Load(manifest.Options{}, res.Files...); err != nil || len(set.Workloads) != 1000 {
			b.Fatalf("plain: %v", err)
		}
		plain += time.Since(start)
		start = time.Now()
		data, err := krustyBuild(dir, root, 0)
		if err != nil {
			b.Fatal(err)
		}
		set, err := manifest.Load(manifest.Options{Rendered: []manifest.Rendered{{Name: "build", Dir: dir, Data: data}}})
		if err != nil || len(set.Workloads) != 1000 {
			b.Fatalf("krusty: %v", err)
		}
		krusty += time.Since(start)
	}
	b.ReportMetric(plain.Seconds()/float64(b.N), "plain-s/op")
	b.ReportMetric(krusty.Seconds()/float64(b.N), "krusty-s/op")
	b.ReportMetric(krusty.Seconds()/plain.Seconds(), "krusty/plain")
}
