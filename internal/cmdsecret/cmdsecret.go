package cmdsecret

import (
	"regexp"
	"slices"
	"strconv"
	"strings"

	"mvdan.cc/sh/v3/syntax"

	"github.com/wardsec/ward/internal/secretscan"
)

// Secret is a secret written literally in a command line: what it looks
// like and where it stands ("a GitHub token in a URL's credentials"). It
// never holds the secret.
type Secret string

// Argv returns the secrets written in a command given as its arguments
// (an exec-form RUN, a container's command and args, a Compose command
// list): one command, or the script of `sh -c`.
//
// References a runtime expands before the program sees them, Kubernetes'
// $(VAR) and Compose's ${VAR} and $VAR, are references, never judged.
func Argv(argv []string) []Secret {
	if len(argv) >= 3 && isShell(argv[0]) && shellCommandOpt(argv[1]) {
		return Script(argv[2])
	}
	words := make([]string, len(argv))
	for i, w := range argv {
		words[i] = argRef.ReplaceAllString(w, expanded)
	}
	return callSecrets(words)
}

// ShellScript returns the script that argv runs when it is a POSIX shell
// or bash given -c (sh -c SCRIPT, bash -euxc SCRIPT), as Argv reads it.
func ShellScript(argv []string) (string, bool) {
	if len(argv) >= 3 && isShell(argv[0]) && shellCommandOpt(argv[1]) {
		return argv[2], true
	}
	return "", false
}

// ShellScriptOpt reports whether a shell option cluster ends with c, so
// that the next argument is the script (-c, -ec, -euxc).
func ShellScriptOpt(opt string) bool { return shellCommandOpt(opt) }

// argRef matches the references of Argv.
var argRef = regexp.MustCompile(`\$\([A-Za-z_][A-Za-z0-9_]*\)|\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*`)

// Parse parses a shell script as bash, the superset of the POSIX shell
// that /bin/sh -c runs.
func Parse(script string) (*syntax.File, error) {
	return syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(script), "")
}

// expanded stands, in the text of a shell word, for a part the shell
// expands at run time ($VAR, ${VAR}, $(cmd)): such parts are references,
// never judged, and no pattern matches across them.
const expanded = "\x00"

// shellCommandOpt reports whether a shell option cluster ends with c, so
// that the next argument is the script: -c, -ec, -lc, -euxc.
func shellCommandOpt(opt string) bool {
	return len(opt) >= 2 && opt[0] == '-' && opt[len(opt)-1] == 'c' && strings.Trim(opt[1:], "abefhklmnprtuvxBCEHPc") == ""
}

// isShell reports whether a command (or a shebang's interpreter) is a
// POSIX shell or bash.
func isShell(cmd string) bool {
	if i := strings.LastIndexByte(cmd, '/'); i >= 0 {
		cmd = cmd[i+1:]
	}
	return slices.Contains([]string{"sh", "bash", "dash", "ash", "ksh", "zsh"}, cmd)
}

// Script parses a shell script (mvdan.cc/sh, bash) and returns the
// secrets written in it: in assignments, command words and here-documents.
// A script with a shebang of another interpreter (python, node) is judged
// as a configuration text, by its assignments only; a script that does
// not parse is not judged, as for dockerfile/unpinned-package.
func Script(script string) []Secret {
	return ScriptParsed(script, Parse)
}

