package dockerfile

import (
	"github.com/wardsec/ward/internal/cmdsecret"
	"regexp"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"mvdan.cc/sh/v3/syntax"
)

// unpinned is a package install that names packages without a version.
type unpinned struct {
	manager string   // "apt-get install", "pip install", ...
	names   []string // the unpinned packages, as written
}

// runInstalls returns the unpinned installs of a RUN: of its heredoc
// bodies when it has any (each a script of its own), of its exec-form
// arguments, or of its shell-form command line.
func runInstalls(c *instructions.RunCommand, ps *shellParses) []unpinned {
	if len(c.Files) > 0 {
		var out []unpinned
		for _, f := range c.Files {
			out = append(out, unpinnedInstalls(f.Data, ps)...)
		}
		return out
	}
	if !c.PrependShell {
		if u, ok := judgeInstall(c.CmdLine); ok {
			return []unpinned{u}
		}
		return nil
	}
	return unpinnedInstalls(strings.Join(c.CmdLine, " "), ps)
}

// unpinnedInstalls parses the shell script of a RUN and returns its
// package installs that leave versions open. The script is parsed with
// mvdan.cc/sh (POSIX/bash), so quoting, command lists, pipelines and
// subshells split commands as the shell would; a script that does not
// parse, and words that are not literal (variables, command
// substitutions), are not judged: Ward does not guess.
func unpinnedInstalls(script string, ps *shellParses) []unpinned {
	f, err := ps.parse(script)
	if err != nil {
		return nil
	}
	var out []unpinned
	syntax.Walk(f, func(n syntax.Node) bool {
		call, ok := n.(*syntax.CallExpr)
		if !ok || len(call.Args) == 0 {
			return true
		}
		words := make([]string, 0, len(call.Args))
		for _, w := range call.Args {
			words = append(words, cmdsecret.Literal(w)) // "" for a non-literal word
		}
		if u, ok := judgeInstall(words); ok {
			out = append(out, u)
		}
		return true
	})
	return out
}

// installCmd describes how one package manager's install command reads.
type installCmd struct {
	subcommands []string // the install subcommand(s)
	valueOpts   []string // options that take the next word as their value
	pinned      func(pkg string) bool
	// skipAll lists options that leave pinning to a file (pip -r).
	skipAll []string
}

