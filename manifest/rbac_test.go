package manifest

import (
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

// TestLoadRBAC checks that the RBAC kinds are decoded into Objects with
// their field lines: ClusterRoles and ClusterRoleBindings cluster-scoped
// (no namespace, none created), Roles and RoleBindings in the default
// namespace when they name none; none of them is a workload.
func TestLoadRBAC(t *testing.T) {
	doc := `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader}
rules:
- {apiGroups: [''], resources: [secrets], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: reader}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: reader}
subjects: [{kind: ServiceAccount, name: api, namespace: shop}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reader}
rules: []
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: reader}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
`
	set, err := Load(Options{FieldLines: true, Stdin: strings.NewReader(doc)}, "-")
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Objects) != 4 || len(set.Workloads) != 0 || len(set.Skipped) != 0 {
		t.Fatalf("objects %d, workloads %d, skipped %v", len(set.Objects), len(set.Workloads), set.Skipped)
	}
	for _, n := range set.Namespaces {
		if n.Name == "" {
			t.Error("a cluster-scoped object created the namespace \"\"")
		}
	}
	cr, ok := set.Objects[0].Obj.(*rbacv1.ClusterRole)
	if !ok || cr.Namespace != "" || set.Objects[0].Line("rules[0]") != 5 || cr.Rules[0].Resources[0] != "secrets" {
		t.Errorf("ClusterRole: %+v, rules[0] at line %d", set.Objects[0].Obj, set.Objects[0].Line("rules[0]"))
	}
	crb, ok := set.Objects[1].Obj.(*rbacv1.ClusterRoleBinding)
	if !ok || crb.Namespace != "" || set.Objects[1].Line("roleRef.name") != 10 || crb.Subjects[0].Namespace != "shop" {
		t.Errorf("ClusterRoleBinding: %+v, roleRef.name at line %d", set.Objects[1].Obj, set.Objects[1].Line("roleRef.name"))
	}
	if r, ok := set.Objects[2].Obj.(*rbacv1.Role); !ok || r.Namespace == "" {
		t.Errorf("Role: %+v", set.Objects[2].Obj)
	}
	if b, ok := set.Objects[3].Obj.(*rbacv1.RoleBinding); !ok || b.Namespace == "" || b.RoleRef.Name != "reader" {
		t.Errorf("RoleBinding: %+v", set.Objects[3].Obj)
	}
}
