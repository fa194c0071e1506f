package podsec_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/pod-security-admission/policy"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/podsec"
)

// load reads doc as standard input with field lines, as `ward check` does.
func load(t *testing.T, doc string) *manifest.Set {
	t.Helper()
	set, err := manifest.Load(manifest.Options{FieldLines: true, Stdin: strings.NewReader(doc)}, "-")
	if err != nil {
		t.Fatalf("manifest.Load: %v", err)
	}
	return set
}

func audit(t *testing.T, doc string, opts podsec.Options) []finding.Finding {
	t.Helper()
	fs, err := podsec.Audit(load(t, doc), opts)
	if err != nil {
		t.Fatalf("Audit: %v", err)
	}
	return fs
}

// lineOf returns the 1-based line of doc holding marker, which must occur
// exactly once. Markers are YAML comments such as "#img".
func lineOf(t *testing.T, doc, marker string) int {
	t.Helper()
	line, found := 0, 0
	for i, l := range strings.Split(doc, "\n") {
		if strings.HasSuffix(l, " "+marker) {
			line = i + 1
			found++
		}
	}
	if found != 1 {
		t.Fatalf("marker %q occurs %d times in the input", marker, found)
	}
	return line
}

// want is an expected finding: At is the marker of its line.
type want struct {
	Severity finding.Severity
	At       string
	Object   string
	// Msg are substrings the message must contain.
	Msg []string
}

// got is the part of a finding the tests compare exactly.
type got struct {
	Rule     string
	Severity finding.Severity
	File     string
	Line     int
	Object   string
}

type testCase struct {
	name string
	doc  string
	opts podsec.Options
	want []want // findings of the suite's rule, in output order
}

// sha is a well-formed digest for pinned images.
const sha = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// hardened is a Deployment that passes every rule at the restricted level.
// Its {{...}} placeholders are replaced by with().
const hardened = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web}{{meta}}
    spec: #spec
      automountServiceAccountToken: false{{pod}}
      securityContext: #podsc
        runAsNonRoot: true
        seccompProfile: {type: RuntimeDefault}{{podsc}}
      containers:
      - name: app #app
        image: registry.example/app:1.0@` + sha + ` #img
        resources:
          limits: {cpu: 500m, memory: 128Mi} #limits
        securityContext: #sc
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities: #caps
            drop: [ALL] #drop{{sc}}{{containers}}
`

const dep = "shop/Deployment/web"

const ruleDeviates = "pod/deviates-from-template"

// with fills the placeholders of hardened: meta (template metadata), pod
// (pod spec fields), podsc (pod securityContext fields), sc (the app
// container's securityContext fields) and containers (more containers).
// Values are full lines, indented, each starting with a newline.
func with(kv ...string) string {
	doc := hardened
	for i := 0; i+1 < len(kv); i += 2 {
		doc = strings.Replace(doc, "{{"+kv[i]+"}}", kv[i+1], 1)
	}
	for _, k := range []string{"meta", "pod", "podsc", "sc", "containers"} {
		doc = strings.Replace(doc, "{{"+k+"}}", "", 1)
	}
	return doc
}

// withEnv returns hardened with the app container's env: lines, each
// indented as a list item under env.
func withArgs(line string) string {
	return replace("        image: registry.example/app:1.0@"+sha+" #img\n", "        image: registry.example/app:1.0@"+sha+" #img\n        "+line+"\n")
}

func withEnv(lines string) string {
	return replace("        image: registry.example/app:1.0@"+sha+" #img\n", "        image: registry.example/app:1.0@"+sha+" #img\n        env:\n        "+lines+"\n")
}

// replace returns hardened with old replaced by new, which must occur.
func replace(old, new string) string {
	doc := with()
	if !strings.Contains(doc, old) {
		panic("test input lacks " + old)
	}
	return strings.Replace(doc, old, new, 1)
}

// suites holds every rule's cases, keyed by rule id. Each suite has
// positive cases and negative ones (want empty).
// withInstance returns hardened with an instance Pod of its ReplicaSet
// (absent: the Pod folds by name): the template's spec as the API server
// writes it in a Pod, spec lines extra added.
func withInstance(extra string) string {
	return with() + `---
apiVersion: v1 #pod
kind: Pod
metadata:
  name: web-5d8f7c9b6-x2k4q
  namespace: shop
  labels: {app: web, pod-template-hash: 5d8f7c9b6}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-5d8f7c9b6, uid: rs-uid, controller: true}]
spec:
  automountServiceAccountToken: false
  nodeName: node-1
  serviceAccountName: default
  securityContext:
    runAsNonRoot: true
    seccompProfile: {type: RuntimeDefault}
  containers:
  - name: app
    image: registry.example/app:1.0@` + sha + `
    resources:
      limits: {cpu: 500m, memory: 128Mi}
      requests: {cpu: 500m, memory: 128Mi}
    securityContext:
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      capabilities:
        drop: [ALL]` + extra + `
