package compose

import (
	"bytes"
	"path"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// topLevelKeys are the top-level keys of the Compose specification; x-
// extensions are allowed too.
var topLevelKeys = map[string]bool{
	"version": true, "name": true, "services": true, "networks": true, "volumes": true,
	"secrets": true, "configs": true, "include": true, "models": true,
}

// IsCompose reports whether a file is a Compose file. By name: compose.yaml,
// compose.yml, docker-compose.yaml, docker-compose.yml and their variants
// (compose.prod.yaml, docker-compose.override.yml, dev.compose.yaml, in
// any case). Other .yaml and .yml files, and input without a name ("" or
// "-" for stdin), by content: the first document is a mapping whose keys
// are all Compose top-level keys (so no apiVersion or kind, and no Helm
// values keys), with a services mapping whose entries are mappings that
// look like services: none has a non-string image, and at least one has
// an image string or a build.
func IsCompose(name string, src []byte) bool {
	base := strings.ToLower(path.Base(filepath.ToSlash(name)))
	ext := path.Ext(base)
	switch {
	case ext == ".yaml" || ext == ".yml":
		if composeName(strings.TrimSuffix(base, ext)) {
			return true
		}
	case name != "" && name != "-":
		return false
	}
	return composeContent(src)
}

// composeName reports whether a file name without extension is one that
// Docker Compose looks for, or a variant of it.
func composeName(stem string) bool {
	for _, n := range []string{"compose", "docker-compose"} {
		if stem == n || strings.HasPrefix(stem, n+".") || strings.HasSuffix(stem, "."+n) {
			return true
		}
	}
	return false
}

// composeContent reports whether the first document of src looks like a
// Compose file.
func composeContent(src []byte) bool {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil || len(doc.Content) == 0 {
		return false
	}
	root := resolve(doc.Content[0])
	if root == nil || root.Kind != yaml.MappingNode {
		return false
	}
	var services *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k := root.Content[i].Value
		if !topLevelKeys[k] && !strings.HasPrefix(k, "x-") {
			return false
		}
		if k == "services" {
			services = resolve(root.Content[i+1])
		}
	}
	if services == nil || services.Kind != yaml.MappingNode {
		return false
	}
	looksLike := false
	for i := 1; i < len(services.Content); i += 2 {
		s := resolve(services.Content[i])
		if s == nil || s.Kind != yaml.MappingNode {
			return false
		}
		_, image := lookup(s, "image", 0)
		_, build := lookup(s, "build", 0)
		switch {
		case image != nil && image.Kind != yaml.ScalarNode:
			return false
		case image != nil || (build != nil && (build.Kind == yaml.ScalarNode || build.Kind == yaml.MappingNode)):
			looksLike = true
		}
	}
	return looksLike
}
