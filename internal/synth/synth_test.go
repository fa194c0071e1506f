package synth

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wardsec/ward/internal/synth/apicheck"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	sigsyaml "sigs.k8s.io/yaml"
)

func generate(t testing.TB, cfg Config) *Cluster {
	t.Helper()
	c, err := Generate(cfg)
	if err != nil {
		t.Fatalf("Generate(%+v): %v", cfg, err)
	}
	return c
}

func decodeAll(t *testing.T, c *Cluster) []apicheck.Object {
	t.Helper()
	var objs []apicheck.Object
	for _, f := range c.Files {
		o, err := apicheck.Decode(f.Name, f.Data)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, o...)
	}
	return objs
}

func TestDeterministic(t *testing.T) {
	for _, cfg := range []Config{
		{Seed: 7, Workloads: 300, Policies: 200, ObjectsPerFile: 100},
		{Seed: 7, Pods: 1500, Policies: 300, Dump: true, ObjectsPerFile: 250},
		{Seed: 7, Pods: 500, Policies: 100, Dump: true, Format: JSON},
	} {
		a, b := generate(t, cfg), generate(t, cfg)
		if len(a.Files) != len(b.Files) {
			t.Fatalf("%+v: %d files, then %d", cfg, len(a.Files), len(b.Files))
		}
		for i := range a.Files {
			if a.Files[i].Name != b.Files[i].Name || !bytes.Equal(a.Files[i].Data, b.Files[i].Data) {
				t.Errorf("%+v: file %d differs between runs", cfg, i)
			}
		}
		cfg.Seed++
		c := generate(t, cfg)
		if bytes.Equal(a.Files[0].Data, c.Files[0].Data) {
			t.Errorf("%+v: seeds %d and %d give the same first file", cfg, cfg.Seed-1, cfg.Seed)
		}
	}
}

// TestValid decodes every generated object strictly into its k8s.io/api
// type, validates it, and checks the counts against Stats and Config.
func TestValid(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"manifests", Config{Seed: 1, Workloads: 400, Policies: 800}},
		{"manifests-json", Config{Seed: 2, Workloads: 120, Policies: 300, Namespaces: 5, Format: JSON}},
		{"dump", Config{Seed: 3, Pods: 500, Policies: 600, Dump: true, ObjectsPerFile: 300}},
		{"dump-json", Config{Seed: 4, Pods: 400, Policies: 150, Dump: true, Format: JSON}},
		{"tiny", Config{Seed: 5, Workloads: 4, Policies: 3, Namespaces: 3}},
		{"no-policies", Config{Seed: 6, Pods: 20, Dump: true}},
		{"policies-only", Config{Seed: 7, Workloads: 4, Policies: 50, Namespaces: 12}},
		{"wide-selectors", Config{Seed: 8, Workloads: 300, Policies: 400, WideSelectors: true}},
		{"bare-dump", Config{Seed: 9, Pods: 300, Policies: 100, Dump: true, Bare: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := generate(t, tt.cfg)
			objs := decodeAll(t, c)
			got := map[string]int{}
			pods := 0
			for _, o := range objs {
				got[o.Kind]++
				if err := apicheck.Check(o.Obj); err != nil {
					t.Errorf("%s: %v", o, err)
				}
				switch w := o.Obj.(type) {
				case *appsv1.Deployment:
					pods += int(*w.Spec.Replicas)
				case *appsv1.StatefulSet:
					pods += int(*w.Spec.Replicas)
				}
			}
			if err := apicheck.Cluster(objs); err != nil {
				t.Error(err)
			}
			if diff := cmp.Diff(c.Stats.Kinds, got); diff != "" {
				t.Errorf("objects per kind (-stats +decoded):\n%s", diff)
			}
			if len(objs) != c.Stats.Objects {
				t.Errorf("decoded %d objects, stats say %d", len(objs), c.Stats.Objects)
			}
			if got["NetworkPolicy"] != tt.cfg.Policies {
				t.Errorf("%d policies, want %d", got["NetworkPolicy"], tt.cfg.Policies)
			}
			workloads := got["Deployment"] + got["StatefulSet"] + got["DaemonSet"]
			if tt.cfg.Workloads > 0 && workloads != tt.cfg.Workloads {
				t.Errorf("%d workloads, want %d", workloads, tt.cfg.Workloads)
			}
			if tt.cfg.Pods > 0 && c.Stats.Pods != tt.cfg.Pods {
				t.Errorf("stats: %d pods, want %d", c.Stats.Pods, tt.cfg.Pods)
			}
			if tt.cfg.Dump && got["Pod"] != c.Stats.Pods {
				t.Errorf("%d Pod objects, stats say %d pods", got["Pod"], c.Stats.Pods)
			}
			if !tt.cfg.Dump && pods+c.Stats.Nodes != c.Stats.Pods {
				t.Errorf("replicas %d + %d node-exporter pods, stats say %d pods", pods, c.Stats.Nodes, c.Stats.Pods)
			}
			if tt.cfg.Namespaces > 0 && got["Namespace"] != tt.cfg.Namespaces {
				t.Errorf("%d namespaces, want %d", got["Namespace"], tt.cfg.Namespaces)
			}
		})
	}
}

