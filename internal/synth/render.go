package synth

import (
	"strconv"
	"time"
)

type objKind uint8

const (
	kNamespace objKind = iota
	kWorkload
	kReplicaSet // j: 0 current, 1 previous (scaled down)
	kPod        // j: replica index
	kService
	kPolicy
)

// objRef is one object of the output: kind and index into the plan.
type objRef struct {
	kind objKind
	i    int
	j    int
}

// objects lists the output in file order: all namespaces, then per
// namespace its workloads (each followed, in a dump, by its ReplicaSets and
// Pods), Services and policies.
func (p *plan) objects() []objRef {
	var refs []objRef
	for i := range p.namespaces {
		refs = append(refs, objRef{kind: kNamespace, i: i})
	}
	for _, ns := range p.namespaces {
		for _, wi := range ns.workloads {
			w := p.workloads[wi]
			refs = append(refs, objRef{kind: kWorkload, i: wi})
			if !p.cfg.Dump {
				continue
			}
			if w.kind == deployment {
				refs = append(refs, objRef{kind: kReplicaSet, i: wi})
				if w.oldHash != "" {
					refs = append(refs, objRef{kind: kReplicaSet, i: wi, j: 1})
				}
			}
			for k := range w.npods {
				refs = append(refs, objRef{kind: kPod, i: wi, j: k})
			}
		}
		for _, wi := range ns.workloads {
			if p.workloads[wi].service {
				refs = append(refs, objRef{kind: kService, i: wi})
			}
		}
		for _, pi := range ns.policies {
			refs = append(refs, objRef{kind: kPolicy, i: pi})
		}
	}
	return refs
}

// renderer turns plan objects into text. Each goroutine has its own.
type renderer struct {
	plan *plan
	emitter
	last int // size of the previous file, to size the next buffer
	lbuf []label
	// helpers render the current object as JSON for the extras of a
	// realistic dump: [0] as a manifest, [1] as a bare dump.
	helpers [2]*renderer
	extras
}

func (r *renderer) file(refs []objRef) []byte {
	e := &r.emitter
	size := r.last + r.last/8
	if size == 0 {
		size = 4096
	}
	e.b = make([]byte, 0, size)
	if e.json {
		e.b = append(e.b, `{"apiVersion":"v1","items":[`...)
	}
	for n, ref := range refs {
		switch {
		case e.json && n > 0:
			e.b = append(e.b, ",\n"...)
		case e.json:
			e.b = append(e.b, '\n')
		case n > 0:
			e.b = append(e.b, "---\n"...)
		}
		r.object(ref)
	}
	if e.json {
		e.b = append(e.b, "\n],\"kind\":\"List\",\"metadata\":{\"resourceVersion\":\"\"}}\n"...)
	}
	r.last = len(e.b)
	return e.b
}

func (r *renderer) object(ref objRef) {
	p := r.plan
	if r.realistic() {
		r.prepare(ref)
	}
	r.begin()
	switch ref.kind {
	case kNamespace:
		r.namespace(p.namespaces[ref.i])
	case kWorkload:
		r.workload(p.workloads[ref.i])
	case kReplicaSet:
		r.replicaSet(p.workloads[ref.i], ref.j == 1)
	case kPod:
		r.pod(p.workloads[ref.i], ref.j)
	case kService:
		r.service(p.workloads[ref.i])
	case kPolicy:
		r.policy(p.policies[ref.i])
	}
	r.finish()
}

var epoch = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

func (r *renderer) timestamp(k string, sec int) {
	r.key(k)
	r.item(true)
	t := epoch.Add(time.Duration(sec) * time.Second)
	r.b = append(r.b, '"')
	r.b = t.AppendFormat(r.b, time.RFC3339)
	r.b = append(r.b, '"')
}

func (r *renderer) dump() bool   { return r.plan.cfg.Dump }
func (r *renderer) seed() uint64 { return r.plan.cfg.Seed }

