package kustomize

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/wardsec/ward/manifest"
)

// FileNames are the names kustomize recognises for a kustomization file.
var FileNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// IsKustomization reports whether dir holds a kustomization file.
func IsKustomization(dir string) bool {
	_, ok := fileOf(dir)
	return ok
}

// fileOf returns the kustomization file of dir.
func fileOf(dir string) (string, bool) {
	for _, n := range FileNames {
		file := filepath.Join(dir, n)
		if st, err := os.Stat(file); err == nil && st.Mode().IsRegular() {
			return file, true
		}
	}
	return "", false
}

// fileNames returns the names of the kustomization files dir holds.
func fileNames(dir string) []string {
	var out []string
	for _, n := range FileNames {
		if st, err := os.Stat(filepath.Join(dir, n)); err == nil && st.Mode().IsRegular() {
			out = append(out, n)
		}
	}
	return out
}

// listed is the part of a kustomization that names other kustomizations.
type listed struct {
	Resources  []string `yaml:"resources"`
	Bases      []string `yaml:"bases"`
	Components []string `yaml:"components"`
}

// References returns the local directories the kustomization in dir
// builds on (its resources, bases and components that are directories):
// a kustomization another one references is a base, not built on its own.
// A kustomization file larger than limit (0: manifest.DefaultMaxFileSize)
// is not read: it references nothing, and Build reports it.
func References(dir string, limit int64) []string {
	file, ok := fileOf(dir)
	if !ok {
		return nil
	}
	data, err := manifest.ReadFile(file, limit)
	if err != nil {
		return nil // Build reports it
	}
	var k listed
	if yaml.Unmarshal(data, &k) != nil {
		return nil
	}
	// kustomize matches keys case folded and, of two spellings of one
	// field ("resources", "reſources"), reads one only: a base named by
	// the other would be left to a build that never reads it. Such a
	// kustomization builds on nothing here: its bases are built on their
	// own too.
	var top map[string]any
	if yaml.Unmarshal(data, &top) != nil {
		return nil
	}
	for key := range top {
		for _, f := range []string{"resources", "bases", "components"} {
			if key != f && strings.EqualFold(key, f) {
				return nil
			}
		}
	}
	var out []string
	for _, r := range slices.Concat(k.Resources, k.Bases, k.Components) {
		if isRemote(r) != "" {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(r))
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			out = append(out, filepath.Clean(p))
		}
	}
	return out
}

// Root returns the root a kustomization found under path (a path given
// on the command line) may reach: the top of the git work tree holding
// path, else path itself (or its directory, for a file). Overlays
// commonly name ../../base; inside a repository that works wherever
// Ward is pointed, outside one the directory named must hold every base.
func Root(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return path
	}
	if st, err := os.Stat(abs); err == nil && !st.IsDir() {
		abs = filepath.Dir(abs)
	}
	for d := abs; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return abs
		}
	}
}

// Result is what Build made of a kustomization directory: either Files,
// or Data.
type Result struct {
	// Files, when the tree only lists resources, are the resource files
	// in kustomize's (depth-first) order, joined to the directory built
	// as kustomize's origin annotations would name them: Ward's loader
	// reads them, with the same objects as a kustomize build.
	Files []string
	// Data is the output of a kustomize build otherwise, every object
	// with kustomize's config.kubernetes.io/origin annotation.
	Data []byte
	// Named are the local files the kustomizations of the tree name
	// (resources, patches, generator sources, ...), joined to the
	// directory of the kustomization naming them: what a build may read
	// besides the kustomization files.
	Named []string
}

