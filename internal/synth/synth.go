package synth

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
)

// Format is the text format of generated files.
type Format int

const (
	// YAML writes multi-document YAML files, one object per document.
	YAML Format = iota
	// JSON writes one v1 List object per file, as `kubectl get -o json`
	// prints.
	JSON
)

func (f Format) String() string {
	if f == JSON {
		return "json"
	}
	return "yaml"
}

// ParseFormat returns the Format named "yaml" or "json".
func ParseFormat(s string) (Format, error) {
	switch s {
	case "yaml", "yml":
		return YAML, nil
	case "json":
		return JSON, nil
	}
	return 0, fmt.Errorf("synth: unknown format %q (want yaml or json)", s)
}

// DefaultObjectsPerFile is how many objects a file holds unless
// Config.ObjectsPerFile says otherwise.
const DefaultObjectsPerFile = 1000

// Config describes the cluster to generate. Exactly one of Workloads and
// Pods must be positive. All counts are totals that include the system
// objects every generated cluster has: the namespaces kube-system and
// monitoring, and the workloads kube-system/coredns, monitoring/prometheus
// and the monitoring/node-exporter DaemonSet (one pod per node, host
// network).
type Config struct {
	// Seed selects the cluster: the same Config always yields the same
	// bytes.
	Seed uint64
	// Workloads is the number of workloads (Deployments, StatefulSets and
	// DaemonSets). Replica counts follow a skewed distribution with a
	// mean of about 4 pods per workload.
	Workloads int
	// Pods is the number of pods: replicas summed over all workloads, and
	// with Dump the number of Pod objects. The number of workloads follows
	// from it (about Pods/4).
	Pods int
	// Namespaces is the number of namespaces, at least 3. Zero picks
	// about one application namespace per 50 workloads.
	Namespaces int
	// Policies is the exact number of NetworkPolicy objects.
	Policies int
	// Dump emits a cluster dump as `kubectl get -o yaml` prints it instead
	// of manifests: status and server-set metadata on every object,
	// ReplicaSets owned by Deployments, and every Pod with its
	// ownerReferences, node and status.podIP.
	Dump bool
	// Bare leaves out of a dump what real ones carry on top of the
	// declared fields: the last-applied-configuration annotation of the
	// objects `kubectl apply` wrote, and managedFields (see applied.go).
	// Dumps before these fields were generated had this shape.
	Bare bool
	// WideSelectors makes about half of the application policies select
	// peers of their own namespace by labels every namespace has
	// (tier=backend, "app.kubernetes.io/name Exists"): a shape that makes
	// matching selectors per namespace against cluster-wide label lists
	// quadratic.
	WideSelectors bool
	// Format is the file format; YAML by default.
	Format Format
	// ObjectsPerFile bounds the objects in one file;
	// DefaultObjectsPerFile if zero.
	ObjectsPerFile int
}

// File is one generated file.
type File struct {
	Name string // base name, such as "cluster-0000.yaml"
	Data []byte
}

// Stats counts what a generated cluster holds.
type Stats struct {
	// Kinds counts objects by kind ("Pod", "NetworkPolicy", ...).
	Kinds map[string]int
	// Objects is the number of objects in all files.
	Objects int
	// Workloads is the number of Deployments, StatefulSets and
	// DaemonSets; Pods the sum of their pods (in a dump, the number of Pod
	// objects).
	Workloads int
	Pods      int
	// Nodes is the number of nodes the pods are spread over.
	Nodes int
	// DefaultDenyNamespaces counts the namespaces with a default-deny
	// policy for ingress, egress or both.
	DefaultDenyNamespaces int
	Files                 int
	Bytes                 int64
}

// Cluster is a generated cluster.
type Cluster struct {
	Files []File
	Stats Stats
}

// Generate plans the cluster that cfg describes and renders it into files.
// Planning draws from one random source seeded with cfg.Seed; rendering
// is a pure function of the plan and runs on all CPUs.
func Generate(cfg Config) (*Cluster, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.ObjectsPerFile <= 0 {
		cfg.ObjectsPerFile = DefaultObjectsPerFile
	}
	p, err := newPlan(cfg)
	if err != nil {
		return nil, err
	}
	refs := p.objects()
	ext := ".yaml"
	if cfg.Format == JSON {
		ext = ".json"
	}
	nfiles := len(refs) / cfg.ObjectsPerFile
	if len(refs)%cfg.ObjectsPerFile != 0 {
		nfiles++
	}
	files := make([]File, nfiles)
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			r := renderer{plan: p, emitter: emitter{json: cfg.Format == JSON}}
			for i := range next {
				lo := i * cfg.ObjectsPerFile
				hi := lo + min(cfg.ObjectsPerFile, len(refs)-lo)
				files[i] = File{
					Name: fmt.Sprintf("cluster-%04d%s", i, ext),
					Data: r.file(refs[lo:hi]),
				}
			}
		})
	}
	for i := range nfiles {
		next <- i
	}
	close(next)
	wg.Wait()

	st := p.stats
	st.Objects = len(refs)
	st.Files = len(files)
	for _, f := range files {
		st.Bytes += int64(len(f.Data))
	}
	return &Cluster{Files: files, Stats: st}, nil
}

func (cfg Config) check() error {
	switch {
	case cfg.Workloads < 0 || cfg.Pods < 0 || cfg.Policies < 0 || cfg.Namespaces < 0:
		return errors.New("synth: counts must not be negative")
	case (cfg.Workloads > 0) == (cfg.Pods > 0):
		return errors.New("synth: set exactly one of Workloads and Pods")
	case cfg.Workloads > 0 && cfg.Workloads < len(systemWorkloads)+1:
		return fmt.Errorf("synth: need at least %d workloads (%d are system workloads)", len(systemWorkloads)+1, len(systemWorkloads))
	case cfg.Namespaces != 0 && cfg.Namespaces < len(systemNamespaces)+1:
		return fmt.Errorf("synth: need at least %d namespaces (%d are system namespaces)", len(systemNamespaces)+1, len(systemNamespaces))
	case cfg.Format != YAML && cfg.Format != JSON:
		return fmt.Errorf("synth: unknown format %d", cfg.Format)
	}
	return nil
}

// WriteDir writes the cluster's files into dir, creating it if needed.
// Files already in dir are left alone, except those of the same names.
func (c *Cluster) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for _, f := range c.Files {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o600); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("synth: %w", err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// KindNames returns the kinds in s.Kinds, sorted.
func (s Stats) KindNames() []string {
	names := make([]string, 0, len(s.Kinds))
	for k := range s.Kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