status: {podIP: 10.0.0.7}
`
}

const forgedPod = "shop/Pod/web-5d8f7c9b6-x2k4q"

var suites = map[string][]testCase{
	ruleDeviates: {
		{"instance Pod as the API server writes it", withInstance(""), podsec.Options{}, nil},
		{"instance Pod on the host network", withInstance("\n  hostNetwork: true"), podsec.Options{},
			[]want{{finding.Medium, "#pod", forgedPod, []string{forgedPod + " is folded into shop/Deployment/web (-:1) through its ownerReferences, but its spec differs"}}}},
		{"instance Pod with an ephemeral container", withInstance("\n  ephemeralContainers: [{name: debugger, image: busybox}]"), podsec.Options{},
			[]want{{finding.Medium, "#pod", forgedPod, []string{"audited on its own spec"}}}},
	},
	"pod/hostpath-persistent-volume": {
		{"hostPath PersistentVolume of the node's root", with() + "---\napiVersion: v1\nkind: PersistentVolume\nmetadata: {name: node-root}\nspec:\n  capacity: {storage: 1Gi}\n  accessModes: [ReadWriteOnce]\n  hostPath: #hp\n    path: /\n",
			podsec.Options{}, []want{{finding.High, "#hp", "PersistentVolume/node-root", []string{"hostPath volume of node path /", "persistentVolumeClaim binds to it"}}}},
		{"hostPath PersistentVolume without a path", with() + "---\napiVersion: v1\nkind: PersistentVolume\nmetadata: {name: p}\nspec:\n  hostPath: {} #hp\n",
			podsec.Options{}, []want{{finding.High, "#hp", "PersistentVolume/p", []string{"(no path)"}}}},
		{"local and CSI PersistentVolumes", with() + "---\napiVersion: v1\nkind: PersistentVolume\nmetadata: {name: disk}\nspec:\n  local: {path: /mnt/disks/ssd1}\n---\napiVersion: v1\nkind: PersistentVolume\nmetadata: {name: ebs}\nspec:\n  csi: {driver: ebs.csi.aws.com, volumeHandle: vol-1}\n",
			podsec.Options{}, nil},
		{"hostPath of a custom resource's spec", with() + "---\napiVersion: example.com/v1\nkind: PersistentVolume\nmetadata: {name: x}\nspec:\n  hostPath: {path: /}\n",
			podsec.Options{}, nil},
	},
	"pod/writable-root-fs": {
		{"unset", replace("          readOnlyRootFilesystem: true\n", ""), podsec.Options{},
			[]want{{finding.Medium, "#sc", dep, []string{`container "app" of shop/Deployment/web does not set securityContext.readOnlyRootFilesystem`}}}},
		{"false", replace("readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false #ro"), podsec.Options{},
			[]want{{finding.Medium, "#ro", dep, []string{"sets securityContext.readOnlyRootFilesystem: false"}}}},
		{"init container without securityContext", with("pod", "\n      initContainers:\n      - {name: setup, image: registry.example/setup:1@"+sha+", resources: {limits: {cpu: 1, memory: 1Gi}}} #init"), podsec.Options{Level: "baseline"},
			[]want{{finding.Medium, "#init", dep, []string{`init container "setup"`}}}},
		{"read-only", with(), podsec.Options{}, nil},
		{"windows pod", with("pod", "\n      os: {name: windows}", "sc", ""), podsec.Options{}, nil},
	},
	"pod/root-group": {
		{"pod runAsGroup 0", with("podsc", "\n        runAsGroup: 0 #rg"), podsec.Options{},
			[]want{{finding.Low, "#rg", dep, []string{"primary group 0"}}}},
		{"pod fsGroup 0 and supplementalGroups", with("podsc", "\n        fsGroup: 0 #fg\n        supplementalGroups: [1000, 0] #sg"), podsec.Options{},
			[]want{{finding.Low, "#fg", dep, []string{"fsGroup: 0"}}, {finding.Low, "#sg", dep, []string{"adds group 0"}}}},
		{"container runAsGroup 0", with("sc", "\n          runAsGroup: 0 #crg"), podsec.Options{},
			[]want{{finding.Low, "#crg", dep, []string{`container "app" of shop/Deployment/web runs with primary group 0`}}}},
		{"non-zero groups", with("podsc", "\n        runAsGroup: 1000\n        fsGroup: 2000\n        supplementalGroups: [3000]", "sc", "\n          runAsGroup: 1000"), podsec.Options{}, nil},
	},
	"pod/automount-sa-token": {
		{"unset", replace("      automountServiceAccountToken: false", "      serviceAccountName: web"), podsec.Options{},
			[]want{{finding.Low, "#spec", dep, []string{"does not set automountServiceAccountToken: false", "service account web"}}}},
		{"true", replace("automountServiceAccountToken: false", "automountServiceAccountToken: true #am"), podsec.Options{},
			[]want{{finding.Low, "#am", dep, []string{"sets automountServiceAccountToken: true", "service account default"}}}},
		{"false", with(), podsec.Options{}, nil},
		// The pod's setting wins; unset, its ServiceAccount's applies.
		{"unset, service account false", replace("      automountServiceAccountToken: false", "      serviceAccountName: web") + `---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web, namespace: shop}
automountServiceAccountToken: false
`, podsec.Options{}, nil},
		{"unset, default service account false", replace("      automountServiceAccountToken: false", "") + `---
apiVersion: v1
kind: ServiceAccount
metadata: {name: default, namespace: shop}
automountServiceAccountToken: false
`, podsec.Options{}, nil},
		{"unset, service account of another namespace false", replace("      automountServiceAccountToken: false", "      serviceAccountName: web") + `---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web, namespace: other}
automountServiceAccountToken: false
`, podsec.Options{}, []want{{finding.Low, "#spec", dep, []string{"does not set automountServiceAccountToken: false", "service account web"}}}},
		{"true beats the service account", replace("automountServiceAccountToken: false", "automountServiceAccountToken: true #am") + `---
apiVersion: v1
kind: ServiceAccount
metadata: {name: default, namespace: shop}
automountServiceAccountToken: false
`, podsec.Options{}, []want{{finding.Low, "#am", dep, []string{"sets automountServiceAccountToken: true"}}}},
	},
	"pod/default-service-account": {
		{"no serviceAccountName, token automounted", replace("automountServiceAccountToken: false", "automountServiceAccountToken: true"), podsec.Options{},
			[]want{{finding.Low, "#spec", dep, []string{"runs as the default ServiceAccount of namespace shop", "its token is mounted in every container"}}}},
		{"serviceAccountName default", replace("      automountServiceAccountToken: false", "      serviceAccountName: default #sa"), podsec.Options{},
			[]want{{finding.Low, "#sa", dep, []string{"default ServiceAccount"}}}},
		{"deprecated serviceAccount default", replace("      automountServiceAccountToken: false", "      serviceAccount: default #sa"), podsec.Options{},
			[]want{{finding.Low, "#sa", dep, nil}}},
		{"automount off, projected token", with("pod", "\n      volumes:\n      - name: api-token\n        projected: {sources: [{serviceAccountToken: {path: token}}]}"), podsec.Options{},
			[]want{{finding.Low, "#spec", dep, []string{`volume "api-token" projects its token`}}}},
		{"no token", with(), podsec.Options{}, nil},
		{"own service account", replace("      automountServiceAccountToken: false", "      serviceAccountName: web"), podsec.Options{}, nil},
		{"deprecated serviceAccount of its own", replace("      automountServiceAccountToken: false", "      serviceAccount: web"), podsec.Options{}, nil},
		{"default service account without automount", replace("      automountServiceAccountToken: false", "") + `---
apiVersion: v1
kind: ServiceAccount
metadata: {name: default, namespace: shop}
automountServiceAccountToken: false
`, podsec.Options{}, nil},
	},
	"pod/net-raw-not-dropped": {
		{"drop lists other capabilities", replace("drop: [ALL]", "drop: [CHOWN]"), podsec.Options{Level: "baseline"},
			[]want{{finding.Medium, "#drop", dep, []string{"neither NET_RAW nor ALL"}}}},
		{"no securityContext", `apiVersion: v1
kind: Pod
metadata: {name: p, namespace: shop}
spec:
  containers:
  - {name: c, image: i} #c
`, podsec.Options{Level: "baseline"}, []want{{finding.Medium, "#c", "shop/Pod/p", []string{`container "c" of shop/Pod/p keeps NET_RAW`}}}},
		{"added back", with("sc", "\n            add: [NET_RAW] #add"), podsec.Options{},
			[]want{{finding.Medium, "#add", dep, []string{"adds NET_RAW back"}}}},
		{"privileged", with("sc", "\n          privileged: true #priv"), podsec.Options{},
			[]want{{finding.Medium, "#priv", dep, []string{"is privileged"}}}},
		{"ephemeral container", `apiVersion: v1
kind: Pod
metadata: {name: p, namespace: shop}
spec:
  containers:
  - {name: c, image: i, securityContext: {capabilities: {drop: [ALL]}}}
  ephemeralContainers:
  - {name: debug, image: busybox} #eph
