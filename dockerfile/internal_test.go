package dockerfile

import "testing"

func TestSplitRef(t *testing.T) {
	for _, tc := range []struct{ ref, name, tag, digest string }{
		{"alpine", "alpine", "", ""},
		{"alpine:3.20", "alpine", "3.20", ""},
		{"docker.io/library/alpine:3.20", "alpine", "3.20", ""},
		{"index.docker.io/bitnami/redis", "bitnami/redis", "", ""},
		{"Registry.Example.com:5000/Team/App:V1", "registry.example.com:5000/team/app", "V1", ""},
		{"localhost:5000/app", "localhost:5000/app", "", ""},
		{"alpine:3.20@sha256:abc", "alpine", "3.20", "sha256:abc"},
		{"gcr.io/distroless/static@sha256:abc", "gcr.io/distroless/static", "", "sha256:abc"},
		{"", "", "", ""},
		{":@", "", "", ""},
	} {
		name, tag, digest := splitRef(tc.ref)
		if name != tc.name || tag != tc.tag || digest != tc.digest {
			t.Errorf("splitRef(%q) = %q, %q, %q; want %q, %q, %q", tc.ref, name, tag, digest, tc.name, tc.tag, tc.digest)
		}
	}
}

func TestIsRoot(t *testing.T) {
	for user, want := range map[string]bool{
		"root": true, "0": true, "0:0": true, "root:root": true, "00": true, " 0 ": true, "0:1000": true,
		// runc (moby/sys/user's parseNumeric) reads a UID with strconv.Atoi,
		// which takes a sign: +0 and -0 are UID 0.
		"+0": true, "-0": true, "-00:1000": true, "+1000": false, "-1": false,
		"1000": false, "1000:0": false, "app": false, "Root": false,
		// An empty user (USER $UID, UID empty) or user part: the image's
		// user is then empty, and the container starts as uid 0.
		"": true, ":0": true, ":1000": true,
		"99999999999999999999": false, "0x0": false, "nonroot": false,
	} {
		if got := isRoot(user); got != want {
			t.Errorf("isRoot(%q) = %v, want %v", user, got, want)
		}
	}
}

func TestUnescapeAndSedPatterns(t *testing.T) {
	for in, want := range map[string]string{
		`NOPASS\x57D`: "NOPASSWD", `NOPASS\127D`: "NOPASSWD", `NOPASS\0127D`: "NOPASSWD", `\u004eO`: "NO",
		`a\tb`: "a\tb", `\`: `\`, `\x`: `\x`, `\0`: "\x00", `\q`: `\q`,
	} {
		if got := unescape(in); got != want {
			t.Errorf("unescape(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"s/NOPASSWD: //":        "s//",
		"s|a|NOPASSWD: ALL|g":   "s|NOPASSWD: ALL|g",
		"/NOPASSWD:/d":          "d",
		"/x/s/^/# /":            "s/# /",
		"$a app NOPASSWD: ALL":  "$a app NOPASSWD: ALL",
		"s":                     "s",
		"s/":                    "s/",
		"s/a":                   "s/a",
		"/":                     "/",
		`s/a\/b/c/`:             "s/c/",
		"1,/x/{s/NOPASSWD://;}": "1,/x/{s//;}",
	} {
		if got := sedWithoutPatterns(in); got != want {
			t.Errorf("sedWithoutPatterns(%q) = %q, want %q", in, got, want)
		}
	}
}
