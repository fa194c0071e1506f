package manifest_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardsec/ward/manifest"
)

// foldDump is a `kubectl get -o yaml` dump of a hardened Deployment, its
// ReplicaSet and two of its Pods as the API server writes them: the
// template's fields defaulted, and in the Pods what the scheduler and
// standard admission add (nodeName, serviceAccount and
// serviceAccountName, the kube-api-access volume and its mount, the
// not-ready and unreachable tolerations, priority, enableServiceLinks,
// requests defaulted from limits), per-Pod annotations, labels and status.
const foldDump = `apiVersion: apps/v1
kind: Deployment
metadata:
  annotations:
    deployment.kubernetes.io/revision: "1"
  generation: 1
  name: web
  namespace: shop
  uid: d-uid
spec:
  progressDeadlineSeconds: 600
  replicas: 2
  revisionHistoryLimit: 10
  selector:
    matchLabels:
      app: web
  strategy:
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 25%
    type: RollingUpdate
  template:
    metadata:
      annotations:
        prometheus.io/scrape: "true"
      creationTimestamp: null
      labels:
        app: web
    spec:
      automountServiceAccountToken: true
      containers:
      - image: registry.example.com/web:1.4.2@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
        imagePullPolicy: IfNotPresent
        name: web
        ports:
        - containerPort: 8080
          name: http
          protocol: TCP
        resources:
          limits:
            cpu: 500m
            memory: 256Mi
        securityContext:
          allowPrivilegeEscalation: false
          capabilities:
            drop:
            - ALL
          readOnlyRootFilesystem: true
          runAsGroup: 10001
        terminationMessagePath: /dev/termination-log
        terminationMessagePolicy: File
      dnsPolicy: ClusterFirst
      restartPolicy: Always
      schedulerName: default-scheduler
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        seccompProfile:
          type: RuntimeDefault
      terminationGracePeriodSeconds: 30
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  labels:
    app: web
    pod-template-hash: 7d9c5b8f4
  name: web-7d9c5b8f4
  namespace: shop
  ownerReferences:
  - apiVersion: apps/v1
    blockOwnerDeletion: true
    controller: true
    kind: Deployment
    name: web
    uid: d-uid
  uid: rs-uid
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
      pod-template-hash: 7d9c5b8f4
  template:
    metadata:
      annotations:
        prometheus.io/scrape: "true"
      creationTimestamp: null
      labels:
        app: web
        pod-template-hash: 7d9c5b8f4
    spec:
      automountServiceAccountToken: true
      containers:
      - image: registry.example.com/web:1.4.2@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
        imagePullPolicy: IfNotPresent
        name: web
        ports:
        - containerPort: 8080
          name: http
          protocol: TCP
        resources:
          limits:
            cpu: 500m
            memory: 256Mi
        securityContext:
          allowPrivilegeEscalation: false
          capabilities:
            drop:
            - ALL
          readOnlyRootFilesystem: true
          runAsGroup: 10001
        terminationMessagePath: /dev/termination-log
        terminationMessagePolicy: File
      dnsPolicy: ClusterFirst
      restartPolicy: Always
      schedulerName: default-scheduler
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        seccompProfile:
          type: RuntimeDefault
      terminationGracePeriodSeconds: 30
`

// foldPod is an instance Pod of foldDump's Deployment; NAME and the
// node differ between the two.
const foldPod = `---
apiVersion: v1
kind: Pod
metadata:
  annotations:
    cni.projectcalico.org/podIP: 10.1.0.NODE/32
    prometheus.io/scrape: "true"
  creationTimestamp: "2026-01-02T03:04:05Z"
  generateName: web-7d9c5b8f4-
  labels:
    app: web
    pod-template-hash: 7d9c5b8f4
  name: NAME
  namespace: shop
  ownerReferences:
  - apiVersion: apps/v1
    blockOwnerDeletion: true
    controller: true
    kind: ReplicaSet
    name: web-7d9c5b8f4
    uid: rs-uid
  resourceVersion: "4242"
  uid: NAME-uid
spec:
  automountServiceAccountToken: true
  containers:
  - image: registry.example.com/web:1.4.2@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
    imagePullPolicy: IfNotPresent
    name: web
    ports:
    - containerPort: 8080
      name: http
      protocol: TCP
    resources:
      limits:
        cpu: 500m
        memory: 256Mi
      requests:
        cpu: 500m
        memory: 256Mi
    securityContext:
      allowPrivilegeEscalation: false
      capabilities:
        drop:
        - ALL
      readOnlyRootFilesystem: true
      runAsGroup: 10001
    terminationMessagePath: /dev/termination-log
    terminationMessagePolicy: File
    volumeMounts:
    - mountPath: /var/run/secrets/kubernetes.io/serviceaccount
      name: kube-api-access-NODE2x
      readOnly: true
  dnsPolicy: ClusterFirst
  enableServiceLinks: true
  nodeName: node-NODE
  preemptionPolicy: PreemptLowerPriority
  priority: 0
  restartPolicy: Always
  schedulerName: default-scheduler
  securityContext:
    runAsNonRoot: true
    runAsUser: 10001
    seccompProfile:
      type: RuntimeDefault
  serviceAccount: default
  serviceAccountName: default
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
  - name: kube-api-access-NODE2x
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
  hostIP: 192.168.0.NODE
  phase: Running
  podIP: 10.1.0.NODE
  podIPs:
  - ip: 10.1.0.NODE
  qosClass: Guaranteed
`

// instancePod returns foldPod named name on node node.
func instancePod(name, node string) string {
	return strings.NewReplacer("NAME", name, "NODE", node).Replace(foldPod)
}

