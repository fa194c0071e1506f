package synth

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
	"time"
)

// The fields real dumps carry on top of what the object declares, unless
// Config.Bare: on every object a user applied with `kubectl apply`
// (namespaces, workloads, Services, NetworkPolicies) the annotation
// kubectl.kubernetes.io/last-applied-configuration, holding the object's
// apiVersion, kind, metadata and spec as kubectl writes them (compact JSON
// with sorted keys and a final line break, printed as a "|" block scalar),
// and on every object metadata.managedFields with two managers: the one
// that wrote the declared fields (kubectl-client-side-apply, or
// kube-controller-manager for the objects controllers create) and the one
// that wrote the status (kube-controller-manager, or kubelet for Pods; for
// objects without status, `kubectl label` or `kubectl edit`).

const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// extras is what meta writes for the current object in a realistic dump.
type extras struct {
	applied  string // last-applied-configuration, "" if none
	managers []manager
}

type manager struct {
	name, subresource, apiVersion string
	fields                        map[string]any // fieldsV1 as a tree of sets
	time                          int
}

// realistic reports whether objects get the extras.
func (r *renderer) realistic() bool { return r.plan.cfg.Dump && !r.plan.cfg.Bare }

// helper returns a renderer writing compact JSON of the same plan, as
// manifests (dump false) or as a bare dump.
func (r *renderer) helper(dump bool) *renderer {
	h := &r.helpers[0]
	if dump {
		h = &r.helpers[1]
	}
	if *h == nil {
		p := *r.plan
		p.cfg.Dump, p.cfg.Bare = dump, true
		*h = &renderer{plan: &p, emitter: emitter{json: true}}
	}
	return *h
}

