package dockerfile_test

import (
	"strings"
	"testing"

	"github.com/wardsec/ward/dockerfile"
	"github.com/wardsec/ward/finding"
)

// The secrets of the dockerfile/secret-in-run cases, made up for these
// tests; no message may show them.
const (
	ghToken    = "ghp_Q7mZ3kP9xL2vN8bR4tY6wC1sD5fH0jA2uE7i" // #nosec G101 -- a made-up test token
	npmToken   = "npm_Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56Qr78" // #nosec G101 -- a made-up test token
	stripeKey  = "sk_live_9aZ8bY7cX6dW5eV4fU3gT2hS"         // #nosec G101 -- a made-up test key
	awsKeyID   = "AKIAZ7Q3K9P2L8M4N6B1"
	runPass    = "S3cr3t-Quokka-Pass"
	runPass2   = "Hunter2-Wombat"
	jwtInQuote = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl"
)

func init() {
	high := finding.High
	suites["dockerfile/secret-in-run"] = []testCase{
		{name: "env prefix with a GitHub token, in a build stage", src: "FROM golang:1.27 AS build\n" +
			"RUN GITHUB_TOKEN=" + ghToken + " go mod download\n" +
			"FROM scratch\nCOPY --from=build /app /app\nUSER 65532\n",
			want: []want{{high, "RUN GITHUB_TOKEN", "stage 0 (build)", []string{"a GitHub token assigned to GITHUB_TOKEN", "image history"}}}},
		{name: "export of a secret-named variable", src: "FROM alpine:3.20\n" +
			"RUN export DB_PASSWORD=" + runPass + " && ./migrate\nUSER 1000\n",
			want: []want{{high, "RUN export", "stage 0", []string{"a literal value exported as DB_PASSWORD, a name that suggests a secret"}}}},
		{name: "assignment on its own and declare", src: "FROM alpine:3.20\n" +
			"RUN API_KEY=" + runPass + "; declare -x SECRET_TOKEN=" + runPass2 + "; ./run\n" +
			"RUN f() { local AUTH_TOKEN=" + runPass + "; }; readonly ROOT_PASSWORD=" + runPass2 + "\nUSER 1000\n",
			want: []want{
				{high, "RUN API_KEY", "", []string{"assigned to API_KEY"}},
				{high, "RUN API_KEY", "", []string{"declared as SECRET_TOKEN"}},
				{high, "RUN f()", "", []string{"declared local as AUTH_TOKEN"}},
				{high, "RUN f()", "", []string{"declared readonly as ROOT_PASSWORD"}},
			}},
		{name: "client password variables", src: "FROM postgres:17\n" +
			"RUN PGPASSWORD=" + runPass + " psql -h db -c 'select 1'\n" +
			"RUN env MYSQL_PWD=" + runPass2 + " mysqldump shop\n" +
			"RUN sudo -u app SSHPASS=" + runPass + " sshpass -e ssh host\nUSER 1000\n",
			want: []want{
				{high, "RUN PGPASSWORD", "", []string{"PGPASSWORD"}},
				{high, "RUN env", "", []string{"MYSQL_PWD"}},
				{high, "RUN sudo", "", []string{"SSHPASS"}},
			}},
		{name: "git clone with a token in the URL", src: "FROM alpine/git:2.47.1 AS src\n" +
			"RUN git clone https://x-access-token:" + ghToken + "@github.com/org/repo.git /src\n" +
			"FROM alpine:3.20\nUSER 1000\n",
			want: []want{{high, "RUN git clone", "stage 0 (src)", []string{"a GitHub token in a URL's credentials"}}}},
		{name: "token as a URL's user", src: "FROM alpine:3.20\n" +
			`RUN git config --global url."https://` + ghToken + `@github.com/".insteadOf "https://github.com/"` + "\nUSER 1000\n",
			want: []want{{high, "RUN git config", "", []string{"a GitHub token in a URL's credentials"}}}},
		{name: "pip index URL with a password", src: "FROM python:3.13\n" +
			"RUN pip install --index-url https://deploy:" + runPass + "@pypi.example.com/simple requests==2.32.3\nUSER 1000\n",
			want: []want{{high, "RUN pip", "", []string{"a password in a URL's credentials"}}}},
		{name: "curl -u and --user", src: "FROM alpine:3.20\n" +
			"RUN curl -fsSL -u admin:" + runPass + " https://nexus.example.com/a.tgz -o /a.tgz\n" +
			"RUN curl --user=admin:" + runPass2 + " https://nexus.example.com/b.tgz -o /b.tgz\n" +
			"RUN curl -uadmin:" + runPass + " https://nexus.example.com/c.tgz -o /c.tgz\nUSER 1000\n",
			want: []want{
				{high, "a.tgz", "", []string{"a literal password in the -u option of curl"}},
				{high, "b.tgz", "", []string{"in the --user option of curl"}},
				{high, "c.tgz", "", []string{"in the -u option of curl"}},
			}},
		{name: "Authorization and token headers", src: "FROM alpine:3.20\n" +
			`RUN curl -H "Authorization: Bearer ` + jwtInQuote + `" https://api.example.com/setup` + "\n" +
			`RUN wget --header="PRIVATE-TOKEN: ` + runPass + `" https://gitlab.example.com/api/v4/x` + "\nUSER 1000\n",
			want: []want{
				{high, "RUN curl", "", []string{"a JSON Web Token in an HTTP header of curl"}},
				{high, "RUN wget", "", []string{"a literal secret in an HTTP header of wget"}},
			}},
		{name: "password options", src: "FROM alpine:3.20\n" +
			"RUN wget --password=" + runPass + " https://files.example.com/a\n" +
			"RUN ./install.sh --admin-password " + runPass2 + "\n" +
			"RUN stripe login --api-key " + stripeKey + "\nUSER 1000\n",
			want: []want{
				{high, "RUN wget", "", []string{"a literal password in the --password option of wget"}},
				{high, "RUN ./install.sh", "", []string{"in the --admin-password option of install.sh"}},
				{high, "RUN stripe", "", []string{"a Stripe secret key in the --api-key option of stripe"}},
			}},
		{name: "mysql -p, docker login -p, sshpass -p", src: "FROM mysql:8.4\n" +
			"RUN mysql -uroot -p" + runPass + " -e 'CREATE DATABASE shop'\n" +
			"RUN mariadb-dump --user=root --password=" + runPass2 + " shop > /dump.sql\n" +
			"RUN docker login -u bot -p " + runPass + " registry.example.com\n" +
			"RUN sshpass -p" + runPass2 + " scp host:/a /a\nUSER 1000\n",
			want: []want{
				{high, "RUN mysql", "", []string{"in the -p option of mysql"}},
				{high, "RUN mariadb-dump", "", []string{"in the --password option of mariadb-dump"}},
				{high, "RUN docker login", "", []string{"in the -p option of docker"}},
				{high, "RUN sshpass", "", []string{"in the -p option of sshpass"}},
			}},
		{name: "htpasswd -b, chpasswd and passwd --stdin", src: "FROM nginx:1.27\n" +
			"RUN htpasswd -cbB /etc/nginx/.htpasswd admin " + runPass + "\n" +
			"RUN echo 'root:" + runPass2 + "' | chpasswd\n" +
			`RUN printf 'app:` + runPass + `\n' | sudo chpasswd` + "\n" +
			"RUN echo " + runPass2 + " | passwd --stdin app\n" +
			"RUN chpasswd <<< 'app:" + runPass + "'\nUSER 1000\n",
			want: []want{
				{high, "RUN htpasswd", "", []string{"a literal password in the password argument of htpasswd -b"}},
				{high, "RUN echo 'root", "", []string{"a literal password piped to chpasswd"}},
				{high, "RUN printf", "", []string{"piped to chpasswd"}},
				{high, "passwd --stdin", "", []string{"a literal password piped to passwd"}},
				{high, "RUN chpasswd", "", []string{"a literal password in a here-string of chpasswd"}},
			}},
		{name: "npm registry token", src: "FROM node:22\n" +
			"RUN npm config set //registry.npmjs.org/:_authToken " + npmToken + "\n" +
			"RUN npm config set //npm.example.com/:_authToken=" + runPass + "\n" +
			`RUN echo "//registry.npmjs.org/:_authToken=` + runPass2 + `" > /root/.npmrc` + "\nUSER node\n",
			want: []want{
				{high, "RUN npm config set //registry", "", []string{"an npm token in an npm registry credential of npm"}},
				{high, "npm.example.com", "", []string{"a literal password in an npm registry credential of npm"}},
				{high, "RUN echo", "", []string{"a literal token in an npm registry credential written by echo"}},
			}},
		{name: "credential-shaped words", src: "FROM alpine:3.20\n" +
			`RUN echo "-----BEGIN OPENSSH PRIVATE KEY-----" > /root/.ssh/id_ed25519` + "\n" +
			"RUN aws configure set aws_access_key_id " + awsKeyID + "\nUSER 1000\n",
			want: []want{
				{high, "RUN echo", "", []string{"a private key in an argument of echo"}},
				{high, "RUN aws", "", []string{"an AWS access key id in an argument of aws"}},
			}},
		{name: "heredoc script", src: "# syntax=docker/dockerfile:1\nFROM alpine:3.20\n" +
			"RUN <<EOF\nset -e\nexport API_TOKEN=" + runPass + "\n./configure\nEOF\nUSER 1000\n",
			want: []want{{high, "RUN <<EOF", "", []string{"exported as API_TOKEN"}}}},
		{name: "heredoc fed to a shell", src: "# syntax=docker/dockerfile:1\nFROM alpine:3.20\n" +
			"RUN bash <<EOF\ncurl -u ci:" + runPass + " https://example.com/a -o /a\nEOF\nUSER 1000\n",
			want: []want{{high, "RUN bash", "", []string{"in the -u option of curl"}}}},
		{name: "heredoc written to a file: an assignment", src: "# syntax=docker/dockerfile:1\nFROM alpine:3.20\n" +
			"RUN cat <<EOF > /etc/app.conf\nuser = app\ndb_password = " + runPass + "\nEOF\nUSER 1000\n",
			want: []want{{high, "RUN cat", "", []string{"a literal value for db_password, a key named like a secret, in a here-document"}}}},
		{name: "python heredoc script", src: "# syntax=docker/dockerfile:1\nFROM python:3.13\n" +
			"RUN <<EOF\n#!/usr/bin/env python3\nTOKEN = \"" + ghToken + "\"\nEOF\nUSER 1000\n",
			want: []want{{high, "RUN <<EOF", "", []string{"in a script of another language"}}}},
		{name: "exec form and sh -c", src: "FROM alpine:3.20\n" +
			`RUN ["sh", "-c", "wget --password=` + runPass + ` https://files.example.com/a"]` + "\n" +
			`RUN ["/usr/bin/curl", "-u", "admin:` + runPass2 + `", "https://example.com"]` + "\n" +
			`RUN ["/bin/bash", "-euxc", "export DB_PASSWORD=` + runPass + `"]` + "\nUSER 1000\n",
			want: []want{
				{high, `RUN ["sh"`, "", []string{"--password option of wget"}},
				{high, `RUN ["/usr/bin/curl"`, "", []string{"-u option of curl"}},
				{high, `RUN ["/bin/bash"`, "", []string{"exported as DB_PASSWORD"}},
			}},
		{name: "continued lines", src: "FROM alpine:3.20\n" +
			"RUN apk add --no-cache curl=8.12.1-r0 \\\n && curl -u admin:" + runPass + " \\\n      https://example.com/a -o /a\nUSER 1000\n",
			want: []want{{high, "RUN apk", "", []string{"-u option of curl"}}}},

		// Negatives.
		{name: "references and secret mounts", src: "# syntax=docker/dockerfile:1\nFROM alpine:3.20\nARG PIP_PW\n" +
			"RUN --mount=type=secret,id=gh,env=GH_TOKEN git clone https://x-access-token:${GH_TOKEN}@github.com/org/repo.git\n" +
			"RUN --mount=type=secret,id=npm NPM_TOKEN=$(cat /run/secrets/npm) npm ci\n" +
			`RUN export DB_PASSWORD="$DB_PASSWORD" && curl -u "admin:$PASS" https://example.com` + "\n" +
			`RUN pip install --index-url "https://ci:${PIP_PW}@pypi.example.com/simple" requests==2.32.3` + "\n" +
			`RUN mysql -uroot -p"$MYSQL_ROOT_PASSWORD" -e 'select 1'` + "\n" +
			`RUN ./install.sh --password "$PW" --token=$(cat /run/secrets/t)` + "\n" +
			`RUN echo "root:$ROOT_PW" | chpasswd` + "\n" +
			`RUN chpasswd <<< "app:${APP_PW}"` + "\n" +
			`RUN htpasswd -cb /etc/nginx/.htpasswd admin "$ADMIN_PW"` + "\n" +
			`RUN npm config set //registry.npmjs.org/:_authToken "${NPM_TOKEN}"` + "\n" +
			`RUN curl -H "Authorization: Bearer $API_TOKEN" https://api.example.com` + "\nUSER 1000\n"},
		{name: "placeholders", src: "FROM alpine:3.20\n" +
			"RUN export PASSWORD=changeme API_TOKEN=xxx\n" +
			"RUN ./setup --password '<password>' --token=TODO\n" +
			"RUN curl -u admin:xxxx https://example.com\n" +
			"RUN htpasswd -b /f admin changeme\nUSER 1000\n"},
		{name: "checksums, digests and UUIDs", src: "FROM alpine:3.20\n" +
			`RUN echo "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08  /tmp/app.tgz" | sha256sum -c -` + "\n" +
			"RUN npm install --integrity sha512-oqVuAfXRKap7fdgcCY5uykM6+R9GqQ8K/uxy9rx7HNQlGYl1kPzQho1wx4JwY8wC left-pad@1.3.0\n" +
			"RUN echo 123e4567-e89b-12d3-a456-426614174000 > /etc/machine-id\n" +
			"RUN gpg --recv-keys 4ED778F539E3634C779C87C6D7062848A1AB005C\n" +
			`RUN echo "h1:Q7mZ3kP9xL2vN8bR4tY6wC1sD5fH0jA2uE7iAbCdEfG=" >> go.sum` + "\n" +
			"RUN curl -fsSL https://example.com/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef -o /app\nUSER 1000\n"},
		{name: "prompts, files and options that are no secret", src: "FROM alpine:3.20\n" +
			"RUN mysql -u root -p shop < /schema.sql\n" +
			"RUN curl -u admin https://example.com/a -o /a\n" +
			"RUN docker login --password-stdin -u bot registry.example.com < /run/secrets/pw\n" +
			"RUN htpasswd -c /etc/nginx/.htpasswd admin\n" +
			"RUN ./tool --password-file /run/secrets/pw --token-ttl 3600\n" +
			"RUN AUTH_ENABLED=true TOKEN_TTL=3600 PASSWORD_MIN_LENGTH=12 SSH_KEY_PATH=/k ./run\n" +
			"RUN git clone https://github.com/org/repo.git /src\n" +
			"RUN sudo -u app ./start --port 8080\n" +
			"RUN ssh -p 2222 host true\nUSER 1000\n"},
		{name: "here-document without secrets, and a script that does not parse", src: "# syntax=docker/dockerfile:1\nFROM alpine:3.20\n" +
			"RUN cat <<EOF > /etc/app.conf\npassword = ${DB_PASSWORD}\ntoken: xxx\nuser = app\nEOF\n" +
			"RUN if then fi TOKEN=" + runPass + " (\nUSER 1000\n"},
	}
}

// TestSecretInRunNoValue: no finding of dockerfile/secret-in-run shows a
// secret of the cases, nor a distinctive part of one (its first or last
// 10 characters).
func TestSecretInRunNoValue(t *testing.T) {
	secrets := []string{ghToken, npmToken, stripeKey, awsKeyID, runPass, runPass2, jwtInQuote}
	n := 0
	for _, tc := range suites["dockerfile/secret-in-run"] {
		fs, err := dockerfile.Audit(testFile, []byte(tc.src), tc.opts)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for _, f := range fs {
			if f.Rule != "dockerfile/secret-in-run" {
				continue
			}
			n++
			for _, s := range secrets {
				for _, part := range []string{s, s[:10], s[len(s)-10:]} {
					if strings.Contains(f.Message+f.Object+f.Fix, part) {
						t.Errorf("%s: finding shows %q: %s", tc.name, part, f.Message)
					}
				}
			}
		}
	}
	if n < 30 {
		t.Errorf("only %d findings: the cases prove nothing", n)
	}
}
