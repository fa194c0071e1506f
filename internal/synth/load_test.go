package synth_test

import (
	"testing"

	"github.com/wardsec/ward/internal/synth"
	"github.com/wardsec/ward/manifest"
)

// TestManifestLoad loads generated clusters with Ward's own loader.
func TestManifestLoad(t *testing.T) {
	for _, cfg := range []synth.Config{
		{Seed: 1, Workloads: 200, Policies: 300, ObjectsPerFile: 100},
		{Seed: 2, Pods: 600, Policies: 300, Dump: true, ObjectsPerFile: 250},
		{Seed: 3, Pods: 300, Policies: 100, Dump: true, Format: synth.JSON, ObjectsPerFile: 200},
	} {
		c, err := synth.Generate(cfg)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := c.WriteDir(dir); err != nil {
			t.Fatal(err)
		}
		set, err := manifest.Load(manifest.Options{}, dir)
		if err != nil {
			t.Fatalf("%+v: manifest.Load: %v", cfg, err)
		}
		st := c.Stats
		if len(set.Policies) != cfg.Policies || len(set.Namespaces) != st.Kinds["Namespace"] {
			t.Errorf("%+v: loaded %d policies in %d namespaces, want %d in %d",
				cfg, len(set.Policies), len(set.Namespaces), cfg.Policies, st.Kinds["Namespace"])
		}
		if len(set.Skipped) > 0 || len(set.Unsupported) > 0 {
			t.Errorf("%+v: %d skipped, %d unsupported documents", cfg, len(set.Skipped), len(set.Unsupported))
		}
		if len(set.Workloads) != st.Workloads {
			t.Errorf("%+v: loaded %d workloads, want %d", cfg, len(set.Workloads), st.Workloads)
		}
		instances := 0
		for _, w := range set.Workloads {
			instances += w.Instances
		}
		if cfg.Dump && (instances != st.Pods || !set.PodIPsKnown) {
			t.Errorf("%+v: %d pods folded into workloads (pod IPs known: %v), want %d", cfg, instances, set.PodIPsKnown, st.Pods)
		}
	}
}
