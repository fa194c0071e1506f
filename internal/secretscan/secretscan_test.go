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
		// Abbreviations count as the last word of several only.
		"DB_PASS": true, "smtp.pass": true, "MYSQL_PWD": true, "GITHUB_PAT": true, "redisPass": true,
		"PASS": false, "OLDPWD": false, "PASS_MAX_DAYS": false, "PAT_URL": false, "BYPASS": false, "COMPASS_URL": false,
	} {
		if got := Name(name); got != want {
			t.Errorf("Name(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestNameValue: names that suggest a secret only by an abbreviation or a
// word that is not their last are not reported for values that are
// clearly not secrets; the full words are, whatever the value.
func TestNameValue(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        bool
	}{
		{"FIRST_PASS", "true", false}, {"CI_PASS", "1", false}, {"BUILD_PWD", "/src", false}, {"HTTP_PAT", "/api", false},
		{"DB_PASS", "", false}, {"SMOKE_PASS", "Off", false}, {"RETRY_PASS", "100", false},
		{"io.github.secret-scanning", "enabled", false}, {"SECRET_SCANNING", "disabled", false},
		{"DB_PASS", "hunter2", true}, {"GH_PAT", "ghp_0123456789abcdefghijABCDEFGHIJ012345", true}, {"MYSQL_PWD", "s3cret", true},
		{"DB_PASS", "1234", true}, {"DB_PASS", "/ with space", true}, {"io.github.secret-scanning", "abc123", true},
		{"DB_PASSWORD", "true", true}, {"GITHUB_TOKEN", "1", true}, {"API_KEY", "/x", true}, {"SECRET", "", true},
		{"PATH", "/usr/bin", false}, {"BUILD_PWD", "hunter2", true},
	} {
		if got := NameValue(tc.name, tc.value); got != tc.want {
			t.Errorf("NameValue(%q, %q) = %v, want %v", tc.name, tc.value, got, tc.want)
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

func TestSecretNameCamelCase(t *testing.T) {
	for name, want := range map[string]bool{
		"dbPassword": true, "apiKey": true, "clientSecret": true, "_authToken": true, "oauth2Token": true,
		"JWT_SECRET_REF": false, "dbPasswordArn": false, "token_location": false,
		"publicKey": false, "sshKeyPath": false, "tokenEndpoint": false, "keyboardLayout": false, "MONKEY": false,
	} {
		if got := Name(name); got != want {
			t.Errorf("Name(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestStoreReferences(t *testing.T) {
	for v, want := range map[string]bool{
		"vault:secret/data/db#password": true, "ref+vault://secret/db#/password": true,
		"arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf": true, "sm://project/db-password": true,
		"ENC(G6N718UuyPE5bHyWKyuLQSm02auQPUtm)": true, "@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/db)": true,
		"vault: not a reference": false, "arn:aws:iam::123456789012:role/app": false,
		"$dex.github.clientSecret": true, "$argocd-oidc:clientSecret": true, "$__file{/etc/secrets/admin}": true, "$__env{GF_PW}": true,
		"/run/secrets/db_password": true, "/etc/ssl/private/tls.key": true,
		"$2y$10$abcdefghijklmnopqrstuv": false, "/not a path": false, "pa/ss": false,
	} {
		if got := Placeholder(v); got != want {
			t.Errorf("Placeholder(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestFileName(t *testing.T) {
	for name, want := range map[string]bool{
		"id_rsa": true, "/root/.ssh/id_ed25519": true, "tls.key": true, "keystore.P12": true, ".env.production": true,
		"home/.docker/config.json": true, "config.json": false, "tls.crt": false, "app.properties": false, "environment": false,
	} {
		if got := FileName(name); got != want {
			t.Errorf("FileName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestAssignments(t *testing.T) {
	text := strings.Join([]string{
		"# database",                                        // 1: comment
		"db.url=jdbc:postgresql://db:5432/app",              // 2: not a secret name
		"db.password=Pr0d-Passw0rd!",                        // 3: secret name, literal
		"db.passwordFile=/run/secrets/db",                   // 4: describes the secret
		"api_key = \"${API_KEY}\"",                          // 5: a reference
		"token_enabled: true",                               // 6: a flag
		"password_min_length=12",                            // 7: a number... whose last word describes
		"jwt.secret: ENC(G6N718UuyPE5bHyWKyuLQSm02auQPUtm)", // 8: encrypted
		"export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq3KeyExampl", // 9
		"upstream: https://svc:hunter22@backend.internal/",                        // 10: URL with a password
		"ca: |",                         // 11: a nested block
		"  -----BEGIN CERTIFICATE-----", // 12
		"  MIIBszCCAVmgAwIBAgIUQk2tH8cQxJ7vR9zYp3LwK5mN0aIwCgYIKoZIzj0EAwIw", // 13: PEM body
		"  -----END CERTIFICATE-----",                                        // 14
		"key: |",                                                             // 15
		"  -----BEGIN EC PRIVATE KEY-----",                                   // 16: a private key
		"  MHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5nG2GcJ0eUq0JoAoGCCqGSM49", // 17
		"  -----END EC PRIVATE KEY-----",                                     // 18
		`  "clientSecret": "changeme",`,                                      // 19: placeholder
		`  "clientSecret": "Xy7-local-Secret",`,                              // 20: camelCase secret name
	}, "\n")
	got := Assignments(text)
	want := []Assignment{
		{Line: 3, Key: "db.password", What: "its name suggests a secret"},
		{Line: 9, Key: "AWS_SECRET_ACCESS_KEY", What: "its name suggests a secret"},
		{Line: 10, Key: "upstream", What: "a URL with a password"},
		{Line: 16, Key: "", What: "a private key"},
		{Line: 20, Key: "clientSecret", What: "its name suggests a secret"},
	}
	if len(got) != len(want) {
		t.Fatalf("Assignments = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("assignment %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	for _, a := range got {
		for _, secret := range []string{"Pr0d-Passw0rd!", "wJalrXUtnFEMI", "hunter22", "Xy7-local-Secret", "MHcCAQEE"} {
			if strings.Contains(a.Key+a.What, secret) {
				t.Errorf("assignment %+v holds part of a value", a)
			}
		}
	}
}