// Build renders the kustomization in dir, offline: it first checks the
// tree (Check) and refuses anything non-local, so nothing runs when any
// reference is refused. root bounds what the tree may reach (see Root).
//
// limit (0: manifest.DefaultMaxFileSize, ward's --max-input-size) bounds
// memory: no file of the tree larger than it is read (an error naming
// the file), kustomize may read no more than it in all (a base counted
// each time kustomize loads it), and a build whose output passes it is
// an error naming the kustomization file and the object that passes it,
// found before the output is written out. What kustomize makes in memory
// from what it read (a patch copying a value many times) is beyond
// Ward's reach: krusty has no hook inside its build.
//
// Errors are *manifest.Error values (errors.Join of them).
func Build(dir, root string, limit int64) (Result, error) {
	if limit <= 0 {
		limit = manifest.DefaultMaxFileSize
	}
	named, err := check(dir, root, limit)
	if err != nil {
		return Result{}, err
	}
	if files, ok := plainFiles(dir, limit); ok {
		return Result{Files: files, Named: named}, nil
	}
	data, err := krustyBuild(dir, root, limit)
	if err != nil {
		var me *manifest.Error
		if errors.As(err, &me) {
			return Result{}, err
		}
		return Result{}, &manifest.Error{File: dir, Err: fmt.Errorf("kustomize build: %w", err)}
	}
	return Result{Data: data, Named: named}, nil
}

// krustyBuild runs kustomize's build on dir with plugins, Helm and
// exec disabled, through a read-only file system rooted at root that
// adds origin annotations to every kustomization, under limit (see
// Build).
func krustyBuild(dir, root string, limit int64) ([]byte, error) {
	fs, err := newRootedFS(root)
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = manifest.DefaultMaxFileSize
	}
	fs.limit, fs.read = limit, &readBudget{}
	opts := krusty.MakeDefaultOptions()
	opts.LoadRestrictions = types.LoadRestrictionsRootOnly
	opts.PluginConfig = types.DisabledPluginConfig() // builtins only; Helm disabled (HelmConfig.Enabled false)
	opts.PluginConfig.HelmConfig.Enabled = false
	opts.PluginConfig.FnpLoadingOptions.EnableExec = false
	opts.PluginConfig.FnpLoadingOptions.Network = false
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	m, err := krusty.MakeKustomizer(opts).Run(fs, abs)
	if fs.read.err != nil {
		return nil, fs.read.err // whatever kustomize made of it
	}
	if err != nil {
		return nil, err
	}
	return output(m, dir, limit)
}

// output writes m as ResMap.AsYaml does, object by object, and stops at
// the object that takes it past limit: an error naming the kustomization
// file of dir and the object.
func output(m resmap.ResMap, dir string, limit int64) ([]byte, error) {
	var out bytes.Buffer
	for i, r := range m.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			return nil, err
		}
		sep := ""
		if i > 0 {
			sep = "---\n"
		}
		if int64(out.Len()+len(sep)+len(y)) > limit {
			file, _ := fileOf(dir)
			return nil, &manifest.Error{File: file, Object: r.CurId().String(),
				Err: fmt.Errorf("%w: kustomize build: the output is larger than %s (see --max-input-size)", manifest.ErrTooLarge, manifest.FormatSize(limit))}
		}
		out.WriteString(sep)
		out.Write(y)
	}
	return out.Bytes(), nil
}

// readBudget is what kustomize read in one build: every read of a file
// counts, a base loaded twice is read twice.
type readBudget struct {
	total int64
	// err is the first read refused for the size limit: it names the
	// file, which kustomize's own error may not.
	err error
}

// errOutside is the error of the rooted file system for a path outside
// its root.
var errOutside = errors.New("outside the kustomization root: ward does not let kustomize read it")

// errReadOnly is the error of the rooted file system for any write.
var errReadOnly = errors.New("read-only: ward does not let kustomize write")

// rootedFS is the disk as kustomize sees it in Build: read-only, nothing
// outside root (symlinks resolved), and every kustomization file turned
// into one that asks for origin annotations (buildMetadata:
// [originAnnotations]), so that findings point at the source files.
type rootedFS struct {
	filesys.FileSystem
	root string // absolute, symlinks resolved
	// limit bounds each file and, through read, all that one build reads
	// (see Build); 0 leaves reads unbounded.
	limit int64
	read  *readBudget
}

func newRootedFS(root string) (rootedFS, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return rootedFS{}, err
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		abs = r
	}
	return rootedFS{FileSystem: filesys.MakeFsOnDisk(), root: abs}, nil
}

