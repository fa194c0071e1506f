package manifest

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/wardsec/ward/internal/synth"
)

// aliasWalker visits every string reachable from a value, through
// pointers, interfaces, slices, maps and unexported fields.
type aliasWalker struct {
	seen  map[[2]uintptr]bool
	visit func(path, s string)
}

func (w *aliasWalker) walk(path string, v reflect.Value, depth int) {
	if depth > 200 || !v.IsValid() {
		return
	}
	switch v.Kind() {
	case reflect.String:
		w.visit(path, v.String())
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		k := [2]uintptr{v.Pointer(), uintptr(unsafe.Pointer(unsafe.StringData(v.Type().String())))}
		if w.seen[k] {
			return
		}
		w.seen[k] = true
		w.walk(path, v.Elem(), depth+1)
	case reflect.Interface:
		if v.IsNil() {
			return
		}
		e := v.Elem()
		c := reflect.New(e.Type()).Elem()
		c.Set(e)
		w.walk(path+"("+e.Type().String()+")", c, depth+1)
	case reflect.Struct:
		if !v.CanAddr() {
			c := reflect.New(v.Type()).Elem()
			c.Set(v)
			v = c
		}
		t := v.Type()
		for i := range t.NumField() {
			f := v.Field(i)
			f = reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem()
			w.walk(path+"."+t.Field(i).Name, f, depth+1)
		}
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return
		}
		for i := range v.Len() {
			w.walk(path+"[]", v.Index(i), depth+1)
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			k := reflect.New(it.Key().Type()).Elem()
			k.Set(it.Key())
			e := reflect.New(it.Value().Type()).Elem()
			e.Set(it.Value())
			w.walk(path+"{k}", k, depth+1)
			w.walk(path+"{v}", e, depth+1)
		}
	}
}

// setStrings calls visit with every string reachable from set and err,
// and its path.
func setStrings(set *Set, err error, visit func(path, s string)) {
	w := &aliasWalker{seen: map[[2]uintptr]bool{}, visit: visit}
	w.walk("Set", reflect.ValueOf(set), 0)
	w.walk("error", reflect.ValueOf(&err).Elem(), 0)
}

// aliasInputs are the repository's YAML and JSON test files and synth
// manifests and dumps.
func aliasInputs(t *testing.T) map[string][]byte {
	inputs := map[string][]byte{}
	_ = filepath.WalkDir("..", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.Contains(p, "testdata") {
			return nil
		}
		switch filepath.Ext(p) {
		case ".yaml", ".yml", ".json":
			if b, err := os.ReadFile(p); err == nil && len(b) < 4<<20 {
				inputs[p] = b
			}
		}
		return nil
	})
	for _, dump := range []bool{false, true} {
		for _, bare := range []bool{false, true} {
			if bare && !dump {
				continue
			}
			for _, format := range []synth.Format{synth.YAML, synth.JSON} {
				c, err := synth.Generate(synth.Config{Seed: 7, Pods: 200, Policies: 60, Dump: dump, Bare: bare, Format: format, ObjectsPerFile: 1000})
				if err != nil {
					t.Fatal(err)
				}
				for i, f := range c.Files {
					inputs[fmt.Sprintf("synth-%v-%v-%v-%d-%s", dump, bare, format, i, f.Name)] = f.Data
				}
			}
		}
	}
	for name, doc := range aliasEdgeCases {
		inputs[name] = []byte(doc)
	}
	return inputs
}

