package dockerfile

import (
	"slices"
	"strings"
)

// unknown stands, in a second expansion of a FROM, for every build
// argument that has no value: the parts of the reference holding it are
// unknown. A NUL byte cannot occur in a Dockerfile word.
const unknown = "\x00"

// imageRef is an image reference of a FROM, split into its parts.
type imageRef struct {
	// ref is the reference as BuildKit would pull it, build arguments
	// expanded.
	ref string
	// name is the repository, lower case, with Docker Hub's
	// "docker.io/" and "library/" prefixes removed: "golang",
	// "gcr.io/distroless/static-debian12".
	name   string
	tag    string // "" when absent
	digest string // "" when absent
	// nameKnown is false when a build argument without a value makes
	// up part of the name; known is false when one makes up any part.
	nameKnown, known bool
}

// splitRef splits a reference into normalized name, tag and digest. It
// does not validate: a malformed reference gives odd parts, never an
// error.
func splitRef(s string) (name, tag, digest string) {
	if i := strings.IndexByte(s, '@'); i >= 0 {
		s, digest = s[:i], s[i+1:]
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 && !strings.Contains(s[i:], "/") {
		s, tag = s[:i], s[i+1:]
	}
	return normalizeName(s), tag, digest
}

// normalizeName lower-cases a repository name and strips Docker Hub's
// implicit prefixes, so "docker.io/library/golang" and "golang" compare
// equal.
func normalizeName(s string) string {
	s = strings.ToLower(s)
	for _, p := range []string{"docker.io/", "index.docker.io/", "registry-1.docker.io/"} {
		if rest, ok := strings.CutPrefix(s, p); ok {
			s = rest
			break
		}
	}
	return strings.TrimPrefix(s, "library/")
}

// newImageRef builds the reference from its expansion with unset build
// arguments empty (ref) and with them replaced by unknown (marked).
func newImageRef(ref, marked string) imageRef {
	r := imageRef{ref: ref, known: !strings.Contains(marked, unknown)}
	r.name, r.tag, r.digest = splitRef(ref)
	mName, _, _ := splitRef(marked)
	r.nameKnown = ref != "" && !strings.Contains(mName, unknown)
	return r
}

// String is the reference as shown in messages.
func (r imageRef) String() string { return r.ref }

// scratch reports whether r is the empty image.
func (r imageRef) scratch() bool { return r.nameKnown && r.name == "scratch" }

// lastSegment is the last path segment of the name: "golang" for
// "registry.example.com/mirror/golang".
func (r imageRef) lastSegment() string {
	return r.name[strings.LastIndexByte(r.name, '/')+1:]
}

// tagHas reports whether the tag is known and contains s.
func (r imageRef) tagHas(s string) bool {
	return r.known && strings.Contains(strings.ToLower(r.tag), s)
}

// microsoftDistroless are the name prefixes of Microsoft's distroless
// images.
var microsoftDistroless = []string{
	"mcr.microsoft.com/cbl-mariner/distroless/",
	"mcr.microsoft.com/azurelinux/distroless/",
}

// chainguardShellless are Chainguard images without a shell in their
// default (not -dev) tags; they run as UID 65532.
var chainguardShellless = []string{
	"cgr.dev/chainguard/static",
	"cgr.dev/chainguard/glibc-dynamic",
	"chainguard/static",
	"chainguard/glibc-dynamic",
}

// dotnetChiseled are the .NET images whose chiseled tags are shell-less
// and run as the non-root user app.
var dotnetChiseled = []string{
	"mcr.microsoft.com/dotnet/runtime-deps",
	"mcr.microsoft.com/dotnet/runtime",
	"mcr.microsoft.com/dotnet/aspnet",
}

// distroless reports whether r is a Google or Microsoft distroless image.
func (r imageRef) distroless() bool {
	if strings.HasPrefix(r.name, "gcr.io/distroless/") {
		return true
	}
	for _, p := range microsoftDistroless {
		if strings.HasPrefix(r.name, p) {
			return true
		}
	}
	return false
}

// shellless reports whether r is known to have no shell. extra are
// further names (normalized) from Options.Shellless. A tag hidden by a
// build argument is given the benefit of the doubt.
func (r imageRef) shellless(extra []string) bool {
	if !r.nameKnown {
		return false
	}
	switch {
	case r.name == "scratch":
		return true
	case r.distroless():
		return !r.tagHas("debug")
	case slices.Contains(chainguardShellless, r.name):
		return !r.tagHas("dev")
	case slices.Contains(dotnetChiseled, r.name):
		return r.tagHas("chiseled")
	}
	return slices.Contains(extra, r.name)
}

// nonRoot reports whether r is known to set a non-root user.
func (r imageRef) nonRoot() bool {
	if !r.nameKnown {
		return false
	}
	switch {
	case r.distroless():
		return r.tagHas("nonroot")
	case slices.Contains(chainguardShellless, r.name):
		return true
	case slices.Contains(dotnetChiseled, r.name):
		return r.tagHas("chiseled")
	}
	return false
}

// compilerImages are the last path segments of compiler and SDK images.
var compilerImages = []string{
	"golang", "go", "rust", "gcc", "gcc-glibc", "buildpack-deps", "maven", "gradle", "swift", "haskell",
}

// jdkImages are Java images that are a JDK unless their tag says jre.
var jdkImages = []string{
	"openjdk", "eclipse-temurin", "amazoncorretto", "sapmachine", "zulu-openjdk", "ibm-semeru-runtimes", "jdk",
}

// compiler reports whether r is a compiler or SDK image.
func (r imageRef) compiler() bool {
	if !r.nameKnown {
		return false
	}
	last := r.lastSegment()
	switch {
	case slices.Contains(compilerImages, last):
		return true
	case slices.Contains(jdkImages, last):
		return r.known && !r.tagHas("jre")
	}
	return r.name == "mcr.microsoft.com/dotnet/sdk"
}