// meta writes metadata. In a dump it adds what the API server sets, in the
// alphabetical key order kubectl prints; owner, when set, writes
// ownerReferences.
func (r *renderer) meta(kind, ns, name string, labels []label, created int, annotations []label, generateName string, owner func()) {
	r.key("metadata")
	r.obj()
	if !r.dump() {
		r.kv("name", name)
		if ns != "" {
			r.kv("namespace", ns)
		}
		if len(labels) > 0 {
			r.labels("labels", labels)
		}
		if len(annotations) > 0 {
			r.labels("annotations", annotations)
		}
		r.end()
		return
	}
	r.annotations(annotations)
	r.timestamp("creationTimestamp", created)
	if generateName != "" {
		r.kv("generateName", generateName)
	}
	if kind != "Pod" && kind != "Namespace" && kind != "Service" {
		r.kvInt("generation", 1+int(hash64(r.seed(), "gen", ns, name)%3))
	}
	if len(labels) > 0 {
		r.labels("labels", labels)
	}
	if len(r.managers) > 0 {
		r.managedFields()
	}
	r.kv("name", name)
	if ns != "" {
		r.kv("namespace", ns)
	}
	if owner != nil {
		owner()
	}
	r.kv("resourceVersion", strconv.FormatUint(1000+hash64(r.seed(), "rv", kind, ns, name)%90000000, 10))
	r.kv("uid", uid(r.seed(), kind, ns, name))
	r.end()
}

func (r *renderer) ownerRef(kind, ns, name string) {
	r.key("ownerReferences")
	r.list()
	r.obj()
	r.kv("apiVersion", "apps/v1")
	r.kvBool("blockOwnerDeletion", true)
	r.kvBool("controller", true)
	r.kv("kind", kind)
	r.kv("name", name)
	r.kv("uid", uid(r.seed(), kind, ns, name))
	r.end()
	r.end()
}

func (r *renderer) head(apiVersion, kind string) {
	r.kv("apiVersion", apiVersion)
	r.kv("kind", kind)
}

func (r *renderer) namespace(ns *namespace) {
	r.head("v1", "Namespace")
	r.meta("Namespace", "", ns.name, ns.labels, 0, nil, "", nil)
	if r.dump() {
		r.key("spec")
		r.obj()
		r.key("finalizers")
		r.list()
		r.str("kubernetes")
		r.end()
		r.end()
		r.key("status")
		r.obj()
		r.kv("phase", "Active")
		r.end()
	}
}

func (r *renderer) nsName(w *workload) string { return r.plan.namespaces[w.ns].name }

func (r *renderer) workload(w *workload) {
	ns := r.nsName(w)
	r.head("apps/v1", w.kind)
	var ann []label
	if r.dump() && w.kind == deployment {
		rev := "1"
		if w.oldHash != "" {
			rev = "2"
		}
		ann = []label{{"deployment.kubernetes.io/revision", rev}}
	}
	r.meta(w.kind, ns, w.name, w.labels, w.created, ann, "", nil)
	r.key("spec")
	r.obj()
	if r.dump() && w.kind == deployment {
		r.kvInt("progressDeadlineSeconds", 600)
	}
	if w.kind != daemonSet {
		r.kvInt("replicas", w.replicas)
	}
	if r.dump() || w.kind == deployment && hash64(r.seed(), "rhl", ns, w.name)%2 == 0 {
		r.kvInt("revisionHistoryLimit", 10)
	}
	r.selector("selector", w.selector, nil)
	if w.kind == statefulSet {
		r.kv("serviceName", w.name)
	}
	r.key("template")
	r.obj()
	r.key("metadata")
	r.obj()
	if ann := templateAnnotations(w); len(ann) > 0 {
		r.labels("annotations", ann)
	}
	r.labels("labels", w.labels)
	r.end()
	r.podSpec(w, -1)
	r.end()
	if w.kind == statefulSet && w.arch.datastore {
		r.volumeClaimTemplates(w)
	}
	r.end()
	if r.dump() {
		r.workloadStatus(w)
	}
}

