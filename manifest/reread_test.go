package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestWholePods checks the second read of slim objects: unchanged, the
// slim Pod is replaced by its whole decode, equal to what loading without
// slim decoding gives; changed (same size or not) or gone, the file gives
// an error and the Pod stays slim.
func TestWholePods(t *testing.T) {
	const text = `apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-1
  namespace: shop
  uid: rs-uid
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: web:1, ports: [{name: http, containerPort: 8080}]}]
---
apiVersion: v1
kind: Pod
metadata:
  name: web-1-abcde
  namespace: shop
  labels: {app: web}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-1, uid: rs-uid, controller: true}]
spec:
  containers: [{name: web, image: web:1, ports: [{name: http, containerPort: 8080}]}]
  nodeName: node-1
status:
  podIP: 10.0.0.5
`
	load := func(t *testing.T, slim bool) (string, *Set) {
		t.Helper()
		defer func(prev bool) { slimDecode = prev }(slimDecode)
		slimDecode = slim
		path := filepath.Join(t.TempDir(), "dump.yaml")
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Load(Options{FieldLines: true}, path)
		if err != nil {
			t.Fatal(err)
		}
		return path, s
	}
	_, whole := load(t, false)
	pod := func(s *Set) int {
		for i, o := range s.objects {
			if o.kind == "Pod" {
				return i
			}
		}
		t.Fatal("no Pod")
		return -1
	}
	for _, tc := range []struct {
		name   string
		change func(path string) error
		err    error
	}{
		{"unchanged", func(string) error { return nil }, nil},
		{"same size", func(p string) error { return os.WriteFile(p, []byte(text[:len(text)-2]+"6\n"), 0o600) }, errChanged},
		{"longer", func(p string) error { return os.WriteFile(p, []byte(text+"\n"), 0o600) }, errChanged},
		{"gone", os.Remove, ErrRead},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, s := load(t, true)
			i := pod(s)
			if s.objects[i].slim == nil {
				t.Fatal("the instance Pod was not decoded slim")
			}
			if err := tc.change(path); err != nil {
				t.Fatal(err)
			}
			objs := []object{s.objects[i]}
			errs := wholePods(objs, []int{0})
			if tc.err == nil {
				if len(errs) > 0 {
					t.Fatal(errs)
				}
				w := whole.objects[pod(whole)]
				w.src.File = objs[0].src.File
				if objs[0].slim != nil || !reflect.DeepEqual(objs[0].obj, w.obj) || !reflect.DeepEqual(objs[0].lines, w.lines) {
					t.Errorf("decoded again: %+v\nwant %+v", objs[0], w)
				}
				return
			}
			if len(errs) != 1 || !errors.Is(errs[0], tc.err) {
				t.Fatalf("errors %v, want one matching %v", errs, tc.err)
			}
			if objs[0].slim == nil {
				t.Error("the Pod was replaced all the same")
			}
		})
	}
}

// TestWholePodsFail checks that a slim Pod that must be decoded whole,
// from a file that is gone by then, is an error and no workload (its pod
// template is unknown), not a workload with a slim template.
func TestWholePodsFail(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pods.yaml")
	text := `apiVersion: v1
kind: Pod
metadata:
  name: web-1-abcde
  namespace: shop
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-1, uid: rs-uid, controller: true}]
spec:
  containers: [{name: web, image: web:1}]
status:
  podIP: 10.0.0.5
`
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	// Decode the file alone, then assemble after it is gone.
	l := newLoader(Options{})
	l.run(func(emit emitFunc) {
		data, err := ReadFile(path, 0)
		emit(path, data, err, true)
	})
	var objs []object
	for _, f := range l.files {
		for _, o := range f.out {
			objs = append(objs, o.objs...)
		}
	}
	if len(objs) != 1 || objs[0].slim == nil {
		t.Fatalf("objects %+v, want one slim Pod", objs)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	s, errs := assemble("default", objs, nil)
	if len(errs) != 1 || !errors.Is(errs[0], ErrRead) {
		t.Fatalf("errors %v, want one ErrRead", errs)
	}
	if len(s.Workloads) != 0 {
		t.Errorf("workloads %+v, want none", s.Workloads)
	}
}