// ScriptParsed is Script with the parser of the scripts given: a caller
// that parses the same script for other checks passes a parse that
// returns its earlier result (a *syntax.File is only read here).
func ScriptParsed(script string, parse func(string) (*syntax.File, error)) []Secret {
	if first, _, _ := strings.Cut(script, "\n"); strings.HasPrefix(first, "#!") {
		interp := strings.Fields(strings.TrimPrefix(first, "#!"))
		if len(interp) > 0 && strings.HasSuffix(interp[0], "/env") && len(interp) > 1 {
			interp = interp[1:]
		}
		if len(interp) == 0 || !isShell(interp[0]) {
			return textSecrets(script, "in a script of another language")
		}
	}
	f, err := parse(script)
	if err != nil {
		return nil
	}
	var out []Secret
	syntax.Walk(f, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.CallExpr:
			for _, as := range n.Assigns {
				out = append(out, assignSecrets(as, "")...)
			}
			words := make([]string, len(n.Args))
			for i, w := range n.Args {
				words[i] = wordText(w)
			}
			out = append(out, callSecrets(words)...)
		case *syntax.DeclClause:
			for _, as := range n.Args {
				out = append(out, assignSecrets(as, n.Variant.Value)...)
			}
		case *syntax.BinaryCmd:
			if n.Op == syntax.Pipe || n.Op == syntax.PipeAll {
				out = append(out, pipeSecrets(n)...)
			}
		case *syntax.Stmt:
			for _, r := range n.Redirs {
				if r.Op == syntax.WordHdoc && r.Word != nil {
					out = append(out, hereStringSecrets(n, wordText(r.Word))...)
				}
				if r.Hdoc == nil {
					continue
				}
				body := script[r.Hdoc.Pos().Offset():r.Hdoc.End().Offset()]
				if call, ok := n.Cmd.(*syntax.CallExpr); ok && len(call.Args) > 0 && isShell(wordText(call.Args[0])) {
					out = append(out, ScriptParsed(body, parse)...)
				} else {
					out = append(out, textSecrets(body, "in a here-document")...)
				}
			}
		}
		return true
	})
	return out
}

// textSecrets judges text that is not shell (a here-document written to a
// file, a Python script) by its assignments (secretscan.Assignments): a
// secret-named key with a literal value, or a value that looks like a
// credential.
func textSecrets(text, where string) []Secret {
	var out []Secret
	for _, a := range secretscan.Assignments(text) {
		switch {
		case a.What == "its name suggests a secret" && a.Key != "":
			out = append(out, Secret("a literal value for "+a.Key+", a key named like a secret, "+where))
		case a.What == "its name suggests a secret":
			out = append(out, Secret("a literal value for a key named like a secret "+where))
		default:
			out = append(out, Secret(a.What+" "+where))
		}
	}
	return out
}

// Literal returns the value of a word made only of literal text and
// quotes, or "" when any part is expanded at run time (what
// dockerfile/unpinned-package judges).
func Literal(w *syntax.Word) string {
	if t := wordText(w); !strings.Contains(t, expanded) {
		return t
	}
	return ""
}

// wordText is the text of a shell word after quote removal, with every
// part the shell expands replaced by expanded.
func wordText(w *syntax.Word) string {
	var b strings.Builder
	for _, p := range w.Parts {
		switch p := p.(type) {
		case *syntax.Lit:
			b.WriteString(LitValue(p.Value, false))
		case *syntax.SglQuoted:
			b.WriteString(p.Value)
		case *syntax.DblQuoted:
			for _, q := range p.Parts {
				if l, ok := q.(*syntax.Lit); ok {
					b.WriteString(LitValue(l.Value, true))
				} else {
					b.WriteString(expanded)
				}
			}
		default:
			b.WriteString(expanded)
		}
	}
	return b.String()
}

