package dockerfile

import (
	"path/filepath"
	"slices"
	"strings"
)

// IsDockerfile reports whether a file name (a path is reduced to its base
// name) is a Dockerfile by name: "Dockerfile", "Containerfile",
// "*.Dockerfile", "*.dockerfile", "Dockerfile.*", "Dockerfile-*",
// "Dockerfile_*" and the same of "Containerfile", the lower-case
// "dockerfile" and "containerfile" too; but not a Dockerfile-specific
// ignore file ("Dockerfile.dockerignore"), nor a file beside a Dockerfile
// whose extension says it is something else: documentation, data, a
// script or an editor's backup ("Dockerfile.md", "Dockerfile.orig"), which
// no build reads and which would not parse.
func IsDockerfile(name string) bool {
	base := filepath.Base(name)
	if strings.HasSuffix(base, ".dockerignore") {
		return false
	}
	if ext := strings.ToLower(filepath.Ext(base)); ext != "" && slices.Contains(notDockerfileExts, ext) {
		return false
	}
	for _, n := range []string{"Dockerfile", "dockerfile", "Containerfile", "containerfile"} {
		if base == n {
			return true
		}
		for _, sep := range []string{".", "-", "_"} {
			if strings.HasPrefix(base, n+sep) && len(base) > len(n)+1 {
				return true
			}
		}
	}
	return strings.HasSuffix(base, ".Dockerfile") || strings.HasSuffix(base, ".dockerfile") ||
		strings.HasSuffix(base, ".Containerfile") || strings.HasSuffix(base, ".containerfile")
}

// notDockerfileExts are extensions of files named after a Dockerfile that
// are not one.
var notDockerfileExts = []string{
	".md", ".markdown", ".txt", ".rst", ".adoc", ".html",
	".json", ".yaml", ".yml", ".toml", ".lock", ".sum",
	".sh", ".bash", ".ps1", ".py", ".go", ".js",
	".orig", ".bak", ".rej", ".swp", ".tmp",
}