func templateAnnotations(w *workload) []label {
	for _, pd := range w.arch.ports {
		if pd.name == "metrics" {
			return []label{{"prometheus.io/port", strconv.Itoa(pd.port)}, {"prometheus.io/scrape", "true"}}
		}
	}
	return nil
}

func (r *renderer) volumeClaimTemplates(w *workload) {
	r.key("volumeClaimTemplates")
	r.list()
	r.obj()
	if r.dump() {
		r.kv("apiVersion", "v1")
		r.kv("kind", "PersistentVolumeClaim")
	}
	r.key("metadata")
	r.obj()
	r.kv("name", "data")
	r.end()
	r.key("spec")
	r.obj()
	r.key("accessModes")
	r.list()
	r.str("ReadWriteOnce")
	r.end()
	r.key("resources")
	r.obj()
	r.key("requests")
	r.obj()
	r.kv("storage", "20Gi")
	r.end()
	r.end()
	r.kv("storageClassName", "gp3")
	if r.dump() {
		r.kv("volumeMode", "Filesystem")
	}
	r.end()
	r.end()
	r.end()
}

func (r *renderer) workloadStatus(w *workload) {
	r.key("status")
	r.obj()
	n := w.npods
	switch w.kind {
	case daemonSet:
		r.kvInt("currentNumberScheduled", n)
		r.kvInt("desiredNumberScheduled", n)
		r.kvInt("numberAvailable", n)
		r.kvInt("numberMisscheduled", 0)
		r.kvInt("numberReady", n)
		r.kvInt("observedGeneration", 1)
		r.kvInt("updatedNumberScheduled", n)
	case statefulSet:
		r.kvInt("availableReplicas", n)
		r.kvInt("collisionCount", 0)
		r.kv("currentRevision", w.name+"-"+w.hash)
		r.kvInt("observedGeneration", 1)
		r.kvInt("readyReplicas", n)
		r.kvInt("replicas", n)
		r.kv("updateRevision", w.name+"-"+w.hash)
		r.kvInt("updatedReplicas", n)
	default:
		r.kvInt("availableReplicas", n)
		r.key("conditions")
		r.list()
		for _, c := range [][3]string{
			{"Available", "MinimumReplicasAvailable", "Deployment has minimum availability."},
			{"Progressing", "NewReplicaSetAvailable", `ReplicaSet "` + w.name + "-" + w.hash + `" has successfully progressed.`},
		} {
			r.obj()
			r.timestamp("lastTransitionTime", w.created+120)
			r.timestamp("lastUpdateTime", w.created+120)
			r.kv("message", c[2])
			r.kv("reason", c[1])
			r.kv("status", "True")
			r.kv("type", c[0])
			r.end()
		}
		r.end()
		r.kvInt("observedGeneration", 1)
		r.kvInt("readyReplicas", n)
		r.kvInt("replicas", n)
		r.kvInt("updatedReplicas", n)
	}
	r.end()
}

func (r *renderer) replicaSet(w *workload, old bool) {
	ns := r.nsName(w)
	hash, replicas, rev := w.hash, w.replicas, "2"
	if old {
		hash, replicas, rev = w.oldHash, 0, "1"
	} else if w.oldHash == "" {
		rev = "1"
	}
	name := w.name + "-" + hash
	labels := r.withLabels(w.labels, label{"pod-template-hash", hash})
	r.head("apps/v1", "ReplicaSet")
	ann := []label{
		{"deployment.kubernetes.io/desired-replicas", strconv.Itoa(w.replicas)},
		{"deployment.kubernetes.io/max-replicas", strconv.Itoa(w.replicas + (w.replicas+3)/4)},
		{"deployment.kubernetes.io/revision", rev},
	}
	r.meta("ReplicaSet", ns, name, labels, w.created+1, ann, "", func() { r.ownerRef(deployment, ns, w.name) })
	r.key("spec")
	r.obj()
	r.kvInt("replicas", replicas)
	r.selector("selector", w.selector, &label{"pod-template-hash", hash})
	r.key("template")
	r.obj()
	r.key("metadata")
	r.obj()
	if ann := templateAnnotations(w); len(ann) > 0 {
		r.labels("annotations", ann)
	}
	r.labels("labels", labels)
	r.end()
	r.podSpec(w, -1)
	r.end()
	r.end()
	r.key("status")
	r.obj()
	if replicas > 0 {
		r.kvInt("availableReplicas", replicas)
		r.kvInt("fullyLabeledReplicas", replicas)
	}
	r.kvInt("observedGeneration", 1)
	if replicas > 0 {
		r.kvInt("readyReplicas", replicas)
	}
	r.kvInt("replicas", replicas)
	r.end()
}