`, podsec.Options{Level: "baseline"}, []want{{finding.Medium, "#eph", "shop/Pod/p", []string{`ephemeral container "debug"`}}}},
		{"drop ALL", with(), podsec.Options{}, nil},
		{"drop net_raw, lower case", replace("drop: [ALL]", "drop: [net_raw]"), podsec.Options{Level: "baseline"}, nil},
		{"drop CAP_NET_RAW", replace("drop: [ALL]", "drop: [CAP_NET_RAW, CHOWN]"), podsec.Options{Level: "baseline"}, nil},
		{"windows pod", with("pod", "\n      os: {name: windows}", "sc", "\n            add: [NET_RAW]"), podsec.Options{Level: "baseline"}, nil},
	},
	"pod/secret-in-env": {
		{"a password written in the manifest", withEnv("- {name: DB_PASSWORD, value: hunter2-Prod} #env"), podsec.Options{},
			[]want{{finding.High, "#env", dep, []string{`container "app"`, "DB_PASSWORD", "its name suggests a secret"}}}},
		{"a token by its format under any name", withEnv("- {name: UPSTREAM, value: ghp_0123456789abcdefghijABCDEFGHIJ012345} #env"), podsec.Options{},
			[]want{{finding.High, "#env", dep, []string{"UPSTREAM", "looks like a GitHub token"}}}},
		{"a URL with a password", withEnv("- name: DATABASE_URL\n          value: postgres://app:s3cret@db:5432/shop #env"), podsec.Options{},
			[]want{{finding.High, "#env", dep, []string{"DATABASE_URL", "a URL with a password"}}}},
		{"abbreviated names with switches, numbers and paths", withEnv("- {name: FIRST_PASS, value: \"true\"}\n        - {name: CI_PASS, value: \"1\"}\n        - {name: BUILD_PWD, value: /src}\n        - {name: HTTP_PAT, value: /api}"), podsec.Options{}, nil},
		{"an abbreviated name with a password", withEnv("- {name: DB_PASS, value: hunter2} #env"), podsec.Options{},
			[]want{{finding.High, "#env", dep, []string{"DB_PASS", "its name suggests a secret"}}}},
		{"from a Secret", withEnv("- name: DB_PASSWORD\n          valueFrom: {secretKeyRef: {name: db, key: password}}"), podsec.Options{}, nil},
		{"placeholders and references", withEnv("- {name: DB_PASSWORD, value: changeme}\n        - {name: API_TOKEN, value: \"$(TOKEN_FROM_FILE)\"}\n        - {name: AUTH_SECRET, value: \"\"}"), podsec.Options{}, nil},
		{"names that describe a secret, checksums, digests and ids", withEnv("- {name: SSH_KEY_PATH, value: /run/secrets/key}\n        - {name: AWS_ACCESS_KEY_ID_FILE, value: /run/aws}\n        - {name: IMAGE_DIGEST, value: \"" + sha + "\"}\n        - {name: REQUEST_ID, value: 3f2b9c4e-8d7a-4b1e-9f6c-2a5d8e7b1c0f}\n        - {name: GPG_KEY, value: 4ED778F539E3634C779C87C6D7062848A1AB005C}"), podsec.Options{}, nil},
	},
	"pod/secret-in-args": {
		{"a password option in args", withArgs(`args: ["--db-host=db", "--db-password=Pr0d-Passw0rd!x"] #args`), podsec.Options{},
			[]want{{finding.High, "#args", dep, []string{`container "app"`, "command line holds", "password"}}}},
		{"mysql -p in a sh -c script", withArgs(`command: ["sh", "-c", "mysql -h db -uroot -pR00tPassw0rd! shop < /init.sql"] #args`), podsec.Options{},
			[]want{{finding.High, "#args", dep, []string{"-p option of mysql"}}}},
		{"a token in a clone URL", withArgs(`args: ["clone", "https://x-access-token:ghp_0123456789abcdefghijABCDEFGHIJ012345@github.com/org/repo.git"] #args`), podsec.Options{},
			[]want{{finding.High, "#args", dep, []string{"URL"}}}},
		{"references Kubernetes expands, files and placeholders", withArgs(`args: ["--db-password=$(DB_PASSWORD)", "--token-file=/run/secrets/token", "--password=changeme"]`), podsec.Options{}, nil},
		{"a shell reference", withArgs(`command: ["sh", "-c", "exec /app --db-password=\"$DB_PASSWORD\""]`), podsec.Options{}, nil},
		{"ordinary flags", withArgs(`args: ["--port=8080", "--config=/etc/app.yaml", "--log-level=debug"]`), podsec.Options{}, nil},
	},
	"pod/secret-env-ref": {
		{"secretKeyRef", withEnv("- name: DB_PASSWORD\n          valueFrom: {secretKeyRef: {name: db, key: password}} #env"), podsec.Options{},
			[]want{{finding.Info, "#env", dep, []string{"DB_PASSWORD", "key password of Secret db"}}}},
		{"a ConfigMap and a field are not Secrets", withEnv("- name: MODE\n          valueFrom: {configMapKeyRef: {name: cfg, key: mode}}\n        - name: NODE\n          valueFrom: {fieldRef: {fieldPath: spec.nodeName}}"), podsec.Options{}, nil},
	},
	"pod/image-latest": {
		{"no tag", replace("image: registry.example/app:1.0@"+sha, "image: nginx"), podsec.Options{},
			[]want{{finding.Medium, "#img", dep, []string{`uses image "nginx" with no tag, which means latest`}}}},
		{"latest", replace("image: registry.example/app:1.0@"+sha, "image: nginx:latest"), podsec.Options{},
			[]want{{finding.Medium, "#img", dep, []string{`"nginx:latest" with the tag latest`}}}},
		{"registry port, no tag", replace("image: registry.example/app:1.0@"+sha, "image: registry.example:5000/team/app"), podsec.Options{},
			[]want{{finding.Medium, "#img", dep, []string{"no tag"}}}},
		{"malformed digest does not pin", replace("image: registry.example/app:1.0@"+sha, "image: nginx@sha256:abc"), podsec.Options{},
			[]want{{finding.Medium, "#img", dep, []string{`with no tag and the malformed digest "sha256:abc"`, "InvalidImageName"}}}},
		{"digest one hex digit short", replace("image: registry.example/app:1.0@"+sha, "image: nginx@"+sha[:len(sha)-1]), podsec.Options{},
			[]want{{finding.Medium, "#img", dep, []string{"malformed digest", "sha256 has 64 hex digits, not 63"}}}},
		{"upper-case digest", replace("image: registry.example/app:1.0@"+sha, "image: nginx@sha256:"+strings.Repeat("A", 64)), podsec.Options{},
			[]want{{finding.Medium, "#img", dep, []string{"malformed digest", "lower-case"}}}},
		{"latest pinned by digest", replace("registry.example/app:1.0@", "nginx:latest@"), podsec.Options{}, nil},
		{"version tag", replace("image: registry.example/app:1.0@"+sha, "image: nginx:1.27"), podsec.Options{}, nil},
		{"no image", replace("image: registry.example/app:1.0@"+sha, `image: ""`), podsec.Options{}, nil},
	},
	"pod/image-not-pinned": {
		{"tag only", replace("image: registry.example/app:1.0@"+sha, "image: registry.example:5000/app:1.0"), podsec.Options{},
			[]want{{finding.Info, "#img", dep, []string{`uses image "registry.example:5000/app:1.0" by tag, not by digest`}}}},
		{"configured severity", replace("image: registry.example/app:1.0@"+sha, "image: nginx:1.27"), podsec.Options{DigestSeverity: finding.Medium},
			[]want{{finding.Medium, "#img", dep, nil}}},
		{"digest", with(), podsec.Options{}, nil},
		{"digest without tag", replace("registry.example/app:1.0@", "registry.example/app@"), podsec.Options{}, nil},
		{"latest is reported as image-latest only", replace("image: registry.example/app:1.0@"+sha, "image: nginx"), podsec.Options{}, nil},
		{"tag and a short digest", replace("image: registry.example/app:1.0@"+sha, "image: nginx:1.27@"+sha[:len(sha)-1]), podsec.Options{},
			[]want{{finding.Info, "#img", dep, []string{`by tag and the malformed digest`, "not 63"}}}},
		{"short digest without tag is reported as image-latest only", replace("image: registry.example/app:1.0@"+sha, "image: nginx@"+sha[:len(sha)-1]), podsec.Options{}, nil},
	},
	"pod/no-resource-limits": {
		{"memory missing", replace("limits: {cpu: 500m, memory: 128Mi}", "limits: {cpu: 500m}"), podsec.Options{},
			[]want{{finding.Low, "#limits", dep, []string{`container "app" of shop/Deployment/web has no memory limit`}}}},
		{"init container without resources", with("pod", "\n      initContainers:\n      - {name: setup, image: registry.example/setup:1@"+sha+", securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}} #init"), podsec.Options{},
			[]want{{finding.Low, "#init", dep, []string{`init container "setup" of shop/Deployment/web has no memory limit and no CPU request or limit`}}}},
		{"limits set", with(), podsec.Options{}, nil},
		{"CPU request without CPU limit is enough", replace("limits: {cpu: 500m, memory: 128Mi}", "requests: {cpu: 100m}\n          limits: {memory: 128Mi}"), podsec.Options{}, nil},
		{"no CPU request or limit", replace("limits: {cpu: 500m, memory: 128Mi}", "limits: {memory: 128Mi}"), podsec.Options{},
			[]want{{finding.Low, "#limits", dep, []string{`container "app" of shop/Deployment/web has no CPU request or limit`}}}},
		{"pod-level limits cover a container without", with("pod", "\n      resources: {limits: {cpu: 1, memory: 1Gi}}", "containers", "\n      - {name: side, image: registry.example/side:1@"+sha+", securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}}"),
			podsec.Options{}, nil},
		{"ephemeral container", `apiVersion: v1
kind: Pod
metadata: {name: p, namespace: shop}
spec:
  containers:
  - {name: c, image: i, resources: {limits: {cpu: 1, memory: 1Gi}}}
  ephemeralContainers:
  - {name: debug, image: busybox}
`, podsec.Options{Level: "baseline"}, nil},
	},
	"pod/exposed-unisolated": {
		{"NodePort in front of an open workload", with() + service("NodePort", "web"), podsec.Options{IngressIsolated: func(*manifest.Workload) bool { return false }},
			[]want{{finding.High, "#svc", "shop/Service/web", []string{"shop/Service/web (type NodePort) publishes shop/Deployment/web on port(s) of every node"}}}},
		{"LoadBalancer", with() + service("LoadBalancer", "web"), podsec.Options{IngressIsolated: func(*manifest.Workload) bool { return false }},
			[]want{{finding.High, "#svc", "shop/Service/web", []string{"on a load balancer"}}}},
		{"isolated", with() + service("NodePort", "web"), podsec.Options{IngressIsolated: func(*manifest.Workload) bool { return true }}, nil},
		{"ClusterIP", with() + service("ClusterIP", "web"), podsec.Options{IngressIsolated: func(*manifest.Workload) bool { return false }}, nil},
		{"selector matches nothing", with() + service("NodePort", "api"), podsec.Options{IngressIsolated: func(*manifest.Workload) bool { return false }}, nil},
		{"other namespace", with() + strings.Replace(service("NodePort", "web"), "namespace: shop", "namespace: other", 1), podsec.Options{IngressIsolated: func(*manifest.Workload) bool { return false }}, nil},
		{"not run without policy information", with() + service("NodePort", "web"), podsec.Options{}, nil},
	},
	"exposure/service-external-ips": {
		{"external IPs", `apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{port: 80}]
  externalIPs: [203.0.113.10, 10.0.0.53] #eip
`, podsec.Options{}, []want{{finding.High, "#eip", "shop/Service/web", []string{"spec.externalIPs (203.0.113.10, 10.0.0.53)", "CVE-2020-8554"}}}},
		{"no external IPs", `apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80}]
`, podsec.Options{}, nil},
	},
	"exposure/lb-no-source-ranges": {
		{"no source ranges", lbService("", ""), podsec.Options{},
			[]want{{finding.Medium, "#type", "shop/Service/web", []string{"(type LoadBalancer) sets no loadBalancerSourceRanges", "anyone on the internet"}}}},
		{"every address", lbService("", "\n  loadBalancerSourceRanges: [203.0.113.0/24, 0.0.0.0/0] #ranges"), podsec.Options{},
			[]want{{finding.Medium, "#ranges", "shop/Service/web", []string{"allows every address in loadBalancerSourceRanges"}}}},
		{"every address in the annotation", lbService("\n  annotations:\n    service.beta.kubernetes.io/load-balancer-source-ranges: \"::/0\" #ann", ""), podsec.Options{},
			[]want{{finding.Medium, "#ann", "shop/Service/web", []string{"in its service.beta.kubernetes.io/load-balancer-source-ranges annotation"}}}},
		{"internal load balancer", lbService("\n  annotations: {networking.gke.io/load-balancer-type: Internal}", ""), podsec.Options{},
			[]want{{finding.Low, "#type", "shop/Service/web", []string{"internal (networking.gke.io/load-balancer-type)"}}}},
		{"source ranges", lbService("", "\n  loadBalancerSourceRanges: [203.0.113.0/24]"), podsec.Options{}, nil},
		{"source ranges in the annotation", lbService("\n  annotations: {service.beta.kubernetes.io/load-balancer-source-ranges: \"203.0.113.0/24,198.51.100.7/32\"}", ""), podsec.Options{}, nil},
		{"not a load balancer", strings.Replace(lbService("", ""), "type: LoadBalancer", "type: NodePort", 1), podsec.Options{}, nil},
	},
	"exposure/ingress-no-tls": {
		{"no tls", ingress("", ""), podsec.Options{},
			[]want{{finding.Medium, "#spec", "shop/Ingress/web", []string{"has no spec.tls"}}}},
		{"a host without tls", ingress("", "\n  tls: [{hosts: [shop.example.com], secretName: shop-tls}]"), podsec.Options{},
			[]want{{finding.Medium, "#admin", "shop/Ingress/web", []string{"serves admin.example.com over plain HTTP"}}}},
		{"tls for both hosts", ingress("", "\n  tls: [{hosts: [shop.example.com, admin.example.com], secretName: shop-tls}]"), podsec.Options{}, nil},
		{"wildcard tls", ingress("", "\n  tls: [{hosts: [\"*.example.com\"], secretName: wildcard-tls}]"), podsec.Options{}, nil},
		{"tls without hosts", ingress("", "\n  tls: [{secretName: default-tls}]"), podsec.Options{}, nil},
	},
	"exposure/ingress-nginx-snippet": {
		{"configuration and server snippets", ingress("\n  annotations:\n    nginx.ingress.kubernetes.io/configuration-snippet: 'more_set_headers \"X-Frame-Options: DENY\";' #cs\n    nginx.ingress.kubernetes.io/server-snippet: \"location /x { return 403; }\" #ss", tlsAll), podsec.Options{},
			[]want{
				{finding.High, "#cs", "shop/Ingress/web", []string{"nginx.ingress.kubernetes.io/configuration-snippet", "CVE-2021-25742"}},
				{finding.High, "#ss", "shop/Ingress/web", []string{"nginx.ingress.kubernetes.io/server-snippet"}},
			}},
		{"injection through other annotations", ingress(`
  annotations:
    nginx.ingress.kubernetes.io/permanent-redirect: "https://example.com/;}location ~* ^/x {alias /var/run/secrets/;" #pr
    nginx.ingress.kubernetes.io/auth-url: "http://auth.example/{" #au
    nginx.ingress.kubernetes.io/auth-tls-match-cn: "CN=/var/run/secrets/kubernetes.io" #cn`, tlsAll), podsec.Options{},
			[]want{
				{finding.High, "#pr", "shop/Ingress/web", []string{"permanent-redirect to a value with a ';'", "CVE-2023-5044"}},
				{finding.High, "#au", "shop/Ingress/web", []string{"auth-url to a value with a brace"}},
				{finding.High, "#cn", "shop/Ingress/web", []string{"a path to the controller's secrets"}},
			}},
		{"ordinary annotation values", ingress(`
  annotations:
    nginx.ingress.kubernetes.io/rewrite-target: /$2
    nginx.ingress.kubernetes.io/auth-signin: "https://auth.example/start?rd=$escaped_request_uri"
    nginx.ingress.kubernetes.io/ssl-ciphers: "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
    nginx.ingress.kubernetes.io/cors-allow-headers: "DNT, X-CustomHeader, Authorization"
    example.com/note: "a; b {c}"`, tlsAll), podsec.Options{}, nil},
		{"dedicated annotations", ingress("\n  annotations:\n    nginx.ingress.kubernetes.io/ssl-redirect: \"true\"\n    nginx.ingress.kubernetes.io/limit-rps: \"10\"\n    example.com/configuration-snippet: x", tlsAll), podsec.Options{}, nil},
	},
	"exposure/ingress-nginx-auth-bypass": {
		{"global auth off, satisfy any, unverified client certificates", ingress(`
  annotations:
    nginx.ingress.kubernetes.io/enable-global-auth: "false" #ga
    nginx.ingress.kubernetes.io/satisfy: any #sat
    nginx.ingress.kubernetes.io/auth-tls-secret: shop/ca
    nginx.ingress.kubernetes.io/auth-tls-verify-client: optional_no_ca #vc`, tlsAll), podsec.Options{},
			[]want{
				{finding.Medium, "#ga", "shop/Ingress/web", []string{"enable-global-auth: \"false\"", "global-auth-url"}},
				{finding.Medium, "#sat", "shop/Ingress/web", []string{"satisfy: any"}},
				{finding.Medium, "#vc", "shop/Ingress/web", []string{"auth-tls-verify-client: optional_no_ca next to auth-tls-secret"}},
			}},
		{"authentication kept", ingress(`
  annotations:
    nginx.ingress.kubernetes.io/enable-global-auth: "true"
    nginx.ingress.kubernetes.io/satisfy: all
    nginx.ingress.kubernetes.io/auth-tls-secret: shop/ca
    nginx.ingress.kubernetes.io/auth-tls-verify-client: "on"`, tlsAll), podsec.Options{}, nil},
		{"optional_no_ca without client certificates", ingress("\n  annotations: {nginx.ingress.kubernetes.io/auth-tls-verify-client: \"off\"}", tlsAll), podsec.Options{}, nil},
	},
	// The Pod Security Standards checks are covered by the library's
	// fixtures (TestFixtures); these cases pin severity, object and line.
	"pss/allowPrivilegeEscalation": {
		{"unset", replace("          allowPrivilegeEscalation: false\n", ""), podsec.Options{},
			[]want{{finding.Medium, "#sc", dep, []string{"fails the Pod Security Standards restricted check allowPrivilegeEscalation (version latest = v1.", `container "app" must set securityContext.allowPrivilegeEscalation=false`}}}},
		{"baseline level", replace("          allowPrivilegeEscalation: false\n", ""), podsec.Options{Level: "baseline"}, nil},
		{"false", with(), podsec.Options{}, nil},
	},
	"pss/privileged": {
		{"privileged at baseline", with("sc", "\n          privileged: true #priv"), podsec.Options{Level: "baseline", Version: "v1.30"},
			[]want{{finding.High, "#priv", dep, []string{"baseline check privileged (version v1.30)"}}}},
		{"not privileged", with(), podsec.Options{Level: "baseline"}, nil},
	},
	"pss/capabilities_restricted": {
		{"adds SYS_ADMIN: also fails baseline", with("sc", "\n            add: [CHOWN, SYS_ADMIN] #add"), podsec.Options{},
			[]want{{finding.High, "#add", dep, []string{"also fails baseline check capabilities_baseline"}}}},
		{"does not drop ALL", replace("drop: [ALL]", "drop: [NET_RAW]"), podsec.Options{},
			[]want{{finding.Medium, "#drop", dep, []string{`must set securityContext.capabilities.drop=["ALL"]`}}}},
		{"drops ALL", with(), podsec.Options{}, nil},
		// Runtimes drop every capability for "all"; the library wants "ALL".
		{"drop all in lower case", replace("drop: [ALL]", "drop: [all]"), podsec.Options{},
			[]want{{finding.Medium, "#drop", dep, []string{`must set securityContext.capabilities.drop=["ALL"]`, `container "app" drops "all"`, "compare it case-insensitively", "write ALL"}}}},
		{"drop All, NET_RAW", replace("drop: [ALL]", "drop: [NET_RAW, All]"), podsec.Options{},
			[]want{{finding.Medium, "#drop", dep, []string{`drops "All"`}}}},
		{"drop all at baseline", replace("drop: [ALL]", "drop: [all]"), podsec.Options{Level: "baseline"}, nil},
	},
	"pss/capabilities_baseline": {
		{"adds SYS_ADMIN at baseline", with("sc", "\n            add: [CHOWN, SYS_ADMIN] #add"), podsec.Options{Level: "baseline"},
			[]want{{finding.High, "#add", dep, []string{`non-default capabilities: container "app" must not include "SYS_ADMIN"`}}}},
		{"replaced at restricted", with("sc", "\n            add: [CHOWN, SYS_ADMIN]"), podsec.Options{}, nil},
	},
	"pss/hostNamespaces": {
		{"hostNetwork", with("pod", "\n      hostNetwork: true #hn"), podsec.Options{Level: "baseline"},
			[]want{{finding.High, "#hn", dep, []string{"hostNetwork=true"}}}},
		{"none", with(), podsec.Options{Level: "baseline"}, nil},
	},
	"pss/sysctls": {
		{"unsafe sysctl", with("podsc", "\n        sysctls:\n        - {name: kernel.shm_rmid_forced, value: '1'}\n        - {name: net.core.somaxconn, value: '1024'} #sysctl"), podsec.Options{Level: "baseline"},
			[]want{{finding.High, "#sysctl", dep, []string{"forbidden sysctls: net.core.somaxconn"}}}},
		{"safe sysctl", with("podsc", "\n        sysctls:\n        - {name: kernel.shm_rmid_forced, value: '1'}"), podsec.Options{Level: "baseline"}, nil},
		// The kubelet reads slashes as dots; the library compares the names as written.
		{"safe sysctl written with slashes", with("podsc", "\n        sysctls:\n        - {name: net/ipv4/ip_local_port_range, value: '1024 65535'} #sysctl"), podsec.Options{Level: "baseline"},
			[]want{{finding.High, "#sysctl", dep, []string{"forbidden sysctls: net/ipv4/ip_local_port_range", "read net/ipv4/ip_local_port_range as net.ipv4.ip_local_port_range", "write the names with dots"}}}},
		{"unsafe sysctl written with slashes", with("podsc", "\n        sysctls:\n        - {name: net/core/somaxconn, value: '1024'} #sysctl"), podsec.Options{Level: "baseline"},
			[]want{{finding.High, "#sysctl", dep, []string{"forbidden sysctls: net/core/somaxconn"}}}},
	},
	"pss/restrictedVolumes": {
		{"nfs", with("pod", "\n      volumes:\n      - name: data #vol\n        nfs: {server: nfs.example, path: /export}"), podsec.Options{},
			[]want{{finding.Medium, "#vol", dep, []string{`volume "data" uses restricted volume type "nfs"`}}}},
		{"volume with no source is an emptyDir", with("pod", "\n      volumes:\n      - name: scratch"), podsec.Options{}, nil},
	},
	"pss/seccompProfile_restricted": {
		// The kubelet applies each container's profile; the library rejects the pod's Unconfined anyway.
		{"pod Unconfined overridden in every container", strings.Replace(with("sc", "\n          seccompProfile: {type: RuntimeDefault}"), "seccompProfile: {type: RuntimeDefault}", "seccompProfile: {type: Unconfined} #seccomp", 1), podsec.Options{},
			[]want{{finding.High, "#seccomp", dep, []string{`pod must not set securityContext.seccompProfile.type to "Unconfined"`, "every container sets its own RuntimeDefault or Localhost profile", "admission enforces the library"}}}},
		{"RuntimeDefault", with(), podsec.Options{}, nil},
	},
	"pss/seccompProfile_baseline": {
		{"template annotation at v1.18", with("meta", "\n      annotations: {seccomp.security.alpha.kubernetes.io/pod: unconfined} #ann"), podsec.Options{Level: "baseline", Version: "v1.18"},
			[]want{{finding.High, "#ann", dep, []string{"seccomp.security.alpha.kubernetes.io/pod"}}}},
		{"pod Unconfined at baseline, containers unset", replace("seccompProfile: {type: RuntimeDefault}", "seccompProfile: {type: Unconfined} #seccomp"), podsec.Options{Level: "baseline"},
			[]want{{finding.High, "#seccomp", dep, []string{`pod must not set securityContext.seccompProfile.type to "Unconfined"`}}}},
		{"controller annotation is not the pod's", strings.Replace(with(), "metadata: {name: web, namespace: shop}", "metadata: {name: web, namespace: shop, annotations: {seccomp.security.alpha.kubernetes.io/pod: unconfined}}", 1),
			podsec.Options{Level: "baseline", Version: "v1.18"}, nil},
	},
}