// edit replaces old, which must occur, by new in s.
func edit(t *testing.T, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("%q not in the Pod", old)
	}
	return strings.Replace(s, old, new, 1)
}

// forgedPods are changes to an instance Pod, each of which an audit
// judges: the Pod is then audited on its own.
var forgedPods = []struct {
	name string
	edit func(t *testing.T, pod string) string
}{
	{"privileged", func(t *testing.T, p string) string {
		return edit(t, p, "      allowPrivilegeEscalation: false\n", "      allowPrivilegeEscalation: false\n      privileged: true\n")
	}},
	{"hostNetwork", func(t *testing.T, p string) string {
		return edit(t, p, "  enableServiceLinks: true\n", "  enableServiceLinks: true\n  hostNetwork: true\n")
	}},
	{"hostPID", func(t *testing.T, p string) string {
		return edit(t, p, "  enableServiceLinks: true\n", "  enableServiceLinks: true\n  hostPID: true\n")
	}},
	{"hostPath volume", func(t *testing.T, p string) string {
		return edit(t, p, "  volumes:\n", "  volumes:\n  - hostPath:\n      path: /\n      type: \"\"\n    name: host\n")
	}},
	{"NET_ADMIN added", func(t *testing.T, p string) string {
		return edit(t, p, "      capabilities:\n", "      capabilities:\n        add:\n        - NET_ADMIN\n")
	}},
	{"SYS_ADMIN added", func(t *testing.T, p string) string {
		return edit(t, p, "      capabilities:\n", "      capabilities:\n        add:\n        - SYS_ADMIN\n")
	}},
	{"runs as root", func(t *testing.T, p string) string {
		return edit(t, p, "    runAsNonRoot: true\n    runAsUser: 10001\n", "    runAsUser: 0\n")
	}},
	{"runAsNonRoot dropped", func(t *testing.T, p string) string {
		return edit(t, p, "    runAsNonRoot: true\n", "")
	}},
	{"extra container", func(t *testing.T, p string) string {
		return edit(t, p, "  dnsPolicy: ClusterFirst\n", "  - image: evil.example.com/miner:1\n    name: helper\n  dnsPolicy: ClusterFirst\n")
	}},
	{"extra init container", func(t *testing.T, p string) string {
		return edit(t, p, "  dnsPolicy: ClusterFirst\n", "  dnsPolicy: ClusterFirst\n  initContainers:\n  - image: evil.example.com/miner:1\n    name: setup\n")
	}},
	{"ephemeral container", func(t *testing.T, p string) string {
		return edit(t, p, "  enableServiceLinks: true\n", "  enableServiceLinks: true\n  ephemeralContainers:\n  - image: busybox:1.36\n    name: debugger-x2k4\n    stdin: true\n    tty: true\n")
	}},
	{"other image", func(t *testing.T, p string) string {
		return edit(t, p, "  - image: registry.example.com/web:1.4.2@", "  - image: registry.example.com/evil:1.4.2@")
	}},
	{"other ServiceAccount", func(t *testing.T, p string) string {
		return strings.ReplaceAll(p, "serviceAccount: default\n  serviceAccountName: default\n", "serviceAccount: admin\n  serviceAccountName: admin\n")
	}},
	{"AppArmor unconfined", func(t *testing.T, p string) string {
		return edit(t, p, "    prometheus.io/scrape: \"true\"\n", "    container.apparmor.security.beta.kubernetes.io/web: unconfined\n    prometheus.io/scrape: \"true\"\n")
	}},
	{"secret in env", func(t *testing.T, p string) string {
		return edit(t, p, "    imagePullPolicy: IfNotPresent\n", "    env:\n    - name: DB_PASSWORD\n      value: hunter2hunter2\n    imagePullPolicy: IfNotPresent\n")
	}},
	{"memory limit removed", func(t *testing.T, p string) string {
		return edit(t, p, "      limits:\n        cpu: 500m\n        memory: 256Mi\n", "      limits:\n        cpu: 500m\n")
	}},
	{"api-access volume widened", func(t *testing.T, p string) string {
		return edit(t, p, "          expirationSeconds: 3607\n", "          expirationSeconds: 86400\n")
	}},
	{"api-access mount writable", func(t *testing.T, p string) string {
		return edit(t, p, "      name: kube-api-access-222x\n      readOnly: true\n", "      name: kube-api-access-222x\n")
	}},
	// Services and NetworkPolicies select Pods by label: one that a
	// NodePort Service selects, or no isolating policy does, is not the
	// template's.
	{"label added", func(t *testing.T, p string) string {
		return edit(t, p, "    app: web\n", "    app: web\n    expose: nodeport\n")
	}},
	{"other toleration", func(t *testing.T, p string) string {
		return edit(t, p, "  tolerations:\n", "  tolerations:\n  - operator: Exists\n")
	}},
	{"writable root", func(t *testing.T, p string) string {
		return edit(t, p, "      readOnlyRootFilesystem: true\n", "      readOnlyRootFilesystem: false\n")
	}},
}

// loadDump loads text as a file, whose Pods are decoded slim, and as
// standard input, decoded whole, and returns both Sets.
func loadDump(t *testing.T, text string) map[string]*manifest.Set { return loadDumpKeys(t, text, nil) }