// withLabels returns ls plus extra, sorted, in a buffer reused until the
// next call.
func (r *renderer) withLabels(ls []label, extra ...label) []label {
	r.lbuf = append(append(r.lbuf[:0], ls...), extra...)
	return sortLabels(r.lbuf)
}

func (r *renderer) selector(k string, match []label, extra *label) {
	r.key(k)
	r.obj()
	r.key("matchLabels")
	r.obj()
	for _, l := range match {
		if extra != nil && extra.k < l.k {
			r.kv(extra.k, extra.v)
			extra = nil
		}
		r.kv(l.k, l.v)
	}
	if extra != nil {
		r.kv(extra.k, extra.v)
	}
	r.end()
	r.end()
}

func nodeName(n int) string {
	return "ip-10-0-" + strconv.Itoa(n/250) + "-" + strconv.Itoa(n%250+4) + ".ec2.internal"
}

func nodeIP(n int) string {
	return "10.0." + strconv.Itoa(n/250) + "." + strconv.Itoa(n%250+4)
}

// podIP is in the node's pod range, 10.128.0.0/10 split into /24s.
func podIP(pd pod) string {
	return "10." + strconv.Itoa(128+pd.node/256) + "." + strconv.Itoa(pd.node%256) + "." + strconv.Itoa(pd.host)
}

func (r *renderer) pod(w *workload, i int) {
	ns := r.nsName(w)
	pd := r.plan.pods[w.firstPod+i]
	var name, generateName, ownerKind, ownerName string
	var labels []label
	switch w.kind {
	case deployment:
		ownerKind, ownerName = "ReplicaSet", w.name+"-"+w.hash
		generateName = ownerName + "-"
		name = generateName + suffix(hash64(r.seed(), "pod", ns, w.name, strconv.Itoa(i)), 5)
		labels = r.withLabels(w.labels, label{"pod-template-hash", w.hash})
	case statefulSet:
		ownerKind, ownerName = statefulSet, w.name
		generateName = w.name + "-"
		name = generateName + strconv.Itoa(i)
		labels = r.withLabels(w.labels,
			label{"apps.kubernetes.io/pod-index", strconv.Itoa(i)},
			label{"controller-revision-hash", w.name + "-" + w.hash},
			label{"statefulset.kubernetes.io/pod-name", name})
	default:
		ownerKind, ownerName = daemonSet, w.name
		generateName = w.name + "-"
		name = generateName + suffix(hash64(r.seed(), "pod", ns, w.name, strconv.Itoa(i)), 5)
		labels = r.withLabels(w.labels,
			label{"controller-revision-hash", w.hash[:9]},
			label{"pod-template-generation", "1"})
	}
	created := w.created + 60 + int(hash64(r.seed(), "t", name)%86400)
	r.head("v1", "Pod")
	r.meta("Pod", ns, name, labels, created, templateAnnotations(w), generateName, func() { r.ownerRef(ownerKind, ns, ownerName) })
	r.podSpec(w, i)
	r.podStatus(w, pd, created)
}

