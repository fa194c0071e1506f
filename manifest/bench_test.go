package manifest

import (
	"fmt"
	"os"
	"path/filepath"
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

// generateDump returns a `kubectl get -o yaml` List dump as the API
// server writes it: Deployments (their templates with the fields the API
// server defaults), their ReplicaSets and running Pods whose specs are
// their templates' plus what the API server, the scheduler and standard
// admission add (nodeName, the kube-api-access volume and its mounts,
// the not-ready and unreachable tolerations, priority, serviceAccount,
// enableServiceLinks), and NetworkPolicies. Every Pod matches its
// template: none is audited on its own.
func generateDump(pods, policies int) []byte {
	const perDeployment = 10
	var b strings.Builder
	b.WriteString("apiVersion: v1\nitems:\n")
	container := func(indent string, d int, pod bool) {
		c := `- image: registry.example.com/app%[1]d:1.2.3
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
  securityContext:
    allowPrivilegeEscalation: false
    capabilities:
      drop:
      - ALL
    readOnlyRootFilesystem: true
  terminationMessagePath: /dev/termination-log
  terminationMessagePolicy: File
`
		if pod {
			c += `  volumeMounts:
  - mountPath: /var/run/secrets/kubernetes.io/serviceaccount
    name: kube-api-access-%[2]s
    readOnly: true
`
		}
		for _, l := range strings.SplitAfter(strings.TrimSuffix(fmt.Sprintf(c, d, "x"+fmt.Sprint(d%97)), "\n"), "\n") {
			b.WriteString(indent + l)
		}
		b.WriteString("\n")
	}
	for d := 0; d < pods/perDeployment; d++ {
		fmt.Fprintf(&b, `- apiVersion: apps/v1
  kind: Deployment
  metadata:
    annotations:
      deployment.kubernetes.io/revision: "1"
    creationTimestamp: "2026-01-02T03:04:05Z"
    generation: 1
    name: app%[1]d
    namespace: ns%[2]d
    resourceVersion: "123450"
    uid: d-%[1]d
  spec:
    progressDeadlineSeconds: 600
    replicas: %[3]d
    revisionHistoryLimit: 10
    selector:
      matchLabels:
        app: app%[1]d
    strategy:
      rollingUpdate:
        maxSurge: 25%%
        maxUnavailable: 25%%
      type: RollingUpdate
    template:
      metadata:
        creationTimestamp: null
        labels:
          app: app%[1]d
      spec:
        containers:
`, d, d%100, perDeployment)
		container("        ", d, false)
		b.WriteString(`        dnsPolicy: ClusterFirst
        restartPolicy: Always
        schedulerName: default-scheduler
        securityContext:
          runAsNonRoot: true
          seccompProfile:
            type: RuntimeDefault
        serviceAccount: app
        serviceAccountName: app
        terminationGracePeriodSeconds: 30
`)
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
`, d, d%100, p)
			container("    ", d, true)
			fmt.Fprintf(&b, `    dnsPolicy: ClusterFirst
    enableServiceLinks: true
    nodeName: node-%[1]d
    preemptionPolicy: PreemptLowerPriority
    priority: 0
    restartPolicy: Always
    schedulerName: default-scheduler
    securityContext:
      runAsNonRoot: true
      seccompProfile:
        type: RuntimeDefault
    serviceAccount: app
    serviceAccountName: app
    terminationGracePeriodSeconds: 30
    tolerations:
    - effect: NoExecute
      key: node.kubernetes.io/not-ready
      operator: Exists
      tolerationSeconds: 300
    - effect: NoExecute
      key: node.kubernetes.io/unreachable
      operator: Exists
      tolerationSeconds: 300
    volumes:
    - name: kube-api-access-x%[2]d
      projected:
        defaultMode: 420
        sources:
        - serviceAccountToken:
            expirationSeconds: 3607
            path: token
        - configMap:
            items:
            - key: ca.crt
              path: ca.crt
            name: kube-root-ca.crt
        - downwardAPI:
            items:
            - fieldRef:
                apiVersion: v1
                fieldPath: metadata.namespace
              path: namespace
  status:
    conditions:
    - lastProbeTime: null
      lastTransitionTime: "2026-01-02T03:04:09Z"
      status: "True"
      type: Ready
    containerStatuses:
    - containerID: containerd://%[3]x
      image: registry.example.com/app%[4]d:1.2.3
      imageID: registry.example.com/app%[4]d@sha256:%[3]x
      lastState: {}
      name: app
      ready: true
      restartCount: 0
      started: true
      state:
        running:
          startedAt: "2026-01-02T03:04:06Z"
    hostIP: 192.168.%[5]d.%[6]d
    phase: Running
    podIP: 10.%[7]d.%[8]d.%[9]d
    podIPs:
    - ip: 10.%[7]d.%[8]d.%[9]d
    qosClass: Burstable
    startTime: "2026-01-02T03:04:05Z"
`, d%500, d%97, d*perDeployment+p, d, d%250, p+1, (d*perDeployment+p)>>16, (d*perDeployment+p)>>8&255, (d*perDeployment+p)&255)
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
`, i, i%100, i%(pods/perDeployment))
	}
	b.WriteString("kind: List\nmetadata:\n  resourceVersion: \"\"\n")
	return []byte(b.String())
}

// BenchmarkDump loads a dump file of 20k pods that match their templates
// (generateDump): read from a file, the Pods are decoded slim. Run it
// with -bench Dump -benchmem.
func BenchmarkDump(b *testing.B) {
	const pods, policies = 20_000, 5_000
	data := generateDump(pods, policies)
	path := filepath.Join(b.TempDir(), "dump.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	cpu0 := cpuTime()
	for b.Loop() {
		s, err := Load(Options{}, path)
		if err != nil || len(s.Workloads) != pods/10 || len(s.Policies) != policies {
			b.Fatalf("%d workloads, %d policies, err %v", len(s.Workloads), len(s.Policies), err)
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N*(pods+pods/10+policies)), "cpu-ns/doc")
}