// TestParseCopiesStrings checks that no string of a Set parsed from bytes
// points into those bytes, and that overwriting the bytes after Parse
// changes nothing in the Set.
func TestParseCopiesStrings(t *testing.T) {
	slims := 0
	defer func() {
		if slims == 0 {
			t.Error("no object was decoded slim")
		}
	}()
	for name, orig := range aliasInputs(t) {
		for _, mode := range []int{0, 1, 2} {
			data := append([]byte(nil), orig...)
			var set *Set
			var err error
			if mode < 2 {
				set, err = Parse(Options{FieldLines: mode == 1}, name, data)
			} else {
				// A regular file: owned Pods are decoded slim, then whole.
				p := filepath.Join(t.TempDir(), "f.yaml")
				if err := os.WriteFile(p, data, 0o600); err != nil {
					t.Fatal(err)
				}
				l := newLoader(Options{FieldLines: true})
				l.run(func(emit emitFunc) { emit(p, data, nil, true) })
				set, err = l.finish()
				if set != nil {
					slims += slices.Index(SlimObjects(set), true) + 1
				}
			}
			if set == nil {
				continue
			}
			lo := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
			hi := lo + uintptr(len(data))
			var before []string
			bad := 0
			setStrings(set, err, func(path, s string) {
				before = append(before, path+"="+strings.Clone(s))
				p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
				if len(s) > 0 && p >= lo && p < hi && bad < 5 {
					bad++
					t.Errorf("%s: %s = %q points into the input", name, path, s)
				}
			})
			for i := range data {
				data[i] = 'X'
			}
			var after []string
			setStrings(set, err, func(path, s string) { after = append(after, path+"="+s) })
			slices.Sort(before)
			slices.Sort(after)
			if len(before) != len(after) {
				t.Errorf("%s: %d strings, %d after the input was overwritten", name, len(before), len(after))
			}
			for i := range min(len(before), len(after)) {
				if before[i] != after[i] && bad < 5 {
					bad++
					t.Errorf("%s: %s changed after the input was overwritten: %q", name, before[i], after[i])
				}
			}
		}
	}
}

