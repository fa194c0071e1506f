package dockerfile

import (
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// symbolicClause matches a symbolic chmod clause: who, operator, perms.
var symbolicClause = regexp.MustCompile(`^([ugoa]*)([-+=])([rwxXst]*)$`)

// worldWritable reports whether mode, as chmod, install -m, mkdir -m and
// BuildKit's --chmod read it, lets every user write: an octal mode with
// bit 0002 (777, 666, 0757), or symbolic clauses that, read in order as
// chmod applies them, leave others' w set (o+w, a=rwx, go+w; not
// a+rwX,o-w), unless the mode sets the sticky bit (1777, +t: the /tmp
// pattern, where users cannot remove each other's files). A clause
// without who (+w, =rwx) follows the umask, which keeps others from
// writing, and is not counted. Modes that are not literal are not
// judged.
func worldWritable(mode string) bool {
	ww, sticky, _ := applyMode(false, false, mode)
	return ww && !sticky
}

// applyMode returns whether others may write and the sticky bit is set
// after chmod applies mode to a file whose others' w and sticky bits
// are ww and sticky, and false for a mode it does not read (empty, not
// literal), which leaves them as they were.
func applyMode(ww, sticky bool, mode string) (bool, bool, bool) {
	mode = strings.TrimSpace(mode)
	if mode == "" {
		return ww, sticky, false
	}
	if n, err := strconv.ParseUint(mode, 8, 32); err == nil {
		return n&0o002 != 0, n&0o1000 != 0, true
	}
	for _, clause := range strings.Split(mode, ",") {
		m := symbolicClause.FindStringSubmatch(clause)
		if m == nil {
			continue
		}
		who, op, perms := m[1], m[2], m[3]
		others := strings.ContainsAny(who, "oa")
		switch op {
		case "+":
			ww = ww || others && strings.Contains(perms, "w")
			sticky = sticky || strings.Contains(perms, "t")
		case "-":
			ww = ww && !(others && strings.Contains(perms, "w"))
			sticky = sticky && !strings.Contains(perms, "t")
		case "=":
			if others {
				ww = strings.Contains(perms, "w")
				sticky = strings.Contains(perms, "t")
			}
		}
	}
	return ww, sticky, true
}

// chmodStaysWorldWritable reports whether a world-writable chmod, the
// command at cmds[i] run at sites[i], leaves a file of the image
// writable by others when the RUN ends: not when each of its paths is a
// device node (/dev/null is no file of the image; unless the RUN links
// a path under /dev, ln -s /app /dev/x), or is made sticky or closed to
// others by a later chmod of the RUN that surely runs after it
// (runsAfter: chmod 0777 d && chmod o+t d, not if false; then chmod
// 0755 d; fi). A recursive chmod counts as undone only by a recursive
// one.
func chmodStaysWorldWritable(ch chmodCall, cmds [][]string, sites []*cmdSite, i int) bool {
	if len(ch.paths) == 0 {
		return true
	}
	devLinks := slices.ContainsFunc(cmds, linksUnderDev)
	for _, p := range ch.paths {
		if p != "" && !devLinks && strings.HasPrefix(path.Clean(p), "/dev/") {
			continue
		}
		if p == "" || p == findDir {
			return true
		}
		ww, sticky, _ := applyMode(false, false, ch.mode)
		for j := i + 1; j < len(cmds); j++ {
			l, ok := parseChmod(cmds[j])
			if !ok || ch.recursive && !l.recursive || !slices.Contains(l.paths, p) || !runsAfter(sites[i], sites[j]) {
				continue
			}
			ww, sticky, _ = applyMode(ww, sticky, l.mode)
		}
		if ww && !sticky {
			return true
		}
	}
	return false
}

// linksUnderDev reports whether words are an ln command (run directly
// or through the commands commandWords removes) that makes a link under
// /dev, or whose link is not literal: a chmod of that /dev path then
// changes a file of the image. The link is the last operand, or in the
// -t or --target-directory directory; the target (ln -sf /dev/stdout
// /var/log/app.log) is not the link.
func linksUnderDev(words []string) bool {
	words = commandWords(words)
	if len(words) < 2 || !isCommand(words[0], "ln") {
		return false
	}
	underDev := func(w string) bool {
		return w == "" || w == "/dev" || strings.HasPrefix(path.Clean(w), "/dev/")
	}
	var operands []string
	target := false // -t: the operands are targets
	for i := 1; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "--":
			operands = append(operands, words[i+1:]...)
			i = len(words)
		case strings.HasPrefix(w, "--"):
			name, val, hasVal := strings.Cut(w, "=")
			if !strings.HasPrefix("--target-directory", name) && !strings.HasPrefix("--suffix", name) || len(name) < 3 {
				continue
			}
			if !hasVal {
				if i++; i >= len(words) {
					return false
				}
				val = words[i]
			}
			if strings.HasPrefix("--target-directory", name) {
				target = true
				if underDev(val) {
					return true
				}
			}
		case len(w) > 1 && w[0] == '-':
			for k := 1; k < len(w); k++ {
				if w[k] != 't' && w[k] != 'S' {
					continue
				}
				val := w[k+1:]
				if val == "" {
					if i++; i >= len(words) {
						return false
					}
					val = words[i]
				}
				if w[k] == 't' {
					target = true
					if underDev(val) {
						return true
					}
				}
				break
			}
		default:
			operands = append(operands, w)
		}
	}
	return !target && len(operands) > 1 && underDev(operands[len(operands)-1])
}

