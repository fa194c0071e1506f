package secretscan

import (
	"math"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// secretWords are the words of a variable name that suggest it holds a
// secret.
var secretWords = []string{
	"key", "apikey", "token", "secret", "password", "passwd", "pword", "passphrase",
	"credential", "credentials", "auth",
}

// lastSecretWords are abbreviations that suggest a secret only as the last
// word of a name of several: DB_PASS, MYSQL_PWD, GITHUB_PAT (a personal
// access token). Elsewhere, or alone, they are too often something else:
// PASS_MAX_DAYS, PWD (the working directory).
var lastSecretWords = []string{"pass", "pwd", "pat"}

// publicWords make a name about public material wherever they appear:
// GPG_KEY holds a key fingerprint.
var publicWords = []string{"public", "gpg", "pgp", "fingerprint"}

// describingWords, as the last word of a name, say it locates or
// describes a secret rather than holds it: SSH_KEY_PATH, TOKEN_URL,
// AWS_ACCESS_KEY_ID, AUTH_ENABLED. Elsewhere they do not: DB_USER_PASSWORD
// is a password.
var describingWords = []string{
	"file", "path", "dir", "url", "uri", "host", "port", "id", "name", "user", "username",
	"type", "mode", "method", "enabled", "disabled", "version", "length", "size",
	"checksum", "sha", "sha1", "sha256", "sha512", "md5", "hash",
	"domain", "server", "endpoint", "provider", "realm", "scope", "issuer", "audience",
	"header", "timeout", "ttl", "algorithm", "ref", "arn", "location",
}

// Name reports whether a variable name suggests a secret: one of
// its words (split at "_", "-", "." and where a lower-case letter or digit
// meets an upper-case one: dbPassword, apiKey) is a secret word, no word is a
// public word, and the last word is not a describing word. A last word of
// lastSecretWords counts as a secret word when the name has others.
func Name(name string) bool {
	words := nameWords(name)
	if len(words) == 0 || slices.Contains(describingWords, words[len(words)-1]) {
		return false
	}
	secret := len(words) > 1 && slices.Contains(lastSecretWords, words[len(words)-1])
	for _, w := range words {
		if slices.Contains(publicWords, w) {
			return false
		}
		secret = secret || slices.Contains(secretWords, w)
	}
	return secret
}

// NameValue reports whether a variable name, with the value written for
// it, suggests a secret: Name(name), unless the name suggests one only
// weakly, by an abbreviation as its last word (DB_PASS, GITHUB_PAT) or by
// a secret word that is not its last (io.github.secret-scanning), and the
// value is clearly not a secret: empty, a boolean or switch (true, no, on,
// enabled ...), a small integer, or a path that starts with "/". Names
// whose last word is a secret word (DB_PASSWORD, GITHUB_TOKEN) are judged
// by their name alone, as by Name. Use Name when the value is not known
// (a build argument without a default).
func NameValue(name, value string) bool {
	if !Name(name) {
		return false
	}
	words := nameWords(name)
	if slices.Contains(secretWords, words[len(words)-1]) {
		return true
	}
	return !notSecret(value)
}

// switchValues are the values of booleans and feature switches.
var switchValues = []string{"true", "false", "yes", "no", "on", "off", "enabled", "disabled", "enable", "disable", "y", "n"}

// notSecret reports whether v is clearly not a secret (NameValue).
func notSecret(v string) bool {
	v = strings.TrimSpace(v)
	switch {
	case v == "", slices.Contains(switchValues, strings.ToLower(v)):
		return true
	case len(v) <= 3 && strings.Trim(v, "0123456789") == "":
		return true
	case strings.HasPrefix(v, "/") && !strings.ContainsAny(v, " \t\n"):
		return true
	}
	return false
}

// nameWords splits name into its lower-case words, as Name does.
func nameWords(name string) []string {
	return strings.FieldsFunc(strings.ToLower(splitCamel(name)), func(r rune) bool {
		return r == '_' || r == '-' || r == '.'
	})
}

// splitCamel puts a "_" where a lower-case letter or a digit is followed
// by an upper-case letter: "dbPassword" becomes "db_Password".
func splitCamel(name string) string {
	var b []byte
	for i := 1; i < len(name); i++ {
		c, prev := name[i], name[i-1]
		if 'A' <= c && c <= 'Z' && ('a' <= prev && prev <= 'z' || '0' <= prev && prev <= '9') {
			if b == nil {
				b = append(make([]byte, 0, len(name)+4), name[:i]...)
			}
			b = append(b, '_')
		}
		if b != nil {
			b = append(b, c)
		}
	}
	if b == nil {
		return name
	}
	return string(b)
}

// secretValues are patterns of well-known credential formats, with what
// they are called in messages.
var secretValues = []struct {
	what string
	re   *regexp.Regexp
}{
	{"an AWS access key id", regexp.MustCompile(`\b(?:AKIA|ASIA)[0-9A-Z]{16}\b`)},
	{"a private key", regexp.MustCompile(`-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY`)},
	{"a GitHub token", regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})`)},
	{"a GitLab token", regexp.MustCompile(`\bglpat-[A-Za-z0-9_-]{20,}`)},
	{"a Slack token", regexp.MustCompile(`\bxox[abposr]-[A-Za-z0-9-]{10,}`)},
	{"a Stripe secret key", regexp.MustCompile(`\b[sr]k_live_[A-Za-z0-9]{20,}`)},
	{"an npm token", regexp.MustCompile(`\bnpm_[A-Za-z0-9]{36}\b`)},
	{"a Google API key", regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{35}\b`)},
	{"a JSON Web Token", regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.`)},
	{"a URL with a password", regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]+:[^/\s@]+@`)},
}

