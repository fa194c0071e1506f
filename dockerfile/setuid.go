package dockerfile

import (
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// setuidSite is an instruction of a stage that gives a file the setuid or
// setgid bit.
type setuidSite struct {
	line int
	what string // "COPY --chmod=4755", "RUN chmod u+s"
	bits uint64 // of modeSetuid and modeSetgid, those the mode sets
}

// The bits of a mode that setuidSite reports.
const (
	modeSetuid = 0o4000
	modeSetgid = 0o2000
)

// symbolicSetuid matches a symbolic mode clause that sets s: u+s, g=rxs,
// +s, a+rwxs. Its group is who the clause is for.
var symbolicSetuid = regexp.MustCompile(`^([ugoa]*)[+=][rwxXst]*s[rwxXst]*$`)

// setuidBits returns the setuid and setgid bits (modeSetuid, modeSetgid)
// that mode sets, as chmod and BuildKit's --chmod read it: those of an
// octal mode, or those a symbolic clause adds with s (u+s the setuid bit,
// g+s the setgid bit, +s and a+s both; o+s neither, chmod ignores it).
// Modes it cannot read (variables left unexpanded) set none.
func setuidBits(mode string) uint64 {
	mode = strings.TrimSpace(mode)
	if mode == "" {
		return 0
	}
	if n, err := strconv.ParseUint(mode, 8, 32); err == nil {
		return n & (modeSetuid | modeSetgid)
	}
	var bits uint64
	for _, clause := range strings.Split(mode, ",") {
		m := symbolicSetuid.FindStringSubmatch(clause)
		if m == nil {
			continue
		}
		who := m[1]
		if who == "" || strings.Contains(who, "a") {
			who = "ug"
		}
		if strings.Contains(who, "u") {
			bits |= modeSetuid
		}
		if strings.Contains(who, "g") {
			bits |= modeSetgid
		}
	}
	return bits
}

// chmodOptions are chmod's options that take the next word.
var chmodOptions = []string{"--reference"}

// runChmod is a chmod of a RUN that sets the setuid or setgid bit.
type runChmod struct {
	mode string
	bits uint64
	cmd  string // chmod, install or mkdir
}

// runSetuid returns the chmod commands of a RUN that set setuid or setgid:
// of its heredoc bodies when it has any, of its exec-form arguments, or of
// its shell-form command line. A chmod that sets only the setgid bit, not
// recursively, of paths that the same RUN creates as directories (mkdir,
// install -d) or that find selects as directories (find -type d -exec
// chmod g+s {} +) is left out: on a directory, setgid only makes the
// files created in it take its group, the shared-directory pattern.
//
// cmds are the RUN's commands (runCommands).
func runSetuid(cmds [][]string) []runChmod {
	var chmods []chmodCall
	dirs := map[string]bool{}
	for _, words := range cmds {
		cs, ds := commandSetuid(words)
		chmods = append(chmods, cs...)
		for _, p := range ds {
			dirs[path.Clean(p)] = true
		}
	}
	var out []runChmod
	for _, ch := range chmods {
		if ch.bits == modeSetgid && !ch.recursive && len(ch.paths) > 0 && !slices.ContainsFunc(ch.paths, func(p string) bool { return p == "" || p != findDir && !dirs[path.Clean(p)] }) {
			continue
		}
		out = append(out, runChmod{ch.mode, ch.bits, ch.cmd})
	}
	return out
}

// commandSetuid returns what one command (its words, "" for those that
// are not literal) sets setuid or setgid on, as chmod, install -m or
// mkdir -m, and the directories it creates (mkdir, install -d).
func commandSetuid(words []string) ([]chmodCall, []string) {
	if ch, ok := chmodSetuid(words); ok {
		return []chmodCall{ch}, nil
	}
	im, ok := parseInstallMkdir(words)
	if !ok {
		return nil, nil
	}
	var dirs []string
	if im.dir {
		dirs = im.operands
	}
	if bits := setuidBits(im.mode); bits != 0 {
		// The paths are those it creates as directories, none for files,
		// so that a setgid directory is left out as a chmod of one is.
		return []chmodCall{{cmd: im.cmd + " -m", mode: im.mode, bits: bits, paths: dirs}}, dirs
	}
	return nil, dirs
}

// commandWords returns words without the commands that run them, with
// their options and, for env, its assignments: sudo (sudo -u root -E
// chmod ...), env (env -i X=1 chmod ...), busybox, exec, command, nohup,
// nice, time, xargs (xargs -0 chmod 777), timeout (timeout 60 sh) and
// chroot (chroot /mnt chmod ...).
func commandWords(words []string) []string {
	for {
		rest, ok := unwrap(words)
		if !ok {
			return words
		}
		words = rest
	}
}

// unwrap removes one of the commands commandWords removes, with its
// options, from the start of words, and reports whether there was one.
func unwrap(words []string) ([]string, bool) {
	if len(words) == 0 {
		return words, false
	}
	name := words[0][strings.LastIndexByte(words[0], '/')+1:]
	valueOpts, ok := wrapperValueOptions[name]
	if !ok {
		return words, false
	}
	words = words[1:]
	for len(words) > 0 && name != "busybox" {
		w := words[0]
		switch {
		case w == "--":
			return words[1:], true
		case strings.HasPrefix(w, "-") && len(w) > 1:
			words = words[1:]
			if slices.Contains(valueOpts, w) && len(words) > 0 {
				words = words[1:]
			}
		case name == "env" && strings.Contains(w, "=") && !strings.HasPrefix(w, "="):
			words = words[1:]
		default:
			if name == "timeout" || name == "chroot" {
				words = words[1:] // timeout DURATION cmd, chroot DIR cmd
			}
			return words, true
		}
	}
	return words, true
}

// wrapperValueOptions are the commands commandWords removes, with their
// options that take the next word as their value.
var wrapperValueOptions = map[string][]string{
	"sudo":    {"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-T", "-U", "-R", "--user", "--group", "--chdir", "--prompt", "--role", "--type", "--host", "--other-user", "--command-timeout", "--chroot", "--close-from"},
	"env":     {"-u", "-C", "-S", "--unset", "--chdir", "--split-string"},
	"busybox": nil,
	"exec":    {"-a"},
	"command": nil,
	"nohup":   nil,
	"nice":    {"-n", "--adjustment"},
	"time":    {"-f", "-o", "--format", "--output"},
	"xargs":   {"-a", "-d", "-E", "-I", "-L", "-n", "-P", "-s", "--arg-file", "--delimiter", "--max-lines", "--max-args", "--max-procs", "--max-chars", "--process-slot-var"},
	"timeout": {"-s", "-k", "--signal", "--kill-after"},
	"chroot":  {"--userspec", "--groups"},
}

// isCommand reports whether word runs the command name (name or a path
// ending in /name).
func isCommand(word, name string) bool {
	return word == name || strings.HasSuffix(word, "/"+name)
}

// installMkdir is an install or mkdir command as its options read.
type installMkdir struct {
	cmd      string // "install" or "mkdir"
	mode     string // of -m MODE, -mMODE, --mode MODE, --mode=MODE
	dir      bool   // it creates directories: mkdir, install -d (--directory)
	operands []string
}

// installLongValue are the long options of install and mkdir that take
// the next word as their value when not written --opt=value.
var installLongValue = []string{"--mode", "--owner", "--group", "--target-directory", "--suffix", "--context"}

// parseInstallMkdir reads words (run directly or through sudo, env,
// busybox or exec) as an install or mkdir command, as getopt does: a
// cluster of short options ends at the first option that takes a value
// (install's -m, -o, -g, -t, -S; mkdir's -m), which is the rest of the
// word or the next word, so `install -odaemon` names the owner daemon
// and is no -d.
func parseInstallMkdir(words []string) (installMkdir, bool) {
	words = commandWords(words)
	if len(words) < 2 {
		return installMkdir{}, false
	}
	var im installMkdir
	var takesValue string
	switch {
	case isCommand(words[0], "mkdir"):
		im.cmd, im.dir, takesValue = "mkdir", true, "m"
	case isCommand(words[0], "install"):
		im.cmd, takesValue = "install", "mogtS"
	default:
		return installMkdir{}, false
	}
	for i := 1; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "--":
			im.operands = append(im.operands, words[i+1:]...)
			i = len(words)
		case w == "--directory":
			im.dir = true
		case strings.HasPrefix(w, "--"):
			opt, val, hasValue := strings.Cut(w, "=")
			if !hasValue && slices.Contains(installLongValue, opt) {
				val = ""
				if i+1 < len(words) {
					val = words[i+1]
				}
				i++
			}
			if opt == "--mode" {
				im.mode = val
			}
		case strings.HasPrefix(w, "-") && len(w) > 1:
			for k := 1; k < len(w); k++ {
				if w[k] == 'd' && im.cmd == "install" {
					im.dir = true
				}
				if strings.IndexByte(takesValue, w[k]) < 0 {
					continue
				}
				val := w[k+1:]
				if val == "" {
					if i+1 < len(words) {
						val = words[i+1]
					}
					i++
				}
				if w[k] == 'm' {
					im.mode = val
				}
				break
			}
		default:
			im.operands = append(im.operands, w)
		}
	}
	return im, true
}