// LitValue returns the text of a literal part of a shell word
// (syntax.Lit.Value) after the shell's escape removal: unquoted, \x is x
// and \<newline> nothing (s\udo runs sudo); inside double quotes
// (dquoted) only \$, \`, \", \\ and \<newline> are escapes, other
// backslashes are kept.
func LitValue(lit string, dquoted bool) string {
	if !strings.Contains(lit, `\`) {
		return lit
	}
	var b strings.Builder
	b.Grow(len(lit))
	for i := 0; i < len(lit); i++ {
		c := lit[i]
		if c != '\\' || i+1 == len(lit) {
			b.WriteByte(c)
			continue
		}
		next := lit[i+1]
		switch {
		case next == '\n':
			i++ // a line continuation
		case !dquoted || strings.IndexByte("$`\"\\", next) >= 0:
			b.WriteByte(next)
			i++
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// secretVars are variables that hold a secret although their names do
// not say so in words secretscan.Name knows: the password variables of
// the PostgreSQL and MySQL clients and of sshpass.
var secretVars = []string{"PGPASSWORD", "MYSQL_PWD", "SSHPASS"}

// assignSecrets judges a shell assignment (NAME=value before a command, on
// its own, or after export, declare, local, readonly).
func assignSecrets(as *syntax.Assign, decl string) []Secret {
	if as.Name == nil || as.Value == nil {
		return nil
	}
	return assignment(as.Name.Value, wordText(as.Value), decl)
}

// assignment judges NAME=value: a value that looks like a credential, or
// a literal value given to a name that suggests a secret.
func assignment(name, value, decl string) []Secret {
	shown := name
	if secretscan.Value(name) != "" || len(name) > 100 {
		shown = "a variable"
	}
	how := "assigned to " + shown
	switch decl {
	case "":
	case "export":
		how = "exported as " + shown
	case "local", "readonly":
		how = "declared " + decl + " as " + shown
	default: // declare, typeset, nameref
		how = "declared as " + shown
	}
	if what := valueSecret(value, true); what != "" {
		return []Secret{Secret(what + " " + how)}
	}
	if (secretscan.Name(name) || slices.Contains(secretVars, strings.ToUpper(name))) && literalSecret(value) {
		return []Secret{Secret("a literal value " + how + ", a name that suggests a secret")}
	}
	return nil
}

// literalSecret reports whether v, given where a secret is expected, is a
// literal secret: no part expanded at run time, not a placeholder
// (secretscan.Placeholder), not a boolean nor a short number.
func literalSecret(v string) bool {
	if v == "" || strings.Contains(v, expanded) || secretscan.Placeholder(v) {
		return false
	}
	switch strings.ToLower(v) {
	case "true", "false", "yes", "no", "on", "off":
		return false
	}
	if _, err := strconv.Atoi(v); err == nil && len(v) <= 6 {
		return false
	}
	return true
}

// digest matches checksums and digests written with their algorithm
// (sha256:..., sha512-... as in Subresource Integrity, Go's h1:...):
// random-looking, but not secrets.
var digest = regexp.MustCompile(`(?i)^(?:sha(?:1|224|256|384|512)|md5|blake2b|h1)[-:=]`)

// urlCreds matches the user information of a URL: scheme://user[:password]@.
var urlCreds = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://([^/\s:@` + expanded + `]*)(?::([^/\s@]*))?@`)

// valueSecret says what a word looks like when it holds a credential: in
// a URL's credentials, or as a whole (secretscan.Value), judged on its
// literal parts only. With inURL false, URLs are not looked at (the
// caller did). It returns "" otherwise.
func valueSecret(v string, inURL bool) string {
	if inURL {
		if what := urlSecret(v); what != "" {
			return what
		}
	}
	for _, part := range strings.Split(v, expanded) {
		if part == "" || digest.MatchString(part) {
			continue
		}
		if urlCreds.MatchString(part) {
			continue // judged by urlSecret: a URL with a reference as password is not a secret
		}
		if what := secretscan.Value(part); what != "" {
			return what
		}
	}
	return ""
}

// urlSecret judges the credentials of the URLs in a word: a user or
// password that looks like a credential, or a literal password.
func urlSecret(v string) string {
	for _, m := range urlCreds.FindAllStringSubmatch(v, -1) {
		user, pass := m[1], m[2]
		if what := secretscan.Value(user); what != "" && !strings.Contains(user, expanded) {
			return what + " in a URL's credentials"
		}
		if pass == "" || strings.Contains(pass, expanded) {
			continue
		}
		if what := secretscan.Value(pass); what != "" {
			return what + " in a URL's credentials"
		}
		if literalSecret(pass) {
			return "a password in a URL's credentials"
		}
	}
	return ""
}

// wrappers run the command that follows them (and their own options).
var wrappers = []string{"sudo", "exec", "command", "nohup", "time", "env", "doas"}

// secretFlag reports whether a long option (without its dashes) takes a
// password, token or secret: --password, --db-password, --token,
// --api-key, --client-secret. Options that name a file or say where the
// secret comes from (--password-file, --password-stdin) end otherwise.
func secretFlag(opt string) bool {
	opt = strings.ToLower(opt)
	for _, s := range []string{"password", "passwd", "token", "api-key", "apikey", "secret-key", "client-secret", "access-token", "auth-token"} {
		if opt == s || strings.HasSuffix(opt, "-"+s) || strings.HasSuffix(opt, "_"+s) {
			return true
		}
	}
	return opt == "pass" || opt == "pw"
}

// sudoValueOpts are the options of sudo that take the next word as
// their value.
var sudoValueOpts = []string{"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U", "--user", "--group", "--chdir", "--prompt", "--role", "--type", "--other-user", "--host", "--close-from"}

// loginTools take `login -p <password>` (or `-p<password>`).
var loginTools = []string{"docker", "podman", "nerdctl", "buildah", "skopeo", "helm", "oras", "crane", "regctl"}

// mysqlTools take -p<password>, attached: `-p <word>` names a database.
var mysqlTools = []string{"mysql", "mariadb", "mysqladmin", "mariadb-admin", "mysqldump", "mariadb-dump", "mysqlimport", "mysqlcheck", "mysqlshow", "mysqlsh"}

// npmAuth matches the npm and Yarn registry credentials keys:
// //registry/:_authToken, _auth, _password, npmAuthToken.
var npmAuth = regexp.MustCompile(`(?:^|:)(?:_authToken|_auth|_password|npmAuthToken)$`)

// callSecrets judges the words of one command (a word's expanded parts
// are expanded): password options of common tools, secret-named options,
// credentials in URLs and credential-shaped words. Each word gives at most
// one secret.
func callSecrets(words []string) []Secret {
	// A shell given a script (sh -c '...' inside a script, a Compose
	// command string): the script's secrets.
	if len(words) >= 3 && isShell(words[0]) && shellCommandOpt(words[1]) && !strings.Contains(words[2], expanded) {
		return Script(words[2])
	}
	// Skip a wrapper (sudo, env) and its options and, after env, its
	// NAME=value words.
	if len(words) > 0 && slices.Contains(wrappers, base(words[0])) {
		w := base(words[0])
		var out []Secret
		words = words[1:]
		setsEnv := w == "env" || w == "sudo" // both take NAME=value before the command
		for len(words) > 0 && (strings.HasPrefix(words[0], "-") || setsEnv && strings.Contains(words[0], "=")) {
			if name, v, ok := strings.Cut(words[0], "="); ok && setsEnv && !strings.HasPrefix(name, "-") {
				out = append(out, assignment(name, v, "")...)
			}
			if w == "sudo" && slices.Contains(sudoValueOpts, words[0]) && len(words) > 1 {
				words = words[1:] // sudo -u app: app is the option's value
			}
			words = words[1:]
		}
		return append(out, callSecrets(words)...)
	}
	if len(words) == 0 {
		return nil
	}
	cmd := base(words[0])
	var out []Secret
	done := make([]bool, len(words))
	flag := func(i int, v, where string) {
		done[i] = true
		if what := valueSecret(v, true); what != "" {
			out = append(out, Secret(what+" "+where))
		} else if literalSecret(v) {
			out = append(out, Secret("a literal password "+where))
		}
	}
	login := slices.Contains(loginTools, cmd) && slices.Contains(words, "login")
	for i := 1; i < len(words); i++ {
		w := words[i]
		next := func() (string, bool) {
			if i+1 < len(words) {
				done[i] = true
				return words[i+1], true
			}
			return "", false
		}
		switch {
		case w == "--":
			i = len(words)
		case strings.HasPrefix(w, "--"):
			opt, v, hasValue := strings.Cut(w[2:], "=")
			switch {
			case (cmd == "curl" && (opt == "user" || opt == "proxy-user")) && hasValue:
				flag(i, userPass(v), "in the "+strings.SplitN(w, "=", 2)[0]+" option of curl")
			case cmd == "curl" && (opt == "user" || opt == "proxy-user"):
				if v, ok := next(); ok {
					flag(i+1, userPass(v), "in the --"+opt+" option of curl")
					i++
				}
			case (cmd == "curl" || cmd == "wget") && opt == "header":
				j := i
				if !hasValue {
					if v, hasValue = next(); hasValue {
						j = i + 1
						i++
					}
				}
				done[j] = true
				if what := headerSecret(v); what != "" {
					out = append(out, Secret(what+" in an HTTP header of "+cmd))
				}
			case secretFlag(opt) && hasValue:
				flag(i, v, "in the --"+opt+" option of "+cmd)
			case secretFlag(opt):
				if v, ok := next(); ok {
					flag(i+1, v, "in the --"+opt+" option of "+cmd)
					i++
				}
			}
		case cmd == "curl" && strings.HasPrefix(w, "-u") || cmd == "curl" && strings.HasPrefix(w, "-U"):
			if len(w) > 2 {
				flag(i, userPass(w[2:]), "in the "+w[:2]+" option of curl")
			} else if v, ok := next(); ok {
				flag(i+1, userPass(v), "in the "+w+" option of curl")
				i++
			}
		case cmd == "curl" && w == "-H":
			if v, ok := next(); ok {
				if what := headerSecret(v); what != "" {
					out = append(out, Secret(what+" in an HTTP header of curl"))
				}
				done[i+1] = true
				i++
			}
		case slices.Contains(mysqlTools, cmd) && strings.HasPrefix(w, "-p") && len(w) > 2:
			flag(i, w[2:], "in the -p option of "+cmd)
		case (login || cmd == "sshpass") && strings.HasPrefix(w, "-p"):
			if len(w) > 2 {
				flag(i, w[2:], "in the -p option of "+cmd)
			} else if v, ok := next(); ok {
				flag(i+1, v, "in the -p option of "+cmd)
				i++
			}
		case slices.Contains([]string{"npm", "yarn", "pnpm"}, cmd) && npmAuthWord(w):
			done[i] = true
			if k, v, ok := strings.Cut(w, "="); ok && npmAuth.MatchString(k) {
				flag(i, v, "in an npm registry credential of "+cmd)
			} else if v, ok := next(); ok {
				flag(i+1, v, "in an npm registry credential of "+cmd)
				i++
			}
		}
	}
	if cmd == "htpasswd" {
		out = append(out, htpasswdSecrets(words, done)...)
	}
	for i, w := range words {
		if done[i] || i == 0 {
			continue
		}
		if k, v, ok := strings.Cut(w, "="); ok && npmAuth.MatchString(k) {
			if what := valueSecret(v, true); what != "" || literalSecret(v) {
				if what == "" {
					what = "a literal token"
				}
				out = append(out, Secret(what+" in an npm registry credential written by "+cmd))
				continue
			}
		}
		if what := valueSecret(w, true); what != "" {
			if !strings.HasSuffix(what, "credentials") {
				what += " in an argument of " + cmd
			}
			out = append(out, Secret(what))
		}
	}
	return out
}

// npmAuthWord reports whether a word of npm config set is a registry
// credential key (with or without =value).
func npmAuthWord(w string) bool {
	k, _, _ := strings.Cut(w, "=")
	return npmAuth.MatchString(k)
}

// base is a command's name without its directory.
func base(cmd string) string {
	if i := strings.LastIndexByte(cmd, '/'); i >= 0 {
		return cmd[i+1:]
	}
	return cmd
}

// userPass returns the password of user:password, "" when there is none
// (curl then asks for it).
func userPass(v string) string {
	_, pass, _ := strings.Cut(v, ":")
	return pass
}

// headerSecret judges an HTTP header: an Authorization (or Proxy-
// Authorization) header with literal credentials, or a secret-named header
// (X-Api-Key, PRIVATE-TOKEN) with a literal value.
func headerSecret(h string) string {
	name, v, ok := strings.Cut(h, ":")
	if !ok {
		return ""
	}
	v = strings.TrimSpace(v)
	lower := strings.ToLower(strings.TrimSpace(name))
	if lower == "authorization" || lower == "proxy-authorization" {
		scheme, cred, ok := strings.Cut(v, " ")
		if !ok {
			cred, scheme = scheme, ""
		}
		cred = strings.TrimSpace(cred)
		if what := valueSecret(cred, false); what != "" {
			return what
		}
		if literalSecret(cred) {
			return "a literal credential"
		}
		return ""
	}
	if secretscan.Name(name) {
		if what := valueSecret(v, false); what != "" {
			return what
		}
		if literalSecret(v) {
			return "a literal secret"
		}
	}
	return ""
}

// htpasswdSecrets judges `htpasswd -b [file] user password`: with -b (in
// any cluster of options) the password is the last argument.
func htpasswdSecrets(words []string, done []bool) []Secret {
	batch := false
	last := -1
	for i := 1; i < len(words); i++ {
		w := words[i]
		if strings.HasPrefix(w, "-") && len(w) > 1 && !strings.Contains(w, expanded) {
			batch = batch || strings.Contains(w[1:], "b")
			continue
		}
		last = i
	}
	if !batch || last < 0 {
		return nil
	}
	done[last] = true
	if what := valueSecret(words[last], true); what != "" {
		return []Secret{Secret(what + " in the password argument of htpasswd -b")}
	}
	if literalSecret(words[last]) {
		return []Secret{"a literal password in the password argument of htpasswd -b"}
	}
	return nil
}

// pipeSecrets judges `echo user:password | chpasswd` and `echo password |
// passwd --stdin user`: literal passwords piped into the tools that set
// them.
func pipeSecrets(b *syntax.BinaryCmd) []Secret {
	to, ok := b.Y.Cmd.(*syntax.CallExpr)
	if !ok {
		return nil
	}
	dst := callWords(to)
	if len(dst) == 0 {
		return nil
	}
	tool := base(dst[0])
	if tool != "chpasswd" && (tool != "passwd" || !slices.Contains(dst, "--stdin")) {
		return nil
	}
	from, ok := b.X.Cmd.(*syntax.CallExpr)
	if !ok {
		return nil
	}
	src := callWords(from)
	if len(src) == 0 || base(src[0]) != "echo" && base(src[0]) != "printf" {
		return nil
	}
	for _, w := range src[1:] {
		if strings.HasPrefix(w, "-") {
			continue
		}
		for _, line := range strings.FieldsFunc(strings.ReplaceAll(w, `\n`, "\n"), func(r rune) bool { return r == '\n' }) {
			pass := line
			if tool == "chpasswd" {
				var ok bool
				if _, pass, ok = strings.Cut(line, ":"); !ok {
					continue
				}
			}
			if literalSecret(pass) {
				return []Secret{Secret("a literal password piped to " + tool)}
			}
		}
	}
	return nil
}

// hereStringSecrets judges `chpasswd <<< user:password` and `passwd
// --stdin user <<< password`.
func hereStringSecrets(st *syntax.Stmt, text string) []Secret {
	call, ok := st.Cmd.(*syntax.CallExpr)
	if !ok {
		return nil
	}
	words := callWords(call)
	if len(words) == 0 {
		return nil
	}
	tool := base(words[0])
	pass := text
	switch {
	case tool == "chpasswd":
		var found bool
		if _, pass, found = strings.Cut(text, ":"); !found {
			return nil
		}
	case tool == "passwd" && slices.Contains(words, "--stdin"):
	default:
		return nil
	}
	if literalSecret(strings.TrimSpace(pass)) {
		return []Secret{Secret("a literal password in a here-string of " + tool)}
	}
	return nil
}

// callWords are the words of a command after its wrappers (sudo).
func callWords(c *syntax.CallExpr) []string {
	var words []string
	for _, w := range c.Args {
		words = append(words, wordText(w))
	}
	for len(words) > 0 && slices.Contains(wrappers, base(words[0])) {
		words = words[1:]
	}
	return words
}
