package registry

import (
	"errors"
	"fmt"
	"strings"

	"github.com/distribution/reference"
)

// Trusted is a parsed list of trusted registries. The zero value trusts
// nothing and is not Configured.
type Trusted struct {
	entries []entry
}

// entry is one trusted registry host with an optional repository path
// prefix, both normalised.
type entry struct {
	host, path string
}

// Parse parses trusted registry entries: a registry host
// ("registry.example.com", "localhost:5000") trusts every repository on
// it; a host with a path ("ghcr.io/myorg", "docker.io/library") trusts the
// repositories under that path, by whole path segments (ghcr.io/myorg
// does not trust ghcr.io/myorganisation). Docker Hub may be written
// docker.io, index.docker.io or registry-1.docker.io; its official images
// are under docker.io/library. The error names the first bad entry by its
// index.
func Parse(list []string) (Trusted, error) {
	var t Trusted
	for i, s := range list {
		e, err := parseEntry(s)
		if err != nil {
			return Trusted{}, fmt.Errorf("entry %d (%q): %w", i+1, s, err)
		}
		t.entries = append(t.entries, e)
	}
	return t, nil
}

// MustParse is Parse for lists known to be valid; it panics otherwise.
func MustParse(list ...string) Trusted {
	t, err := Parse(list)
	if err != nil {
		panic(err)
	}
	return t
}

func parseEntry(s string) (entry, error) {
	s = strings.TrimSuffix(strings.TrimSpace(s), "/")
	if s == "" {
		return entry{}, errors.New("empty")
	}
	if strings.ContainsAny(s, "@") || strings.Contains(s[strings.LastIndexByte(s, '/')+1:], ":") && strings.Contains(s, "/") {
		return entry{}, errors.New("a registry or repository prefix has no tag or digest")
	}
	host, path, _ := strings.Cut(s, "/")
	if !strings.ContainsAny(host, ".:") && host != "localhost" {
		return entry{}, fmt.Errorf("%q is not a registry host: write the registry first, such as docker.io/%s for Docker Hub", host, s)
	}
	// Validate with the reference grammar: the host as the domain of a
	// repository, the path as the leading segments of its path.
	probe := host + "/x"
	if path != "" {
		probe = host + "/" + path + "/x"
	}
	named, err := reference.ParseNormalizedNamed(probe)
	if err != nil {
		return entry{}, fmt.Errorf("not a registry or repository prefix: %v", err)
	}
	if reference.Domain(named) != canonicalHost(host) {
		return entry{}, fmt.Errorf("not a registry or repository prefix: %q is not a valid registry host", host)
	}
	return entry{host: canonicalHost(host), path: path}, nil
}

// canonicalHost maps Docker Hub's other host names to docker.io, as the
// reference library does for images.
func canonicalHost(h string) string {
	switch h {
	case "index.docker.io", "registry-1.docker.io":
		return "docker.io"
	}
	return h
}

// Configured reports whether the list has any entry. Callers run no
// registry rule when it has none.
func (t Trusted) Configured() bool { return len(t.entries) > 0 }

// Check returns the normalised repository of image (such as
// "docker.io/library/nginx") and whether a trusted entry covers it. err
// is set when image is not a valid reference (then name is "").
func (t Trusted) Check(image string) (name string, trusted bool, err error) {
	named, err := reference.ParseNormalizedNamed(strings.TrimSpace(image))
	if err != nil {
		return "", false, err
	}
	host, path := canonicalHost(reference.Domain(named)), reference.Path(named)
	for _, e := range t.entries {
		if e.host == host && (e.path == "" || path == e.path || strings.HasPrefix(path, e.path+"/")) {
			return named.Name(), true, nil
		}
	}
	return named.Name(), false, nil
}

// String lists the entries, for messages: "registry.example.com, ghcr.io/myorg".
func (t Trusted) String() string {
	parts := make([]string, len(t.entries))
	for i, e := range t.entries {
		parts[i] = e.host
		if e.path != "" {
			parts[i] += "/" + e.path
		}
	}
	return strings.Join(parts, ", ")
}
