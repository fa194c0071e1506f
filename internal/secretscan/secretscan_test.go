package secretscan

import (
	"strings"
	"testing"
)

func TestSecretName(t *testing.T) {
	for name, want := range map[string]bool{
		"GITHUB_TOKEN": true, "API_KEY": true, "apikey": true, "PASSWORD": true, "db.password": true,
		"AWS_SECRET_ACCESS_KEY": true, "NPM-AUTH-TOKEN": true, "SECRET_KEY_BASE": true, "DB_USER_PASSWORD": true,
		"PATH": false, "KEYCLOAK_URL": false, "GPG_KEY": false, "JWT_PUBLIC_KEY": false, "TOKEN_FILE": false,
		"AWS_ACCESS_KEY_ID": false, "HOME": false, "": false, "___": false, "MONKEY": false, "PWD": false,
	} {
		if got := Name(name); got != want {
			t.Errorf("Name(%q) = %v, want %v", name, got, want)
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
		if got := Value(v) != ""; got != want {
			t.Errorf("Value(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestPlaceholder(t *testing.T) {
	for v, want := range map[string]bool{
		"": true, "  ": true, "changeme": true, "CHANGEME": true, "$(DB_PASSWORD)": true, "${DB_PASSWORD}": true,
		"${DB_PASSWORD:-x}": true, "$DB_PASSWORD": true, "$(A)$(B)": true, "<your token>": true, "{{ .Values.token }}": true,
		"xxxxxx": true, "****": true, "redacted": true,
		"hunter2": false, "s3cr3t-Pa55": false, "$(A)suffix": false, "pass$(A)": false, "Zq8x3Lw9Vb2Nc7Mk4Jh6Gf1Ds5Ap0QrTyUiOpLkJh": false,
	} {
		if got := Placeholder(v); got != want {
			t.Errorf("Placeholder(%q) = %v, want %v", v, got, want)
		}
	}
}