// render returns the object as a JSON tree.
func (r *renderer) render(ref objRef) map[string]any {
	r.b = r.b[:0]
	r.object(ref)
	d := json.NewDecoder(bytes.NewReader(r.b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		panic("synth: cannot read back rendered JSON: " + err.Error())
	}
	return m
}

// prepare computes the extras of ref.
func (r *renderer) prepare(ref objRef) {
	r.extras = extras{}
	full := r.helper(true).render(ref)
	apiVersion, _ := full["apiVersion"].(string)
	meta, _ := full["metadata"].(map[string]any)
	created := 0
	if ts, ok := meta["creationTimestamp"].(string); ok {
		if t, err := parseTime(ts); err == nil {
			created = t
		}
	}
	declared := map[string]any{}
	if ref.kind == kPod || ref.kind == kReplicaSet {
		// Created by a controller from a template.
		md := map[string]any{}
		for _, k := range []string{"generateName", "labels", "ownerReferences", "annotations"} {
			if v, ok := meta[k]; ok {
				md[k] = v
			}
		}
		declared["metadata"] = md
		declared["spec"] = full["spec"]
		name, statusBy := "kube-controller-manager", "kube-controller-manager"
		if ref.kind == kPod {
			statusBy = "kubelet"
		}
		r.managers = append(r.managers, manager{name: name, apiVersion: apiVersion, fields: fieldSet(declared), time: created})
		if st, ok := full["status"]; ok {
			r.managers = append(r.managers, manager{name: statusBy, subresource: "status", apiVersion: apiVersion,
				fields: fieldSet(map[string]any{"status": st}), time: created + 30})
		}
		return
	}
	applied := r.helper(false).render(ref)
	b, err := json.Marshal(applied) // sorted keys, as kubectl writes it
	if err != nil {
		panic("synth: " + err.Error())
	}
	r.applied = string(b) + "\n"
	am, _ := applied["metadata"].(map[string]any)
	ann, _ := am["annotations"].(map[string]any)
	if ann == nil {
		ann = map[string]any{}
	}
	ann[lastApplied] = ""
	md := map[string]any{"annotations": ann}
	if l, ok := am["labels"]; ok {
		md["labels"] = l
	}
	declared["metadata"] = md
	if s, ok := applied["spec"]; ok {
		declared["spec"] = s
	}
	r.managers = append(r.managers, manager{name: "kubectl-client-side-apply", apiVersion: apiVersion, fields: fieldSet(declared), time: created})
	if st, ok := full["status"]; ok {
		r.managers = append(r.managers, manager{name: "kube-controller-manager", subresource: "status", apiVersion: apiVersion,
			fields: fieldSet(map[string]any{"status": st}), time: created + 120})
	} else if l, ok := meta["labels"]; ok {
		r.managers = append(r.managers, manager{name: "kubectl-label", apiVersion: apiVersion,
			fields: fieldSet(map[string]any{"metadata": map[string]any{"labels": l}}), time: created + 600})
	} else if spec, ok := full["spec"].(map[string]any); ok && len(spec) > 0 {
		// As if `kubectl edit` changed the first field of the spec.
		keys := make([]string, 0, len(spec))
		for k := range spec {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		r.managers = append(r.managers, manager{name: "kubectl-edit", apiVersion: apiVersion,
			fields: fieldSet(map[string]any{"spec": map[string]any{keys[0]: spec[keys[0]]}}), time: created + 600})
	}
}

func parseTime(s string) (int, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return 0, err
	}
	return int(t.Sub(epoch).Seconds()), nil
}

// fieldSet turns a JSON value into the field set of managedFields.fieldsV1:
// "f:name" for fields, "k:{...}" for list items with a key, "v:..." for
// items of lists of scalars, "." for maps set as a whole.
func fieldSet(v any) map[string]any {
	out := map[string]any{}
	m, ok := v.(map[string]any)
	if !ok {
		return out
	}
	for k, x := range m {
		out["f:"+k] = fieldValue(k, x)
	}
	return out
}

func fieldValue(k string, x any) map[string]any {
	switch x := x.(type) {
	case map[string]any:
		s := fieldSet(x)
		switch k {
		case "labels", "annotations", "matchLabels", "nodeSelector", "resources", "limits", "requests":
			s["."] = map[string]any{}
		}
		return s
	case []any:
		s := map[string]any{}
		for _, it := range x {
			switch it := it.(type) {
			case map[string]any:
				key := itemKey(it)
				if key == "" {
					return map[string]any{} // an atomic list
				}
				sub := fieldSet(it)
				sub["."] = map[string]any{}
				s["k:"+key] = sub
			default:
				b, _ := json.Marshal(it)
				s["v:"+string(b)] = map[string]any{}
			}
		}
		if len(s) > 0 {
			s["."] = map[string]any{}
		}
		return s
	}
	return map[string]any{}
}

// itemKey is the merge key of a list item, as the API server prints it.
func itemKey(it map[string]any) string {
	var keys []string
	switch {
	case it["containerPort"] != nil:
		keys = []string{"containerPort", "protocol"}
	case it["port"] != nil && it["protocol"] != nil:
		keys = []string{"port", "protocol"}
	case it["name"] != nil:
		keys = []string{"name"}
	case it["type"] != nil:
		keys = []string{"type"}
	case it["mountPath"] != nil:
		keys = []string{"mountPath"}
	case it["uid"] != nil:
		keys = []string{"uid"}
	case it["ip"] != nil:
		keys = []string{"ip"}
	default:
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		v := it[k]
		if k == "protocol" && v == nil {
			v = "TCP" // defaulted by the API server
		}
		vb, _ := json.Marshal(v)
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.String()
}

// managedFields writes metadata.managedFields.
func (r *renderer) managedFields() {
	r.key("managedFields")
	r.list()
	for _, m := range r.managers {
		r.obj()
		r.kv("apiVersion", m.apiVersion)
		r.kv("fieldsType", "FieldsV1")
		r.key("fieldsV1")
		r.fieldsV1(m.fields)
		r.kv("manager", m.name)
		r.kv("operation", "Update")
		if m.subresource != "" {
			r.kv("subresource", m.subresource)
		}
		r.timestamp("time", m.time)
		r.end()
	}
	r.end()
}

func (r *renderer) fieldsV1(s map[string]any) {
	r.obj()
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r.rawKey(k)
		sub, _ := s[k].(map[string]any)
		r.fieldsV1(sub)
	}
	r.end()
}

// annotations writes the annotations of a realistic dump object: ls and
// last-applied-configuration.
func (r *renderer) annotations(ls []label) {
	if r.applied == "" {
		if len(ls) > 0 {
			r.labels("annotations", ls)
		}
		return
	}
	r.key("annotations")
	r.obj()
	done := false
	for _, l := range ls {
		if !done && l.k > lastApplied {
			r.literal(lastApplied, r.applied)
			done = true
		}
		r.kv(l.k, l.v)
	}
	if !done {
		r.literal(lastApplied, r.applied)
	}
	r.end()
}