// loadDumpKeys is loadDump with Options.SelectorKeys keys (not for the
// objects built in memory).
func loadDumpKeys(t *testing.T, text string, keys []string) map[string]*manifest.Set {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dump.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	file, err := manifest.Load(manifest.Options{FieldLines: true, SelectorKeys: keys}, path)
	if err != nil {
		t.Fatal(err)
	}
	whole, err := manifest.Parse(manifest.Options{FieldLines: true, SelectorKeys: keys}, path, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	// The objects built in memory: no YAML to print from.
	var objs []any
	for _, o := range whole.Objects {
		objs = append(objs, o.Obj)
	}
	mem, err := manifest.FromObjects("", objs...)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*manifest.Set{"file": file, "parsed": whole, "memory": mem}
}

// deviants lists the DeviatingPods of s as "id line owner pods".
func deviants(s *manifest.Set, memory bool) []string {
	var out []string
	for _, w := range s.DeviatingPods {
		line := w.Source.Line
		if memory {
			line = 0 // FromObjects numbers objects
		}
		out = append(out, strings.Join([]string{w.ID(), strconv.Itoa(line), w.Deviation.Owner, strconv.Itoa(w.Deviation.Pods), w.Template.Spec.Containers[0].Name}, " "))
	}
	return out
}

// podLine returns the line of the document of Pod name in text.
func podLine(t *testing.T, text, name string) int {
	t.Helper()
	lines := strings.Split(text, "\n")
	i := slices.Index(lines, "  name: "+name)
	for ; i >= 0 && lines[i] != "apiVersion: v1"; i-- {
	}
	if i < 0 {
		t.Fatalf("no Pod %s", name)
	}
	return i + 1
}

// TestFoldedPodDeviation: instance Pods as the API server writes them
// fold into their Deployment and are not audited apart; a Pod that names
// the Deployment's ReplicaSet as its owner but runs another spec (each
// change an audit judges) is in DeviatingPods, at its own file and line,
// decoded whole, whether read from a file (slim), from standard input or
// built in memory, and whether the ReplicaSet is in the dump or not
// (folded by name).
func TestFoldedPodDeviation(t *testing.T) {
	clean := foldDump + instancePod("web-7d9c5b8f4-aaaaa", "11") + instancePod("web-7d9c5b8f4-bbbbb", "22")
	noRS := func(s string) string {
		start := strings.Index(s, "---\napiVersion: apps/v1\nkind: ReplicaSet")
		end := strings.Index(s, "---\napiVersion: v1\nkind: Pod")
		return s[:start] + s[end:]
	}
	type tc struct {
		name, text string
		want       []string // deviants of a file, "" line replaced
	}
	cases := []tc{
		{"API server output", clean, nil},
		{"API server output, no ReplicaSet", noRS(clean), nil},
	}
	// Annotations no audit reads (a CNI's) are the same as none when the
	// template has none.
	noAnn := strings.NewReplacer("        prometheus.io/scrape: \"true\"\n", "", "    prometheus.io/scrape: \"true\"\n", "").Replace
	cases = append(cases, tc{"template without annotations", noAnn(foldDump) +
		noAnn(instancePod("web-7d9c5b8f4-aaaaa", "11")) + noAnn(instancePod("web-7d9c5b8f4-bbbbb", "22")), nil})
	for _, f := range forgedPods {
		forged := foldDump + instancePod("web-7d9c5b8f4-aaaaa", "11") + f.edit(t, instancePod("web-7d9c5b8f4-bbbbb", "22"))
		cases = append(cases, tc{f.name, forged, []string{"shop/Pod/web-7d9c5b8f4-bbbbb LINE shop/Deployment/web 1"}})
		cases = append(cases, tc{f.name + ", no ReplicaSet", noRS(forged), []string{"shop/Pod/web-7d9c5b8f4-bbbbb LINE shop/Deployment/web 1"}})
	}
	// A Pod whose labels the Deployment's selector does not match is its
	// own workload without its ReplicaSet, and deviates with it.
	for _, l := range []struct{ name, to string }{{"label changed", "    app: debug\n"}, {"label removed", ""}} {
		forged := foldDump + instancePod("web-7d9c5b8f4-aaaaa", "11") + edit(t, instancePod("web-7d9c5b8f4-bbbbb", "22"), "    app: web\n", l.to)
		cases = append(cases, tc{l.name, forged, []string{"shop/Pod/web-7d9c5b8f4-bbbbb LINE shop/Deployment/web 1"}})
	}
	// Two Pods with the same other spec are one variant, audited at the first.
	two := foldDump + forgedPods[0].edit(t, instancePod("web-7d9c5b8f4-aaaaa", "11")) + forgedPods[0].edit(t, instancePod("web-7d9c5b8f4-bbbbb", "22"))
	cases = append(cases, tc{"two privileged", two, []string{"shop/Pod/web-7d9c5b8f4-aaaaa LINE shop/Deployment/web 2"}})
	// The kube-api-access volume is admission's only when the template
	// automounts a token: here its ServiceAccount says it does not.
	noAutomount := strings.ReplaceAll(foldDump, "      automountServiceAccountToken: true\n", "") + `---
apiVersion: v1
kind: ServiceAccount
metadata: {name: default, namespace: shop}
automountServiceAccountToken: false
`
	tokenPods := func(s string) string {
		return s + strings.Replace(instancePod("web-7d9c5b8f4-aaaaa", "11"), "  automountServiceAccountToken: true\n", "", 1) +
			strings.Replace(instancePod("web-7d9c5b8f4-bbbbb", "22"), "  automountServiceAccountToken: true\n", "", 1)
	}
	cases = append(cases, tc{"token volume, ServiceAccount without automount", tokenPods(noAutomount),
		[]string{"shop/Pod/web-7d9c5b8f4-aaaaa LINE shop/Deployment/web 2"}})
	cases = append(cases, tc{"token volume, ServiceAccount with automount", tokenPods(strings.Replace(noAutomount, "automountServiceAccountToken: false", "automountServiceAccountToken: true", 1)), nil})
	// automountServiceAccountToken spelled False is false, as the typed
	// decode reads it: the token volume is not admission's.
	for _, f := range []string{"False", "FALSE", "!!bool false"} {
		spelled := func(s string) string {
			return strings.ReplaceAll(s, "automountServiceAccountToken: true\n", "automountServiceAccountToken: "+f+"\n")
		}
		cases = append(cases, tc{"token volume, automountServiceAccountToken: " + f,
			spelled(foldDump + instancePod("web-7d9c5b8f4-aaaaa", "11") + instancePod("web-7d9c5b8f4-bbbbb", "22")),
			[]string{"shop/Pod/web-7d9c5b8f4-aaaaa LINE shop/Deployment/web 2"}})
	}
	// The same with the ReplicaSet, slim, as the owner: the Deployment is
	// not in the dump.
	rsOwner := func(s string) string {
		dep := s[:strings.Index(s, "---\n")]
		rs := strings.NewReplacer("kind: Deployment\n", "kind: ReplicaSet\n", "\n  name: web\n  namespace: shop\n", "\n  name: web-7d9c5b8f4\n  namespace: shop\n  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: d-uid, controller: true}]\n",
			"  uid: d-uid\n", "  uid: rs-uid\n").Replace(dep)
		return rs + s[strings.Index(s, "---\napiVersion: v1\nkind: ServiceAccount"):]
	}
	cases = append(cases, tc{"token volume, ServiceAccount without automount, ReplicaSet owner", tokenPods(rsOwner(noAutomount)),
		[]string{"shop/Pod/web-7d9c5b8f4-aaaaa LINE shop/ReplicaSet/web-7d9c5b8f4 2"}})
	cases = append(cases, tc{"token volume, ServiceAccount with automount, ReplicaSet owner",
		tokenPods(rsOwner(strings.Replace(noAutomount, "automountServiceAccountToken: false", "automountServiceAccountToken: true", 1))), nil})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for how, s := range loadDump(t, c.text) {
				var want []string
				for _, w := range c.want {
					name := strings.Fields(w)[0][len("shop/Pod/"):]
					line := podLine(t, c.text, name)
					if how == "memory" {
						line = 0
					}
					want = append(want, strings.Replace(w, "LINE", strconv.Itoa(line), 1)+" web")
				}
				got := deviants(s, how == "memory")
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s: DeviatingPods (-want +got):\n%s", how, diff)
				}
				owner := "shop/Deployment/web"
				if strings.Contains(c.name, "ReplicaSet owner") {
					owner = "shop/ReplicaSet/web-7d9c5b8f4"
				}
				// A Pod whose labels or host network differ is modelled
				// as a workload of its own, with its IP.
				if apart := strings.HasPrefix(c.name, "label ") || strings.HasPrefix(c.name, "hostNetwork"); apart {
					if len(s.Workloads) != 2 || s.Workloads[0].ID() != owner || s.Workloads[0].Instances != 1 || fmt.Sprint(s.Workloads[0].IPs) != "[10.1.0.11]" ||
						s.Workloads[1].ID() != "shop/Pod/web-7d9c5b8f4-bbbbb" || s.Workloads[1].Instances != 0 || fmt.Sprint(s.Workloads[1].IPs) != "[10.1.0.22]" ||
						s.Workloads[1].Deviation == nil || !s.Workloads[1].Deviation.Modelled || s.Workloads[1] != s.DeviatingPods[0] {
						t.Errorf("%s: workloads %v, want %s with Pod aaaaa and its IP, then Pod bbbbb modelled apart with its IP", how, workloadList(s), owner)
					}
					return
				}
				if len(s.Workloads) != 1 || s.Workloads[0].ID() != owner || s.Workloads[0].Instances != 2 || len(s.Workloads[0].IPs) != 2 {
					t.Errorf("%s: workloads %v, want %s with its 2 Pods and their IPs", how, workloadList(s), owner)
				}
				for _, d := range s.DeviatingPods {
					if d.Deviation.Modelled {
						t.Errorf("%s: %s modelled apart; its labels, host network and named ports are its template's", how, d.ID())
					}
				}
			}
		})
	}
}

