package compose

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
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
// input without a name ("" or "-" for stdin), by content: its documents
// (compose-go merges them all; empty ones aside, and up to one that is
// not, after services) are mappings whose keys are all Compose top-level
// keys (so no apiVersion or kind, and no Helm values keys), with services
// mappings whose entries are mappings that look like services: none has a non-string image, and at least one has
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

// composeContent reports whether src looks like a Compose file. Every
// document counts, as compose-go merges them all: each one that is not
// empty must be a mapping of Compose top-level keys, and the services of
// all of them must look like services (a first document holding only
// name: shop does not hide the services of the next).
func composeContent(src []byte) bool {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var services []*yaml.Node
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if err == io.EOF {
			break
		}
		if err != nil {
			// Audit reports the error of a file whose services came
			// first.
			if len(services) > 0 {
				break
			}
			return false
		}
		if len(doc.Content) == 0 {
			continue
		}
		root := topLevel(resolve(doc.Content[0]), 0)
		if root != nil && root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			continue // an empty document
		}
		if !composeKeys(root) {
			// Not a Compose document: docker compose refuses the file.
			// One whose services came first is a Compose file still,
			// for Audit to report what is wrong with it.
			if len(services) > 0 {
				break
			}
			return false
		}
		for i := 0; i+1 < len(root.Content); i += 2 {
			k := root.Content[i].Value
			if k == "services" {
				svc := resolve(root.Content[i+1])
				if svc == nil || svc.Kind != yaml.MappingNode {
					return false
				}
				services = append(services, svc)
			}
		}
	}
	looksLike, overrides, n := false, true, 0
	for _, svc := range services {
		for i := 1; i < len(svc.Content); i += 2 {
			s := resolve(svc.Content[i])
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
			n++
		}
	}
	return looksLike || (overrides && n > 0)
}

// topLevel returns mapping n with its keys as compose-go reads them:
// merge keys (<<) replaced by the keys they merge in, and !!binary keys
// decoded (!!binary c2VydmljZXM= is services). A file whose services key
// came so passed for other YAML, skipped, and docker compose runs its
// services all the same. Other nodes are returned as they are.
func topLevel(n *yaml.Node, depth int) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode || depth > maxDepth {
		return n
	}
	var out *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		var add []*yaml.Node
		switch {
		case k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge":
			v = resolve(v)
			var from []*yaml.Node
			switch {
			case v != nil && v.Kind == yaml.MappingNode:
				from = []*yaml.Node{v}
			case v != nil && v.Kind == yaml.SequenceNode:
				from = v.Content
			}
			for _, m := range from {
				if m = topLevel(resolve(m), depth+1); m != nil && m.Kind == yaml.MappingNode {
					add = append(add, m.Content...)
				}
			}
		case k.Kind == yaml.ScalarNode && k.ShortTag() == "!!binary":
			b, err := base64.StdEncoding.DecodeString(k.Value)
			if err != nil {
				add = []*yaml.Node{k, v}
				break
			}
			dk := *k
			dk.Value, dk.Tag = string(b), "!!str"
			add = []*yaml.Node{&dk, v}
		default:
			if out != nil {
				out.Content = append(out.Content, k, v)
			}
			continue
		}
		if out == nil {
			c := *n
			c.Content = append([]*yaml.Node(nil), n.Content[:i]...)
			out = &c
		}
		out.Content = append(out.Content, add...)
	}
	if out == nil {
		return n
	}
	return out
}

// composeKeys reports whether root is a mapping of Compose top-level keys
// (and x- extensions).
func composeKeys(root *yaml.Node) bool {
	if root == nil || root.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if k := root.Content[i].Value; !topLevelKeys[k] && !strings.HasPrefix(k, "x-") {
			return false
		}
	}
	return true
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

// ServiceDocuments returns the lines (of their first key) of the
// documents of src that are Compose documents on their own (IsCompose of
// that document alone, services and all): in a stream that is not a
// Compose file as a whole, such as Kubernetes objects followed by a
// Compose document, these are services that docker compose would run
// were the document given alone, and that a manifest loader skips as
// YAML without apiVersion or kind. Documents that do not parse end the
// search.
func ServiceDocuments(src []byte) []int {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var lines []int
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			return lines
		}
		if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
			continue
		}
		out, err := yaml.Marshal(&doc)
		if err == nil && composeContent(out) {
			lines = append(lines, doc.Content[0].Line)
		}
	}
}
