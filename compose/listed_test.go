package compose

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestListedFiles: the files COMPOSE_FILE lists, split at
// COMPOSE_PATH_SEPARATOR or the system's separator, resolved against the
// .env file's directory.
func TestListedFiles(t *testing.T) {
	dir := filepath.Join("proj", "app")
	abs, err := filepath.Abs(filepath.Join("etc", "base.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sep := string(os.PathListSeparator)
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []ListedFile
	}{
		{"no .env", nil, nil},
		{"no COMPOSE_FILE", map[string]string{"A": "1"}, nil},
		{"empty COMPOSE_FILE", map[string]string{"COMPOSE_FILE": ""}, nil},
		{"one file", map[string]string{"COMPOSE_FILE": "compose.yaml"},
			[]ListedFile{{"compose.yaml", filepath.Join(dir, "compose.yaml")}}},
		{"system separator, blanks and empty entries", map[string]string{"COMPOSE_FILE": " compose.yaml " + sep + sep + "../prod.conf" + sep},
			[]ListedFile{{"compose.yaml", filepath.Join(dir, "compose.yaml")}, {"../prod.conf", filepath.Join("proj", "prod.conf")}}},
		{"COMPOSE_PATH_SEPARATOR", map[string]string{"COMPOSE_FILE": "a.yml,b/c.yml", "COMPOSE_PATH_SEPARATOR": ","},
			[]ListedFile{{"a.yml", filepath.Join(dir, "a.yml")}, {"b/c.yml", filepath.Join(dir, "b", "c.yml")}}},
		{"absolute", map[string]string{"COMPOSE_FILE": abs}, []ListedFile{{abs, abs}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, ListedFiles(dir, tc.env)); diff != "" {
				t.Errorf("ListedFiles (-want +got):\n%s", diff)
			}
		})
	}
}