func (r *renderer) podStatus(w *workload, pd pod, created int) {
	ip := podIP(pd)
	if w.kind == daemonSet {
		ip = nodeIP(pd.node)
	}
	r.key("status")
	r.obj()
	r.key("conditions")
	r.list()
	for k, c := range []string{"PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"} {
		r.obj()
		r.key("lastProbeTime")
		r.item(true)
		r.b = append(r.b, "null"...)
		r.timestamp("lastTransitionTime", created+k*3)
		r.kv("status", "True")
		r.kv("type", c)
		r.end()
	}
	r.end()
	r.key("containerStatuses")
	r.list()
	r.containerStatus(w, containerName(w), w.image, created)
	if w.sidecar {
		r.containerStatus(w, "istio-proxy", istioImage, created)
	}
	r.end()
	r.kv("hostIP", nodeIP(pd.node))
	r.key("hostIPs")
	r.list()
	r.obj()
	r.kv("ip", nodeIP(pd.node))
	r.end()
	r.end()
	r.kv("phase", "Running")
	r.kv("podIP", ip)
	r.key("podIPs")
	r.list()
	r.obj()
	r.kv("ip", ip)
	r.end()
	r.end()
	r.kv("qosClass", "Burstable")
	r.timestamp("startTime", created)
	r.end()
}

func (r *renderer) containerStatus(w *workload, name, image string, created int) {
	r.obj()
	r.kv("containerID", "containerd://"+digest(r.seed(), "cid", w.name, name, strconv.Itoa(created)))
	r.kv("image", image)
	r.kv("imageID", image+"@sha256:"+digest(r.seed(), "img", image))
	r.key("lastState")
	r.obj()
	r.end()
	r.kv("name", name)
	r.kvBool("ready", true)
	r.kvInt("restartCount", 0)
	r.kvBool("started", true)
	r.key("state")
	r.obj()
	r.key("running")
	r.obj()
	r.timestamp("startedAt", created+5)
	r.end()
	r.end()
	r.end()
}

const istioImage = "docker.io/istio/proxyv2:1.23.2"

func containerName(w *workload) string {
	if w.arch.image != "" {
		return w.arch.role
	}
	return w.name
}

// podSpec writes spec of a pod template (i < 0) or of pod i of w (dump).
func (r *renderer) podSpec(w *workload, i int) {
	ns := r.nsName(w)
	dump := r.dump()
	isPod := i >= 0
	r.key("spec")
	r.obj()
	if w.name == "node-exporter" {
		r.kvBool("automountServiceAccountToken", false)
	}
	r.key("containers")
	r.list()
	r.container(w)
	if isPod && w.sidecar {
		r.sidecar()
	}
	r.end()
	if dump {
		r.kv("dnsPolicy", "ClusterFirst")
		if isPod {
			r.kvBool("enableServiceLinks", true)
		}
	}
	if w.kind == daemonSet {
		r.kvBool("hostNetwork", true)
		r.kvBool("hostPID", true)
	}
	if isPod {
		r.kv("nodeName", nodeName(r.plan.pods[w.firstPod+i].node))
	}
	if w.kind == daemonSet || hash64(r.seed(), "nodesel", ns, w.name)%3 == 0 {
		r.key("nodeSelector")
		r.obj()
		r.kv("kubernetes.io/os", "linux")
		r.end()
	}
	if isPod {
		r.kv("preemptionPolicy", "PreemptLowerPriority")
		r.kvInt("priority", 0)
	}
	if dump {
		r.kv("restartPolicy", "Always")
		r.kv("schedulerName", "default-scheduler")
	}
	r.key("securityContext")
	r.obj()
	if w.arch.datastore {
		r.kvInt("fsGroup", 999)
	}
	if w.kind != daemonSet {
		r.kvBool("runAsNonRoot", true)
	}
	r.key("seccompProfile")
	r.obj()
	r.kv("type", "RuntimeDefault")
	r.end()
	r.end()
	if dump && isPod {
		r.kv("serviceAccount", w.name)
	}
	r.kv("serviceAccountName", w.name)
	r.kvInt("terminationGracePeriodSeconds", 30)
	if isPod {
		r.key("tolerations")
		r.list()
		for _, t := range []string{"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"} {
			r.obj()
			r.kv("effect", "NoExecute")
			r.kv("key", t)
			r.kv("operator", "Exists")
			r.kvInt("tolerationSeconds", 300)
			r.end()
		}
		r.end()
	}
	r.key("volumes")
	r.list()
	r.obj()
	r.key("emptyDir")
	r.obj()
	r.end()
	r.kv("name", "tmp")
	r.end()
	if isPod && w.name != "node-exporter" {
		r.apiAccessVolume(w, i)
	}
	r.end()
	r.end()
}