// lbService is a LoadBalancer Service with more metadata and spec lines.
func lbService(meta, spec string) string {
	return `apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop` + meta + `
spec:
  type: LoadBalancer #type
  selector: {app: web}
  ports: [{port: 443}]` + spec + "\n"
}

// tlsAll is the spec.tls of ingress() covering both its hosts.
const tlsAll = "\n  tls: [{hosts: [shop.example.com, admin.example.com], secretName: shop-tls}]"

// ingress is an Ingress for two hosts with more metadata and spec lines.
func ingress(meta, spec string) string {
	return `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: shop` + meta + `
spec: #spec
  ingressClassName: nginx
  rules:
  - host: shop.example.com
    http:
      paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]
  - host: admin.example.com #admin
    http:
      paths: [{path: /, pathType: Prefix, backend: {service: {name: admin, port: {number: 80}}}}]` + spec + "\n"
}

// service is a Service of type typ in namespace shop selecting app: sel.
func service(typ, sel string) string {
	return `---
apiVersion: v1 #svc
kind: Service
metadata: {name: web, namespace: shop}
spec:
  type: ` + typ + `
  selector: {app: ` + sel + `}
  ports: [{port: 80}]
`
}

func TestRules(t *testing.T) {
	for id, cases := range suites {
		t.Run(id, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					fs := audit(t, tc.doc, tc.opts)
					var gotF, wantF []got
					var msgs []string
					for _, f := range fs {
						if f.Rule == id {
							gotF = append(gotF, got{f.Rule, f.Severity, f.File, f.Line, f.Object})
							msgs = append(msgs, f.Message)
						}
					}
					for _, w := range tc.want {
						wantF = append(wantF, got{id, w.Severity, "-", lineOf(t, tc.doc, w.At), w.Object})
					}
					if diff := cmp.Diff(wantF, gotF); diff != "" {
						t.Fatalf("findings of %s (-want +got):\n%s\nall findings:\n%s", id, diff, dump(fs))
					}
					for i, w := range tc.want {
						for _, m := range w.Msg {
							if !strings.Contains(msgs[i], m) {
								t.Errorf("message %q does not contain %q", msgs[i], m)
							}
						}
					}
				})
			}
		})
	}
}

