package kustomize

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"

	"go.yaml.in/yaml/v3"

	"github.com/wardsec/ward/manifest"
)

// plainKeys are the only keys of a kustomization that transforms nothing:
// such a kustomization only concatenates its resources.
var plainKeys = map[string]bool{"apiVersion": true, "kind": true, "metadata": true, "resources": true, "bases": true}

// plainFiles returns the resource files of the kustomization in dir, in
// kustomize's depth-first order, when neither it nor any kustomization it
// lists transforms anything (only apiVersion, kind Kustomization,
// metadata, resources and bases, every resource an existing file or a
// directory holding such a kustomization). Then a kustomize build
// outputs the objects of these files as they are written, and Ward's
// loader reads them directly. ok is false otherwise: kustomize builds.
// Kustomization files larger than limit are not read: kustomize builds,
// and refuses them.
func plainFiles(dir string, limit int64) (files []string, ok bool) {
	return plain(dir, limit, map[string]bool{})
}

func plain(dir string, limit int64, visited map[string]bool) ([]string, bool) {
	file, ok := fileOf(dir)
	if !ok {
		return nil, false
	}
	abs, err := filepath.Abs(dir)
	if err != nil || visited[abs] {
		// Reached twice (a cycle, or a base through two paths: its
		// objects twice, unless transformations rename them): kustomize
		// decides.
		return nil, false
	}
	visited[abs] = true
	data, err := manifest.ReadFile(file, limit)
	if err != nil {
		return nil, false
	}
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, false
	}
	m := doc.Content[0]
	var resources, bases []string // kustomize appends bases to resources
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i].Value, m.Content[i+1]
		if !plainKeys[k] {
			return nil, false
		}
		switch k {
		case "kind":
			if v.Value != "Kustomization" {
				return nil, false
			}
		case "resources", "bases":
			if v.Kind != yaml.SequenceNode {
				return nil, false
			}
			files := &resources
			if k == "bases" {
				files = &bases
			}
			for _, e := range v.Content {
				if e.Kind != yaml.ScalarNode || e.Tag != "!!str" {
					return nil, false
				}
				p := filepath.Join(dir, filepath.FromSlash(e.Value))
				st, err := os.Stat(p)
				switch {
				case err != nil:
					return nil, false
				case st.IsDir():
					sub, ok := plain(p, limit, visited)
					if !ok {
						return nil, false
					}
					*files = append(*files, sub...)
				case st.Mode().IsRegular():
					if builtDifferently(p, limit) {
						return nil, false
					}
					*files = append(*files, p)
				default:
					return nil, false
				}
			}
		}
	}
	return append(resources, bases...), true
}

// yaml11Bools finds, roughly, a plain scalar that YAML 1.1 reads as a
// boolean and YAML 1.2 as a string (yes, on, n...).
var yaml11Bools = regexp.MustCompile(`(?m)(?:^|[\s\[{,])(?:y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)[ \t]*(?:$|[#,\]}\r])`)

// yaml11Keys finds, roughly, a plain mapping key that is not a string
// to kustomize's reader or that YAML 1.1 reads otherwise: Ward's loader
// makes on: the key "true" and 0x1: "1", as kubectl does, where kustomize
// keeps on: as "on" (and writes it quoted) and may refuse a number.
var yaml11Keys = regexp.MustCompile(`(?m)(?:^|[\s\[{,])(?:y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF|true|True|TRUE|false|False|FALSE|null|Null|NULL|~|[-+.0-9][^\s:,\[\]{}#]*)[ \t]*:(?:[ \t\r]|$)`)

// mergeKey is the YAML merge key, roughly.
var mergeKey = []byte("<<")

// localConfig is the annotation that makes kustomize leave an object out
// of its build: it configures the build, it is not applied.
var localConfig = []byte("config.kubernetes.io/local-config")

// builtDifferently reports whether kustomize's build may output the
// resource file at path otherwise than as written, or the file cannot be
// read; such a tree is built, so that Ward reads what kustomize applies:
//
//   - an object annotated config.kubernetes.io/local-config is left out
//     (a NetworkPolicy so annotated is never applied);
//   - an unquoted yes, on, n... is read as a string and written quoted,
//     where Ward's loader reads it as kubectl does, the YAML 1.1 way (env
//     value: yes is the boolean true, which a string field refuses);
//   - so is such a key (on: x), which Ward's loader makes "true", and a
//     key that is a number, null or a boolean to YAML;
//   - merge keys (<<) apply as yaml.v3 applies them, the mapping's own
//     keys first, where Ward's loader applies them in the order of the
//     text, as kubectl does: {privileged: true, <<: {privileged: false}}
//     is privileged after kustomize's build.
func builtDifferently(path string, limit int64) bool {
	data, err := manifest.ReadFile(path, limit)
	return err != nil || bytes.Contains(data, localConfig) || yaml11Bools.Match(data) || yaml11Keys.Match(data) || bytes.Contains(data, mergeKey)
}