func (r *renderer) container(w *workload) {
	dump := r.dump()
	explicitTCP := dump || hash64(r.seed(), "tcp", w.name)%2 == 0
	r.obj()
	if w.kind == daemonSet {
		r.key("args")
		r.list()
		r.str("--path.rootfs=/host/root")
		r.str("--web.listen-address=:9100")
		r.end()
	}
	r.key("env")
	r.list()
	r.obj()
	r.kv("name", "LOG_LEVEL")
	r.kv("value", "info")
	r.end()
	r.obj()
	r.kv("name", "POD_NAME")
	r.key("valueFrom")
	r.obj()
	r.key("fieldRef")
	r.obj()
	if dump {
		r.kv("apiVersion", "v1")
	}
	r.kv("fieldPath", "metadata.name")
	r.end()
	r.end()
	r.end()
	r.end()
	r.kv("image", w.image)
	r.kv("imagePullPolicy", "IfNotPresent")
	r.kv("name", containerName(w))
	r.key("ports")
	r.list()
	for _, pd := range w.arch.ports {
		r.obj()
		r.kvInt("containerPort", pd.port)
		if w.kind == daemonSet {
			r.kvInt("hostPort", pd.port)
		}
		if pd.name != "" {
			r.kv("name", pd.name)
		}
		if pd.proto != "TCP" || explicitTCP {
			r.kv("protocol", pd.proto)
		}
		r.end()
	}
	r.end()
	if p := probePort(w); p != "" {
		r.key("readinessProbe")
		r.obj()
		if dump {
			r.kvInt("failureThreshold", 3)
		}
		if w.arch.httpProbe {
			r.key("httpGet")
			r.obj()
			r.kv("path", "/healthz")
			r.kv("port", p)
			if dump {
				r.kv("scheme", "HTTP")
			}
			r.end()
		} else {
			r.key("tcpSocket")
			r.obj()
			r.kv("port", p)
			r.end()
		}
		r.kvInt("periodSeconds", 10)
		if dump {
			r.kvInt("successThreshold", 1)
			r.kvInt("timeoutSeconds", 1)
		}
		r.end()
	}
	r.key("resources")
	r.obj()
	r.key("limits")
	r.obj()
	r.kv("memory", "512Mi")
	r.end()
	r.key("requests")
	r.obj()
	r.kv("cpu", "100m")
	r.kv("memory", "256Mi")
	r.end()
	r.end()
	r.key("securityContext")
	r.obj()
	r.kvBool("allowPrivilegeEscalation", false)
	r.key("capabilities")
	r.obj()
	r.key("drop")
	r.list()
	r.str("ALL")
	r.end()
	r.end()
	r.kvBool("readOnlyRootFilesystem", true)
	r.end()
	if dump {
		r.kv("terminationMessagePath", "/dev/termination-log")
		r.kv("terminationMessagePolicy", "File")
	}
	r.key("volumeMounts")
	r.list()
	r.obj()
	r.kv("mountPath", "/tmp")
	r.kv("name", "tmp")
	r.end()
	if w.kind == statefulSet && w.arch.datastore {
		r.obj()
		r.kv("mountPath", "/data")
		r.kv("name", "data")
		r.end()
	}
	r.end()
	r.end()
}

// probePort is the named port a readiness probe checks, if any.
func probePort(w *workload) string {
	for _, pd := range w.arch.ports {
		if pd.name != "" && pd.name != "metrics" && pd.proto == "TCP" {
			return pd.name
		}
	}
	return ""
}