// TestHardenedIsClean checks that the base input of the suites has no
// finding at all, so each case shows exactly what it changes.
func TestHardenedIsClean(t *testing.T) {
	if fs := audit(t, with(), podsec.Options{}); len(fs) > 0 {
		t.Fatalf("hardened input has findings:\n%s", dump(fs))
	}
}

func dump(fs []finding.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString("  " + f.Location() + " " + f.Severity.String() + " " + f.Rule + " " + f.Object + ": " + f.Message + "\n")
	}
	return b.String()
}

// TestRegistry checks that every id emitted by a test input is in the
// registry with the registry's severity (except the documented
// exceptions), that every registry entry is documented, that every pod/
// rule has positive and negative cases, and that the pss/ entries are
// exactly the library's checks.
func TestRegistry(t *testing.T) {
	emitted := map[string]bool{}
	for _, cases := range suites {
		for _, tc := range cases {
			for _, f := range audit(t, tc.doc, tc.opts) {
				emitted[f.Rule] = true
				r, ok := podsec.Lookup(f.Rule)
				if !ok {
					t.Errorf("rule %s emitted but not in podsec.Rules", f.Rule)
					continue
				}
				exception := f.Rule == "pod/image-not-pinned" && tc.opts.DigestSeverity != finding.Info ||
					f.Rule == "exposure/lb-no-source-ranges" && f.Severity == finding.Low && strings.Contains(f.Message, "the load balancer is internal") ||
					strings.HasPrefix(f.Rule, "pss/") && f.Severity == finding.High && strings.Contains(f.Message, "also fails baseline check") ||
					strings.HasPrefix(f.Rule, "rbac/") // by the holders, resourceNames and wildcards
				if f.Severity != r.Severity && !exception {
					t.Errorf("%s finding has severity %s, registry says %s", f.Rule, f.Severity, r.Severity)
				}
				if f.Message == "" || f.Fix == "" || f.File == "" || f.Line == 0 || f.Object == "" {
					t.Errorf("%s finding lacks message, fix, object or location: %+v", f.Rule, f)
				}
			}
		}
	}
	checks := map[string]bool{}
	for _, c := range policy.DefaultChecks() {
		checks["pss/"+string(c.ID)] = true
		if _, ok := podsec.Lookup("pss/" + string(c.ID)); !ok {
			t.Errorf("library check %s has no entry in podsec.Rules", c.ID)
		}
	}
	seen := map[string]bool{}
	for _, r := range podsec.Rules {
		if seen[r.ID] {
			t.Errorf("rule %s registered twice", r.ID)
		}
		seen[r.ID] = true
		if r.Summary == "" || r.Rationale == "" || r.Fix == "" {
			t.Errorf("rule %s lacks summary, rationale or fix", r.ID)
		}
		switch {
		case strings.HasPrefix(r.ID, "pss/"):
			if !checks[r.ID] {
				t.Errorf("rule %s is not a check of the library", r.ID)
			}
		case strings.HasPrefix(r.ID, "pod/"), strings.HasPrefix(r.ID, "exposure/"), strings.HasPrefix(r.ID, "rbac/"), strings.HasPrefix(r.ID, "configmap/"):
			if !emitted[r.ID] {
				t.Errorf("rule %s is never emitted by the test inputs", r.ID)
			}
			positive := slices.ContainsFunc(suites[r.ID], func(tc testCase) bool { return len(tc.want) > 0 })
			negative := slices.ContainsFunc(suites[r.ID], func(tc testCase) bool { return len(tc.want) == 0 })
			if !positive || !negative {
				t.Errorf("rule %s needs a positive and a negative case (positive %v, negative %v)", r.ID, positive, negative)
			}
		default:
			t.Errorf("rule %s is neither pss/, pod/, exposure/, rbac/ nor configmap/", r.ID)
		}
	}
}