// TestFoldedPodControllers: what the StatefulSet, DaemonSet and Job
// controllers add to their Pods is not a deviation; a change an audit
// judges beside it is.
func TestFoldedPodControllers(t *testing.T) {
	const sts = `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop, uid: sts-uid}
spec:
  selector: {matchLabels: {app: db}}
  serviceName: db
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: "db:1", volumeMounts: [{name: data, mountPath: /data}]}]
  volumeClaimTemplates: [{metadata: {name: data}, spec: {accessModes: [ReadWriteOnce]}}]
---
apiVersion: v1
kind: Pod
metadata:
  name: db-0
  namespace: shop
  labels: {app: db, apps.kubernetes.io/pod-index: "0", statefulset.kubernetes.io/pod-name: db-0}
  ownerReferences: [{apiVersion: apps/v1, kind: StatefulSet, name: db, uid: sts-uid, controller: true}]
spec:
  containers: [{name: db, image: "db:1", volumeMounts: [{name: data, mountPath: /data}]}]
  hostname: db-0
  subdomain: db
  volumes: [VOLUME]
`
	const ds = `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: shop, uid: ds-uid}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: agent, image: "agent:1"}]
      tolerations: [{key: dedicated, operator: Equal, value: infra, effect: NoSchedule}]
---
apiVersion: v1
kind: Pod
metadata:
  name: agent-x2k4q
  namespace: shop
  labels: {app: agent, controller-revision-hash: 5d8f7c9b6, pod-template-generation: "1"}
  ownerReferences: [{apiVersion: apps/v1, kind: DaemonSet, name: agent, uid: ds-uid, controller: true}]
spec:
  affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchFields: [{key: metadata.name, operator: In, values: [node-1]}]}]}}}
  containers: [{name: agent, image: "agent:1"EXTRA}]
  tolerations:
  - {key: dedicated, operator: Equal, value: infra, effect: NoSchedule}
  - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute}
  - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute}
  - {key: node.kubernetes.io/disk-pressure, operator: Exists, effect: NoSchedule}
  - {key: node.kubernetes.io/memory-pressure, operator: Exists, effect: NoSchedule}
  - {key: node.kubernetes.io/pid-pressure, operator: Exists, effect: NoSchedule}
  - {key: node.kubernetes.io/unschedulable, operator: Exists, effect: NoSchedule}
`
	const job = `apiVersion: batch/v1
kind: Job
metadata: {name: batch, namespace: shop, uid: job-uid}
spec:
  completionMode: Indexed
  template:
    metadata: {labels: {app: batch}}
    spec:
      restartPolicy: Never
      containers: [{name: work, image: "work:1"}]
---
apiVersion: v1
kind: Pod
metadata:
  name: batch-0-x2k4q
  namespace: shop
  labels: {app: batch, batch.kubernetes.io/job-completion-index: "0", job-name: batch}
  ownerReferences: [{apiVersion: batch/v1, kind: Job, name: batch, uid: job-uid, controller: true}]
spec:
  hostname: batch-0
  restartPolicy: Never
  containers: [{name: work, image: "work:1", env: [{name: JOB_COMPLETION_INDEX, valueFrom: {fieldRef: {fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}}ENV]}]
`
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"StatefulSet claim", strings.Replace(sts, "VOLUME", "{name: data, persistentVolumeClaim: {claimName: data-db-0}}", 1), nil},
		{"StatefulSet claim of another Pod", strings.Replace(sts, "VOLUME", "{name: data, persistentVolumeClaim: {claimName: data-db-1}}", 1), []string{"shop/Pod/db-0"}},
		{"StatefulSet hostPath for the claim", strings.Replace(sts, "VOLUME", "{name: data, hostPath: {path: /}}", 1), []string{"shop/Pod/db-0"}},
		{"DaemonSet node affinity and tolerations", strings.Replace(ds, "EXTRA", "", 1), nil},
		{"DaemonSet privileged", strings.Replace(ds, "EXTRA", ", securityContext: {privileged: true}", 1), []string{"shop/Pod/agent-x2k4q"}},
		{"indexed Job", strings.Replace(job, "ENV", "", 1), nil},
		{"indexed Job, secret in env", strings.Replace(job, "ENV", ", {name: DB_PASSWORD, value: hunter2hunter2}", 1), []string{"shop/Pod/batch-0-x2k4q"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for how, s := range loadDump(t, tc.text) {
				var got []string
				for _, w := range s.DeviatingPods {
					got = append(got, w.ID())
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("%s: DeviatingPods (-want +got):\n%s", how, diff)
				}
			}
		})
	}
}