// chmodCall is a chmod command that sets setuid or setgid.
type chmodCall struct {
	cmd       string // chmod, install or mkdir -m
	mode      string
	bits      uint64
	paths     []string // its operands, "" for those that are not literal
	recursive bool
}

// chmodSetuid reports whether words are a chmod command (run directly or
// through sudo, env or busybox) whose mode sets setuid or setgid, and that
// command.
func chmodSetuid(words []string) (chmodCall, bool) {
	ch, ok := parseChmod(words)
	if !ok {
		return chmodCall{}, false
	}
	ch.bits = setuidBits(ch.mode)
	return ch, ch.bits != 0
}

// parseChmod reports whether words are a chmod command (run directly or
// through the commands commandWords removes) with a mode, and reads it:
// its mode, paths and whether it is recursive (bits left 0).
func parseChmod(words []string) (chmodCall, bool) {
	words = commandWords(words)
	if len(words) < 2 || !isCommand(words[0], "chmod") {
		return chmodCall{}, false
	}
	ch := chmodCall{cmd: "chmod"}
	for i := 1; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "--":
			if i+1 < len(words) {
				ch.mode, ch.paths = words[i+1], words[i+2:]
			}
		case w == "--recursive":
			ch.recursive = true
			continue
		case strings.HasPrefix(w, "--"):
			if !strings.Contains(w, "=") && slices.Contains(chmodOptions, w) {
				i++
			}
			continue
		case strings.HasPrefix(w, "-") && strings.Trim(w, "-Rcfv") == "":
			// -R, -v, -cf ...: options, not a mode such as -s.
			ch.recursive = ch.recursive || strings.Contains(w, "R")
			continue
		default:
			ch.mode = w
			// GNU chmod takes options after the mode too (chmod g+s
			// dir -R), up to a "--".
			for j := i + 1; j < len(words); j++ {
				switch p := words[j]; {
				case p == "--":
					ch.paths = append(ch.paths, words[j+1:]...)
					j = len(words)
				case p == "--recursive" || strings.HasPrefix(p, "-") && len(p) > 1 && strings.Trim(p, "-Rcfv") == "":
					ch.recursive = ch.recursive || p == "--recursive" || strings.Contains(p, "R")
				case strings.HasPrefix(p, "--"):
				default:
					ch.paths = append(ch.paths, p)
				}
			}
		}
		return ch, ch.mode != ""
	}
	return chmodCall{}, false
}
