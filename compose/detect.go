package compose

import (
	"bytes"
	"encoding/json"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/schema"
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
// any case), and the same names ending in .json (JSON is YAML, and
// docker compose -f reads it). Other .yaml, .yml and .json files, and
// input without a name ("" or "-" for stdin), by content: the first document is a mapping whose keys
// are all Compose top-level keys (so no apiVersion or kind, and no Helm
// values keys), with a services mapping whose entries are mappings that
// look like services: none has a non-string image, and at least one has
// an image string or a build, or else every one has only keys of a
// Compose service (an override file: services: {web: {privileged: true}}).
func IsCompose(name string, src []byte) bool {
	base := strings.ToLower(path.Base(filepath.ToSlash(name)))
	ext := path.Ext(base)
	switch {
	case ext == ".yaml" || ext == ".yml" || ext == ".json":
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
	looksLike, overrides := false, true
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
		overrides = overrides && onlyServiceKeys(s)
	}
	return looksLike || (overrides && len(services.Content) > 0)
}

// onlyServiceKeys reports whether a service mapping has keys and all of
// them are keys of a Compose service (or x- extensions): the services of
// an override file (docker compose -f compose.yaml -f prod.yaml) set no
// image or build, but nothing else either.
func onlyServiceKeys(s *yaml.Node) bool {
	keys := serviceKeys()
	n := 0
	for i := 0; i+1 < len(s.Content); i += 2 {
		k := s.Content[i]
		if k.Kind != yaml.ScalarNode {
			return false
		}
		if k.Value == "<<" {
			continue // a merge key: what it merges is not looked into
		}
		if !keys[k.Value] && !strings.HasPrefix(k.Value, "x-") {
			return false
		}
		n++
	}
	return n > 0
}

// serviceKeys are the keys of a service in compose-go's Compose schema.
var serviceKeys = sync.OnceValue(func() map[string]bool {
	var spec struct {
		Defs map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"$defs"`
	}
	keys := map[string]bool{}
	if err := json.Unmarshal([]byte(schema.Schema), &spec); err != nil {
		return keys
	}
	for _, def := range []string{"service", "container_spec", "workload_spec"} {
		for k := range spec.Defs[def].Properties {
			keys[k] = true
		}
	}
	return keys
})
