// Package conventions holds repo-wide tests of how Ward's Go code is laid
// out, in the spirit of Tailscale's pkgdoc_test.go. It has no non-test
// code; `go test ./internal/conventions` checks the whole module.
//
// The conventions, for every directory of the module that holds non-test
// .go files (skipping testdata, vendor, bench/out, nested modules, hidden
// and _-prefixed directories, and files constrained by //go:build ignore):
//
//   - Exactly one file carries the package doc comment. In a library
//     package it starts "Package <name> " and, when the package has more
//     than one non-test file, lives in doc.go. In a main package it names
//     the command, "Command <dir> ..." or "<Dir> ..." (go.dev/doc/comment:
//     "Gofmt formats Go programs."), where <dir> is the directory's name.
//   - The package is not a grab bag: no util, utils, common, helper,
//     helpers, misc or types, as a package name or a directory name.
//   - Every library package (not main) has at least one Example function
//     in a _test.go file, so its documentation shows runnable use. main
//     packages are exempt: go test does not run examples of commands as
//     documentation, and the CLI is tested through internal/cli.
//
// Each test reports every offending package at once, sorted, so the list
// is a to-do list.
package conventions

import (
	"go/ast"
	"go/build/constraint"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// goPackage is what the tests need to know about one directory.
type goPackage struct {
	dir      string   // slash-separated, relative to the module root; "." for the root
	names    []string // distinct package names of the non-test files
	files    []string // non-test .go files, base names
	docFiles []string // non-test files with a package doc comment
	docs     []string // their doc comment texts, parallel to docFiles
	examples []string // Example functions in _test.go files
	errs     []string // files that did not parse
}

// name is the package's name, or "" when its files disagree.
func (p *goPackage) name() string {
	if len(p.names) != 1 {
		return ""
	}
	return p.names[0]
}

// moduleRoot walks up from the working directory (the package directory
// under go test) to the directory holding go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// skipDir reports whether the walk leaves out the directory rel (slash
// separated, relative to the module root) with base name base.
func skipDir(root, rel, base string) bool {
	if rel == "." {
		return false
	}
	if strings.HasPrefix(base, ".") || strings.HasPrefix(base, "_") ||
		base == "testdata" || base == "vendor" || rel == "bench/out" {
		return true
	}
	// A nested module is not part of this one.
	_, err := os.Stat(filepath.Join(root, filepath.FromSlash(rel), "go.mod"))
	return err == nil
}

// ignored reports whether f is excluded from every build by the
// conventional //go:build ignore line (generators, one-off programs).
func ignored(f *ast.File) bool {
	for _, g := range f.Comments {
		if g.Pos() > f.Package {
			break
		}
		for _, c := range g.List {
			if !constraint.IsGoBuild(c.Text) {
				continue
			}
			expr, err := constraint.Parse(c.Text)
			if err != nil {
				return false
			}
			if tag, ok := expr.(*constraint.TagExpr); ok && tag.Tag == "ignore" {
				return true
			}
		}
	}
	return false
}

// isExample reports whether fn is an example function as go test sees it:
// Example, ExampleF, ExampleT_M or Example_suffix, with no receiver.
func isExample(fn *ast.FuncDecl) bool {
	if fn.Recv != nil {
		return false
	}
	rest, ok := strings.CutPrefix(fn.Name.Name, "Example")
	if !ok {
		return false
	}
	if rest == "" || rest[0] == '_' {
		return true
	}
	r, _ := utf8.DecodeRuneInString(rest)
	return !unicode.IsLower(r)
}

// loadPackages parses every Go file of the module, once per test binary.
func loadPackages(t *testing.T) []*goPackage {
	t.Helper()
	root := moduleRoot(t)
	byDir := map[string]*goPackage{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if skipDir(root, rel, d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasSuffix(d.Name(), ".go") ||
			strings.HasPrefix(d.Name(), ".") || strings.HasPrefix(d.Name(), "_") {
			return nil
		}
		dir := filepath.ToSlash(filepath.Dir(rel))
		p := byDir[dir]
		if p == nil {
			p = &goPackage{dir: dir}
			byDir[dir] = p
		}
		isTest := strings.HasSuffix(d.Name(), "_test.go")
		mode := parser.ParseComments | parser.SkipObjectResolution
		if !isTest {
			mode |= parser.PackageClauseOnly
		}
		f, err := parser.ParseFile(fset, path, nil, mode)
		if err != nil {
			p.errs = append(p.errs, err.Error())
			return nil
		}
		if ignored(f) {
			return nil
		}
		if isTest {
			for _, decl := range f.Decls {
				if fn, ok := decl.(*ast.FuncDecl); ok && isExample(fn) {
					p.examples = append(p.examples, fn.Name.Name)
				}
			}
			return nil
		}
		p.files = append(p.files, d.Name())
		if !slices.Contains(p.names, f.Name.Name) {
			p.names = append(p.names, f.Name.Name)
		}
		if f.Doc != nil {
			p.docFiles = append(p.docFiles, d.Name())
			p.docs = append(p.docs, f.Doc.Text())
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", root, err)
	}
	var pkgs []*goPackage
	for _, p := range byDir {
		for _, e := range p.errs {
			t.Errorf("cannot parse: %s", e)
		}
		if len(p.files) > 0 { // test-only directories (like this one) are not packages to check
			pkgs = append(pkgs, p)
		}
	}
	slices.SortFunc(pkgs, func(a, b *goPackage) int { return strings.Compare(a.dir, b.dir) })
	if len(pkgs) == 0 {
		t.Fatalf("found no Go packages under %s", root)
	}
	return pkgs
}

// report fails t with every problem, one per line, sorted.
func report(t *testing.T, what string, problems []string) {
	t.Helper()
	if len(problems) == 0 {
		return
	}
	slices.Sort(problems)
	t.Errorf("convention: %s\n%d problem(s):\n\t%s", what, len(problems), strings.Join(problems, "\n\t"))
}

func TestPackageDocs(t *testing.T) {
	var problems []string
	for _, p := range loadPackages(t) {
		name := p.name()
		if name == "" {
			problems = append(problems, p.dir+": files declare several packages: "+strings.Join(p.names, ", "))
			continue
		}
		switch len(p.docFiles) {
		case 0:
			if name == "main" {
				problems = append(problems, p.dir+": no command doc comment; add `// Command "+filepath.Base(p.dir)+" ...` above `package main`")
			} else {
				problems = append(problems, p.dir+": no package doc comment; add doc.go with `// Package "+name+" ...`")
			}
			continue
		case 1:
		default:
			problems = append(problems, p.dir+": package doc comment in several files: "+strings.Join(p.docFiles, ", ")+"; keep one")
			continue
		}
		doc, file := p.docs[0], p.docFiles[0]
		if name == "main" {
			cmd := filepath.Base(p.dir)
			if cmd == "." || cmd == "" {
				cmd = "main"
			}
			title := strings.ToUpper(cmd[:1]) + cmd[1:]
			if !strings.HasPrefix(doc, "Command "+cmd+" ") && !strings.HasPrefix(doc, title+" ") {
				problems = append(problems, p.dir+"/"+file+": command doc should start `Command "+cmd+" ` or `"+title+" `, got "+firstLine(doc))
			}
			continue
		}
		if !strings.HasPrefix(doc, "Package "+name+" ") {
			problems = append(problems, p.dir+"/"+file+": package doc should start `Package "+name+" `, got "+firstLine(doc))
		}
		if len(p.files) > 1 && file != "doc.go" {
			problems = append(problems, p.dir+"/"+file+": package doc of a multi-file package belongs in doc.go")
		}
	}
	report(t, "exactly one package doc comment, `Package x ...` in doc.go (`Command x ...` for main)", problems)
}

// firstLine quotes the first line of a doc comment for messages.
func firstLine(doc string) string {
	line, _, _ := strings.Cut(doc, "\n")
	return `"` + line + `"`
}

// grabBag are names that say nothing about what a package is.
var grabBag = []string{"util", "utils", "common", "helper", "helpers", "misc", "types"}

func TestPackageNames(t *testing.T) {
	var problems []string
	for _, p := range loadPackages(t) {
		for _, n := range p.names {
			if slices.Contains(grabBag, n) {
				problems = append(problems, p.dir+": package name "+n)
			}
		}
		if base := filepath.Base(p.dir); slices.Contains(grabBag, base) && !slices.Contains(p.names, base) {
			problems = append(problems, p.dir+": directory name "+base)
		}
	}
	report(t, "packages are named by what they are, never "+strings.Join(grabBag, "/"), problems)
}

func TestExamples(t *testing.T) {
	var problems []string
	for _, p := range loadPackages(t) {
		if p.name() == "main" || p.name() == "" {
			continue // commands are exempt; TestPackageDocs reports mixed names
		}
		if len(p.examples) == 0 {
			problems = append(problems, p.dir+" (package "+p.name()+")")
		}
	}
	report(t, "every library package has an Example function in a _test.go file (e.g. example_test.go)", problems)
}

// TestConventionHelpers pins the small predicates the walk relies on.
func TestConventionHelpers(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"Example", true},
		{"ExampleSet", true},
		{"ExampleSet_Union", true},
		{"Example_second", true},
		{"Examplefoo", false},
		{"TestExample", false},
		{"example", false},
	} {
		fn := &ast.FuncDecl{Name: ast.NewIdent(tc.name)}
		if got := isExample(fn); got != tc.want {
			t.Errorf("isExample(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
	for _, tc := range []struct {
		src  string
		want bool
	}{
		{"//go:build ignore\n\npackage main\n", true},
		{"//go:build linux\n\npackage x\n", false},
		{"//go:build ignore && linux\n\npackage x\n", false},
		{"// Package x does things.\npackage x\n", false},
	} {
		f, err := parser.ParseFile(token.NewFileSet(), "x.go", tc.src, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		if got := ignored(f); got != tc.want {
			t.Errorf("ignored(%q) = %v, want %v", tc.src, got, tc.want)
		}
	}
}
