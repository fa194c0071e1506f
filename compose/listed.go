package compose

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
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

// ProjectFiles returns the Compose files that docker compose, run in dir
// without -f, loads and merges into one project, in that order: those the
// COMPOSE_FILE variable of env lists (ListedFiles; env being the
// variables of dir's .env file, DotEnv), else the first of compose-go's
// default file names (cli.DefaultFileNames: compose.yaml, compose.yml,
// docker-compose.yml, docker-compose.yaml) present in dir, followed by
// the first override file name present (compose.override.yml, ...).
// Unlike docker compose, it does not look in dir's parents. Each path is
// the name joined to dir. It is nil when there is no such file.
func ProjectFiles(dir string, env map[string]string) []string {
	if listed := ListedFiles(dir, env); len(listed) > 0 {
		out := make([]string, len(listed))
		for i, f := range listed {
			out[i] = f.Path
		}
		return out
	}
	first := func(names []string) string {
		for _, n := range names {
			p := filepath.Join(dir, n)
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
		return ""
	}
	base := first(cli.DefaultFileNames)
	if base == "" {
		return nil
	}
	out := []string{base}
	if o := first(cli.DefaultOverrideFileNames); o != "" {
		out = append(out, o)
	}
	return out
}
