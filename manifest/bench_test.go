package manifest

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
)

// cpuTime returns the CPU time the process has used, in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// generate returns a multi-document YAML stream of Deployments with
// Services and NetworkPolicies spread over namespaces, shaped like real
// `helm template` output.
func generate(deployments, policies int) []byte {
	var b strings.Builder
	for i := range deployments {
		fmt.Fprintf(&b, `---
# Source: app%[1]d/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app%[1]d
  namespace: ns%[2]d
  labels:
    app.kubernetes.io/name: app%[1]d
    app.kubernetes.io/part-of: shop
spec:
  replicas: 3
  selector:
    matchLabels:
      app.kubernetes.io/name: app%[1]d
  template:
    metadata:
      labels:
        app.kubernetes.io/name: app%[1]d
        tier: backend
    spec:
      containers:
        - name: app
          image: "registry.example.com/app%[1]d:1.2.3"
          ports:
            - name: http
              containerPort: 8080
            - name: metrics
              containerPort: 9090
          resources:
            requests:
              cpu: 100m
              memory: 128Mi
          readinessProbe:
            httpGet:
              path: /healthz
              port: http
`, i, i%50)
	}
	for i := range policies {
		fmt.Fprintf(&b, `---
# Source: app%[1]d/templates/networkpolicy.yaml
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-app%[1]d
  namespace: ns%[2]d
spec:
  podSelector:
    matchLabels:
      app.kubernetes.io/name: app%[1]d
  policyTypes: [Ingress, Egress]
  ingress:
    - from:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: ns%[3]d
          podSelector:
            matchExpressions:
              - {key: tier, operator: In, values: [frontend]}
      ports:
        - port: http
        - port: 9000
          endPort: 9100
  egress:
    - to:
        - ipBlock:
            cidr: 10.0.0.0/8
            except: [10.1.0.0/16]
`, i, i%50, (i+1)%50)
	}
	return []byte(b.String())
}

func BenchmarkLoad(b *testing.B) {
	for _, size := range []struct{ deployments, policies int }{{1000, 200}, {10000, 2000}} {
		data := generate(size.deployments, size.policies)
		docs := size.deployments + size.policies
		b.Run(fmt.Sprintf("%ddocs-%dKB", docs, len(data)>>10), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			cpu0 := cpuTime()
			for b.Loop() {
				s, err := Parse(Options{}, "bench.yaml", data)
				if err != nil || len(s.Workloads) != size.deployments {
					b.Fatalf("%d workloads, err %v", len(s.Workloads), err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*docs), "ns/doc")
			// CPU time is steadier than wall time on a shared machine.
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N*docs), "cpu-ns/doc")
		})
	}
}

// generateCluster returns a `kubectl get -o yaml` List dump of a large
// cluster: Deployments with their ReplicaSets, running pods with IPs, and
// NetworkPolicies.
func generateCluster(pods, policies int) []byte {
	const perDeployment = 10
	var b strings.Builder
	b.WriteString("apiVersion: v1\nitems:\n")
	for d := 0; d < pods/perDeployment; d++ {
		fmt.Fprintf(&b, `- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: app%[1]d
    namespace: ns%[2]d
    uid: d-%[1]d
  spec:
    replicas: %[3]d
    selector:
      matchLabels:
        app: app%[1]d
    template:
      metadata:
        labels:
          app: app%[1]d
      spec:
        containers:
        - name: app
          image: registry.example.com/app%[1]d:1.2.3
          ports:
          - containerPort: 8080
            name: http
            protocol: TCP
`, d, d%100, perDeployment)
		for p := range perDeployment {
			fmt.Fprintf(&b, `- apiVersion: v1
  kind: Pod
  metadata:
    creationTimestamp: "2026-01-02T03:04:05Z"
    generateName: app%[1]d-7d9c5b8f4-
    labels:
      app: app%[1]d
      pod-template-hash: 7d9c5b8f4
    name: app%[1]d-7d9c5b8f4-x%[3]d
    namespace: ns%[2]d
    ownerReferences:
    - apiVersion: apps/v1
      blockOwnerDeletion: true
      controller: true
      kind: ReplicaSet
      name: app%[1]d-7d9c5b8f4
      uid: rs-%[1]d
    resourceVersion: "123456"
    uid: pod-%[1]d-%[3]d
  spec:
    containers:
    - image: registry.example.com/app%[1]d:1.2.3
      imagePullPolicy: IfNotPresent
      name: app
      ports:
      - containerPort: 8080
        name: http
        protocol: TCP
      resources:
        limits:
          memory: 256Mi
        requests:
          cpu: 100m
          memory: 128Mi
      terminationMessagePath: /dev/termination-log
      terminationMessagePolicy: File
    dnsPolicy: ClusterFirst
    nodeName: node-%[4]d
    restartPolicy: Always
    schedulerName: default-scheduler
    serviceAccountName: default
    terminationGracePeriodSeconds: 30
  status:
    conditions:
    - lastProbeTime: null
      lastTransitionTime: "2026-01-02T03:04:09Z"
      status: "True"
      type: Ready
    hostIP: 192.168.%[5]d.%[6]d
    phase: Running
    podIP: 10.%[7]d.%[8]d.%[9]d
    podIPs:
    - ip: 10.%[7]d.%[8]d.%[9]d
    qosClass: Burstable
    startTime: "2026-01-02T03:04:05Z"
`, d, d%100, p, d%500, d%250, p+1, (d*perDeployment+p)>>16, (d*perDeployment+p)>>8&255, (d*perDeployment+p)&255)
		}
	}
	for i := range policies {
		fmt.Fprintf(&b, `- apiVersion: networking.k8s.io/v1
  kind: NetworkPolicy
  metadata:
    name: allow-%[1]d
    namespace: ns%[2]d
  spec:
    podSelector:
      matchLabels:
        app: app%[3]d
    policyTypes:
    - Ingress
    ingress:
    - from:
      - podSelector:
          matchLabels:
            app: app%[4]d
      ports:
      - port: http
        protocol: TCP
`, i, i%100, i%(pods/perDeployment), (i+1)%(pods/perDeployment))
	}
	b.WriteString("kind: List\nmetadata:\n  resourceVersion: \"\"\n")
	return []byte(b.String())
}

// BenchmarkLargeCluster loads a dump of 100k pods and 75k policies, the
// scale of the Antrea and NPV reports in docs/; run it with
// -bench LargeCluster -benchtime 1x.
func BenchmarkLargeCluster(b *testing.B) {
	if testing.Short() {
		b.Skip("large input")
	}
	const pods, policies = 100_000, 75_000
	data := generateCluster(pods, policies)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	cpu0 := cpuTime()
	for b.Loop() {
		s, err := Parse(Options{}, "cluster.yaml", data)
		if err != nil || len(s.Workloads) != pods/10 || len(s.Policies) != policies {
			b.Fatalf("%d workloads, %d policies, err %v", len(s.Workloads), len(s.Policies), err)
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N*(pods+pods/10+policies)), "cpu-ns/doc")
}