func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		opts podsec.Options
		bad  string // the value the error must name; "" when valid
	}{
		{podsec.Options{}, ""},
		{podsec.Options{Level: "baseline", Version: "v1.30"}, ""},
		{podsec.Options{Level: "restricted", Version: "latest"}, ""},
		{podsec.Options{Version: "v1.99"}, ""},
		{podsec.Options{Version: "v1.0"}, ""},
		{podsec.Options{Level: "privileged"}, "privileged"},
		{podsec.Options{Level: "Restricted"}, "Restricted"},
		{podsec.Options{Level: "strict"}, "strict"},
		{podsec.Options{Version: "1.30"}, "1.30"},
		{podsec.Options{Version: "v2.0"}, "v2.0"},
		{podsec.Options{Version: "v1.30.1"}, "v1.30.1"},
	} {
		fs, err := podsec.Audit(load(t, with()), tc.opts)
		switch {
		case tc.bad == "" && err != nil:
			t.Errorf("Audit(%+v): %v", tc.opts, err)
		case tc.bad != "" && err == nil:
			t.Errorf("Audit(%+v) = %d findings, want an error", tc.opts, len(fs))
		case tc.bad != "" && !strings.Contains(err.Error(), `"`+tc.bad+`"`):
			t.Errorf("Audit(%+v): error %q does not name %q", tc.opts, err, tc.bad)
		}
	}
}

