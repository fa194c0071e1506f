package synth_test

import (
	"bytes"
	"reflect"
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

// TestRealisticDumpLoad loads the same dump with and without the fields
// real dumps carry (last-applied-configuration and managedFields): Ward
// must read the same cluster from both, the annotation aside.
func TestRealisticDumpLoad(t *testing.T) {
	load := func(bare bool) *manifest.Set {
		c, err := synth.Generate(synth.Config{Seed: 5, Pods: 500, Policies: 200, Dump: true, Bare: bare, ObjectsPerFile: 300})
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := c.WriteDir(dir); err != nil {
			t.Fatal(err)
		}
		set, err := manifest.Load(manifest.Options{}, dir)
		if err != nil {
			t.Fatal(err)
		}
		return set
	}
	real, bare := load(false), load(true)
	// The generator writes the annotation as kubectl does; the loader
	// keeps its key, not its value (a copy of the object).
	c, err := synth.Generate(synth.Config{Seed: 5, Pods: 500, Policies: 200, Dump: true, ObjectsPerFile: 300})
	if err != nil {
		t.Fatal(err)
	}
	written := 0
	for _, f := range c.Files {
		written += bytes.Count(f.Data, []byte("kubectl.kubernetes.io/last-applied-configuration: |\n      {\"apiVersion\":"))
	}
	if written < len(real.Workloads) {
		t.Errorf("the dump has %d last-applied-configuration annotations with an object, want one per workload at least (%d)", written, len(real.Workloads))
	}
	if len(real.Workloads) != len(bare.Workloads) || len(real.Policies) != len(bare.Policies) ||
		len(real.Services) != len(bare.Services) || len(real.Namespaces) != len(bare.Namespaces) {
		t.Fatalf("loaded %d/%d/%d/%d workloads, policies, services, namespaces; bare %d/%d/%d/%d",
			len(real.Workloads), len(real.Policies), len(real.Services), len(real.Namespaces),
			len(bare.Workloads), len(bare.Policies), len(bare.Services), len(bare.Namespaces))
	}
	const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"
	for i, w := range real.Workloads {
		b := bare.Workloads[i]
		if v, ok := w.Annotations[lastApplied]; !ok || v != "" {
			t.Errorf("%s/%s: last-applied-configuration %q (present %v), want its key with an empty value", w.Namespace, w.Name, v, ok)
		}
		delete(w.Annotations, lastApplied)
		if len(w.Annotations) == 0 && b.Annotations == nil {
			w.Annotations = nil
		}
		if w.Namespace != b.Namespace || w.Name != b.Name || w.Kind != b.Kind || !reflect.DeepEqual(w.Labels, b.Labels) ||
			!reflect.DeepEqual(w.Template, b.Template) || !reflect.DeepEqual(w.Ports, b.Ports) || w.HostNetwork != b.HostNetwork ||
			!reflect.DeepEqual(w.IPs, b.IPs) || w.Instances != b.Instances || !reflect.DeepEqual(w.Annotations, b.Annotations) {
			t.Errorf("workload %s/%s differs from the bare dump's", w.Namespace, w.Name)
		}
	}
	for i, p := range real.Policies {
		b := bare.Policies[i]
		if p.Name != b.Name || p.Namespace != b.Namespace || !reflect.DeepEqual(p.Spec, b.Spec) || !reflect.DeepEqual(p.Labels, b.Labels) {
			t.Errorf("policy %s/%s differs from the bare dump's", p.Namespace, p.Name)
		}
		if len(p.ManagedFields) != 0 {
			t.Errorf("policy %s/%s: managedFields decoded", p.Namespace, p.Name)
		}
	}
	for i, s := range real.Services {
		b := bare.Services[i]
		if s.Name != b.Name || !reflect.DeepEqual(s.Selector, b.Selector) || !reflect.DeepEqual(s.Ports, b.Ports) || s.Type != b.Type {
			t.Errorf("service %s/%s differs from the bare dump's", s.Namespace, s.Name)
		}
	}
}