// Value says what a value looks like when it looks like a credential,
// and "" otherwise. It never returns any part of v.
func Value(v string) string {
	for _, p := range secretValues {
		if p.re.MatchString(v) {
			return p.what
		}
	}
	if randomString(v) {
		return "a random secret string"
	}
	return ""
}

// randomString reports whether v looks generated: 32 or more base64
// characters mixing upper case, lower case and digits, with high entropy
// and no run of 7 letters of one case (words, as in identifiers). Hex
// checksums, paths, URLs and names do not pass.
func randomString(v string) bool {
	if len(v) < 32 || len(v) > 4096 {
		return false
	}
	var upper, lower, digit bool
	run, longest := 0, 0
	var prev byte // 'U', 'L' or 0: the case of the current letter run
	counts := map[rune]int{}
	for _, r := range v {
		class := byte(0)
		switch {
		case 'A' <= r && r <= 'Z':
			upper, class = true, 'U'
		case 'a' <= r && r <= 'z':
			lower, class = true, 'L'
		case '0' <= r && r <= '9':
			digit = true
		case r == '+' || r == '/' || r == '=' || r == '_' || r == '-':
		default:
			return false
		}
		if class != 0 && class == prev {
			run++
		} else {
			run = 1
		}
		prev, longest = class, max(longest, run)
		counts[r]++
	}
	if !upper || !lower || !digit || longest >= 7 {
		return false
	}
	n := float64(len(v))
	entropy := 0.0
	for _, c := range counts {
		p := float64(c) / n
		entropy -= p * math.Log2(p)
	}
	return entropy >= 4.0
}

// placeholders are values that stand for a secret to be filled in.
var placeholders = []string{"changeme", "change-me", "change_me", "changeit", "replaceme", "replace-me", "replace_me",
	"secret", "password", "xxx", "xxxx", "todo", "tbd", "example", "dummy", "none", "null", "redacted"}

// Placeholder reports whether v stands for a secret rather than holds
// one: empty, a reference to another variable ($(VAR), ${VAR}, $VAR) or to
// a secret another program resolves (Argo CD's $name:key, Grafana's
// $__file{...}, a secret store: vault:..., ref+..., ARNs), an absolute file
// path, a template (<...>, {{ ... }}) or a well-known filler such as
// changeme.
func Placeholder(v string) bool {
	t := strings.TrimSpace(v)
	lower := strings.ToLower(t)
	switch {
	case t == "":
		return true
	case reference.MatchString(t):
		return true
	case strings.HasPrefix(t, "<") && strings.HasSuffix(t, ">"), strings.HasPrefix(t, "{{") && strings.HasSuffix(t, "}}"):
		return true
	case slices.Contains(placeholders, lower), strings.Trim(lower, "x*.") == "":
		return true
	case slices.ContainsFunc(storePrefixes, func(p string) bool { return strings.HasPrefix(lower, p) }) && !strings.ContainsAny(t, " \t\n"):
		return true
	case secretRef.MatchString(t), filePath.MatchString(t):
		return true
	}
	return false
}

// storePrefixes begin references to a secret store that a tool in the
// pod or a controller resolves: Bank-Vaults (vault:path#key), vals and
// helm-secrets (ref+vault://, ref+awssecrets://, ...), AWS Secrets Manager
// and Parameter Store ARNs, Google Secret Manager (sm://, gcp:secretmanager:),
// Azure Key Vault (@Microsoft.KeyVault(...), as App Service writes it),
// and Jasypt's encrypted ENC(...) values.
var storePrefixes = []string{"vault:", "ref+", "arn:aws:secretsmanager:", "arn:aws:ssm:", "sm://", "gcp:secretmanager:",
	"@microsoft.keyvault(", "enc("}