// TestOddInput checks that Audit survives workloads and Services that the
// loader would not produce, and inputs that are empty in every way.
func TestOddInput(t *testing.T) {
	open := func(*manifest.Workload) bool { return false }
	if fs, err := podsec.Audit(nil, podsec.Options{IngressIsolated: open}); err != nil || len(fs) != 0 {
		t.Errorf("Audit(nil) = %v, %v", fs, err)
	}
	set := &manifest.Set{
		Workloads: []*manifest.Workload{nil, {Namespace: "a", Name: "no-template", Kind: "Pod"}, {Namespace: "a", Name: "empty", Kind: "Pod", Template: &corev1.PodTemplateSpec{}}},
		Services:  []*manifest.Service{nil, {Namespace: "a", Name: "s", Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"x": "y"}}, {Namespace: "a", Name: "all", Type: corev1.ServiceTypeLoadBalancer}},
	}
	if _, err := podsec.Audit(set, podsec.Options{IngressIsolated: open}); err != nil {
		t.Fatal(err)
	}
	// Workloads without containers: the loader refuses them (input/invalid),
	// other sources of objects may not.
	empty, err := manifest.FromObjects("default", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, level := range []string{"baseline", "restricted"} {
		if _, err := podsec.Audit(empty, podsec.Options{Level: level, IngressIsolated: open}); err != nil {
			t.Fatal(err)
		}
	}
	docs := []string{
		"",
		"apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec: {jobTemplate: {spec: {template: {spec: {containers: [{}], initContainers: [{securityContext: {}}], volumes: [{}]}}}}}\n",
		"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: '@', securityContext: {capabilities: {}, seLinuxOptions: {}, seccompProfile: {}, windowsOptions: {}}, livenessProbe: {}, lifecycle: {}}], securityContext: {sysctls: [{}], supplementalGroups: []}}\n",
		"apiVersion: v1\nkind: Pod\nmetadata: {name: p, annotations: {a: ''}}\nspec: {containers: [{name: c, image: ':', ports: [{hostPort: 1, containerPort: 1}]}], hostNetwork: true, hostPID: true}\n",
	}
	for _, doc := range docs {
		for _, level := range []string{"baseline", "restricted"} {
			if _, err := podsec.Audit(load(t, doc), podsec.Options{Level: level, Version: "v1.0", IngressIsolated: open}); err != nil {
				t.Fatal(err)
			}
			if _, err := podsec.Audit(load(t, doc), podsec.Options{Level: level, IngressIsolated: open}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestSetUnchanged checks that defaulting a volume with no source for the
// checks happens on a copy, and that output is deterministic.
func TestSetUnchanged(t *testing.T) {
	set := load(t, with("pod", "\n      volumes:\n      - name: scratch", "sc", "\n            add: [SYS_ADMIN]"))
	before := set.Workloads[0].Template.DeepCopy()
	first, err := podsec.Audit(set, podsec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, set.Workloads[0].Template); diff != "" {
		t.Errorf("Audit changed the pod template (-before +after):\n%s", diff)
	}
	second, err := podsec.Audit(set, podsec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("two audits differ (-first +second):\n%s", diff)
	}
	if !slices.IsSortedFunc(first, finding.Compare) {
		t.Errorf("findings are not sorted:\n%s", dump(first))
	}
}

// TestDivergenceNotes checks that the notes explaining where the Pod
// Security Standards library and the node disagree appear only then.
func TestDivergenceNotes(t *testing.T) {
	unconfined := strings.Replace(with(), "seccompProfile: {type: RuntimeDefault}", "seccompProfile: {type: Unconfined}", 1)
	oneOverrides := strings.Replace(with("sc", "\n          seccompProfile: {type: RuntimeDefault}", "containers",
		"\n      - {name: side, image: registry.example/side:1@"+sha+", resources: {limits: {cpu: 1, memory: 1Gi}}, securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}}"),
		"seccompProfile: {type: RuntimeDefault}", "seccompProfile: {type: Unconfined}", 1)
	for _, tc := range []struct {
		name, doc, rule, note string
		opts                  podsec.Options
	}{
		{"containers do not override the pod's Unconfined", unconfined, "pss/seccompProfile_restricted", "every container sets", podsec.Options{}},
		{"one container of two overrides it", oneOverrides, "pss/seccompProfile_restricted", "every container sets", podsec.Options{}},
		{"unsafe sysctl with slashes", with("podsc", "\n        sysctls:\n        - {name: net/core/somaxconn, value: '1024'}"), "pss/sysctls", "with dots", podsec.Options{Level: "baseline"}},
		{"unsafe sysctl with dots", with("podsc", "\n        sysctls:\n        - {name: net.core.somaxconn, value: '1024'}"), "pss/sysctls", "with dots", podsec.Options{Level: "baseline"}},
		{"drop without ALL", replace("drop: [ALL]", "drop: [NET_RAW]"), "pss/capabilities_restricted", "case-insensitively", podsec.Options{}},
		{"drop all but adds SYS_TIME", with("sc", "\n            add: [SYS_TIME]"), "pss/capabilities_restricted", "case-insensitively", podsec.Options{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			for _, f := range audit(t, tc.doc, tc.opts) {
				if f.Rule != tc.rule {
					continue
				}
				n++
				if strings.Contains(f.Message, tc.note) {
					t.Errorf("%s: message has the note %q: %s", f.Rule, tc.note, f.Message)
				}
			}
			if n == 0 {
				t.Errorf("no %s finding", tc.rule)
			}
		})
	}
}

// TestSecretInEnvWithholdsValues: no finding's message or fix holds any
// part of a secret value it reports.
func TestSecretInEnvWithholdsValues(t *testing.T) {
	secrets := []string{"hunter2-Prod", "ghp_0123456789abcdefghijABCDEFGHIJ012345", "s3cret", "Zq8x3Lw9Vb2Nc7Mk4Jh6Gf1Ds5Ap0QrTyUiOpLkJh"}
	fs := audit(t, withEnv("- {name: DB_PASSWORD, value: hunter2-Prod}\n        - {name: GH, value: ghp_0123456789abcdefghijABCDEFGHIJ012345}\n"+
		"        - {name: DATABASE_URL, value: \"postgres://app:s3cret@db/shop\"}\n        - {name: Zq8x3Lw9Vb2Nc7Mk4Jh6Gf1Ds5Ap0QrTyUiOpLkJh, value: x1}"), podsec.Options{})
	n := 0
	for _, f := range fs {
		if f.Rule != "pod/secret-in-env" {
			continue
		}
		n++
		for _, s := range secrets {
			if strings.Contains(f.Message, s) || strings.Contains(f.Fix, s) {
				t.Errorf("finding %q (fix %q) shows the secret %q", f.Message, f.Fix, s)
			}
		}
	}
	if n != 3 {
		t.Errorf("%d pod/secret-in-env findings, want 3", n)
	}
}

// TestDeviatingPodAudited: an instance Pod whose spec is not its
// workload's template is audited on its own spec, its findings naming it
// at its lines; one as the API server writes it adds no finding.
func TestDeviatingPodAudited(t *testing.T) {
	clean := audit(t, with(), podsec.Options{})
	for _, tc := range []struct {
		name, extra string
		rules       []string // findings on the Pod, beside pod/deviates-from-template, at #x
	}{
		{"as written by the API server", "", nil},
		{"privileged", "\n      privileged: true #x", []string{"pss/privileged"}},
		{"host network", "\n  hostNetwork: true #x", []string{"pss/hostNamespaces"}},
		{"host PID", "\n  hostPID: true #x", []string{"pss/hostNamespaces"}},
		{"hostPath", "\n  volumes:\n  - {name: root, hostPath: {path: /}} #x", []string{"pss/restrictedVolumes"}},
		{"SYS_ADMIN", "\n        add: [SYS_ADMIN] #x", []string{"pss/capabilities_restricted"}},
		{"root debugger", "\n  ephemeralContainers:\n  - {name: dbg, image: busybox:1.36@" + sha + ", securityContext: {runAsUser: 0, runAsNonRoot: false}} #x",
			[]string{"pss/allowPrivilegeEscalation", "pss/capabilities_restricted", "pss/runAsNonRoot", "pss/runAsUser"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := withInstance(tc.extra)
			fs := audit(t, doc, podsec.Options{})
			var gotF, wantF []string
			for _, f := range fs {
				if f.Object == forgedPod && f.Rule != ruleDeviates && !strings.HasPrefix(f.Rule, "pod/") {
					gotF = append(gotF, f.Rule+" "+strconv.Itoa(f.Line))
				}
			}
			for _, r := range tc.rules {
				wantF = append(wantF, r+" "+strconv.Itoa(lineOf(t, doc, "#x")))
			}
			if diff := cmp.Diff(wantF, gotF); diff != "" {
				t.Errorf("findings on the Pod (-want +got):\n%s\nall findings:\n%s", diff, dump(fs))
			}
			if tc.extra == "" && len(fs) != len(clean) {
				t.Errorf("%d findings, want %d as without the Pod:\n%s", len(fs), len(clean), dump(fs))
			}
		})
	}
}

// TestDeviatingPodSameFindings: what a deviating Pod shares with its
// workload's template is reported once, on the workload; what only the
// Pod has names the Pod.
func TestDeviatingPodSameFindings(t *testing.T) {
	doc := withInstance("\n  hostNetwork: true #x")
	for _, ro := range []string{"          readOnlyRootFilesystem: true\n", "      readOnlyRootFilesystem: true\n"} {
		if !strings.Contains(doc, ro) {
			t.Fatalf("input lacks %q", ro)
		}
		doc = strings.Replace(doc, ro, "", 1)
	}
	fs := audit(t, doc, podsec.Options{})
	var gotF []string
	for _, f := range fs {
		gotF = append(gotF, f.Rule+" "+f.Object)
	}
	wantF := []string{
		"pod/writable-root-fs " + dep,
		"pod/deviates-from-template " + forgedPod,
		"pss/hostNamespaces " + forgedPod,
	}
	if diff := cmp.Diff(wantF, gotF); diff != "" {
		t.Errorf("findings (-want +got):\n%s\nall findings:\n%s", diff, dump(fs))
	}
}