func (r *renderer) sidecar() {
	r.obj()
	r.key("args")
	r.list()
	r.str("proxy")
	r.str("sidecar")
	r.end()
	r.kv("image", istioImage)
	r.kv("imagePullPolicy", "IfNotPresent")
	r.kv("name", "istio-proxy")
	r.key("ports")
	r.list()
	r.obj()
	r.kvInt("containerPort", 15090)
	r.kv("name", "http-envoy-prom")
	r.kv("protocol", "TCP")
	r.end()
	r.end()
	r.key("resources")
	r.obj()
	r.key("requests")
	r.obj()
	r.kv("cpu", "10m")
	r.kv("memory", "40Mi")
	r.end()
	r.end()
	r.kv("terminationMessagePath", "/dev/termination-log")
	r.kv("terminationMessagePolicy", "File")
	r.end()
}

func (r *renderer) apiAccessVolume(w *workload, i int) {
	r.obj()
	r.kv("name", "kube-api-access-"+suffix(hash64(r.seed(), "vol", w.name, strconv.Itoa(i)), 5))
	r.key("projected")
	r.obj()
	r.kvInt("defaultMode", 420)
	r.key("sources")
	r.list()
	r.obj()
	r.key("serviceAccountToken")
	r.obj()
	r.kvInt("expirationSeconds", 3607)
	r.kv("path", "token")
	r.end()
	r.end()
	r.obj()
	r.key("configMap")
	r.obj()
	r.key("items")
	r.list()
	r.obj()
	r.kv("key", "ca.crt")
	r.kv("path", "ca.crt")
	r.end()
	r.end()
	r.kv("name", "kube-root-ca.crt")
	r.end()
	r.end()
	r.obj()
	r.key("downwardAPI")
	r.obj()
	r.key("items")
	r.list()
	r.obj()
	r.key("fieldRef")
	r.obj()
	r.kv("apiVersion", "v1")
	r.kv("fieldPath", "metadata.namespace")
	r.end()
	r.kv("path", "namespace")
	r.end()
	r.end()
	r.end()
	r.end()
	r.end()
	r.end()
	r.end()
}

// servicePort is the port a Service exposes for a named container port.
func servicePort(pd portDef) int {
	switch pd.name {
	case "http":
		if pd.port == 8080 {
			return 80
		}
	case "https":
		return 443
	}
	return pd.port
}

func (r *renderer) service(w *workload) {
	ns := r.nsName(w)
	name := w.name
	if name == "coredns" {
		name = "kube-dns"
	}
	r.head("v1", "Service")
	r.meta("Service", ns, name, w.selector, w.created, nil, "", nil)
	r.key("spec")
	r.obj()
	headless := w.kind == statefulSet
	if r.dump() {
		ip := "None"
		if !headless {
			ip = "10." + strconv.Itoa(96+w.serviceIP>>16) + "." + strconv.Itoa(w.serviceIP>>8&255) + "." + strconv.Itoa(w.serviceIP&255)
		}
		r.kv("clusterIP", ip)
		r.key("clusterIPs")
		r.list()
		r.str(ip)
		r.end()
		r.kv("internalTrafficPolicy", "Cluster")
		r.key("ipFamilies")
		r.list()
		r.str("IPv4")
		r.end()
		r.kv("ipFamilyPolicy", "SingleStack")
	} else if headless {
		r.kv("clusterIP", "None")
	}
	r.key("ports")
	r.list()
	for _, pd := range w.arch.ports {
		if pd.name == "" || pd.name == "metrics" && name != "kube-dns" {
			continue
		}
		r.obj()
		r.kv("name", pd.name)
		r.kvInt("port", servicePort(pd))
		r.kv("protocol", pd.proto)
		r.kv("targetPort", pd.name)
		r.end()
	}
	r.end()
	r.labels("selector", w.selector)
	if r.dump() {
		r.kv("sessionAffinity", "None")
	}
	r.kv("type", "ClusterIP")
	r.end()
	if r.dump() {
		r.key("status")
		r.obj()
		r.key("loadBalancer")
		r.obj()
		r.end()
		r.end()
	}
}