// TestFoldedTemplateDeviation checks that a ReplicaSet or Job folded into
// its owner, which makes Pods, has its owner's template, else is audited
// on its own: the dump may hold none of its Pods yet.
func TestFoldedTemplateDeviation(t *testing.T) {
	const deploy = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, uid: d-uid}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "web:1"}]
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-abc
  namespace: shop
  uid: rs-uid
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: d-uid, controller: true}]
spec:
  REPLICAS
  selector: {matchLabels: {app: web, pod-template-hash: abc}}
  template:
    metadata: {labels: {app: web, pod-template-hash: abc}}
    spec:
      containers: [{name: web, image: "web:1"SC}]
`
	const cron = `apiVersion: batch/v1
kind: CronJob
metadata: {name: backup, namespace: shop, uid: cj-uid}
spec:
  schedule: "0 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: backup, image: "backup:1"}]
---
apiVersion: batch/v1
kind: Job
metadata:
  name: backup-29000000
  namespace: shop
  uid: job-uid
  ownerReferences: [{apiVersion: batch/v1, kind: CronJob, name: backup, uid: cj-uid, controller: true}]
spec:
  template:
    metadata: {labels: {batch.kubernetes.io/controller-uid: job-uid, batch.kubernetes.io/job-name: backup-29000000, controller-uid: job-uid, job-name: backup-29000000}}
    spec:
      restartPolicy: OnFailure
      containers: [{name: backup, image: "backup:1"SC}]
