package dockerfile

import (
	"path/filepath"
	"strings"
)

// IsDockerfile reports whether a file name (a path is reduced to its base
// name) is a Dockerfile by name: "Dockerfile", "Containerfile",
// "*.Dockerfile", "*.dockerfile", "Dockerfile.*" and "Containerfile.*",
// the lower-case "dockerfile" and "containerfile" too, but not a
// Dockerfile-specific ignore file ("Dockerfile.dockerignore").
func IsDockerfile(name string) bool {
	base := filepath.Base(name)
	if strings.HasSuffix(base, ".dockerignore") {
		return false
	}
	for _, n := range []string{"Dockerfile", "dockerfile", "Containerfile", "containerfile"} {
		if base == n || (strings.HasPrefix(base, n+".") && len(base) > len(n)+1) {
			return true
		}
	}
	return strings.HasSuffix(base, ".Dockerfile") || strings.HasSuffix(base, ".dockerfile") ||
		strings.HasSuffix(base, ".Containerfile") || strings.HasSuffix(base, ".containerfile")
}