var (
	rpmVersion = regexp.MustCompile(`-[0-9]`)
	managers   = map[string]installCmd{
		"apt-get": {subcommands: []string{"install"}, valueOpts: []string{"-o", "-t", "--option", "--target-release", "-c", "--config-file"},
			pinned: func(p string) bool {
				return strings.Contains(p, "=") || strings.Contains(p, "/") || strings.HasSuffix(p, ".deb")
			}},
		"apk": {subcommands: []string{"add"}, valueOpts: []string{"-t", "--virtual", "-X", "--repository", "-p", "--root", "--arch", "--cache-dir", "--keys-dir", "--repositories-file"},
			pinned: func(p string) bool { return strings.ContainsAny(p, "=~<>") || strings.HasSuffix(p, ".apk") }},
		"pip": {subcommands: []string{"install"}, valueOpts: []string{"-i", "--index-url", "--extra-index-url", "-t", "--target", "--prefix", "--root",
			"-f", "--find-links", "--trusted-host", "--platform", "--python-version", "--implementation", "--abi", "--only-binary", "--no-binary",
			"-e", "--editable", "--src", "--upgrade-strategy", "--progress-bar", "--cache-dir", "--log"},
			skipAll: []string{"-r", "--requirement", "-c", "--constraint", "--require-hashes"},
			pinned: func(p string) bool {
				return strings.Contains(p, "==") || strings.Contains(p, "@") || strings.Contains(p, "/") || p == "." ||
					strings.HasSuffix(p, ".whl") || strings.HasSuffix(p, ".tar.gz") || strings.HasSuffix(p, ".zip")
			}},
		"npm": {subcommands: []string{"install", "i", "add"}, valueOpts: []string{"--registry", "--prefix", "--cache", "--userconfig", "--tag", "-w", "--workspace"},
			pinned: func(p string) bool {
				if strings.Contains(p, "/") && !strings.HasPrefix(p, "@") || strings.Contains(p, ":") || p == "." {
					return true // a path, URL, git or tarball reference
				}
				_, v, ok := strings.Cut(strings.TrimPrefix(p, "@"), "@")
				return ok && v != "" && v != "latest" && v != "next"
			}},
		"gem": {subcommands: []string{"install"}, valueOpts: []string{"-i", "--install-dir", "-n", "--bindir", "-s", "--source", "--platform"},
			skipAll: []string{"-v", "--version", "-g", "--file"},
			pinned:  func(p string) bool { return strings.Contains(p, ":") || strings.HasSuffix(p, ".gem") }},
		"yum": {subcommands: []string{"install"}, valueOpts: []string{"-x", "--exclude", "--releasever", "--installroot", "--setopt", "--enablerepo", "--disablerepo", "--repo"},
			pinned: func(p string) bool {
				return rpmVersion.MatchString(p) || strings.HasSuffix(p, ".rpm") || strings.Contains(p, "/")
			}},
		"zypper": {subcommands: []string{"install", "in"}, valueOpts: []string{"-r", "--repo", "--from", "-t", "--type"},
			pinned: func(p string) bool {
				return strings.ContainsAny(p, "=<>") || strings.HasSuffix(p, ".rpm") || strings.Contains(p, "/")
			}},
		"go": {subcommands: []string{"install"}, valueOpts: []string{"-ldflags", "-gcflags", "-tags", "-o", "-mod", "-modfile", "-p", "-toolexec", "-asmflags", "-pkgdir"},
			pinned: func(p string) bool {
				// Without @version, go install builds the version go.mod
				// requires; a branch or latest moves.
				_, v, ok := strings.Cut(p, "@")
				return !ok || !slices.Contains([]string{"", "latest", "master", "main"}, v)
			}},
	}
	// aliases name the same manager under other commands.
	managerAliases = map[string]string{"apt": "apt-get", "pip3": "pip", "dnf": "yum", "microdnf": "yum", "tdnf": "yum"}
)

// judgeInstall reports whether words (a command's literal words, "" for
// others) install packages without versions, and which.
func judgeInstall(words []string) (unpinned, bool) {
	for len(words) > 0 && (words[0] == "sudo" || words[0] == "command" || words[0] == "exec") {
		words = words[1:]
	}
	if len(words) >= 3 && (words[0] == "python" || words[0] == "python3") && words[1] == "-m" && words[2] == "pip" {
		words = words[2:]
	}
	if len(words) < 2 {
		return unpinned{}, false
	}
	name := words[0]
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:] // /usr/bin/pip
	}
	if a, ok := managerAliases[name]; ok {
		name = a
	}
	m, ok := managers[name]
	if !ok {
		return unpinned{}, false
	}
	// The subcommand is the first word that is not an option (apt-get -y
	// install, yum -q install).
	rest := words[1:]
	for len(rest) > 0 && strings.HasPrefix(rest[0], "-") {
		if slices.Contains(m.valueOpts, rest[0]) && len(rest) > 1 {
			rest = rest[1:]
		}
		rest = rest[1:]
	}
	if len(rest) == 0 || !slices.Contains(m.subcommands, rest[0]) {
		return unpinned{}, false
	}
	u := unpinned{manager: words[0] + " " + rest[0]}
	args := rest[1:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "":
			continue // not literal: not judged
		case a == "--":
			continue
		case strings.HasPrefix(a, "-"):
			opt, _, hasValue := strings.Cut(a, "=")
			if slices.Contains(m.skipAll, opt) {
				return unpinned{}, false
			}
			if !hasValue && slices.Contains(m.valueOpts, opt) {
				i++
			}
			continue
		}
		if !m.pinned(a) {
			u.names = append(u.names, a)
		}
	}
	return u, len(u.names) > 0
}