// permSite is an instruction that makes files of a stage world-writable.
type permSite struct {
	line int
	what string // "RUN chmod -R 777", "COPY --chmod=666"
}

// runWorldWritable returns the commands of a RUN that make files
// world-writable (chmod, install -m, mkdir -m), as "chmod 777",
// "chmod -R o+w", "mkdir -m 777", of its commands (runCommands).
//
// sites are where the RUN's scripts run them (runCommands).
func runWorldWritable(cmds [][]string, sites []*cmdSite) []string {
	var out []string
	for i, words := range cmds {
		if ch, ok := parseChmod(words); ok && worldWritable(ch.mode) {
			if !chmodStaysWorldWritable(ch, cmds, sites, i) {
				continue
			}
			what := "chmod " + ch.mode
			if ch.recursive {
				what = "chmod -R " + ch.mode
			}
			out = append(out, what)
			continue
		}
		if m, ok := umaskWorldWritable(words); ok {
			out = append(out, "umask "+m)
			continue
		}
		if acl, ok := setfaclWorldWritable(words); ok {
			out = append(out, "setfacl -m "+acl)
			continue
		}
		if im, ok := parseInstallMkdir(words); ok && worldWritable(im.mode) {
			out = append(out, im.cmd+" -m "+im.mode)
		}
	}
	return out
}

// setfaclWorldWritable reports whether words are a setfacl command
// (run directly or through the commands commandWords removes) whose
// -m, --modify, -s or --set entries give others write permission
// (o::rwx, other:rw-, o::7, d:o::w for the files created later), and
// that entry.
func setfaclWorldWritable(words []string) (string, bool) {
	words = commandWords(words)
	if len(words) < 2 || !isCommand(words[0], "setfacl") {
		return "", false
	}
	for i := 1; i < len(words); i++ {
		w, spec := words[i], ""
		switch {
		case w == "-m" || w == "--modify" || w == "-s" || w == "--set":
			if i+1 < len(words) {
				spec = words[i+1]
				i++
			}
		case strings.HasPrefix(w, "--modify=") || strings.HasPrefix(w, "--set="):
			_, spec, _ = strings.Cut(w, "=")
		case strings.HasPrefix(w, "-") && !strings.HasPrefix(w, "--") && strings.ContainsAny(w, "ms"):
			// A cluster ending with m or s (-Rm): its value is the next word.
			if last := w[len(w)-1]; (last == 'm' || last == 's') && i+1 < len(words) {
				spec = words[i+1]
				i++
			}
		}
		for _, e := range strings.Split(spec, ",") {
			parts := strings.Split(strings.TrimSpace(e), ":")
			if len(parts) > 0 && (parts[0] == "d" || parts[0] == "default") {
				parts = parts[1:]
			}
			if len(parts) < 2 || parts[0] != "o" && parts[0] != "other" {
				continue
			}
			perms := parts[len(parts)-1]
			if n, err := strconv.ParseUint(perms, 8, 8); err == nil && len(perms) == 1 {
				if n&2 != 0 {
					return e, true
				}
			} else if strings.Contains(perms, "w") {
				return e, true
			}
		}
	}
	return "", false
}

// umaskWorldWritable reports whether words are a umask command that lets
// the files the rest of the RUN creates be written by others (umask 000,
// umask 0020, umask o=rwx): mkdir, cp, tar and the like then make them
// world-writable. Its mask.
func umaskWorldWritable(words []string) (string, bool) {
	words = commandWords(words)
	if len(words) < 2 || !isCommand(words[0], "umask") {
		return "", false
	}
	for _, w := range words[1:] {
		switch {
		case w == "-S" || w == "-p":
			continue
		case w == "":
			return "", false
		}
		if n, err := strconv.ParseUint(w, 8, 32); err == nil {
			return w, n&0o002 == 0
		}
		return w, worldWritable(w) // the symbolic mask names what is allowed
	}
	return "", false
}
