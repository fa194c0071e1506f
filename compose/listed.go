package compose

import (
	"os"
	"path/filepath"
	"strings"
)

// ListedFile is a file that the COMPOSE_FILE variable of a .env file
// lists.
type ListedFile struct {
	// Name is the entry as COMPOSE_FILE writes it, blanks trimmed.
	Name string
	// Path is Name joined to the .env file's directory, unless Name is
	// absolute.
	Path string
}

// ListedFiles returns the files that the COMPOSE_FILE variable of env
// lists, env being the variables of the .env file in dir (DotEnv), in
// their order: docker compose, run in dir without -f, loads them all and
// merges them into one project. The list is split at
// COMPOSE_PATH_SEPARATOR, or else at the system's path list separator
// (os.PathListSeparator); empty entries are skipped. It is nil when
// COMPOSE_FILE is unset or empty.
func ListedFiles(dir string, env map[string]string) []ListedFile {
	list := env["COMPOSE_FILE"]
	if list == "" {
		return nil
	}
	sep := string(os.PathListSeparator)
	if s := env["COMPOSE_PATH_SEPARATOR"]; s != "" {
		sep = s
	}
	var out []ListedFile
	for _, f := range strings.Split(list, sep) {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		p := f
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		out = append(out, ListedFile{Name: f, Path: p})
	}
	return out
}