// The YAML text must read the same under YAML 1.1 (sigs.k8s.io/yaml, read
// directly from the text) as under YAML 1.2 (apicheck.Decode splits with
// go.yaml.in/yaml/v3).
func TestYAML11(t *testing.T) {
	c := generate(t, Config{Seed: 9, Pods: 150, Policies: 200, Dump: true})
	for _, f := range c.Files {
		docs := strings.Split(string(f.Data), "\n---\n")
		objs, err := apicheck.Decode(f.Name, f.Data)
		if err != nil {
			t.Fatal(err)
		}
		if len(docs) != len(objs) {
			t.Fatalf("%s: %d documents split on ---, %d decoded", f.Name, len(docs), len(objs))
		}
		for i, doc := range docs {
			var direct any
			if err := sigsyaml.Unmarshal([]byte(doc), &direct); err != nil {
				t.Fatalf("%s: document %d: %v", f.Name, i, err)
			}
			a, _ := json.Marshal(direct)
			b, _ := json.Marshal(objs[i].Obj)
			var typed any
			_ = json.Unmarshal(b, &typed)
			if !jsonSubset(direct, typed) {
				t.Errorf("%s: document %d reads differently under YAML 1.1:\n%s\nvs typed\n%s", f.Name, i, a, b)
			}
		}
	}
}

// jsonSubset reports whether every value in a is in b (b may have more:
// typed objects add empty status and creationTimestamp: null).
func jsonSubset(a, b any) bool {
	switch a := a.(type) {
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range a {
			if !jsonSubset(v, bm[k]) {
				return false
			}
		}
		return true
	case []any:
		bl, ok := b.([]any)
		if !ok || len(a) != len(bl) {
			return false
		}
		for i := range a {
			if !jsonSubset(a[i], bl[i]) {
				return false
			}
		}
		return true
	default:
		return a == b
	}
}

