package fastyaml

import (
	"fmt"
	"sync"
	"testing"

	yaml "go.yaml.in/yaml/v3"

	"github.com/wardsec/ward/internal/synth"
)

// handWritten renders n Deployment, Service and NetworkPolicy triples in
// the style people write by hand and helm templates print: comments,
// sequences indented under their key, flow collections, quoted strings.
func handWritten(n int) [][]byte {
	var docs [][]byte
	for i := range n {
		app := fmt.Sprintf("app-%d", i)
		ns := fmt.Sprintf("team-%d", i%17)
		port := 8000 + i%100
		docs = append(docs, fmt.Appendf(nil, `# Source: %[1]s/templates/deployment.yaml
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
  namespace: %[2]s
  labels:
    app.kubernetes.io/name: %[1]s   # selector label
    app.kubernetes.io/instance: "release-%[4]d"
    app.kubernetes.io/managed-by: Helm
    helm.sh/chart: '%[1]s-1.2.%[4]d'
  annotations:
    checksum/config: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
spec:
  replicas: %[5]d
  revisionHistoryLimit: 10
  selector:
    matchLabels: {app.kubernetes.io/name: %[1]s, app.kubernetes.io/instance: "release-%[4]d"}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: %[1]s
        app.kubernetes.io/instance: "release-%[4]d"
    spec:
      serviceAccountName: %[1]s
      securityContext: {runAsNonRoot: true, fsGroup: 2000}
      containers:
        - name: %[1]s
          image: "registry.example.com/%[2]s/%[1]s:1.%[4]d.0"
          imagePullPolicy: IfNotPresent
          args: ["--port=%[3]d", "--log-level=info", '--config=/etc/%[1]s/config.yaml']
          ports:
            - name: http
              containerPort: %[3]d
              protocol: TCP
            - name: metrics
              containerPort: 9090
          env:
            - name: POD_NAMESPACE
              valueFrom:
                fieldRef:
                  fieldPath: metadata.namespace
            - name: GREETING
              value: "hello, world: it's \"%[1]s\""
            - name: EMPTY
              value: ""
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
            initialDelaySeconds: 10
          resources:
            limits: {cpu: 500m, memory: 512Mi}
            requests:
              cpu: 100m
              memory: 128Mi
          volumeMounts:
            - name: config
              mountPath: /etc/%[1]s
              readOnly: true
      volumes:
        - name: config
          configMap:
            name: %[1]s-config
      # Spread over zones.
      tolerations: []
`, app, ns, port, i, 1+i%5))
		docs = append(docs, fmt.Appendf(nil, `---
# Service for %[1]s
apiVersion: v1
kind: Service
metadata:
  name: %[1]s
  namespace: %[2]s
  labels:
    app.kubernetes.io/name: %[1]s
spec:
  type: ClusterIP
  ports:
    - port: 80
      targetPort: http
      protocol: TCP
      name: http
  selector:
    app.kubernetes.io/name: %[1]s
`, app, ns))
		docs = append(docs, fmt.Appendf(nil, `---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: %[1]s-allow
  namespace: %[2]s
spec:
  podSelector:
    matchLabels:
      app.kubernetes.io/name: %[1]s
  policyTypes: [Ingress, Egress]
  ingress:
    - from:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: ingress-nginx
        - podSelector:
            matchExpressions:
              - {key: app.kubernetes.io/name, operator: In, values: [frontend, gateway]}
      ports:
        - protocol: TCP
          port: %[3]d
  egress:
    - to:
        - ipBlock:
            cidr: 10.0.0.0/8
            except: ["10.96.0.0/12"]
      ports:
        - port: 5432
    - to: []   # DNS anywhere
      ports:
        - {port: 53, protocol: UDP}
        - {port: 53, protocol: TCP}
`, app, ns, port))
	}
	return docs
}

var (
	corporaOnce sync.Once
	corpora     []benchCorpus
)

type benchCorpus struct {
	name  string
	docs  [][]byte
	bytes int64
}

func benchCorpora(b *testing.B) []benchCorpus {
	corporaOnce.Do(func() {
		add := func(name string, docs [][]byte) {
			c := benchCorpus{name: name, docs: docs}
			for _, d := range docs {
				c.bytes += int64(len(d))
			}
			corpora = append(corpora, c)
		}
		add("manifests", synthDocs(b, synth.Config{Seed: 1, Workloads: 200, Policies: 40}))
		add("dump", synthDocs(b, synth.Config{Seed: 1, Workloads: 50, Policies: 10, Dump: true}))
		add("handwritten", handWritten(100))
	})
	return corpora
}

// BenchmarkParse parses every document of each corpus per iteration.
func BenchmarkParse(b *testing.B) {
	for _, c := range benchCorpora(b) {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(c.bytes)
			b.ReportAllocs()
			for b.Loop() {
				for _, d := range c.docs {
					if _, err := Parse(d); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkYAMLv3 is BenchmarkParse with yaml.Unmarshal into a yaml.Node,
// the reference and fallback.
func BenchmarkYAMLv3(b *testing.B) {
	for _, c := range benchCorpora(b) {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(c.bytes)
			b.ReportAllocs()
			for b.Loop() {
				for _, d := range c.docs {
					var n yaml.Node
					if err := yaml.Unmarshal(d, &n); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// TestDifferentialHandWritten holds the benchmark's hand-written corpus to
// the same contract as the synth one: parsed here, equal to yaml.v3.
func TestDifferentialHandWritten(t *testing.T) {
	for i, doc := range handWritten(20) {
		if !differential(t, doc) {
			t.Fatalf("document %d fell back to yaml.v3:\n%s", i, doc)
		}
	}
}