func (r *renderer) policy(pol *policy) {
	ns := r.plan.namespaces[pol.ns].name
	r.head("networking.k8s.io/v1", "NetworkPolicy")
	r.meta("NetworkPolicy", ns, pol.name, pol.labels, 3600+int(hash64(r.seed(), "np", ns, pol.name)%(180*86400)), nil, "", nil)
	r.key("spec")
	r.obj()
	if r.dump() {
		// kubectl prints keys in alphabetical order.
		if len(pol.egress) > 0 {
			r.rules("egress", "to", pol.egress)
		}
		if len(pol.ingress) > 0 {
			r.rules("ingress", "from", pol.ingress)
		}
	}
	r.labelSelector("podSelector", &pol.pod)
	types := pol.types
	if types == nil && r.dump() {
		// The API server stores the defaulted policyTypes.
		types = []string{"Ingress"}
		if len(pol.egress) > 0 {
			types = append(types, "Egress")
		}
	}
	if types != nil {
		r.key("policyTypes")
		r.list()
		for _, t := range types {
			r.str(t)
		}
		r.end()
	}
	if !r.dump() {
		if len(pol.ingress) > 0 {
			r.rules("ingress", "from", pol.ingress)
		}
		if len(pol.egress) > 0 {
			r.rules("egress", "to", pol.egress)
		}
	}
	r.end()
}

func (r *renderer) rules(k, peersKey string, rules []rule) {
	r.key(k)
	r.list()
	for _, rl := range rules {
		r.obj()
		// kubectl prints keys in alphabetical order; people write the
		// peers first.
		peersFirst := !r.dump() || peersKey == "from"
		if peersFirst {
			r.peers(peersKey, rl.peers)
		}
		r.ports(rl.ports)
		if !peersFirst {
			r.peers(peersKey, rl.peers)
		}
		r.end()
	}
	r.end()
}

func (r *renderer) ports(ports []port) {
	if ports == nil {
		return
	}
	r.key("ports")
	r.list()
	for _, pt := range ports {
		r.obj()
		if pt.end != 0 {
			r.kvInt("endPort", pt.end)
		}
		if pt.name != "" {
			r.kv("port", pt.name)
		} else {
			r.kvInt("port", pt.num)
		}
		switch {
		case pt.proto != "":
			r.kv("protocol", pt.proto)
		case r.dump():
			r.kv("protocol", "TCP")
		}
		r.end()
	}
	r.end()
}

func (r *renderer) peers(k string, peers []peer) {
	if peers == nil {
		return
	}
	r.key(k)
	r.list()
	for _, pr := range peers {
		r.obj()
		if pr.block != nil {
			r.key("ipBlock")
			r.obj()
			r.kv("cidr", pr.block.cidr)
			if len(pr.block.except) > 0 {
				r.key("except")
				r.list()
				for _, x := range pr.block.except {
					r.str(x)
				}
				r.end()
			}
			r.end()
		}
		if pr.ns != nil {
			r.labelSelector("namespaceSelector", pr.ns)
		}
		if pr.pod != nil {
			r.labelSelector("podSelector", pr.pod)
		}
		r.end()
	}
	r.end()
}

func (r *renderer) labelSelector(k string, s *selector) {
	r.key(k)
	r.obj()
	if len(s.exprs) > 0 {
		r.key("matchExpressions")
		r.list()
		for _, x := range s.exprs {
			r.obj()
			r.kv("key", x.key)
			r.kv("operator", x.op)
			if len(x.values) > 0 {
				r.key("values")
				r.list()
				for _, v := range x.values {
					r.str(v)
				}
				r.end()
			}
			r.end()
		}
		r.end()
	}
	if len(s.match) > 0 {
		r.key("matchLabels")
		r.obj()
		for _, l := range s.match {
			r.kv(l.k, l.v)
		}
		r.end()
	}
	r.end()
}
