package secretscan

import (
	"math"
	"regexp"
	"slices"
	"strings"
)

// secretWords are the words of a variable name that suggest it holds a
// secret.
var secretWords = []string{
	"key", "apikey", "token", "secret", "password", "passwd", "pword", "passphrase",
	"credential", "credentials", "auth",
}

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
	"header", "timeout", "ttl", "algorithm",
}

// Name reports whether a variable name suggests a secret: one of
// its words (split at "_", "-" and ".") is a secret word, no word is a
// public word, and the last word is not a describing word.
func Name(name string) bool {
	words := strings.FieldsFunc(strings.ToLower(name), func(r rune) bool {
		return r == '_' || r == '-' || r == '.'
	})
	if len(words) == 0 || slices.Contains(describingWords, words[len(words)-1]) {
		return false
	}
	secret := false
	for _, w := range words {
		if slices.Contains(publicWords, w) {
			return false
		}
		secret = secret || slices.Contains(secretWords, w)
	}
	return secret
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
// one: empty, a reference to another variable ($(VAR), ${VAR}, $VAR), a
// template (<...>, {{ ... }}) or a well-known filler such as changeme.
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
	}
	return false
}

// reference is a value that only names other variables.
var reference = regexp.MustCompile(`^(?:\$\([A-Za-z_][A-Za-z0-9_]*\)|\$\{[A-Za-z_][A-Za-z0-9_]*(?::?[-=?+][^}]*)?\}|\$[A-Za-z_][A-Za-z0-9_]*)+$`)
