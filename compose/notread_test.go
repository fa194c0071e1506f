package compose

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestNotRead: what a Compose file names and Audit does not read (include
// entries, services extending a service of another file) is listed with
// its line, for callers to say so; extends within the file is read.
func TestNotRead(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"nothing", "services:\n  web:\n    image: nginx\n", nil},
		{"include", "include:\n  - other.yaml\n  - path: ../db/compose.yaml\n    project_directory: ..\nservices:\n  web:\n    image: nginx\n",
			[]string{"2: include other.yaml is not read: check that file too", "3: include ../db/compose.yaml is not read: check that file too"}},
		{"extends another file", "services:\n  web:\n    image: nginx\n    extends:\n      file: base.yml\n      service: base\n",
			[]string{"4: service web extends a service of base.yml, which is not read: what it inherits is not checked"}},
		{"extends in the file", "services:\n  base:\n    image: nginx\n  web:\n    extends: base\n  api:\n    extends: {service: base}\n", nil},
		{"extends the file itself", "services:\n  base:\n    image: nginx\n  web:\n    extends: {file: ./compose.yaml, service: base}\n", nil},
		{"does not parse", "services: [\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, NotRead("compose.yaml", []byte(tt.src))); diff != "" {
				t.Errorf("NotRead (-want +got):\n%s", diff)
			}
		})
	}
}