// aliasEdgeCases are documents that take the loader's rarer paths:
// errors, fallbacks to yaml.v3 and the reference decode, Lists, anchors.
var aliasEdgeCases = map[string]string{
	"x_anchors.yaml":         "apiVersion: v1\nkind: Pod\nmetadata: &m {name: p, namespace: x, labels: &l {app: a}}\nspec:\n  hostNetwork: true\n  containers:\n  - &c {name: c, image: i, securityContext: {privileged: true}}\n  - <<: *c\n    name: d\n",
	"x_blockscalars.yaml":    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata:\n  a: |\n    password=hunter2\n  b: >-\n    AWS_SECRET_ACCESS_KEY=AKIAIOSFODNN7EXAMPLEAAAAA\n  c: !!binary aGVsbG8=\n",
	"x_bom.yaml":             "\xef\xbb\xbfapiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  hostNetwork: true\n  containers: [{name: c, image: i}]\n",
	"x_casekey.yaml":         "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  HostNetwork: true\n  containers: [{Name: c, image: i, securityContext: {Privileged: true}}]\n",
	"x_complexkey.yaml":      "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {? [a, b] : c}}\nspec: {hostPID: true, containers: [{name: c, image: i}]}\n",
	"x_crlf.yaml":            "apiVersion: v1\r\nkind: Pod\r\nmetadata:\r\n  name: p\r\nspec:\r\n  hostNetwork: true\r\n  containers:\r\n  - name: c\r\n    image: i\r\n    securityContext:\r\n      privileged: true\r\n",
	"x_dottedkey.yaml":       "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {\"a.b/c\": \"d\", \"spec.hostNetwork\": \"true\"}}\nspec:\n  \"hostNetwork\": true\n  containers: [{name: c, image: i}]\n",
	"x_dupkey.yaml":          "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: i\n    securityContext: {privileged: false, privileged: true}\n",
	"x_dupkey2.yaml":         "apiVersion: v1\nkind: Pod\nmetadata: {name: p, name: q}\nspec:\n  containers: [{name: c, image: i}]\n",
	"x_emptydocs.yaml":       "---\n---\n# c\n---\n~\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {hostPID: true, containers: [{name: c, image: i}]}\n---\n...\n",
	"x_intorstring.yaml":     "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  type: NodePort\n  ports:\n  - {port: 80, targetPort: {a: 1}}\n  - {port: 81, targetPort: ~}\n  - {port: 82, targetPort: 8.5}\n  - {port: 83, targetPort: \"x\", nodePort: \"30000\"}\n",
	"x_invalidutf8.yaml":     "apiVersion: v1\nkind: Pod\nmetadata: {name: \"p\xff\", labels: {\"a\xfe\": b}}\nspec: {hostPID: true, containers: [{name: c, image: i}]}\n",
	"x_json_dupe.json":       "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\",\"name\":\"b\"},\"spec\":{\"hostPID\":true,\"hostPID\":false,\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}",
	"x_json_stream.json":     "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\"},\"spec\":{\"hostPID\":true,\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}\n{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"b\"},\"spec\":{\"hostIPC\":true,\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}\n",
	"x_json_unicode.json":    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\\ud800\",\"labels\":{\"\\u0061pp\":\"x\"}},\"spec\":{\"hostPID\":true,\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}",
	"x_lastapplied_bad.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: 5\n    kubectl.kubernetes.io/last-applied-configuration2: {a: b}\nspec: {type: LoadBalancer, ports: [{port: 22}]}\n",
	"x_lastapplied_map.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: {a: b}\nspec: {type: LoadBalancer, ports: [{port: 22}]}\n",
	"x_lastapplied_ns.yaml":  "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: n\n  labels: {pod-security.kubernetes.io/enforce: privileged}\n  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: '{\"metadata\":{\"labels\":{\"pod-security.kubernetes.io/enforce\":\"privileged\"}}}'\n",
	"x_listoflists.yaml":     "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: List\n  items:\n  - apiVersion: v1\n    kind: Pod\n    metadata: {name: p}\n    spec: {hostPID: true, containers: [{name: c, image: i}]}\n  - kind: Pod\n    metadata: {name: q}\n    spec: {hostIPC: true, containers: [{name: c, image: i}]}\n- apiVersion: v1\n  kind: PodList\n  items:\n  - metadata: {name: r}\n    spec: {hostIPC: true, containers: [{name: c, image: i}]}\n",
	"x_merge.yaml":           "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {<<: {app: a}, app: b}}\nspec:\n  containers: [{name: c, image: i, securityContext: {privileged: true}}]\n",
	"x_netpol.yaml":          "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np, namespace: a}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress]\n  ingress:\n  - from:\n    - ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8]}\n    ports: [{port: \"80\"}, {port: 443, endPort: 444}, {port: http}, {protocol: SCTP}]\n  egress:\n  - to: [{namespaceSelector: {matchExpressions: [{key: a, operator: In, values: [1, true, ~]}]}}]\n",
	"x_netpol_badtypes.yaml": "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np, namespace: a}\nspec:\n  podSelector: {matchLabels: {a: 1, b: true, c: ~, d: 1.0}}\n  ingress: [{ports: [{port: 80.5}]}]\n",
	"x_nullfields.yaml":      "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, labels: ~, annotations: null}\nspec:\n  selector: ~\n  template:\n    metadata: ~\n    spec:\n      containers: [{name: c, image: i, ports: ~, securityContext: ~, resources: {limits: ~}}]\n      securityContext: {runAsNonRoot: ~}\n",
	"x_tags.yaml":            "apiVersion: !!str v1\nkind: !!str Service\nmetadata: {name: !!str 5, namespace: !!str 007}\nspec:\n  type: !!str LoadBalancer\n  ports: [{port: !!int 80, targetPort: !!str 8080}]\n  selector: {app: !!str 1}\n",
	"x_time.yaml":            "apiVersion: v1\nkind: Pod\nmetadata: {name: p, creationTimestamp: 5, deletionTimestamp: {a: b}}\nspec: {hostPID: true, containers: [{name: c, image: i}]}\n",
	"x_time2.yaml":           "apiVersion: v1\nkind: Pod\nmetadata: {name: p, creationTimestamp: 2024-01-01T00:00:00Z, deletionTimestamp: \"2024-01-01\"}\nspec: {hostPID: true, containers: [{name: c, image: i}]}\n",
	"x_unicode.yaml":         "apiVersion: v1\nkind: Pod\nmetadata: {name: \"p\\u00e9\", labels: {\"\xc3\xa9\": \"\xc3\xbc\", \"\\U0001F600\": x}}\nspec:\n  containers: [{name: \"c\\x00\", image: i, securityContext: {privileged: true}}]\n",
	"x_unknownnested.yaml":   "apiVersion: v1\nkind: Pod\nmetadata: {name: p, garbage: {a: [1, {b: [~, .nan, 1e400, !!binary aGk=]}], c: &x [1], d: *x}}\nspec: {hostPID: true, zz: {? [a] : b}, containers: [{name: c, image: i}]}\n",
	"v003.yaml":              "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\n  labels: {app: web}\n  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: |\n      {\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\"}}\nspec:\n  replicas: 0x3\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      hostNetwork: false\n      containers:\n      - name: web\n        image: nginx:1.25\n        ports:\n        - containerPort: 80\n          protocol: TCP\n        resources:\n          limits: {cpu: 500m, memory: 128Mi}\n        securityContext:\n          privileged: false\n          runAsUser: 1000\n",
	"v006.yaml":              "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\n  labels: {app: web}\n  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: |\n      {\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\"}}\nspec:\n  replicas: 1e400\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      hostNetwork: false\n      containers:\n      - name: web\n        image: nginx:1.25\n        ports:\n        - containerPort: 80\n          protocol: TCP\n        resources:\n          limits: {cpu: 500m, memory: 128Mi}\n        securityContext:\n          privileged: false\n          runAsUser: 1000\n",
	"v030.yaml":              "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\n  labels: {app: web}\n  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: |\n      {\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\"}}\nspec:\n  replicas: 3\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      hostNetwork: false\n      containers:\n      - name: web\n        image: nginx:1.25\n        ports:\n        - containerPort: 8e1\n          protocol: TCP\n        resources:\n          limits: {cpu: 500m, memory: 128Mi}\n        securityContext:\n          privileged: false\n          runAsUser: 1000\n",
	"v040.yaml":              "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\n  labels: {app: web}\n  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: |\n      {\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\"}}\nspec:\n  replicas: 3\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      hostNetwork: false\n      containers:\n      - name: web\n        image: nginx:1.25\n        ports:\n        - containerPort: {a: b}\n          protocol: TCP\n        resources:\n          limits: {cpu: 500m, memory: 128Mi}\n        securityContext:\n          privileged: false\n          runAsUser: 1000\n",
	"v050.yaml":              "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\n  labels: {app: web}\n  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: |\n      {\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\"}}\nspec:\n  replicas: 3\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      hostNetwork: false\n      containers:\n      - name: web\n        image: nginx:1.25\n        ports:\n        - containerPort: 80\n          protocol: TCP\n        resources:\n          limits: {cpu: ~, memory: 128Mi}\n        securityContext:\n          privileged: false\n          runAsUser: 1000\n",
	"v060.yaml":              "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\n  labels: {app: web}\n  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: |\n      {\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\"}}\nspec:\n  replicas: 3\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      hostNetwork: false\n      containers:\n      - name: web\n        image: nginx:1.25\n        ports:\n        - containerPort: 80\n          protocol: TCP\n        resources:\n          limits: {cpu: 500m, memory: 128Mi}\n        securityContext:\n          privileged: y\n          runAsUser: 1000\n",
	"v070.yaml":              "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\n  labels: {app: web}\n  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: |\n      {\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\"}}\nspec:\n  replicas: 3\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      hostNetwork: false\n      containers:\n      - name: web\n        image: nginx:1.25\n        ports:\n        - containerPort: 80\n          protocol: TCP\n        resources:\n          limits: {cpu: 500m, memory: 128Mi}\n        securityContext:\n          privileged: false\n          runAsUser: 00\n",
}