STATUS`
	const priv = ", securityContext: {privileged: true}"
	for _, c := range []struct {
		name, text string
		want       string // the deviating object, or ""
	}{
		{"ReplicaSet of the template", strings.NewReplacer("REPLICAS", "replicas: 2", "SC", "").Replace(deploy), ""},
		{"ReplicaSet privileged", strings.NewReplacer("REPLICAS", "replicas: 2", "SC", priv).Replace(deploy), "shop/ReplicaSet/web-abc"},
		{"ReplicaSet privileged, replicas defaulted", strings.NewReplacer("REPLICAS", "", "SC", priv).Replace(deploy), "shop/ReplicaSet/web-abc"},
		{"ReplicaSet privileged, an old revision", strings.NewReplacer("REPLICAS", "replicas: 0", "SC", priv).Replace(deploy), ""},
		{"Job of the template", strings.NewReplacer("SC", "", "STATUS", "").Replace(cron), ""},
		{"Job privileged", strings.NewReplacer("SC", priv, "STATUS", "").Replace(cron), "shop/Job/backup-29000000"},
		{"Job privileged, finished", strings.NewReplacer("SC", priv, "STATUS", "status: {conditions: [{type: Complete, status: \"True\"}]}\n").Replace(cron), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			for how, s := range loadDump(t, c.text) {
				var got []string
				for _, w := range s.DeviatingPods {
					got = append(got, w.ID())
				}
				var want []string
				if c.want != "" {
					want = []string{c.want}
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s: DeviatingPods %v, want %v", how, got, want)
				}
			}
		})
	}
}

// workloadList describes the workloads of s for a test's message.
func workloadList(s *manifest.Set) []string {
	var out []string
	for _, w := range s.Workloads {
		out = append(out, fmt.Sprintf("%s (%d instances, IPs %v)", w.ID(), w.Instances, w.IPs))
	}
	return out
}

// TestFoldedPodModelledApart: a deviating Pod is a workload of its own in
// the network model exactly when the model would see it otherwise than
// its template: labels other than those controllers and mesh injectors
// add, host network, or a port under a name a NetworkPolicy or a Service
// looks up. A sidecar's ports and labels keep it in its workload.
func TestFoldedPodModelledApart(t *testing.T) {
	const svc = `---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: http}]
`
	const pol = `---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{ports: [{port: http}]}]
`
	renumber := func(t *testing.T, p string) string {
		return edit(t, p, "    - containerPort: 8080\n      name: http\n", "    - containerPort: 9090\n      name: http\n")
	}
	sidecar := func(t *testing.T, p string) string {
		p = edit(t, p, "    pod-template-hash: 7d9c5b8f4\n", "    pod-template-hash: 7d9c5b8f4\n    security.istio.io/tlsMode: istio\n    service.istio.io/canonical-name: web\n")
		return edit(t, p, "  dnsPolicy: ClusterFirst\n", "  - image: docker.io/istio/proxyv2:1.27.0\n    name: istio-proxy\n    ports:\n    - containerPort: 15090\n      name: http-envoy-prom\n      protocol: TCP\n  dnsPolicy: ClusterFirst\n")
	}
	// A NetworkPolicy that reads a label Istio's injector adds: the
	// injected Pods are not the template's to it.
	const meshPol = `---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector:
    matchLabels: {app: web}
    matchExpressions: [{key: security.istio.io/tlsMode, operator: DoesNotExist}]
  ingress: [{ports: [{port: http}]}]
`
	const metricsSvc = `---
apiVersion: v1
kind: Service
metadata: {name: metrics, namespace: shop}
spec:
  selector: {app: web}
  ports: [{port: 9100, targetPort: metrics}]
