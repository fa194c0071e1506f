package podsec_test

import (
	"strings"
	"testing"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/podsec"
)

// configMap is a ConfigMap in namespace shop with the given data and
// binaryData lines (indented by two spaces), written from the ConfigMap
// documentation's examples.
func configMap(name, meta, data, binary string) string {
	doc := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n  namespace: shop" + meta + "\n"
	if data != "" {
		doc += "data:\n" + data + "\n"
	}
	if binary != "" {
		doc += "binaryData:\n" + binary + "\n"
	}
	return doc
}

const cmID = "shop/ConfigMap/app"

// Secret values of the fixtures: none may appear in a finding.
var cmSecrets = []string{"Pr0d-Passw0rd!", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq3KeyExampl", "hunter22", "xoxb-2201-9843-SlackT0kenValue",
	"MHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5nG2GcJ0eUq0J", "c2VjcmV0LXRva2Vu"}

const pemKey = `    -----BEGIN EC PRIVATE KEY-----
    MHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5nG2GcJ0eUq0JoAoGCCqGSM49
    -----END EC PRIVATE KEY-----`

const pemCert = `    -----BEGIN CERTIFICATE-----
    MIIBszCCAVmgAwIBAgIUQk2tH8cQxJ7vR9zYp3LwK5mN0aIwCgYIKoZIzj0EAwIw
    -----END CERTIFICATE-----`

func init() {
	suites["configmap/secret-in-data"] = []testCase{
		{name: "a secret-named key with a literal value",
			doc:  configMap("app", "", "  DB_HOST: db.shop.svc\n  DB_PASSWORD: Pr0d-Passw0rd! #pw", ""),
			want: []want{{finding.High, "#pw", cmID, []string{`data key "DB_PASSWORD"`, "its name suggests a secret"}}}},
		{name: "abbreviated keys with switches and numbers",
			doc:  configMap("app", "", "  CI_PASS: \"1\"\n  FIRST_PASS: \"true\"\n  io.github.secret-scanning: enabled\n  SMTP_PASS: hunter2 #pw", ""),
			want: []want{{finding.High, "#pw", cmID, []string{`data key "SMTP_PASS"`, "its name suggests a secret"}}}},
		{name: "credential-shaped values under any key",
			doc:  configMap("app", "", "  upstream: https://svc:hunter22@backend.internal/ #url\n  notify: xoxb-2201-9843-SlackT0kenValue #slack", ""),
			want: []want{{finding.High, "#url", cmID, []string{`"upstream"`, "a URL with a password"}}, {finding.High, "#slack", cmID, []string{`"notify"`, "a Slack token"}}}},
		{name: "a properties file with a password and an AWS key",
			doc:  configMap("app", "", "  application.properties: | #file\n    # datasource\n    spring.datasource.url=jdbc:postgresql://db:5432/shop\n    spring.datasource.password=Pr0d-Passw0rd!\n    aws.secretAccessKey=wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq3KeyExampl", ""),
			want: []want{{finding.High, "#file", cmID, []string{`"application.properties"`, "line 3 (spring.datasource.password)", "line 4 (aws.secretAccessKey)"}}}},
		{name: "a private key among certificates",
			doc:  configMap("app", "", "  ca.crt: |\n"+pemCert+"\n  tls.key: | #key\n"+pemKey, ""),
			want: []want{{finding.High, "#key", cmID, []string{`"tls.key"`, "a private key"}}}},
		{name: "binaryData: a keystore by name, a token by content",
			doc:  configMap("app", "", "", "  keystore.p12: MIIKYQIBAzCCChc= #p12\n  token.txt: eG94Yi0yMjAxLTk4NDMtU2xhY2tUMGtlblZhbHVl #tok\n  truststore.jks: MIIKYQIBAzCCChc=\n  logo.png: iVBORw0KGgo="),
			want: []want{{finding.High, "#p12", cmID, []string{"binaryData", "private key or keystore"}}, {finding.High, "#tok", cmID, []string{"binaryData", "a Slack token"}}}},
		{name: "camelCase keys in a JSON file",
			doc: configMap("app", "", `  config.json: | #json
    {
      "issuer": "https://login.example.com",
      "clientId": "shop-frontend",
      "clientSecret": "Pr0d-Passw0rd!"
    }`, ""),
			want: []want{{finding.High, "#json", cmID, []string{"line 4 (clientSecret)"}}}},
		{name: "the documentation's game example: no secrets",
			doc:  configMap("app", "", "  player_initial_lives: \"3\"\n  ui_properties_file_name: user-interface.properties\n  game.properties: |\n    enemy.types=aliens,monsters\n    player.maximum-lives=5\n  user-interface.properties: |\n    color.good=purple\n    allow.textmode=true", ""),
			want: nil},
		{name: "placeholders in an example, references and store references",
			doc:  configMap("app", "\n  annotations: {example.com/purpose: example}", "  DB_PASSWORD: changeme\n  API_TOKEN: ${API_TOKEN}\n  SMTP_PASSWORD: <set me>\n  JWT_SECRET: vault:secret/data/shop#jwt\n  AWS_SECRET: arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop-AbCdEf\n  app.properties: |\n    db.password=${DB_PASSWORD}\n    mail.password=ENC(G6N718UuyPE5bHyWKyuLQSm02auQPUtm)", ""),
			want: nil},
		{name: "Argo CD and Grafana references, file paths",
			doc:  configMap("app", "", "  dex.config: |\n    connectors:\n    - type: github\n      config:\n        clientID: shop-argocd\n        clientSecret: $dex.github.clientSecret\n  oidc.config: |\n    clientSecret: $argocd-oidc:clientSecret\n  grafana.ini: |\n    [security]\n    admin_password = $__file{/etc/secrets/admin_password}\n  DB_PASSWORD: /run/secrets/db_password", ""),
			want: nil},
		{name: "digests, checksums, UUIDs, key paths, flags and certificates",
			doc:  configMap("app", "", "  IMAGE_DIGEST: \""+sha+"\"\n  BUNDLE_SHA256: 1f3e4b4fd5ab55ee74cd8e0cb7d2a85ee1e1e3df68f0a1b2c3d4e5f6a7b8c9d0\n  INSTANCE_ID: 3f2b9c4e-8d7a-4b1e-9f6c-2a5d8e7b1c0f\n  TLS_KEY_FILE: /etc/tls/tls.key\n  TOKEN_TTL: \"3600\"\n  AUTH_ENABLED: \"true\"\n  auth.conf: |\n    password_min_length = 12\n    token_refresh: true\n    secret:\n      path: /run/secrets/app\n  ca.pem: |\n"+pemCert, "  ca.crt: MIIBszCCAVmgAwIBAgIU"),
			want: nil},
	}
}

// TestConfigMapWithholdsValues checks that no part of a secret value of
// the ConfigMap fixtures appears in any field of any finding.
func TestConfigMapWithholdsValues(t *testing.T) {
	n := 0
	for _, tc := range suites["configmap/secret-in-data"] {
		for _, f := range audit(t, tc.doc, podsec.Options{}) {
			n++
			all := strings.Join([]string{f.Rule, f.File, f.Object, f.Message, f.Fix}, "\n")
			for _, s := range cmSecrets {
				if strings.Contains(all, s) {
					t.Errorf("%s: finding %s shows secret %q", tc.name, f.Rule, s)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no findings: the test checks nothing")
	}
}
