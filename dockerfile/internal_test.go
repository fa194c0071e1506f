package dockerfile

import (
	"strings"
	"testing"
)

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
		"1000": false, "1000:0": false, "app": false, "Root": false, "": false, ":0": false,
		"-0": false, "99999999999999999999": false, "0x0": false, "nonroot": false,
	} {
		if got := isRoot(user); got != want {
			t.Errorf("isRoot(%q) = %v, want %v", user, got, want)
		}
	}
}

func TestSecretName(t *testing.T) {
	for name, want := range map[string]bool{
		"GITHUB_TOKEN": true, "API_KEY": true, "apikey": true, "PASSWORD": true, "db.password": true,
		"AWS_SECRET_ACCESS_KEY": true, "NPM-AUTH-TOKEN": true, "SECRET_KEY_BASE": true, "DB_USER_PASSWORD": true,
		"PATH": false, "KEYCLOAK_URL": false, "GPG_KEY": false, "JWT_PUBLIC_KEY": false, "TOKEN_FILE": false,
		"AWS_ACCESS_KEY_ID": false, "HOME": false, "": false, "___": false, "MONKEY": false, "PWD": false,
	} {
		if got := secretName(name); got != want {
			t.Errorf("secretName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestSecretValue(t *testing.T) {
	for v, want := range map[string]bool{
		"AKIAABCDEFGHIJKLMNOP":                         true,
		"-----BEGIN OPENSSH PRIVATE KEY-----":          true,
		"glpat-abcdefghij0123456789":                   true,
		"https://u:p@example.com":                      true,
		"Zq8x3Lw9Vb2Nc7Mk4Jh6Gf1Ds5Ap0QrTyUiOpLkJh":    true,
		"-----BEGIN CERTIFICATE-----":                  false,
		"https://example.com/a:b":                      false,
		"/usr/local/bin:/usr/bin":                      false,
		strings.Repeat("ab", 40):                       false,
		"1f3e4b4fd5ab55ee74cd8e0cb7d2a85ee1e1e3df68f0": false,
		"ThisIsAVeryLongCamelCaseIdentifierName2":      false,
		"ConfigurationManagerFactoryBuilder2024Impl":   false,
		"wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq3KeyExampl":   true,
		"": false,
	} {
		if got := secretValue(v) != ""; got != want {
			t.Errorf("secretValue(%q) = %v, want %v", v, got, want)
		}
	}
}