// TestShape checks the proportions that make the cluster realistic: most
// namespaces deny by default, most policies target one application, and
// every policy shape the engine must handle occurs.
func TestShape(t *testing.T) {
	c := generate(t, Config{Seed: 1, Workloads: 600, Namespaces: 102, Policies: 1500})
	objs := decodeAll(t, c)
	var (
		nsTotal, denyNS                                    int
		single, total, noTypes, egressOnly, endPort, named int
		and, or, except, exprs, udp, sctp, allowAll        int
	)
	deny := map[string]bool{}
	for _, o := range objs {
		switch x := o.Obj.(type) {
		case *corev1.Namespace:
			if x.Name != "kube-system" && x.Name != "monitoring" {
				nsTotal++
			}
		case *networkingv1.NetworkPolicy:
			total++
			s := x.Spec
			if len(s.PodSelector.MatchLabels) == 0 && len(s.PodSelector.MatchExpressions) == 0 && len(s.Ingress) == 0 && len(s.Egress) == 0 {
				deny[x.Namespace] = true
			}
			if s.PodSelector.MatchLabels["app"] != "" || s.PodSelector.MatchLabels["app.kubernetes.io/name"] != "" {
				single++
			}
			if len(s.PolicyTypes) == 0 {
				noTypes++
			}
			if len(s.PolicyTypes) == 1 && s.PolicyTypes[0] == networkingv1.PolicyTypeEgress {
				egressOnly++
			}
			if len(s.PodSelector.MatchExpressions) > 0 {
				exprs++
			}
			for _, r := range s.Ingress {
				if r.From == nil && r.Ports == nil {
					allowAll++
				}
			}
			var rulePorts [][]networkingv1.NetworkPolicyPort
			var rulePeers [][]networkingv1.NetworkPolicyPeer
			for _, r := range s.Ingress {
				rulePorts, rulePeers = append(rulePorts, r.Ports), append(rulePeers, r.From)
			}
			for _, r := range s.Egress {
				rulePorts, rulePeers = append(rulePorts, r.Ports), append(rulePeers, r.To)
			}
			for _, ps := range rulePorts {
				for _, p := range ps {
					if p.EndPort != nil {
						endPort++
					}
					if p.Port != nil && p.Port.StrVal != "" {
						named++
					}
					if p.Protocol != nil && *p.Protocol == corev1.ProtocolUDP {
						udp++
					}
					if p.Protocol != nil && *p.Protocol == corev1.ProtocolSCTP {
						sctp++
					}
				}
			}
			for _, peers := range rulePeers {
				if len(peers) == 2 && peers[0].NamespaceSelector != nil && peers[0].PodSelector == nil && peers[1].PodSelector != nil {
					or++
				}
				for _, p := range peers {
					if p.NamespaceSelector != nil && p.PodSelector != nil {
						and++
					}
					if p.IPBlock != nil && len(p.IPBlock.Except) > 0 {
						except++
					}
				}
			}
		}
	}
	denyNS = len(deny)
	if f := float64(denyNS) / float64(nsTotal); f < 0.8 || f > 0.95 {
		t.Errorf("%d of %d namespaces deny by default (%.2f), want about 0.9", denyNS, nsTotal, f)
	}
	if denyNS != c.Stats.DefaultDenyNamespaces {
		t.Errorf("%d namespaces with a default deny, stats say %d", denyNS, c.Stats.DefaultDenyNamespaces)
	}
	if f := float64(single) / float64(total); f < 0.5 {
		t.Errorf("%d of %d policies target one app (%.2f), want most", single, total, f)
	}
	for name, n := range map[string]int{
		"without policyTypes": noTypes, "egress-only": egressOnly, "with endPort": endPort,
		"named ports": named, "AND peers": and, "OR peers": or, "ipBlock except": except,
		"matchExpressions": exprs, "UDP": udp, "SCTP": sctp, "allow-all rules": allowAll,
	} {
		if n == 0 {
			t.Errorf("no %s in %d policies", name, total)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{Workloads: 10, Pods: 10},
		{Workloads: 3},
		{Pods: 4},
		{Workloads: 10, Namespaces: 2},
		{Workloads: -1},
		{Workloads: 10, Format: 9},
	} {
		if _, err := Generate(cfg); err == nil {
			t.Errorf("Generate(%+v) succeeded, want an error", cfg)
		}
	}
}

// TestBenchmarkSizes plans the benchmark datasets (without rendering the
// 700 MB of text) and checks their shape.
func TestBenchmarkSizes(t *testing.T) {
	p, err := newPlan(Config{Seed: 1, Workloads: 10000, Policies: 2000})
	if err != nil {
		t.Fatal(err)
	}
	if st := p.stats; st.Workloads != 10000 || st.Kinds["NetworkPolicy"] != 2000 {
		t.Errorf("small: %+v", st)
	}
	p, err = newPlan(Config{Seed: 1, Pods: 100000, Policies: 75000, Dump: true})
	if err != nil {
		t.Fatal(err)
	}
	st := p.stats
	if st.Kinds["Pod"] != 100000 || st.Kinds["NetworkPolicy"] != 75000 {
		t.Errorf("large: %+v", st)
	}
	if st.Workloads < 20000 || st.Workloads > 30000 {
		t.Errorf("large: %d workloads for 100k pods, want 20k to 30k", st.Workloads)
	}
}

func BenchmarkGenerate(b *testing.B) {
	for _, cfg := range []Config{
		{Seed: 1, Workloads: 10000, Policies: 2000},
		{Seed: 1, Pods: 20000, Policies: 15000, Dump: true},
	} {
		name := "manifests"
		if cfg.Dump {
			name = "dump"
		}
		b.Run(name, func(b *testing.B) {
			var n int64
			for b.Loop() {
				n = generate(b, cfg).Stats.Bytes
			}
			b.SetBytes(n)
		})
	}
}