`
	// nativeSidecar adds an init container that restarts Always, with a
	// port named name.
	nativeSidecar := func(name string) func(*testing.T, string) string {
		return func(t *testing.T, p string) string {
			return edit(t, p, "  dnsPolicy: ClusterFirst\n", "  initContainers:\n  - image: registry.example.com/exporter:1\n    name: exporter\n    restartPolicy: Always\n"+
				"    ports:\n    - containerPort: 9100\n      name: "+name+"\n      protocol: TCP\n  dnsPolicy: ClusterFirst\n")
		}
	}
	// admin, a second container with a port named http too, in the
	// template and every Pod (after web); first in Pod bbbbb.
	const admin = "- image: registry.example.com/admin:1\n  name: admin\n  ports:\n  - containerPort: 9090\n    name: http\n    protocol: TCP\n"
	withAdmin := func(text string) string {
		var b strings.Builder
		for line := range strings.Lines(text) {
			if indent, ok := strings.CutSuffix(line, "dnsPolicy: ClusterFirst\n"); ok && strings.TrimSpace(indent) == "" {
				for a := range strings.Lines(admin) {
					b.WriteString(indent + a)
				}
			}
			b.WriteString(line)
		}
		return b.String()
	}
	adminFirst := func(t *testing.T, p string) string {
		inPod := withAdmin("  dnsPolicy: ClusterFirst\n")
		inPod = strings.TrimSuffix(inPod, "  dnsPolicy: ClusterFirst\n")
		return edit(t, edit(t, p, inPod, ""), "  containers:\n", "  containers:\n"+inPod)
	}
	for _, c := range []struct {
		name  string
		extra string              // objects after the Pods
		all   func(string) string // applied to the template and both Pods first
		edit  func(*testing.T, string) string
		apart bool
	}{
		// Reads a mesh label: the injected Pod leaves its selector.
		{"sidecar injected, a NetworkPolicy reads its mesh label", svc + meshPol, nil, sidecar, true},
		// So does an assertion that selects on it (in ward.yaml, not in
		// the input).
		{"sidecar injected, an assertion reads its mesh label", svc + pol, nil, sidecar, true},
		{"sidecar injected, an assertion reads other labels", svc + pol, nil, sidecar, false},
		// A native sidecar serves its ports: the Service reaches it.
		{"native sidecar's named port, a Service targets it", metricsSvc, nil, nativeSidecar("metrics"), true},
		{"native sidecar's named port, nothing names it", svc + pol, nil, nativeSidecar("metrics"), false},
		// The first port named http is admin's in Pod bbbbb: the Service
		// targets 9090 there, 8080 in the template.
		{"containers reordered, a Service targets their port name", svc, withAdmin, adminFirst, true},
		{"containers reordered, nothing names their ports", "", withAdmin, adminFirst, false},
		{"named port renumbered, a Service targets it", svc, nil, renumber, true},
		{"named port renumbered, a NetworkPolicy names it", pol, nil, renumber, true},
		{"named port renumbered, nothing names it", "", nil, renumber, false},
		{"unnamed port added", svc + pol, nil, func(t *testing.T, p string) string {
			return edit(t, p, "      name: http\n      protocol: TCP\n", "      name: http\n      protocol: TCP\n    - containerPort: 9999\n")
		}, false},
		{"named port added, a Service targets it", svc, nil, func(t *testing.T, p string) string {
			return edit(t, renumber(t, p), "    - containerPort: 9090\n      name: http\n", "    - containerPort: 8080\n      name: web\n    - containerPort: 9090\n      name: http\n")
		}, true},
		{"sidecar injected", svc + pol, nil, sidecar, false},
		{"sidecar injected, HBONE", svc + pol, nil, func(t *testing.T, p string) string {
			return edit(t, sidecar(t, p), "    security.istio.io/tlsMode: istio\n", "    networking.istio.io/tunnel: http\n    security.istio.io/tlsMode: istio\n")
		}, false},
		{"sidecar injected and relabelled", svc + pol, nil, func(t *testing.T, p string) string {
			return edit(t, sidecar(t, p), "    app: web\n", "    app: web\n    tier: admin\n")
		}, true},
		{"label value changed", "", nil, func(t *testing.T, p string) string { return edit(t, p, "    app: web\n", "    app: web2\n") }, true},
		// Only a DeploymentConfig's ReplicationController labels its Pods
		// deployment: a ReplicaSet's Pod with it is not its template's.
		{"another controller's label added", "", nil, func(t *testing.T, p string) string {
			return edit(t, p, "    pod-template-hash: 7d9c5b8f4\n", "    pod-template-hash: 7d9c5b8f4\n    deployment: web-debug\n")
		}, true},
		{"controller label changed", "", nil, func(t *testing.T, p string) string {
			return edit(t, p, "    pod-template-hash: 7d9c5b8f4\n", "    pod-template-hash: 5f6b7c8d9\n")
		}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dump, a, b := foldDump, instancePod("web-7d9c5b8f4-aaaaa", "11"), instancePod("web-7d9c5b8f4-bbbbb", "22")
			if c.all != nil {
				dump, a, b = c.all(dump), c.all(a), c.all(b)
			}
			text := dump + a + c.edit(t, b) + c.extra
			// Options.SelectorKeys: what ward.yaml's assertions select on.
			keys := map[string][]string{
				"sidecar injected, an assertion reads its mesh label": {"security.istio.io/tlsMode"},
				"sidecar injected, an assertion reads other labels":   {"app", "tier"},
			}[c.name]
			for how, s := range loadDumpKeys(t, text, keys) {
				if how == "memory" {
					continue // objects built in memory have no print: they never deviate
				}
				if c.name == "controller label changed" {
					if len(s.DeviatingPods) != 0 || len(s.Workloads) != 1 {
						t.Errorf("%s: deviants %v, workloads %v; want the Deployment alone", how, deviants(s, false), workloadList(s))
					}
					continue
				}
				if len(s.DeviatingPods) != 1 || s.DeviatingPods[0].Deviation.Modelled != c.apart {
					t.Fatalf("%s: deviants %v, want Pod bbbbb, modelled apart %v", how, deviants(s, false), c.apart)
				}
				want := []string{"shop/Deployment/web (2 instances, IPs [10.1.0.11 10.1.0.22])"}
				if c.apart {
					want = []string{"shop/Deployment/web (1 instances, IPs [10.1.0.11])", "shop/Pod/web-7d9c5b8f4-bbbbb (0 instances, IPs [10.1.0.22])"}
				}
				if diff := cmp.Diff(want, workloadList(s)); diff != "" {
					t.Errorf("%s: workloads (-want +got):\n%s", how, diff)
				}
			}
		})
	}
}

// TestFoldedPodSplit: a label that a Pod's controller adds (not in its
// template, nor in its print) makes the Pods that have it a workload of
// their own in the network model when a selector reads it, one per value:
// Argo Rollouts points its Services at one revision by such a label, and
// a StatefulSet Pod's own Service selects its pod-name. They are not
// deviating Pods.
func TestFoldedPodSplit(t *testing.T) {
	svc := func(sel string) string {
		return "---\napiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec:\n  selector: " + sel + "\n  ports: [{port: 80, targetPort: http}]\n"
	}
	rehash := func(t *testing.T, p string) string {
		return edit(t, p, "    pod-template-hash: 7d9c5b8f4\n", "    pod-template-hash: 5f6b7c8d9\n")
	}
	inject := func(t *testing.T, p string) string {
		p = edit(t, p, "    pod-template-hash: 7d9c5b8f4\n", "    pod-template-hash: 7d9c5b8f4\n    security.istio.io/tlsMode: istio\n")
		return edit(t, p, "  dnsPolicy: ClusterFirst\n", "  - image: docker.io/istio/proxyv2:1.27.0\n    name: istio-proxy\n  dnsPolicy: ClusterFirst\n")
	}
	same := func(_ *testing.T, p string) string { return p }
	relabel := func(t *testing.T, p string) string {
		return edit(t, p, "    app: web\n", "    app: web\n    tier: admin\n")
	}
	for _, c := range []struct {
		name     string
		extra    string
		edit     func(*testing.T, string) string // of Pod bbbbb
		third    bool                            // Pod ccccc too: bbbbb relabelled, rehashed
		want     []string
		deviants int
	}{
		{"nothing reads pod-template-hash", svc("{app: web}"), same, false,
			[]string{"shop/Deployment/web (2 instances, IPs [10.1.0.11 10.1.0.22])"}, 0},
		{"a Service reads pod-template-hash", svc("{app: web, pod-template-hash: 7d9c5b8f4}"), same, false,
			[]string{"shop/Deployment/web (0 instances, IPs [])", "shop/Pod/web-7d9c5b8f4-aaaaa (1 instances, IPs [10.1.0.11 10.1.0.22])"}, 0},
		{"a Service reads pod-template-hash, two values", svc("{app: web, pod-template-hash: 7d9c5b8f4}"), rehash, false,
			[]string{"shop/Deployment/web (0 instances, IPs [])", "shop/Pod/web-7d9c5b8f4-aaaaa (0 instances, IPs [10.1.0.11])", "shop/Pod/web-7d9c5b8f4-bbbbb (0 instances, IPs [10.1.0.22])"}, 0},
		{"a Service reads pod-template-hash, one Pod injected", svc("{app: web, pod-template-hash: 7d9c5b8f4}"), inject, false,
			[]string{"shop/Deployment/web (0 instances, IPs [])", "shop/Pod/web-7d9c5b8f4-aaaaa (0 instances, IPs [10.1.0.11])", "shop/Pod/web-7d9c5b8f4-bbbbb (0 instances, IPs [10.1.0.22])"}, 1},
		// A variant modelled apart is modelled with its first Pod's labels:
		// a later one with another pod-template-hash is split from it.
		{"a Service reads pod-template-hash, a relabelled variant with two values", svc("{app: web, pod-template-hash: 7d9c5b8f4}"), relabel, true,
			[]string{"shop/Deployment/web (0 instances, IPs [])", "shop/Pod/web-7d9c5b8f4-aaaaa (0 instances, IPs [10.1.0.11])",
				"shop/Pod/web-7d9c5b8f4-bbbbb (0 instances, IPs [10.1.0.22])", "shop/Pod/web-7d9c5b8f4-ccccc (0 instances, IPs [10.1.0.33])"}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			text := foldDump + instancePod("web-7d9c5b8f4-aaaaa", "11") + c.edit(t, instancePod("web-7d9c5b8f4-bbbbb", "22")) + c.extra
			if c.third {
				text += rehash(t, relabel(t, instancePod("web-7d9c5b8f4-ccccc", "33")))
			}
			for how, s := range loadDump(t, text) {
				if diff := cmp.Diff(c.want, workloadList(s)); diff != "" {
					t.Errorf("%s: workloads (-want +got):\n%s", how, diff)
				}
				if len(s.DeviatingPods) != c.deviants {
					t.Errorf("%s: deviants %v, want %d", how, deviants(s, how == "memory"), c.deviants)
				}
				for _, w := range s.Workloads {
					if w.Kind != "Pod" {
						continue
					}
					if w.Deviation == nil || !w.Deviation.Modelled || w.Deviation.Owner != "shop/Deployment/web" || len(w.Ports) != 1 {
						t.Errorf("%s: %s: deviation %+v, ports %v; want modelled apart from shop/Deployment/web, with its port http", how, w.ID(), w.Deviation, w.Ports)
						continue
					}
					if c.third && w.Name != "web-7d9c5b8f4-aaaaa" {
						// The variant modelled apart, and the Pod split from
						// it, with its annotations.
						if w.Deviation.Split != (w.Name == "web-7d9c5b8f4-ccccc") || w.Annotations["cni.projectcalico.org/podIP"] != "10.1.0.22/32" {
							t.Errorf("%s: %s: deviation %+v, annotations %v; want Pod bbbbb's", how, w.ID(), w.Deviation, w.Annotations)
						}
						continue
					}
					if !w.Deviation.Split || w.Annotations["deployment.kubernetes.io/revision"] != "1" {
						t.Errorf("%s: %s: deviation %+v, annotations %v; want split, with its owner's annotations (its suppressions)", how, w.ID(), w.Deviation, w.Annotations)
					}
				}
			}
		})
	}
}

// TestFoldedPodSplitTemplateLabel: a Job's template carries the labels
// its controller adds to its Pods; a Pod with the template's values is
// its template's, even when a selector reads them.
func TestFoldedPodSplitTemplateLabel(t *testing.T) {
	const text = `apiVersion: batch/v1
