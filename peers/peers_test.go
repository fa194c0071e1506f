package peers

import "testing"

func TestLookupSpellings(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"KSV-0014", "KSV-0014"}, {"KSV014", "KSV-0014"}, {"ksv-14", "KSV-0014"}, {"AVD-KSV-0014", "KSV-0014"}, {"trivy:KSV014", "KSV-0014"},
		{"KSV01010", "KSV-01010"}, {"AVD-KSV-01010", "KSV-01010"}, {"AVD-DS-0002", "DS-0002"}, {"DS002", "DS-0002"}, {"KCV0093", "KCV-0093"},
		{"DL3002", "DL3002"}, {"hadolint:DL3002", "DL3002"}, {"dl3002", "DL3002"},
		{"kube-linter:run-as-non-root", "kube-linter:run-as-non-root"}, {"polaris:hostIPCSet", "polaris:hostIPCSet"},
		{"kics:k8s/container_is_privileged", "kics:k8s/container_is_privileged"},
		{"dd29336b-fe57-445b-a26e-e6aa867ae609", "kics:k8s/container_is_privileged"}, {"kics:DD29336B-FE57-445B-A26E-E6AA867AE609", "kics:k8s/container_is_privileged"},
		{"docker:SecretsUsedInArgOrEnv", "docker:SecretsUsedInArgOrEnv"},
		{"run-as-non-root", ""}, {"polaris:hostipcset", ""}, {"KSV-9999", ""}, {"pss/privileged", ""}, {"", ""},
	} {
		c, ok := Lookup(tc.in)
		if ok != (tc.want != "") || c.ID != tc.want {
			t.Errorf("Lookup(%q) = %q, %v; want %q", tc.in, c.ID, ok, tc.want)
		}
	}
}

// TestTableUnique: no two rows share a spelling (index panics at init
// otherwise), and rows are grouped by peer in All's order.
func TestTableOrder(t *testing.T) {
	last := -1
	for _, c := range table {
		i := -1
		for j, p := range All {
			if p == c.Peer {
				i = j
			}
		}
		if i < last {
			t.Errorf("%s (%s) is listed after a later peer's checks", c.ID, c.Peer)
		}
		last = i
	}
}