// inside reports whether path, symlinks resolved, is under the root. A
// path that does not exist is judged by its nearest existing parent.
func (r rootedFS) inside(path string) bool {
	abs, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	rest := ""
	for {
		if res, err := filepath.EvalSymlinks(abs); err == nil {
			return within(r.root, filepath.Join(res, rest))
		}
		parent := filepath.Dir(abs)
		if parent == abs {
			return false
		}
		rest = filepath.Join(filepath.Base(abs), rest)
		abs = parent
	}
}

// within reports whether path is root or under it (both clean, absolute).
func within(root, path string) bool {
	rel, err := filepath.Rel(root, path)
	return err == nil && rel != ".." && !filepath.IsAbs(rel) && (len(rel) < 3 || rel[:3] != ".."+string(filepath.Separator))
}

func (r rootedFS) Create(string) (filesys.File, error) { return nil, errReadOnly }
func (r rootedFS) Mkdir(string) error                  { return errReadOnly }
func (r rootedFS) MkdirAll(string) error               { return errReadOnly }
func (r rootedFS) RemoveAll(string) error              { return errReadOnly }
func (r rootedFS) WriteFile(string, []byte) error      { return errReadOnly }
func (r rootedFS) Exists(path string) bool             { return r.inside(path) && r.FileSystem.Exists(path) }
func (r rootedFS) IsDir(path string) bool              { return r.inside(path) && r.FileSystem.IsDir(path) }
func (r rootedFS) Open(path string) (filesys.File, error) {
	if !r.inside(path) {
		return nil, fmt.Errorf("%s: %w", path, errOutside)
	}
	return r.FileSystem.Open(path)
}

func (r rootedFS) ReadDir(path string) ([]string, error) {
	if !r.inside(path) {
		return nil, fmt.Errorf("%s: %w", path, errOutside)
	}
	return r.FileSystem.ReadDir(path)
}

func (r rootedFS) CleanedAbs(path string) (filesys.ConfirmedDir, string, error) {
	if !r.inside(path) {
		return "", "", fmt.Errorf("%s: %w", path, errOutside)
	}
	return r.FileSystem.CleanedAbs(path)
}

func (r rootedFS) Glob(pattern string) ([]string, error) {
	m, err := r.FileSystem.Glob(pattern)
	return slices.DeleteFunc(m, func(p string) bool { return !r.inside(p) }), err
}

func (r rootedFS) Walk(path string, fn filepath.WalkFunc) error {
	if !r.inside(path) {
		return fmt.Errorf("%s: %w", path, errOutside)
	}
	return r.FileSystem.Walk(path, fn)
}

func (r rootedFS) ReadFile(path string) ([]byte, error) {
	if !r.inside(path) {
		return nil, fmt.Errorf("%s: %w", path, errOutside)
	}
	data, err := r.readFile(path)
	if err != nil || !slices.Contains(FileNames, filepath.Base(path)) {
		return data, err
	}
	return withOriginAnnotations(data)
}

// readFile reads path under the limit: a file larger than it, or one
// that takes what kustomize read in this build past it, is refused.
func (r rootedFS) readFile(path string) ([]byte, error) {
	if r.limit <= 0 {
		return r.FileSystem.ReadFile(path)
	}
	if r.read.err != nil {
		return nil, r.read.err
	}
	data, err := manifest.ReadFile(path, r.limit)
	switch {
	case errors.Is(err, manifest.ErrTooLarge):
		r.read.err = &manifest.Error{File: path, Err: fmt.Errorf("%w: %w", manifest.ErrRead, err)}
		return nil, r.read.err
	case err != nil:
		return nil, err
	}
	if r.read.total += int64(len(data)); r.read.total > r.limit {
		r.read.err = &manifest.Error{File: path, Err: fmt.Errorf("%w: kustomize build: the files it reads (each base as many times as it is loaded) add up to more than %s (see --max-input-size)", manifest.ErrTooLarge, manifest.FormatSize(r.limit))}
		return nil, r.read.err
	}
	return data, nil
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