kind: Job
metadata: {name: backup, namespace: ops, uid: job-uid}
spec:
  template:
    metadata:
      labels: {app: backup, job-name: backup, controller-uid: job-uid, batch.kubernetes.io/job-name: backup, batch.kubernetes.io/controller-uid: job-uid}
    spec:
      restartPolicy: Never
      containers: [{name: backup, image: backup:1}]
---
apiVersion: v1
kind: Pod
metadata:
  name: backup-x7k2p
  namespace: ops
  labels: {app: backup, job-name: backup, controller-uid: job-uid, batch.kubernetes.io/job-name: backup, batch.kubernetes.io/controller-uid: job-uid}
  ownerReferences: [{apiVersion: batch/v1, kind: Job, name: backup, uid: job-uid, controller: true}]
spec:
  restartPolicy: Never
  containers: [{name: backup, image: backup:1}]
status: {podIP: 10.3.0.7}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: backup, namespace: ops}
spec:
  podSelector: {matchLabels: {job-name: backup}}
  policyTypes: [Egress]
`
	for how, s := range loadDump(t, text) {
		if diff := cmp.Diff([]string{"ops/Job/backup (1 instances, IPs [10.3.0.7])"}, workloadList(s)); diff != "" {
			t.Errorf("%s: workloads (-want +got):\n%s", how, diff)
		}
	}
}