// FileName reports whether a file name (a path or a base name) is the
// name of a file that holds secrets: SSH private keys, .env, .npmrc,
// .netrc, Docker and AWS credentials, kubeconfig, and keys and keystores
// (.key, .pem, .p12, .pfx, .jks). A .pem file may hold only a certificate;
// callers that see content check it too.
func FileName(name string) bool {
	lower := strings.ToLower(path.Clean("/" + name))
	base := path.Base(lower)
	return slices.Contains(secretNames, base) || strings.HasPrefix(base, ".env.") ||
		slices.ContainsFunc(secretSuffixes, func(s string) bool { return strings.HasSuffix(lower, s) })
}

// secretNames and secretSuffixes are what files holding secrets are named
// (compared in lower case, by base name, or by the end of the path for the
// two-part ones).
var (
	secretNames = []string{"id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", ".env", ".npmrc", ".pypirc", ".netrc",
		".git-credentials", ".dockercfg", "credentials.json", "kubeconfig"}
	secretSuffixes = []string{".pem", ".key", ".p12", ".pfx", ".jks", "/.docker/config.json", "/.aws/credentials"}
)

// Assignment is a line of a configuration file that gives a secret-named
// key a literal value, or whose value looks like a credential. It never
// holds the value.
type Assignment struct {
	Line int    // 1-based, within the text
	Key  string // the key as written, "" when withheld (it looks like a secret itself)
	// What is why: "its name suggests a secret" or what the value looks
	// like ("a private key", ...).
	What string
}

// Assignments finds the lines of a configuration file's text (properties,
// .env, INI, TOML, YAML, JSON: "key=value", "key: value", "key = value",
// "export KEY=value", with quotes and trailing commas allowed) that give
// a secret-named key a literal value that is not a placeholder, and the
// lines whose value looks like a credential. Comment lines (#, ;, //) are
// skipped. A private key spanning several lines is reported once, at its
// BEGIN line.
func Assignments(text string) []Assignment {
	var out []Assignment
	inPEM := false
	for i, line := range strings.Split(text, "\n") {
		t := strings.TrimSpace(line)
		// The body of a PEM block (a certificate's too) is base64 that
		// looks random: only its BEGIN line is judged.
		if inPEM {
			inPEM = !strings.Contains(t, "-----END ")
			continue
		}
		if strings.Contains(t, "-----BEGIN ") && !strings.Contains(t, "-----END ") {
			inPEM = true
		}
		if t == "" || strings.HasPrefix(t, "#") || strings.HasPrefix(t, ";") || strings.HasPrefix(t, "//") {
			continue
		}
		t = strings.TrimPrefix(t, "export ")
		t = strings.TrimPrefix(t, "- ")
		cut := strings.IndexAny(t, "=:")
		var key, val string
		if cut > 0 {
			key = strings.Trim(strings.TrimSpace(t[:cut]), `"'`)
			val = strings.TrimSpace(t[cut+1:])
			val = strings.TrimSpace(strings.TrimRight(val, ",;"))
			val = strings.Trim(val, `"'`)
		}
		shown := key
		if Value(key) != "" || len(key) > 100 || strings.ContainsAny(key, " \t") {
			shown = ""
		}
		switch what := Value(t); {
		case key != "" && !strings.ContainsAny(key, " \t") && Name(key) && !Placeholder(val) && !structured(val):
			out = append(out, Assignment{Line: i + 1, Key: shown, What: "its name suggests a secret"})
		case what != "":
			out = append(out, Assignment{Line: i + 1, Key: shown, What: what})
		}
	}
	return out
}

// structured reports whether an assignment's value opens a nested block
// (YAML "password:" with the value below, "{", "[") rather than giving a
// literal, or is a boolean or a number of at most 6 digits (a length, a
// port, a flag: password_min_length = 12, token_enabled: true).
func structured(v string) bool {
	switch strings.ToLower(v) {
	case "", "{", "[", "|", ">", "|-", ">-", "true", "false", "yes", "no", "on", "off", "null", "~":
		return true
	}
	if len(v) <= 6 {
		if _, err := strconv.Atoi(v); err == nil {
			return true
		}
	}
	return strings.HasPrefix(v, "{") || strings.HasPrefix(v, "[")
}

// secretRef is a reference another program resolves: Argo CD's
// `$secret-name:key` and `$dex.github.clientSecret` (keys of
// argocd-secret), Grafana's `$__file{path}`, `$__env{VAR}` and
// `$__vault{...}`.
var secretRef = regexp.MustCompile(`^(?:\$[A-Za-z_][A-Za-z0-9_.:-]*|\$__(?:file|env|vault)\{[^}]*\})$`)

// filePath is an absolute file path: the secret is in that file.
var filePath = regexp.MustCompile(`^/[A-Za-z0-9._/-]+$`)

// reference is a value that only names other variables.
var reference = regexp.MustCompile(`^(?:\$\([A-Za-z_][A-Za-z0-9_]*\)|\$\{[A-Za-z_][A-Za-z0-9_]*(?::?[-=?+][^}]*)?\}|\$[A-Za-z_][A-Za-z0-9_]*)+$`)
