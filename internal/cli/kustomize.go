package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// kustomizationNames are the file names kustomize recognises.
var kustomizationNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// isKustomization reports whether dir holds a kustomization file.
func isKustomization(dir string) bool {
	for _, n := range kustomizationNames {
		if st, err := os.Stat(filepath.Join(dir, n)); err == nil && st.Mode().IsRegular() {
			return true
		}
	}
	return false
}

// kustomization is the part of a kustomization file Ward reads itself.
type kustomization struct {
	Resources  []string `yaml:"resources"`
	Bases      []string `yaml:"bases"`
	Components []string `yaml:"components"`
}

// readKustomization reads the kustomization file of dir.
func readKustomization(dir string) (k kustomization, file string, ok bool) {
	for _, n := range kustomizationNames {
		file = filepath.Join(dir, n)
		data, err := os.ReadFile(file) // #nosec G304 -- a kustomization in the paths the user named
		if err != nil {
			continue
		}
		if yaml.Unmarshal(data, &k) != nil {
			return kustomization{}, file, false
		}
		return k, file, true
	}
	return kustomization{}, "", false
}

// entries returns every resource, base and component k names.
func (k kustomization) entries() []string {
	return slices.Concat(k.Resources, k.Bases, k.Components)
}

// references returns the local directories dir's kustomization builds on.
func references(dir string) []string {
	k, _, ok := readKustomization(dir)
	if !ok {
		return nil
	}
	var out []string
	for _, r := range k.entries() {
		p := filepath.Join(dir, filepath.FromSlash(r))
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			out = append(out, filepath.Clean(p))
		}
	}
	return out
}

// isRemote reports whether a kustomization entry names something to fetch
// (a URL or a git repository).
func isRemote(entry string) bool {
	return strings.Contains(entry, "://") || strings.HasPrefix(entry, "git@") ||
		strings.HasPrefix(entry, "github.com/") || strings.HasPrefix(entry, "gitlab.com/") ||
		strings.Contains(entry, "?ref=") || strings.Contains(entry, ".git//")
}

// originFS is the disk seen through kustomize, with every kustomization
// file turned into one that asks for origin annotations
// (buildMetadata: [originAnnotations]), so that findings point at the
// source files, and that refuses remote resources: a security tool must
// not fetch code from the network because a manifest asks it to, and
// CI has no network to fetch from.
type originFS struct{ filesys.FileSystem }

func (o originFS) ReadFile(path string) ([]byte, error) {
	data, err := o.FileSystem.ReadFile(path)
	if err != nil || !slices.Contains(kustomizationNames, filepath.Base(path)) {
		return data, err
	}
	var k kustomization
	if err := yaml.Unmarshal(data, &k); err == nil {
		for _, r := range k.entries() {
			if isRemote(r) {
				return nil, fmt.Errorf("%s: remote resource %q: ward does not fetch remote bases; render with `kustomize build` and pipe the output to ward", path, r)
			}
		}
	}
	return withOriginAnnotations(data)
}

// withOriginAnnotations adds originAnnotations to a kustomization's
// buildMetadata.
func withOriginAnnotations(data []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return data, nil // kustomize reports the error itself
	}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != "buildMetadata" {
			continue
		}
		v := m.Content[i+1]
		if v.Kind != yaml.SequenceNode {
			return data, nil
		}
		for _, e := range v.Content {
			if e.Value == "originAnnotations" {
				return data, nil
			}
		}
		v.Content = append(v.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "originAnnotations"})
		return yaml.Marshal(&doc)
	}
	m.Content = append(m.Content,
		&yaml.Node{Kind: yaml.ScalarNode, Value: "buildMetadata"},
		&yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Value: "originAnnotations"}}})
	return yaml.Marshal(&doc)
}

// noRemote fails when the kustomization in dir, or one it builds on,
// names a remote resource. (originFS refuses them too, but kustomize then
// reports a missing kustomization, which would mislead.)
func noRemote(dir string, seen map[string]bool) error {
	if seen[dir] {
		return nil
	}
	seen[dir] = true
	if k, file, ok := readKustomization(dir); ok {
		for _, r := range k.entries() {
			if isRemote(r) {
				return fmt.Errorf("%s: remote resource %q: ward does not fetch remote bases; render with `kustomize build` and pipe the output to ward", file, r)
			}
		}
	}
	for _, r := range references(dir) {
		if err := noRemote(r, seen); err != nil {
			return err
		}
	}
	return nil
}

// kustomizeBuild renders the kustomization in dir in-process, as
// `kustomize build dir` would, with origin annotations.
func kustomizeBuild(dir string) ([]byte, error) {
	if err := noRemote(dir, map[string]bool{}); err != nil {
		return nil, err
	}
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(originFS{filesys.MakeFsOnDisk()}, dir)
	if err != nil {
		return nil, err
	}
	return m.AsYaml()
}
