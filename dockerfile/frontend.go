package dockerfile

import (
	"fmt"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// dockerFrontends are the repositories of Docker's own Dockerfile
// frontend, which builds what the Dockerfile says.
var dockerFrontends = []string{"docker/dockerfile", "docker/dockerfile-upstream"}

// NotRead lists, each as "LINE: what", what a Dockerfile says that Audit
// does not follow: a # syntax= directive naming a frontend other than
// Docker's Dockerfile frontend. BuildKit hands the file to that image,
// which may build something else than what the instructions Audit judges
// say. BuildKit's BUILDKIT_SYNTAX build argument, which overrides the
// directive, is not known here.
func NotRead(src []byte) []string {
	syntax, _, loc, ok := parser.DetectSyntax(src)
	if !ok || dockerFrontend(syntax) {
		return nil
	}
	line := 0
	if len(loc) > 0 {
		line = loc[0].Start.Line
	}
	return []string{fmt.Sprintf("%d: # syntax=%s: the file is built by that frontend image, not Docker's Dockerfile frontend, and may build something else than the instructions judged here say", line, syntax)}
}

// dockerFrontend reports whether an image reference names Docker's
// Dockerfile frontend, at any tag or digest.
func dockerFrontend(ref string) bool {
	ref = strings.TrimSpace(ref)
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndexByte(ref, ':'); i >= 0 && !strings.Contains(ref[i:], "/") {
		ref = ref[:i]
	}
	for _, prefix := range []string{"docker.io/", "index.docker.io/", "registry-1.docker.io/"} {
		ref = strings.TrimPrefix(ref, prefix)
	}
	for _, f := range dockerFrontends {
		if ref == f {
			return true
		}
	}
	return false
}
