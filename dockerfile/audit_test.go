package dockerfile_test

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardsec/ward/dockerfile"
	"github.com/wardsec/ward/finding"
)

// testFile is the name every test input is audited under.
const testFile = "Dockerfile"

// audit audits src as testFile and fails the test on an error.
func audit(t *testing.T, src string, opts dockerfile.Options) []finding.Finding {
	t.Helper()
	fs, err := dockerfile.Audit(testFile, []byte(src), opts)
	if err != nil {
		t.Fatalf("Audit: %v", err)
	}
	return fs
}

// lineAt returns the 1-based line of src containing at, which must occur
// on exactly one line.
func lineAt(t *testing.T, src, at string) int {
	t.Helper()
	line, found := 0, 0
	for i, l := range strings.Split(src, "\n") {
		if strings.Contains(l, at) {
			line = i + 1
			found++
		}
	}
	if found != 1 {
		t.Fatalf("%q occurs on %d lines of the input", at, found)
	}
	return line
}

// want is an expected finding of a suite's rule.
type want struct {
	Severity finding.Severity
	// At is a substring of the finding's line, unique in the input.
	At string
	// Object is the expected object, when not empty.
	Object string
	// Msg are substrings the message must contain.
	Msg []string
}

// got is the part of a finding the tests compare exactly.
type got struct {
	Rule     string
	Severity finding.Severity
	File     string
	Line     int
	Object   string
}

type testCase struct {
	name string
	src  string
	opts dockerfile.Options
	want []want // findings of the suite's rule, in output order
}

// suites holds every rule's cases, keyed by rule id. Each suite has
// positive cases and negative ones (want empty).
var suites = map[string][]testCase{
	"dockerfile/user-root": {
		// A name a RUN gives UID 0 is root.
		{name: "useradd -o -u 0", src: `FROM debian:12
RUN useradd -o -u 0 -g 0 -M admin
USER admin
`, want: []want{{finding.High, "USER admin", "stage 0", []string{"USER admin: the RUN at line 2 gives admin UID 0"}}}},
		{name: "adduser -u 0, busybox and Debian", src: `FROM alpine:3.20 AS base
RUN adduser -D -u 0 -h /home/toor toor && adduser --uid=0 --gecos "" ops
USER toor
FROM base
`, want: []want{{finding.High, "USER toor", "stage 0 (base)", []string{"gives toor UID 0"}}}},
		{name: "usermod in exec form", src: `FROM alpine:3.20
RUN ["usermod", "-o", "-u", "0", "nobody"]
USER nobody:nogroup
`, want: []want{{finding.High, "USER nobody", "", []string{"gives nobody UID 0"}}}},
		{name: "a line written to /etc/passwd", src: `FROM alpine:3.20
RUN echo "toor:x:0:0:root:/root:/bin/sh" >> /etc/passwd
USER toor
`, want: []want{{finding.High, "USER toor", "", nil}}},
		{name: "a here-document appended to /etc/passwd", src: `FROM alpine:3.20
RUN <<EOF
cat >> /etc/passwd <<PASSWD
svc::0:0::/:/bin/sh
PASSWD
EOF
USER svc
`, want: []want{{finding.High, "USER svc", "", nil}}},
		// The attack: the UID 0 entry written in another stage's
		// /etc/passwd, which a COPY brings into the final image.
		{name: "an /etc/passwd copied from a stage", src: `FROM alpine:3.20 AS users
RUN useradd -o -u 0 -g 0 -M app
FROM scratch
COPY --from=users /etc/passwd /etc/passwd
USER app
`, want: []want{{finding.High, "USER app", "stage 1", []string{"USER app: the COPY at line 4 gives app UID 0"}}}},
		{name: "an /etc/passwd with ordinary users copied from a stage", src: `FROM alpine:3.20 AS users
RUN adduser -D -u 10001 app
FROM scratch
COPY --from=users /etc/passwd /etc/passwd
USER app
`},
		{name: "ordinary users", src: `FROM alpine:3.20
RUN adduser -D -u 10001 app && useradd -u 1000 -g 0 web && echo "svc:x:1001:0::/:/sbin/nologin" >> /etc/passwd
RUN useradd -o -u 0 admin
USER app
`},
		{name: "final USER root", src: `FROM alpine:3.20
USER root
`, want: []want{{finding.High, "USER root", "stage 0", []string{"USER root: the final image runs as root"}}}},
		{name: "UID 0 with a group", src: `FROM alpine:3.20
USER 0:0
`, want: []want{{finding.High, "USER 0:0", "", nil}}},
		{name: "root with a group", src: `FROM alpine:3.20
USER root:app
`, want: []want{{finding.High, "USER root:app", "", nil}}},
		{name: "zeros are UID 0", src: `FROM alpine:3.20
USER 000
`, want: []want{{finding.High, "USER 000", "", nil}}},
		{name: "UID 0 with a sign, as runc's strconv.Atoi reads it", src: `FROM alpine:3.20
USER +0:1000
`, want: []want{{finding.High, "USER +0", "", nil}}},
		{name: "minus zero", src: `FROM alpine:3.20
USER -00
`, want: []want{{finding.High, "USER -00", "", nil}}},
		{name: "the last USER counts", src: `FROM alpine:3.20
USER app
RUN id
USER root
`, want: []want{{finding.High, "USER root", "", nil}}},
		{name: "inherited through FROM stage", src: `FROM alpine:3.20 AS base
USER root
FROM base AS runtime
COPY app /app
`, want: []want{{finding.High, "USER root", "stage 0 (base)", []string{"which stage 1 (runtime) (the final stage) is built on"}}}},
		{name: "build argument expanded", src: `FROM alpine:3.20
ARG RUNAS=0
USER ${RUNAS}
`, want: []want{{finding.High, "USER ${RUNAS}", "", []string{"USER ${RUNAS} (0)"}}}},
		{name: "target stage judged instead of the last", src: `FROM golang:1.27 AS build
USER root
FROM scratch
USER 65532
`, opts: dockerfile.Options{Target: "build"}, want: []want{{finding.High, "USER root", "stage 0 (build)", nil}}},
		{name: "builder stage with USER root is not judged", src: `FROM golang:1.27 AS build
USER root
RUN go build -o /app .
FROM gcr.io/distroless/static-debian12
COPY --from=build /app /app
USER 65532:65532
`},
		{name: "builder root and final without USER: user-missing, not user-root", src: `FROM golang:1.27 AS build
USER root
FROM scratch
COPY --from=build /app /app
`},
		{name: "non-root UID", src: `FROM alpine:3.20
USER 10001:10001
`},
		{name: "low UID is not root", src: `FROM alpine:3.20
USER 1
`},
		{name: "group 0 alone is accepted", src: `FROM alpine:3.20
USER 1001:0
`},
		{name: "root then a user", src: `FROM alpine:3.20
USER root
RUN apk add --no-cache ca-certificates
USER app
`},
		{name: "named user from the base image", src: `FROM node:22
USER node
`},
		{name: "build argument without value, root by the word's default", src: `FROM alpine:3.20
ARG RUNAS
USER ${RUNAS:-root}
`, want: []want{{finding.High, "USER ${RUNAS:-root}", "stage 0", []string{"USER ${RUNAS:-root} (root)", "unless the build is given --build-arg RUNAS"}}}},
		{name: "global build argument without value, UID 0 by the word's default", src: `ARG UID
FROM alpine:3.20
ARG UID
USER ${UID:-0}:${GID:-0}
`, want: []want{{finding.High, "USER ${UID:-0}", "stage 0", []string{"(0:0)", "--build-arg UID"}}}},
		{name: "build argument without value, a non-root default", src: `FROM alpine:3.20
ARG RUNAS
USER ${RUNAS:-1000}
`},
		// BuildKit writes the expanded USER as the image's user: an empty
		// one starts the container as uid 0, whatever the base image set.
		{name: "build argument without value or default, then empty", src: `FROM gcr.io/distroless/static:nonroot
ARG UID
USER ${UID}
`, want: []want{{finding.High, "USER ${UID}", "stage 0", []string{`USER ${UID} ("": no user, which is uid 0)`, "unless the build is given --build-arg UID"}}}},
		{name: "build argument with an empty value", src: `FROM alpine:3.20
ARG UID=""
USER $UID
`, want: []want{{finding.High, "USER $UID", "stage 0", []string{`("": no user, which is uid 0): the final image runs as root`}}}},
		{name: "global build argument not declared in the stage", src: `ARG UID=1000
FROM alpine:3.20
USER $UID
`, want: []want{{finding.High, "USER $UID", "stage 0", []string{"no user, which is uid 0"}}}},
		{name: "an empty user part", src: `FROM alpine:3.20
USER :1000
`, want: []want{{finding.High, "USER :1000", "stage 0", []string{`USER :1000 (":1000": no user, which is uid 0)`}}}},
		// BuildKit runs the ONBUILD triggers of a stage at the start of a
		// stage built FROM it (convert.go, resolveStages): they passed.
		{name: "ONBUILD USER of the stage built on", src: `FROM alpine:3.20 AS base
USER 1000
ONBUILD USER root
FROM base
CMD ["app"]
`, want: []want{{finding.High, "ONBUILD USER root", "stage 1", []string{"ONBUILD USER root of stage 0 (base)", "the final image runs as root"}}}},
		{name: "ONBUILD USER through a chain of stages", src: `FROM alpine:3.20 AS a
USER 1000
ONBUILD USER root
FROM a AS b
FROM b
`, want: []want{{finding.High, "ONBUILD USER root", "stage 1 (b)", []string{"which stage 2 (the final stage) is built on"}}}},
		{name: "ONBUILD USER overridden by the stage built on", src: `FROM alpine:3.20 AS base
ONBUILD USER root
FROM base
USER 1000
`},
		{name: "ONBUILD USER of the final stage itself", src: `FROM alpine:3.20
USER 1000
ONBUILD USER root
`},
		{name: "ONBUILD runs in the stage built on it only", src: `FROM alpine:3.20 AS a
ONBUILD USER root
FROM a AS b
USER 1000
FROM b AS c
FROM c
`},
		{name: "later stage not built by default", src: `FROM alpine:3.20 AS app
USER 1000
FROM alpine:3.20 AS debug
USER root
`, opts: dockerfile.Options{Target: "app"}},
	},
	"dockerfile/user-missing": {
		{name: "single stage without USER", src: `FROM alpine:3.20
CMD ["sh"]
`, want: []want{{finding.High, "FROM alpine", "stage 0", []string{"has no USER instruction", "alpine:3.20"}}}},
		{name: "scratch runs as root", src: `FROM golang:1.27 AS build
FROM scratch AS runtime
COPY --from=build /app /app
`, want: []want{{finding.High, "FROM scratch", "stage 1 (runtime)", nil}}},
		{name: "distroless without the nonroot tag", src: `FROM gcr.io/distroless/static-debian12
`, want: []want{{finding.High, "FROM gcr.io", "", nil}}},
		{name: "a builder's USER does not count", src: `FROM golang:1.27 AS build
USER 1000
FROM alpine:3.20
COPY --from=build /app /app
`, want: []want{{finding.High, "FROM alpine", "stage 1", nil}}},
		{name: "distroless nonroot with an unknown tag", src: `ARG TAG
FROM gcr.io/distroless/static-debian12:${TAG}
`, want: []want{{finding.High, "FROM gcr.io", "", nil}}},
		{name: "USER present", src: `FROM alpine:3.20
USER 10001
`},
		{name: "distroless nonroot", src: `FROM gcr.io/distroless/static-debian12:nonroot
`},
		{name: "distroless debug-nonroot", src: `FROM gcr.io/distroless/base-debian12:debug-nonroot
`},
		{name: "chainguard static", src: `FROM cgr.dev/chainguard/static:latest
`},
		{name: "dotnet chiseled", src: `FROM mcr.microsoft.com/dotnet/aspnet:8.0-jammy-chiseled
`},
		{name: "USER in the stage built on", src: `FROM alpine:3.20 AS base
USER 1000
FROM base
COPY app /app
`},
		{name: "nonroot base through a stage", src: `FROM gcr.io/distroless/static-debian12:nonroot AS base
FROM base
COPY app /app
`},
		{name: "target with USER", src: `FROM alpine:3.20 AS app
USER 1000
FROM alpine:3.20 AS tools
`, opts: dockerfile.Options{Target: "APP"}},
	},
	"dockerfile/setuid-file": {
		// Before: ch\mod and 7\77 were read as written, not as run.
		{name: "backslash escapes", src: `FROM debian:12
RUN ch\mod 4755 /usr/bin/x
RUN chmod 4\755 /usr/bin/y
USER 1000
`, want: []want{
			{finding.Medium, `RUN ch\mod`, "", nil},
			{finding.Medium, `RUN chmod 4\755`, "", nil},
		}},
		{name: "find -exec, xargs, timeout", src: `FROM debian:12
RUN find /opt/bin -type f -exec chmod 4755 {} +
RUN ls /opt/bin/* | xargs -r -n 1 chmod u+s
RUN find /opt -name tool -execdir sh -c 'chmod g+s "$1"' _ {} \;
RUN timeout 60 chmod 2755 /usr/bin/tool
RUN find /opt -type f -exec chmod 755 {} + && ls | xargs chmod 644
RUN find /var/www -type d -exec chmod 2775 {} + -o -type f -exec chmod 664 {} +
RUN find /srv -type d -exec chmod g+s {} \; -o -type f -exec chmod g+s {} \;
USER 1000
`, want: []want{
			{finding.Medium, "RUN find /opt/bin", "", []string{"RUN chmod 4755"}},
			{finding.Medium, "RUN ls /opt/bin", "", []string{"RUN chmod u+s"}},
			{finding.Medium, "-execdir", "", []string{"RUN chmod g+s"}},
			{finding.Medium, "RUN timeout", "", nil},
			{finding.Medium, "RUN find /srv", "", nil},
		}},
		{name: "COPY --chmod setuid", src: `FROM alpine:3.20
COPY --chmod=4755 tool /usr/local/bin/tool
USER 1000
`, want: []want{{finding.Medium, "COPY --chmod", "stage 0", []string{"COPY --chmod=4755 sets the setuid or setgid bit"}}}},
		{name: "ADD --chmod setgid from a variable", src: `FROM alpine:3.20
ARG MODE=02755
ADD --chmod=$MODE tool.tgz /opt/
`, want: []want{{finding.Medium, "ADD --chmod", "", []string{"ADD --chmod=$MODE"}}}},
		{name: "RUN chmod shell, exec and heredoc forms", src: `FROM alpine:3.20 AS base
RUN apk add --no-cache tool && chmod -R u+s,go-w /usr/bin/tool
RUN ["chmod", "4711", "/bin/x"]
RUN <<EOF
set -e
sudo chmod g+s /srv
EOF
FROM base
USER 1000
`, want: []want{{finding.Medium, "RUN apk", "stage 0 (base)", []string{"RUN chmod u+s,go-w"}}, {finding.Medium, "RUN [", "", []string{"RUN chmod 4711"}}, {finding.Medium, "RUN <<EOF", "", []string{"RUN chmod g+s"}}}},
		{name: "ONBUILD of the base stage", src: `FROM alpine:3.20 AS base
ONBUILD RUN chmod 6755 /bin/x
FROM base
`, want: []want{{finding.Medium, "ONBUILD", "", nil}}},
		{name: "ordinary modes", src: `FROM alpine:3.20
COPY --chmod=0755 tool /usr/local/bin/tool
ADD --chmod=u+x,g-s tool.tgz /opt/
RUN chmod 755 /a && chmod -R a+rX /b && chmod u-s /bin/su && chmod --reference=/bin/ls /c && echo chmod 4755
`},
		// setgid on a directory only makes new files take its group.
		{name: "setgid directories the RUN creates", src: `FROM alpine:3.20
RUN mkdir /srv/shared && chmod 2775 /srv/shared && chmod g+s /srv/shared
RUN mkdir -p -m 0775 /data/a /data/b/ && chmod -v g+rwxs /data/a /data/b
RUN install -d -m 0775 -o app /srv/data && sudo chmod 02770 -- /srv/data/
RUN <<EOF
install --directory /var/spool/x
chmod g+s /var/spool/x
EOF
USER 1000
`},
		// install and mkdir give their files the mode of -m as chmod
		// would; a setgid directory they create is left out as above.
		{name: "install and mkdir modes", src: `FROM alpine:3.20
RUN install -m 4755 tool /usr/bin/tool
RUN ["install", "--mode=2755", "tool", "/usr/bin/tool2"]
RUN install -o root -m4711 tool /usr/bin/tool3 && mkdir -m 2775 /srv/shared && install -d --mode 2770 /srv/data
RUN mkdir -m 0755 /a && install -m 0755 tool /usr/bin/ok
USER 1000
`, want: []want{
			{finding.Medium, "RUN install -m 4755", "", []string{"RUN install -m 4755 sets the setuid"}},
			{finding.Medium, "RUN [", "", []string{"RUN install -m 2755 sets the setgid bit"}},
			{finding.Medium, "RUN install -o root", "", []string{"RUN install -m 4711"}},
		}},
		// A mode BuildKit gives the RUN's shell as ENV or ARG, or the
		// script sets, is that value (ARG MODE=4755 passed before); not
		// in exec form, which no shell expands.
		{name: "mode through variables", src: `FROM alpine:3.20
ARG MODE=4755
ENV BIN=/usr/bin/tool
RUN chmod $MODE "$BIN"
RUN ["chmod", "$MODE", "/usr/bin/x"]
RUN ["sh", "-c", "chmod $MODE /usr/bin/y"]
USER 1000
`, want: []want{
			{finding.Medium, "RUN chmod $MODE", "", []string{"RUN chmod 4755"}},
			{finding.Medium, "RUN [\"sh\"", "", []string{"RUN chmod 4755"}},
		}},
		// Commands run through sudo with options, env with assignments,
		// sh -c (exec and shell form) were not chmod to the old reading.
		{name: "chmod through wrappers and sh -c", src: `FROM alpine:3.20
RUN sudo -u root chmod 4755 /usr/bin/a
RUN env X=1 /bin/chmod u+s /usr/bin/b
RUN sh -c 'busybox chmod 4755 /usr/bin/c'
RUN ["sh", "-c", "install -m 4755 tool /usr/bin/d"]
RUN C=chmod; $C 6755 /usr/bin/e
USER 1000
`, want: []want{
			{finding.Medium, "RUN sudo -u root", "", []string{"RUN chmod 4755"}},
			{finding.Medium, "RUN env X=1", "", []string{"RUN chmod u+s"}},
			{finding.Medium, "RUN sh -c", "", []string{"RUN chmod 4755"}},
			{finding.Medium, "RUN [\"sh\"", "", []string{"RUN install -m 4755"}},
			{finding.Medium, "RUN C=chmod", "", []string{"RUN chmod 6755"}},
		}},
		// An option's value is not an option: -odaemon names the owner
		// daemon, no -d, so the file is not a directory (before: the d
		// of daemon made it one, and its setgid bit was left out; so in
		// exec form and through a heredoc).
		{name: "install option values", src: `FROM alpine:3.20
RUN install -odaemon -m 2755 tool /usr/bin/tool
RUN ["install", "-gadm", "-m2755", "tool", "/usr/bin/tool2"]
RUN <<EOF
install -Sold -m 2755 tool /usr/bin/tool3
EOF
USER 1000
`, want: []want{
			{finding.Medium, "RUN install -odaemon", "", []string{"RUN install -m 2755 sets the setgid bit"}},
			{finding.Medium, "RUN [", "", []string{"RUN install -m 2755 sets the setgid bit"}},
			{finding.Medium, "RUN <<EOF", "", []string{"RUN install -m 2755 sets the setgid bit"}},
		}},
		{name: "setgid elsewhere", src: `FROM alpine:3.20
COPY --chmod=2755 tool /usr/local/bin/tool
RUN mkdir /srv/a && chmod g+s /srv/a /usr/bin/tool
RUN mkdir /srv/b && chmod -R g+s /srv/b
RUN install -m 0755 tool /srv/c && chmod g+s /srv/c
RUN chmod g+s "$DIR"
USER 1000
`, want: []want{
			{finding.Medium, "COPY --chmod", "", []string{"COPY --chmod=2755 sets the setgid bit", "runs with the file's group"}},
			{finding.Medium, "RUN mkdir /srv/a", "", []string{"RUN chmod g+s sets the setgid bit"}},
			{finding.Medium, "RUN mkdir /srv/b", "", []string{"RUN chmod g+s sets the setgid bit"}},
			{finding.Medium, "RUN install", "", []string{"RUN chmod g+s sets the setgid bit"}},
			{finding.Medium, "RUN chmod g+s \"$DIR\"", "", nil},
		}},
		{name: "setuid on a directory the RUN creates", src: `FROM alpine:3.20
RUN mkdir /x && chmod 6775 /x
RUN mkdir /y && chmod +s /y
RUN mkdir /z && chmod g+s /z -R
`, want: []want{{finding.Medium, "RUN mkdir /x", "", []string{"RUN chmod 6775 sets the setuid or setgid bit", "as the file's owner"}},
			{finding.Medium, "RUN mkdir /y", "", []string{"RUN chmod +s sets the setuid or setgid bit"}},
			{finding.Medium, "RUN mkdir /z", "", []string{"RUN chmod g+s sets the setgid bit"}}}},
		{name: "builder stage only copied from", src: `FROM alpine:3.20 AS build
RUN chmod 4755 /out/tool
FROM scratch
COPY --from=build /out/app /app
`},
	},
	"dockerfile/secret-in-env": {
		{name: "ENV name", src: `FROM alpine:3.20
ENV GITHUB_TOKEN=abc123
`, want: []want{{finding.High, "ENV GITHUB_TOKEN", "stage 0", []string{"ENV GITHUB_TOKEN: its name suggests a secret"}}}},
		{name: "ARG without value", src: `FROM node:22 AS build
ARG NPM_TOKEN
RUN npm ci
`, want: []want{{finding.High, "ARG NPM_TOKEN", "stage 0 (build)", []string{"ARG NPM_TOKEN", "build arguments are recorded"}}}},
		{name: "global ARG", src: `ARG API_KEY=x
FROM alpine:3.20
`, want: []want{{finding.High, "ARG API_KEY", "global ARGs", nil}}},
		// Labels are in the image configuration, as ENV values are.
		{name: "LABEL value", src: `FROM alpine:3.20
LABEL org.opencontainers.image.title=app ci.token=ghp_0123456789abcdefghijABCDEFGHIJ012345
`, want: []want{{finding.High, "LABEL org.opencontainers", "", []string{"LABEL ci.token: its name suggests a secret", "labels are stored in the image configuration"}}}},
		{name: "LABEL value shaped like a credential", src: `FROM alpine:3.20
LABEL build.info="AKIAABCDEFGHIJKLMNOP"
`, want: []want{{finding.High, "LABEL build.info", "", []string{"LABEL build.info holds a value that looks like an AWS access key id"}}}},
		{name: "ordinary LABELs", src: `FROM alpine:3.20
LABEL maintainer="ops@example.com" org.opencontainers.image.source=https://github.com/org/app org.opencontainers.image.authors=ops
`},
		{name: "legacy ENV form", src: `FROM alpine:3.20
ENV DB_PASSWORD hunter2
`, want: []want{{finding.High, "ENV DB_PASSWORD", "", nil}}},
		{name: "abbreviated password", src: `FROM alpine:3.20
ENV DB_HOST=db DB_PASS=hunter2
`, want: []want{{finding.High, "ENV DB_HOST", "", []string{"ENV DB_PASS: its name suggests a secret"}}}},
		// The abbreviations, and secret words that are not the last, are
		// judged with the value: switches, small numbers and paths are
		// not secrets.
		{name: "abbreviated names with values that are not secrets", src: `FROM alpine:3.20
ENV FIRST_PASS=true CI_PASS=1 BUILD_PWD=/src HTTP_PAT=/api EMPTY_PASS=
LABEL io.github.secret-scanning=enabled
`},
		{name: "abbreviated names with secrets", src: `FROM alpine:3.20
ENV GH_PAT=ghp_0123456789abcdefghijABCDEFGHIJ012345
ENV MYSQL_PWD=s3cret
LABEL io.github.secret-scanning=abc123
ARG CI_PASS=1
ENV DB_PASSWORD=true
`, want: []want{{finding.High, "ENV GH_PAT", "", []string{"ENV GH_PAT: its name suggests a secret"}}, {finding.High, "ENV MYSQL_PWD", "", nil},
			{finding.High, "LABEL io.github", "", nil}, {finding.High, "ARG CI_PASS", "", nil}, {finding.High, "ENV DB_PASSWORD", "", nil}}},
		{name: "PASS as a first word", src: `FROM alpine:3.20
ENV PASS_MAX_DAYS=90
`},
		{name: "plain PASSWORD", src: `FROM alpine:3.20
ENV PASSWORD=x
`, want: []want{{finding.High, "ENV PASSWORD", "", nil}}},
		{name: "AWS access key id value", src: `FROM alpine:3.20
ENV CONFIG=AKIAABCDEFGHIJKLMNOP
`, want: []want{{finding.High, "ENV CONFIG", "", []string{"looks like an AWS access key id"}}}},
		{name: "private key value", src: `FROM alpine:3.20
ENV TLS="-----BEGIN RSA PRIVATE KEY-----\nMIIEow"
`, want: []want{{finding.High, "ENV TLS", "", []string{"a private key"}}}},
		{name: "GitHub token in an ARG default", src: `FROM alpine:3.20
ARG GH=ghp_0123456789abcdefghijABCDEFGHIJ012345
`, want: []want{{finding.High, "ARG GH", "", []string{"a GitHub token"}}}},
		{name: "URL with a password", src: `FROM alpine:3.20
ENV DATABASE_URL=postgres://app:s3cret@db:5432/app
`, want: []want{{finding.High, "ENV DATABASE_URL", "", []string{"a URL with a password"}}}},
		{name: "random string", src: `FROM alpine:3.20
ENV BLOB=Zq8x3Lw9Vb2Nc7Mk4Jh6Gf1Ds5Ap0QrTyUiOpLkJh
`, want: []want{{finding.High, "ENV BLOB", "", []string{"a random secret string"}}}},
		{name: "two variables on one line", src: `FROM alpine:3.20
ENV A_TOKEN=1 B_SECRET=2
`, want: []want{{finding.High, "ENV A_TOKEN", "", []string{"A_TOKEN"}}, {finding.High, "ENV A_TOKEN", "", []string{"B_SECRET"}}}},
		{name: "builder stages too", src: `FROM golang:1.27 AS build
ENV GOPRIVATE_TOKEN=x
FROM scratch
`, want: []want{{finding.High, "ENV GOPRIVATE_TOKEN", "stage 0 (build)", nil}}},
		{name: "a word inside does not excuse the name", src: `FROM postgres:17
ENV DB_USER_PASSWORD=x
`, want: []want{{finding.High, "ENV DB_USER_PASSWORD", "", nil}}},
		{name: "path to a secret", src: `FROM alpine:3.20
ENV SSH_KEY_PATH=/run/secrets/key TOKEN_FILE=/run/secrets/token AWS_ACCESS_KEY_ID=x AUTH_ENABLED=true
`},
		{name: "GPG key fingerprint", src: `FROM python:3.13
ENV GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D
`},
		{name: "checksum", src: `FROM alpine:3.20
ENV GOLANG_SHA256=1f3e4b4fd5ab55ee74cd8e0cb7d2a85ee1e1e3df68f0b4a4e4c0c3a88e2d1f9b
`},
		{name: "ordinary variables", src: `FROM alpine:3.20
ARG VERSION=1.2.3
ENV PATH=/usr/local/bin:$PATH KEYCLOAK_URL=https://auth.example.com LANG=C.UTF-8
ENV JAVA_OPTS="-XX:+UseG1GC -Xmx512m"
`},
		{name: "URL without password", src: `FROM alpine:3.20
ENV UPSTREAM=https://user@example.com/path
`},
	},
	"dockerfile/no-multi-stage": {
		{name: "single golang stage", src: `FROM golang:1.27
COPY . .
RUN go build -o /app .
`, want: []want{{finding.Medium, "FROM golang", "stage 0", []string{"golang:1.27, a compiler image"}}}},
		{name: "final stage on a compiler image", src: `FROM golang:1.27 AS build
RUN go build -o /app .
FROM golang:1.27-alpine
COPY --from=build /app /app
`, want: []want{{finding.Medium, "FROM golang:1.27-alpine", "stage 1", nil}}},
		{name: "compiler run on a runtime image", src: `FROM alpine:3.20
RUN apk add --no-cache go && go build -o /app .
`, want: []want{{finding.Medium, "RUN apk", "stage 0", []string{"a RUN of the final stage uses go build"}}}},
		{name: "compiler run in the stage built on", src: `FROM alpine:3.20 AS base
RUN apk add --no-cache gcc
FROM base
`, want: []want{{finding.Medium, "RUN apk", "stage 0 (base)", []string{"a RUN of stage 0 (base), which the final stage is built on, uses gcc"}}}},
		{name: "maven", src: `FROM maven:3.9-eclipse-temurin-21
`, want: []want{{finding.Medium, "FROM maven", "", nil}}},
		{name: "JDK", src: `FROM eclipse-temurin:21-jdk
`, want: []want{{finding.Medium, "FROM eclipse", "", nil}}},
		{name: "dotnet SDK", src: `FROM mcr.microsoft.com/dotnet/sdk:8.0
`, want: []want{{finding.Medium, "FROM mcr", "", nil}}},
		{name: "rust on Docker Hub's long name", src: `FROM docker.io/library/rust:1.82
`, want: []want{{finding.Medium, "FROM docker.io", "", nil}}},
		{name: "final stage built on the build stage", src: `FROM golang:1.27 AS build
RUN go build -o /app .
FROM build AS runtime
`, want: []want{{finding.Medium, "FROM golang", "stage 0 (build)", []string{"through stage 0 (build)"}}}},
		{name: "build argument in FROM", src: `ARG GO_VERSION=1.27
FROM golang:${GO_VERSION}
`, want: []want{{finding.Medium, "FROM golang", "", []string{"golang:1.27"}}}},
		{name: "mirror registry", src: `ARG REGISTRY=registry.example.com/mirror
FROM ${REGISTRY}/golang:1.27
`, want: []want{{finding.Medium, "FROM ${REGISTRY}", "", nil}}},
		{name: "multi-stage build", src: `FROM golang:1.27 AS build
RUN go build -o /app .
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /app /app
`},
		{name: "node is not compiled", src: `FROM node:22
RUN npm ci
`},
		{name: "JRE", src: `FROM eclipse-temurin:21-jre
`},
		{name: "python", src: `FROM python:3.13-slim
RUN pip install --no-cache-dir -r requirements.txt
`},
		{name: "installing a package named like a compiler prefix", src: `FROM debian:12
RUN apt-get install -y libgcc-s1 gcc-12-base
`},
		{name: "compiler in an unknown image", src: `ARG BASE
FROM ${BASE}
`},
	},
	"dockerfile/final-has-shell": {
		{name: "alpine", src: `FROM alpine:3.20
`, want: []want{{finding.Medium, "FROM alpine", "stage 0", []string{"based on alpine:3.20, which has a shell"}}}},
		{name: "distroless debug", src: `FROM gcr.io/distroless/static-debian12:debug
`, want: []want{{finding.Medium, "FROM gcr.io", "", nil}}},
		{name: "chainguard dev", src: `FROM cgr.dev/chainguard/static:latest-dev
`, want: []want{{finding.Medium, "FROM cgr.dev", "", nil}}},
		{name: "through a stage", src: `FROM debian:12 AS base
FROM base AS runtime
`, want: []want{{finding.Medium, "FROM debian", "stage 0 (base)", []string{"through stage 0 (base)"}}}},
		{name: "a different image than the configured one", src: `FROM registry.example.com/base/debian:12
`, opts: dockerfile.Options{Shellless: []string{"registry.example.com/base/static"}},
			want: []want{{finding.Medium, "FROM registry", "", nil}}},
		{name: "scratch", src: `FROM golang:1.27 AS build
FROM scratch
COPY --from=build /app /app
`},
		{name: "distroless", src: `FROM gcr.io/distroless/static-debian12:nonroot
`},
		{name: "distroless by digest only", src: `FROM gcr.io/distroless/base-debian12@sha256:0000000000000000000000000000000000000000000000000000000000000000
`},
		{name: "configured shell-less image", src: `FROM registry.example.com/base/static:1.0
`, opts: dockerfile.Options{Shellless: []string{"registry.example.com/base/static"}}},
		{name: "configured with Docker Hub's long name", src: `FROM busybox:1.36
`, opts: dockerfile.Options{Shellless: []string{"docker.io/library/busybox"}}},
		{name: "dotnet chiseled", src: `FROM mcr.microsoft.com/dotnet/runtime-deps:8.0-noble-chiseled
`},
		{name: "unknown image", src: `ARG BASE
FROM ${BASE}
`},
		{name: "only the final stage counts", src: `FROM alpine:3.20 AS tools
FROM scratch
COPY --from=tools /bin/busybox /busybox
`},
	},
	"dockerfile/go-cgo-enabled": {
		{name: "go build copied into scratch", src: `FROM --platform=$BUILDPLATFORM golang:1.27 AS build
RUN go build -o /app .
FROM scratch
COPY --from=build /app /app
`, want: []want{{finding.Medium, "RUN go build", "stage 0 (build)", []string{"based on scratch"}}}},
		{name: "go install copied into distroless", src: `FROM golang:1.27 AS build
RUN go install ./cmd/app
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /go/bin/app /app
`, want: []want{{finding.Medium, "RUN go install", "", nil}}},
		{name: "copied through another stage", src: `FROM golang:1.27 AS build
RUN go build -o /app .
FROM alpine:3.20 AS compress
COPY --from=build /app /app
RUN upx /app
FROM scratch
COPY --from=compress /app /app
`, want: []want{{finding.Medium, "RUN go build", "stage 0 (build)", nil}}},
		{name: "copied by stage index", src: `FROM golang:1.27
RUN go build -o /app .
FROM scratch
COPY --from=0 /app /app
`, want: []want{{finding.Medium, "RUN go build", "stage 0", nil}}},
		{name: "cgo explicitly on", src: `FROM golang:1.27 AS build
ENV CGO_ENABLED=1
RUN go build -o /app .
FROM scratch
COPY --from=build /app /app
`, want: []want{{finding.Medium, "RUN go build", "", nil}}},
		{name: "ENV after the RUN is too late", src: `FROM golang:1.27 AS build
RUN go build -o /app .
ENV CGO_ENABLED=0
FROM scratch
COPY --from=build /app /app
`, want: []want{{finding.Medium, "RUN go build", "", nil}}},
		{name: "ENV CGO_ENABLED=0", src: `FROM golang:1.27 AS build
ENV CGO_ENABLED=0
RUN go build -o /app .
FROM scratch
COPY --from=build /app /app
`},
		{name: "inline", src: `FROM golang:1.27 AS build
RUN CGO_ENABLED=0 go build -o /app .
FROM scratch
COPY --from=build /app /app
`},
		{name: "exported", src: `FROM golang:1.27 AS build
RUN export CGO_ENABLED=0 && go build -o /app .
FROM scratch
COPY --from=build /app /app
`},
		{name: "ARG", src: `FROM golang:1.27 AS build
ARG CGO_ENABLED=0
RUN go build -o /app .
FROM scratch
COPY --from=build /app /app
`},
		{name: "global ARG redeclared", src: `ARG CGO_ENABLED=0
FROM golang:1.27 AS build
ARG CGO_ENABLED
RUN go build -o /app .
FROM scratch
COPY --from=build /app /app
`},
		{name: "ENV in the stage built on", src: `FROM golang:1.27 AS base
ENV CGO_ENABLED=0
FROM base AS build
RUN go build -o /app .
FROM scratch
COPY --from=build /app /app
`},
		{name: "static link", src: `FROM golang:1.27 AS build
RUN go build -ldflags '-extldflags "-static"' -o /app .
FROM scratch
COPY --from=build /app /app
`},
		{name: "final image with a libc", src: `FROM golang:1.27 AS build
RUN go build -o /app .
FROM debian:12
COPY --from=build /app /app
`},
		{name: "stage not copied", src: `FROM golang:1.27 AS test
RUN go build ./...
FROM golang:1.27 AS build
RUN CGO_ENABLED=0 go build -o /app .
FROM scratch
COPY --from=build /app /app
`},
	},
	"dockerfile/add-remote": {
		{name: "https download", src: `FROM alpine:3.20
ADD https://example.com/app.tar.gz /opt/
`, want: []want{{finding.Medium, "ADD https", "stage 0", []string{"ADD downloads from example.com without --checksum"}}}},
		{name: "git remote", src: `FROM alpine:3.20
ADD git@github.com:org/repo.git /src
`, want: []want{{finding.Medium, "ADD git@", "", []string{"github.com"}}}},
		{name: "credentials stay out of the message", src: `FROM alpine:3.20
ADD https://deploy:tok3n@artifacts.example.com/app.tgz?sig=abc /app.tgz
`, want: []want{{finding.Medium, "ADD https", "", []string{"artifacts.example.com"}}}},
		{name: "checksum", src: `FROM alpine:3.20
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.com/app.tar.gz /opt/
`},
		{name: "COPY", src: `FROM alpine:3.20
COPY app /app
`},
		{name: "local file", src: `FROM alpine:3.20
ADD app /app
`},
		{name: "quoted https download", src: `FROM alpine:3.20
ADD "https://example.com/app.tgz" /app/
`, want: []want{{finding.Medium, "ADD \"https", "stage 0", []string{"ADD downloads from example.com without --checksum"}}}},
		{name: "single-quoted https download", src: `FROM alpine:3.20
ADD 'https://example.com/app.tgz' /app/
`, want: []want{{finding.Medium, "ADD 'https", "", []string{"example.com"}}}},
		{name: "quoted local file", src: `FROM alpine:3.20
ADD "app.jar" /app/
`},
		{name: "quoted download with checksum", src: `FROM alpine:3.20
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d "https://example.com/app.tgz" /app/
`},
	},
	"dockerfile/run-sudo": {
		// Before: Ward read the words before escape removal (s\udo),
		// which the shell runs as sudo.
		{name: "backslash escapes", src: `FROM debian:12
RUN s\udo id
RUN sh -c 'sh -c "sh -c \"sudo id\""'
RUN echo s\\udo "s\udo"
USER 1000
`, want: []want{
			{finding.Low, `RUN s\udo`, "", nil},
			{finding.Low, `RUN sh -c 'sh`, "", nil},
		}},
		{name: "sudo at the start", src: `FROM debian:12
RUN sudo apt-get update
`, want: []want{{finding.Low, "RUN sudo", "stage 0", []string{"sudo"}}}},
		{name: "sudo after &&", src: `FROM debian:12
RUN apt-get update && sudo apt-get install -y curl
`, want: []want{{finding.Low, "RUN apt-get", "", nil}}},
		{name: "installing sudo is not running it", src: `FROM debian:12
RUN apt-get install -y sudo
`},
		{name: "a word that contains sudo", src: `FROM debian:12
RUN echo pseudo-random > /tmp/x && ./sudoku
`},
		// Before: only sudo after a separator of the text was seen; a
		// heredoc line, a path, the exec form, sh -c, env and a
		// variable all passed.
		{name: "sudo the text match missed", src: `FROM debian:12
RUN <<EOF
apt-get update
sudo id
EOF
RUN <<-EOT bash
	set -e
	sudo id
EOT
RUN ["/usr/bin/sudo", "id"]
RUN /usr/bin/sudo id
RUN sh -c 'sudo id'
RUN ["bash", "-ec", "exec sudo id"]
RUN env X=1 sudo id
RUN X=1 sudo id
RUN S=sudo; $S id
RUN nice -n 5 sudo id
`, want: []want{
			{finding.Low, "RUN <<EOF", "", nil},
			{finding.Low, "RUN <<-EOT bash", "", nil},
			{finding.Low, "RUN [\"/usr/bin/sudo\"", "", nil},
			{finding.Low, "RUN /usr/bin/sudo", "", nil},
			{finding.Low, "RUN sh -c", "", nil},
			{finding.Low, "RUN [\"bash\"", "", nil},
			{finding.Low, "RUN env X=1", "", nil},
			{finding.Low, "RUN X=1 sudo", "", nil},
			{finding.Low, "RUN S=sudo", "", nil},
			{finding.Low, "RUN nice", "", nil},
		}},
		{name: "sudo through ENV", src: `FROM debian:12
ENV SUDO=/usr/bin/sudo
RUN $SUDO id
`, want: []want{{finding.Low, "RUN $SUDO", "", nil}}},
		{name: "sudo as a word, not a command", src: `FROM debian:12
RUN <<EOF
apt-get install -y sudo
echo sudo
EOF
RUN ["apt-get", "install", "-y", "sudo"]
RUN sh -c 'echo sudo'
`},
	},
	"dockerfile/run-unanalyzed": {
		// A RUN that spends the bound on expanded text hid the sudo
		// after it (TestExpansionExhausted has more).
		{name: "bound spent", src: "FROM debian:12\nRUN A=" + strings.Repeat("a", 60<<10) + "; echo" + strings.Repeat(" $A", 20) + "; S=sudo; $S id\nUSER 1000\n", want: []want{
			{finding.High, `S=sudo`, "", []string{"RUN expands more variable text than Ward follows"}},
		}},
		{name: "variables under the bounds", src: "FROM debian:12\nRUN A=" + strings.Repeat("a", 60<<10) + "; echo $A; C=chmod; $C 755 /app\nUSER 1000\n"},
	},
	"dockerfile/pipe-to-shell": {
		// Before: \sh was read as written, not as the shell sh.
		{name: "backslash escapes", src: `FROM debian:12
RUN curl https://x.example/i | \sh
USER 1000
`, want: []want{
			{finding.Medium, `RUN curl`, "", nil},
		}},
		{name: "substitution as the command, xargs into sh -c", src: `FROM debian:12
RUN $(curl -fsSL https://x.example/cmd)
RUN ` + "`wget -qO- https://x.example/cmd`" + `
RUN curl -fsSL https://x.example/i | xargs -0 bash -c
RUN echo "$(curl -fsSL https://x.example/v)" && curl -fsSL https://x.example/l | xargs -n1 echo
USER 1000
`, want: []want{
			{finding.Medium, "RUN $(curl", "", []string{"a command of curl output"}},
			{finding.Medium, "RUN `wget", "", nil},
			{finding.Medium, "xargs -0 bash -c", "", []string{"curl | bash"}},
		}},
		{name: "SHELL of Windows: PowerShell and cmd are not sh", src: "# escape=`" + `
FROM mcr.microsoft.com/windows/servercore:ltsc2022 AS ps
SHELL ["powershell", "-Command", "$ErrorActionPreference = 'Stop';"]
RUN curl.exe -fsSL https://x.example/a -o a.txt ; Get-Content a.txt | sh ; chmod 777 C:\app
FROM ps
RUN curl -fsSL https://x.example/i | sh
SHELL ["cmd", "/S", "/C"]
RUN curl -fsSL https://x.example/i | sh
RUN ["sh", "-c", "curl -fsSL https://x.example/i | sh"]
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN curl -fsSL https://x.example/j | bash
SHELL ["/usr/local/bin/powershell", "-c"]
RUN curl -fsSL https://x.example/k | sh
USER ContainerUser
`, want: []want{
			{finding.Medium, "RUN [\"sh\"", "", nil},
			{finding.Medium, "x.example/j", "", nil},
			{finding.Medium, "x.example/k", "", nil},
		}},
		{name: "redirections, subshells, options, wrappers", src: `FROM debian:12
RUN bash <<<"$(curl -fsSL https://x.example/i)"
RUN sh < <(wget -qO- https://x.example/i)
RUN source /dev/stdin <<<"$(curl -fsSL https://x.example/i)"
RUN curl -fsSL https://x.example/i | (sh)
RUN curl -fsSL https://x.example/i | { bash; }
RUN curl -fsSL https://x.example/i | bash -o pipefail
RUN curl -fsSL https://x.example/i | timeout 60 sh
RUN curl -fsSL https://x.example/list | xargs -n1 sh -c 'echo "$0"'
RUN while read -r u; do echo "$u"; done < <(curl -fsSL https://x.example/list)
RUN jq -r .tag_name <<<"$(curl -fsSL https://x.example/latest)"
RUN bash -o pipefail -c 'curl -fsSL https://x.example/a.tgz | tar -xz'
USER 1000
`, want: []want{
			{finding.Medium, "RUN bash <<<", "", []string{"bash of curl output"}},
			{finding.Medium, "RUN sh < <(", "", []string{"sh of wget output"}},
			{finding.Medium, "RUN source", "", []string{"source of curl output"}},
			{finding.Medium, "| (sh)", "", []string{"curl | sh"}},
			{finding.Medium, "| { bash; }", "", nil},
			{finding.Medium, "| bash -o pipefail", "", nil},
			{finding.Medium, "| timeout 60 sh", "", nil},
		}},
		{name: "pipes", src: `FROM debian:12 AS build
RUN curl -fsSL https://get.example.com/install.sh | sh
RUN wget -O- https://x.example/i | bash
RUN curl -sSL https://x.example/i | sudo -E bash -s -- --yes
RUN curl -sSL https://x.example/i | tee /tmp/i.sh | /bin/sh
RUN curl -sSL https://x.example/i.py | python3 -
FROM debian:12
USER 1000
`, want: []want{
			{finding.Medium, "RUN curl -fsSL", "stage 0 (build)", []string{"curl | sh"}},
			{finding.Medium, "RUN wget", "", []string{"wget | bash"}},
			{finding.Medium, "RUN curl -sSL https://x.example/i | sudo", "", nil},
			{finding.Medium, "RUN curl -sSL https://x.example/i | tee", "", []string{"curl | sh"}},
			{finding.Medium, "RUN curl -sSL https://x.example/i.py", "", []string{"curl | python3"}},
		}},
		{name: "heredocs, substitutions, sh -c, exec form", src: `FROM debian:12
RUN <<EOF
set -e
curl -fsSL https://x.example/i | sh
EOF
RUN <<-EOT bash
	wget -qO- https://x.example/i | bash
EOT
RUN bash <(curl -fsSL https://x.example/i)
RUN sh -c "$(curl -fsSL https://x.example/i)"
RUN eval "$(wget -qO- https://x.example/env)"
RUN ["sh", "-c", "curl -s https://x.example/i | sh"]
RUN sh -c 'busybox wget -O - https://x.example/i | ash'
RUN "cu"rl https://x.example/i \
  | s\
h
USER 1000
`, want: []want{
			{finding.Medium, "RUN <<EOF", "", nil},
			{finding.Medium, "RUN <<-EOT bash", "", nil},
			{finding.Medium, "RUN bash <(curl", "", []string{"bash of curl output"}},
			{finding.Medium, "RUN sh -c \"$(curl", "", []string{"sh of curl output"}},
			{finding.Medium, "RUN eval", "", []string{"eval of wget output"}},
			{finding.Medium, "RUN [\"sh\"", "", nil},
			{finding.Medium, "RUN sh -c 'busybox", "", []string{"wget | ash"}},
			{finding.Medium, "RUN \"cu\"rl", "", nil},
		}},
		{name: "data, files, checked downloads", src: `FROM debian:12
RUN curl -s https://api.example/tags | python3 -c 'import json,sys; print(json.load(sys.stdin)[0])'
RUN curl -fsSLo i.sh https://x.example/i && echo "abc  i.sh" | sha256sum -c - && sh i.sh
RUN curl -s https://x.example/a | sh ./local.sh
RUN curl -s https://x.example/a | bash -c 'read v; echo $v'
RUN curl -s https://x.example/k | gpg --dearmor -o /usr/share/keyrings/k.gpg
RUN echo "curl x | sh"
USER 1000
`},
	},
	"dockerfile/world-writable": {
		// Before: 7\77 was not a mode; the sticky bit a later chmod
		// adds was not seen; /dev/null is no file of the image.
		{name: "escapes, final mode, devices", src: `FROM debian:12
RUN chmod 7\77 /app
RUN mkdir /d && chmod 0777 /d && chmod o+t /d
RUN chmod 666 /dev/null
RUN chmod 0777 /e && chmod o+t /f
USER 1000
`, want: []want{
			{finding.Low, `RUN chmod 7\77`, "", nil},
			{finding.Low, `RUN chmod 0777 /e`, "", nil},
		}},
		// Before: a later chmod undid the mode by its position alone,
		// also when it never runs; a chmod through a link under /dev was
		// skipped as a device's.
		{name: "a later chmod that may not run", src: `FROM debian:12
RUN chmod 0777 /a; if false; then chmod 0755 /a; fi
RUN chmod 0777 /b; exit 0; chmod 0755 /b
RUN chmod 0777 /c && false && chmod o-w /c
RUN chmod 0777 /d; fix() { chmod 0755 /d; }
RUN chmod 0777 /e || chmod o+t /e
RUN chmod 0777 /f; false && chmod 0755 /f
RUN f() { chmod 0777 /g; }; chmod 0755 /g; f
RUN chmod 0777 /h & chmod 0755 /h
RUN sh -c 'chmod 0777 /i'; chmod 0755 /i
RUN ln -s /app /dev/x && chmod 0777 /dev/x
RUN chmod 0777 /ok1; chmod 0755 /ok1
RUN chmod 0777 /j && chmod 0755 /x && chmod o+t /j
RUN if true; then chmod 0777 /ok3; fi; { true; chmod 0755 /ok3; } || true
RUN for d in x; do chmod 0777 /ok4 && chmod o-w /ok4; done; chmod 666 /dev/null
USER 1000
`, want: []want{
			{finding.Low, "RUN chmod 0777 /a", "", nil},
			{finding.Low, "RUN chmod 0777 /b", "", nil},
			{finding.Low, "RUN chmod 0777 /c", "", nil},
			{finding.Low, "RUN chmod 0777 /d", "", nil},
			{finding.Low, "RUN chmod 0777 /e", "", nil},
			{finding.Low, "RUN chmod 0777 /f", "", nil},
			{finding.Low, "RUN f() {", "", nil},
			{finding.Low, "RUN chmod 0777 /h", "", nil},
			{finding.Low, "RUN sh -c", "", nil},
			{finding.Low, "RUN ln -s", "", nil},
			{finding.Low, "RUN chmod 0777 /j", "", nil},
		}},
		// Before: break and continue did not end the loop body, a chmod
		// after a middle one of an && list was taken to run, an exit
		// right of || after the chmod ended it, and the target of ln
		// (/dev/stdout) counted as a link under /dev.
		{name: "loops, && lists, || exit, ln targets", src: `FROM debian:12
RUN for i in 1 2; do chmod 0777 /a; continue; chmod 0755 /a; done
RUN while true; do chmod 0777 /b; break; chmod 0755 /b; done
RUN for i in 1; do chmod 0777 /c; [ -e /x ] && break; chmod 0755 /c; done
RUN for i in 1; do chmod 0777 /d; if true; then break; fi; chmod 0755 /d; done
RUN chmod 0777 /e && chmod 0755 /nonexistent && chmod 0755 /e; true
RUN chmod 0777 /f && false || exit 1; chmod 0755 /f
RUN false || exit 1; chmod 0777 /g; true || exit 1; chmod 0755 /g
RUN ln -sf /app /dev/x; chmod 0666 /dev/x
RUN ln -s -t /dev /app; chmod 0666 /dev/app
RUN ln -s --target-directory=/dev /app; chmod 0666 /dev/app
RUN chmod 0777 /ok1 || exit 1; chmod 0755 /ok1
RUN chmod 0777 /ok2 || { echo failed; exit 1; }; chmod 0755 /ok2
RUN for i in 1; do chmod 0777 /ok3; for j in 1; do break; done; chmod 0755 /ok3; done
RUN for i in 1; do chmod 0777 /ok4; while false; do continue; done; chmod 0755 /ok4; done
RUN mkdir /ok5 && chmod 0777 /ok5 && chmod 0755 /ok5
RUN ln -sf /dev/stdout /var/log/app.log && chmod 0666 /dev/stdout
RUN ln -s /dev/null /tmp/n /tmp/m; ln -t /srv /dev/zero; chmod 0666 /dev/null /dev/zero
USER 1000
`, want: []want{
			{finding.Low, "RUN for i in 1 2", "", nil},
			{finding.Low, "RUN while true", "", nil},
			{finding.Low, "RUN for i in 1; do chmod 0777 /c", "", nil},
			{finding.Low, "RUN for i in 1; do chmod 0777 /d", "", nil},
			{finding.Low, "RUN chmod 0777 /e", "", nil},
			{finding.Low, "RUN chmod 0777 /f", "", nil},
			{finding.Low, "RUN false || exit 1", "", nil},
			{finding.Low, "RUN ln -sf /app", "", nil},
			{finding.Low, "RUN ln -s -t", "", nil},
			{finding.Low, "RUN ln -s --target", "", nil},
		}},
		{name: "umask", src: `FROM alpine:3.20
RUN umask 000 && mkdir -p /srv/data && tar -xf /tmp/a.tar -C /srv
RUN umask -S o=rwx; cp -r /src /app
RUN umask 0002 && mkdir /shared && umask 022 && umask u=rwx,g=rx,o=rx && umask
USER 1000
`, want: []want{
			{finding.Low, "RUN umask 000 &&", "", []string{"RUN umask 000 makes"}},
			{finding.Low, "RUN umask -S", "", nil},
		}},
		{name: "setfacl", src: `FROM alpine:3.20
RUN setfacl -m o::rwx /app
RUN setfacl -R -m u:app:rwx,other:rw- /srv
RUN setfacl -Rm d:o::7 /data
RUN setfacl --modify=o::rw /etc/app.conf
RUN setfacl -m u:app:rwx,g::rx,o::r-x /ok && setfacl -x o /ok2 && setfacl -m m::rwx /ok3
USER 1000
`, want: []want{
			{finding.Low, "RUN setfacl -m o::rwx", "", []string{"RUN setfacl -m o::rwx"}},
			{finding.Low, "RUN setfacl -R -m", "", []string{"other:rw-"}},
			{finding.Low, "RUN setfacl -Rm", "", nil},
			{finding.Low, "RUN setfacl --modify", "", nil},
		}},
		{name: "find -exec and xargs", src: `FROM alpine:3.20
RUN find /app -type d -exec chmod 777 {} \;
RUN find /app -print0 | xargs -0 -I{} chmod a+w {}
RUN find /app -type d -exec chmod 755 {} + -o -type f -exec chmod 644 {} +
USER 1000
`, want: []want{
			{finding.Low, "RUN find /app -type d -exec chmod 777", "", []string{"RUN chmod 777"}},
			{finding.Low, "RUN find /app -print0", "", []string{"RUN chmod a+w"}},
		}},
		{name: "chmod, install, mkdir, --chmod", src: `FROM alpine:3.20
RUN chmod 777 /app
RUN chmod -R o+w /srv
COPY --chmod=666 app.conf /etc/app.conf
RUN install -m 0777 tool /usr/bin/tool && mkdir -m a=rwx /data
USER 1000
`, want: []want{
			{finding.Low, "RUN chmod 777", "stage 0", []string{"RUN chmod 777 makes files of the final image writable by every user"}},
			{finding.Low, "RUN chmod -R o+w", "", []string{"RUN chmod -R o+w"}},
			{finding.Low, "COPY --chmod=666", "", []string{"COPY --chmod=666"}},
			{finding.Low, "RUN install", "", []string{"RUN install -m 0777"}},
			{finding.Low, "RUN install", "", []string{"RUN mkdir -m a=rwx"}},
		}},
		{name: "heredocs and evasions", src: `FROM alpine:3.20
RUN <<EOF
set -e
chmod 777 /app
EOF
RUN <<-EOT bash
	/bin/chmod -R go+w /srv
EOT
RUN ["busybox", "chmod", "0777", "/x"]
RUN sh -c 'sudo chmod a+rw /y'
RUN M=777; C=chmod; $C "$M" /z
RUN "ch"'mod' 7\
77 /w
USER 1000
`, want: []want{
			{finding.Low, "RUN <<EOF", "", []string{"RUN chmod 777"}},
			{finding.Low, "RUN <<-EOT bash", "", []string{"RUN chmod -R go+w"}},
			{finding.Low, "RUN [\"busybox\"", "", nil},
			{finding.Low, "RUN sh -c", "", nil},
			{finding.Low, "RUN M=777", "", []string{"RUN chmod 777"}},
			{finding.Low, "RUN \"ch\"", "", nil},
		}},
		{name: "mode from ENV, ARG or the script", src: `FROM alpine:3.20
ENV M=777
ARG R=-R
RUN chmod "$M" /app
RUN chmod $R ${M} /srv
RUN m=0666; install -m "$m" f /etc/f
RUN ["chmod", "$M", "/x"]
ARG UNSET
RUN chmod $UNSET /y
USER 1000
`, want: []want{
			{finding.Low, "RUN chmod \"$M\"", "", []string{"RUN chmod 777"}},
			{finding.Low, "RUN chmod $R", "", []string{"RUN chmod -R 777"}},
			{finding.Low, "RUN m=0666", "", []string{"RUN install -m 0666"}},
		}},
		{name: "symbolic clauses in order", src: `FROM alpine:3.20
RUN chmod -R a+rwX,o-w /app && chmod o+w,o-w /b && chmod a=rwx,o=rx /c && chmod a+rw,go-w /d
RUN chmod go-w,a+rw /p
RUN chmod o-w,+t,o+w,-t /q
USER 1000
`, want: []want{
			{finding.Low, "RUN chmod go-w", "", []string{"RUN chmod go-w,a+rw"}},
			{finding.Low, "RUN chmod o-w,+t", "", nil},
		}},
		{name: "sticky, umask, builders, safe modes", src: `FROM alpine:3.20 AS build
RUN chmod 777 /out
FROM alpine:3.20
RUN chmod 1777 /tmp && mkdir -m 1777 /scratch && chmod a+rwxt /shared
RUN chmod +w /a && chmod =rwx /b && chmod 775 /c && chmod o-w /d && chmod 755 /e
RUN echo chmod 777 /f
COPY --from=build /out /out
USER 1000
`},
	},
	"dockerfile/sudo-nopasswd": {
		// Before: ALL=\(ALL\) NOPASS\WD: was read with its backslashes,
		// and the text of sh -c 's sed pattern was judged as written.
		{name: "backslash escapes, sed in sh -c", src: `FROM debian:12
RUN echo app ALL=\(ALL\) NOPASS\WD: ALL >> /etc/sudoers
RUN sh -c "sed -i '/NOPASSWD:/d' /etc/sudoers"
RUN <<X
sh -c 'cat >> /etc/sudoers <<EOF
app ALL=(ALL) NOPASSWD: ALL
EOF'
X
USER 1000
`, want: []want{
			{finding.High, `NOPASS\WD`, "", nil},
			{finding.High, `RUN <<X`, "", nil},
		}},
		{name: "sed removing NOPASSWD, sed adding it", src: `FROM debian:12
RUN sed -i 's/NOPASSWD: //' /etc/sudoers && sed -ri '/^app.*NOPASSWD:/s/^/# /' /etc/sudoers.d/app
RUN sed -i 's/%sudo\tALL=(ALL:ALL) NOPASSWD: ALL/%sudo\tALL=(ALL:ALL) ALL/' /etc/sudoers
RUN sed -i -e '/NOPASSWD:/d' /etc/sudoers
RUN sed -i '$a app ALL=(ALL) NOPASSWD: ALL' /etc/sudoers
RUN sed -i 's|^app ALL=(ALL) ALL|app ALL=(ALL) NOPASSWD: ALL|' /etc/sudoers
RUN sed -i "s/^app ALL=(ALL) ALL/$(echo app) ALL=(ALL) NOPASSWD: ALL/" /etc/sudoers
USER app
`, want: []want{
			{finding.High, "RUN sed -i '$a", "", nil},
			{finding.High, "RUN sed -i 's|", "", nil},
			{finding.High, "$(echo app)", "", nil},
		}},
		// Before: the sed exemption dropped a pattern that \1 writes
		// back, and the /re/ address of a line that s uncomments.
		{name: "sed uncommenting a NOPASSWD rule", src: `FROM fedora:41
RUN sed -i -e 's/^#\s*\(%wheel\s\+ALL=(ALL)\s\+NOPASSWD:\s\+ALL\)/\1/' /etc/sudoers
RUN sed -i '/%wheel.*NOPASSWD/s/^# //' /etc/sudoers
RUN sed -i 's/^# *%wheel.*NOPASSWD: ALL/&/' /etc/sudoers
RUN sed -i '/NOPASSWD/,/x/d;s/NOPASSWD: //;s/app.*NOPASSWD: ALL/app ALL \& more/' /etc/sudoers
USER 1000
`, want: []want{
			{finding.High, `RUN sed -i -e 's/^#`, "", nil},
			{finding.High, "RUN sed -i '/%wheel", "", nil},
			{finding.High, "RUN sed -i 's/^# *%wheel", "", nil},
		}},
		// Before: an address was kept when its s command removed the tag,
		// and a regex that does not spell NOPASSWD (NOPASS, NOPASS\)WD)
		// hid the rule a sed uncomments.
		{name: "sed removing the tag by address, uncommenting by regex", src: `FROM fedora:41
RUN sed -i '/NOPASSWD/s/NOPASSWD: //' /etc/sudoers
RUN sed -i '/%wheel.*NOPASS/s/^# //' /etc/sudoers
RUN sed -i 's/^# *\(%wheel.*NOPASS\)WD/\1WD/' /etc/sudoers
RUN sed -ri 's/^#[[:space:]]*(permit)/\1/' /etc/doas.conf
RUN sed -i '/app/s/ALL$/NOPASSWD: ALL/' /etc/sudoers.d/app
RUN sed -i '/NOPASSWD/s/^/# /' /etc/sudoers && sed -i 's/^# //' /etc/ssh/sshd_config
RUN sed -i '/NOPASSWD/s/^%/#%/' /etc/sudoers.d/app
USER 1000
`, want: []want{
			{finding.High, "RUN sed -i '/%wheel.*NOPASS/", "", []string{"may enable a commented rule"}},
			{finding.High, "RUN sed -i 's/^# *", "", []string{"may enable a commented rule"}},
			{finding.High, "RUN sed -ri", "", []string{"may enable a commented rule"}},
			{finding.High, "RUN sed -i '/app/", "", []string{"NOPASSWD sudoers rule"}},
		}},
		{name: "escapes and Defaults !authenticate", src: `FROM debian:12
RUN printf 'app ALL=(ALL) NOPASS\127D: ALL\n' >> /etc/sudoers
RUN echo -e 'app ALL=(ALL) NOPASS\x57D: ALL' > /etc/sudoers.d/app
RUN echo $'app ALL=(ALL) \x4eOPASSWD: ALL' > /etc/sudoers.d/b
RUN echo 'Defaults:app !authenticate' >> /etc/sudoers.d/app
RUN echo 'Defaults  env_keep += "HOME"' >> /etc/sudoers && printf 'app ALL=(ALL) ALL\n' > /etc/sudoers.d/c
USER app
`, want: []want{
			{finding.High, "RUN printf 'app ALL=(ALL) NOPASS", "", nil},
			{finding.High, "RUN echo -e", "", nil},
			{finding.High, "RUN echo $'app", "", nil},
			{finding.High, "RUN echo 'Defaults:app", "", []string{"Defaults !authenticate"}},
		}},
		{name: "echo into sudoers", src: `FROM debian:12
RUN useradd -m app && echo 'app ALL=(ALL) NOPASSWD:ALL' >> /etc/sudoers
USER app
`, want: []want{{finding.High, "RUN useradd", "stage 0", []string{"RUN writes a NOPASSWD sudoers rule into the final image", "sudo -n"}}}},
		{name: "heredocs", src: `FROM debian:12
RUN <<EOF
useradd -m app
echo '%wheel ALL=(ALL:ALL) NOPASSWD: ALL' > /etc/sudoers.d/wheel
EOF
RUN <<-EOT bash
	cat >> /etc/sudoers <<SUDO
	app ALL=(root) NOPASSWD: /usr/bin/apt-get
	SUDO
EOT
COPY <<EOF /etc/sudoers.d/app
app ALL=(ALL) NOPASSWD:ALL
EOF
ADD <<EOF /etc/doas.d/app.conf
permit persist nopass app as root
EOF
USER app
`, want: []want{
			{finding.High, "RUN <<EOF", "", []string{"NOPASSWD sudoers rule"}},
			{finding.High, "RUN <<-EOT bash", "", []string{"NOPASSWD sudoers rule"}},
			{finding.High, "COPY <<EOF", "", []string{"COPY of a here-document to /etc/sudoers.d/app writes a NOPASSWD sudoers rule"}},
			{finding.High, "ADD <<EOF", "", []string{"a doas nopass rule"}},
		}},
		{name: "through ENV and ARG", src: `FROM debian:12
ENV GRANT="NOPASSWD: ALL"
ARG WHO=app
RUN echo "$WHO ALL=(ALL) $GRANT" >> /etc/sudoers.d/app
RUN ["sh", "-c", "echo \"app ALL=(ALL) ${GRANT}\" > /etc/sudoers.d/x"]
USER app
`, want: []want{
			{finding.High, "RUN echo \"$WHO", "", nil},
			{finding.High, "RUN [\"sh\"", "", nil},
		}},
		{name: "quoting, sh -c, tee, sed", src: `FROM debian:12
RUN echo app ALL='(ALL)' NOPASS''WD":"ALL | tee -a /etc/sudoers
RUN ["sh", "-c", "echo 'app ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/app"]
RUN sed -i 's/^# %wheel ALL=(ALL:ALL) NOPASSWD: ALL/%wheel ALL=(ALL:ALL) NOPASSWD: ALL/' /etc/sudoers
USER app
`, want: []want{
			{finding.High, "RUN echo app", "", nil},
			{finding.High, "RUN [\"sh\"", "", nil},
			{finding.High, "RUN sed", "", nil},
		}},
		{name: "in the stage the final one is built on", src: `FROM debian:12 AS base
RUN echo 'app ALL=(ALL) NOPASSWD:ALL' >> /etc/sudoers
FROM base
USER app
`, want: []want{{finding.High, "RUN echo", "stage 0 (base)", nil}}},
		{name: "with a password, a group, a builder, a removal", src: `FROM debian:12 AS build
RUN echo 'builder ALL=(ALL) NOPASSWD:ALL' >> /etc/sudoers
FROM debian:12
RUN usermod -aG sudo app && echo 'app ALL=(ALL) ALL' > /etc/sudoers.d/app
RUN sed -i '/NOPASSWD/d' /etc/sudoers && grep -r NOPASSWD /etc/sudoers.d || true
COPY --from=build /etc/hostname /x
USER app
`},
	},
	"dockerfile/unpinned-package": {
		{name: "apt-get and pip in one RUN", src: `FROM debian:12
RUN apt-get update && apt-get install -y --no-install-recommends curl \
    && pip install flask==3.0.3 gunicorn
`, want: []want{{finding.Low, "RUN apt-get update", "stage 0", []string{"apt-get install installs curl", "without a version"}},
			{finding.Low, "RUN apt-get update", "stage 0", []string{"pip install installs gunicorn"}}}},
		{name: "in a heredoc", src: `FROM alpine:3.20
RUN <<EOF
apk add --no-cache jq
EOF
`, want: []want{{finding.Low, "RUN <<EOF", "", []string{"apk add installs jq"}}}},
		{name: "pinned, from a lock file or a requirements file", src: `FROM python:3.12
RUN apt-get install -y curl=7.88.1-10 && pip install --require-hashes -r requirements.txt && npm ci
`},
		{name: "expanded at run time", src: `FROM debian:12
ARG PKGS
RUN apt-get install -y $PKGS
`},
	},
	"dockerfile/expose-ssh": {
		{name: "EXPOSE 22", src: `FROM debian:12
EXPOSE 22
`, want: []want{{finding.Medium, "EXPOSE 22", "stage 0", []string{"SSH"}}}},
		{name: "EXPOSE 22/tcp among others", src: `FROM debian:12
EXPOSE 8080 22/tcp
`, want: []want{{finding.Medium, "EXPOSE 8080", "", []string{"22/tcp"}}}},
		{name: "from a build argument", src: `FROM debian:12
ARG SSH=22
EXPOSE ${SSH}
`, want: []want{{finding.Medium, "EXPOSE ${SSH}", "", nil}}},
		{name: "other ports", src: `FROM debian:12
EXPOSE 2222 8022 22/udp
`},
	},
	"dockerfile/copy-secret-file": {
		{name: "a private key", src: `FROM alpine:3.20
COPY id_rsa /root/.ssh/id_rsa
`, want: []want{{finding.High, "COPY id_rsa", "stage 0", []string{"id_rsa", "named like a secret"}}}},
		{name: "npmrc and env files, quoted", src: `FROM node:22
COPY ".npmrc" package.json /app/
ADD config/.env.production /app/
`, want: []want{{finding.High, "COPY \".npmrc\"", "", []string{".npmrc"}}, {finding.High, "ADD config", "", []string{".env.production"}}}},
		{name: "a key in a stage the final one is built on", src: `FROM alpine:3.20 AS base
COPY certs/server.key /etc/ssl/private/
FROM base
`, want: []want{{finding.High, "COPY certs", "stage 0 (base)", nil}}},
		{name: "a key in a builder stage only", src: `FROM golang:1.27 AS build
COPY deploy.pem /src/
RUN CGO_ENABLED=0 go build -o /app .
FROM scratch
COPY --from=build /app /app
`},
		{name: "copied from a builder stage", src: `FROM node:22 AS build
RUN npm ci
FROM node:22-slim
COPY --from=build /src/.npmrc /app/
`, want: []want{{finding.High, "COPY --from=build", "stage 1", []string{"/src/.npmrc"}}}},
		{name: "public certificates and lookalikes", src: `FROM alpine:3.20
COPY ca.crt keys.go environment.md .envrc.example /app/
`},
	},
	"dockerfile/latest-tag": {
		{name: "no tag", src: `FROM alpine
`, want: []want{{finding.Medium, "FROM alpine", "stage 0", []string{"FROM alpine has no tag"}}}},
		{name: "latest", src: `FROM node:latest
`, want: []want{{finding.Medium, "FROM node", "", []string{"uses the latest tag"}}}},
		{name: "builder stages too", src: `FROM golang AS build
FROM scratch
`, want: []want{{finding.Medium, "FROM golang", "stage 0 (build)", nil}}},
		{name: "build argument default", src: `ARG TAG=latest
FROM alpine:${TAG}
`, want: []want{{finding.Medium, "FROM alpine", "", []string{"FROM alpine:${TAG} (alpine:latest)"}}}},
		{name: "registry with a port", src: `FROM localhost:5000/app
`, want: []want{{finding.Medium, "FROM localhost", "", nil}}},
		{name: "tag", src: `FROM alpine:3.20
`},
		{name: "digest", src: `FROM alpine@sha256:0000000000000000000000000000000000000000000000000000000000000000
`},
		{name: "latest pinned by digest", src: `FROM alpine:latest@sha256:0000000000000000000000000000000000000000000000000000000000000000
`},
		{name: "scratch", src: `FROM scratch
`},
		{name: "stage reference", src: `FROM alpine:3.20 AS base
FROM base
`},
		{name: "build argument without default", src: `ARG TAG
FROM alpine:${TAG}
`},
		{name: "registry port and tag", src: `FROM localhost:5000/app:1.0
`},
	},
	"dockerfile/add-instead-of-copy": {
		{name: "local file", src: `FROM alpine:3.20
ADD app.jar /app/
`, want: []want{{finding.Low, "ADD app.jar", "stage 0", nil}}},
		{name: "local archive", src: `FROM scratch
ADD rootfs.tar.gz /
`},
		{name: "remote", src: `FROM alpine:3.20
ADD https://example.com/app.jar /app/
`},
		{name: "build argument", src: `FROM alpine:3.20
ARG SRC
ADD ${SRC} /app/
`},
		{name: "quoted local file", src: `FROM alpine:3.20
ADD "app.jar" /app/
`, want: []want{{finding.Low, "ADD \"app.jar", "", nil}}},
		{name: "quoted archive", src: `FROM scratch
ADD "x.tgz" /d
`},
		{name: "single-quoted archive", src: `FROM scratch
ADD 'rootfs.tar.gz' /
`},
		{name: "quoted remote", src: `FROM alpine:3.20
ADD "https://example.com/app.tgz" /app/
`},
		{name: "quoted JSON form", src: `FROM scratch
ADD ["x.tgz", "/d"]
`},
	},
	"dockerfile/base-not-pinned": {
		{name: "tag only", src: `FROM alpine:3.20
`, want: []want{{finding.Info, "FROM alpine", "stage 0", []string{"FROM alpine:3.20 is not pinned by digest"}}}},
		{name: "severity from the options", src: `FROM alpine:3.20
`, opts: dockerfile.Options{DigestSeverity: finding.High}, want: []want{{finding.High, "FROM alpine", "", nil}}},
		{name: "every stage", src: `FROM golang:1.27 AS build
FROM alpine:3.20
`, want: []want{{finding.Info, "FROM golang", "stage 0 (build)", nil}, {finding.Info, "FROM alpine", "stage 1", nil}}},
		{name: "digest", src: `FROM alpine:3.20@sha256:0000000000000000000000000000000000000000000000000000000000000000
`},
		{name: "scratch and stage references", src: `FROM scratch AS base
FROM base
`},
		{name: "build argument without default", src: `ARG TAG
FROM alpine:${TAG}
`},
	},
	"dockerfile/no-healthcheck": {
		{name: "none", src: `FROM alpine:3.20
`, want: []want{{finding.Info, "FROM alpine", "stage 0", []string{"has no HEALTHCHECK"}}}},
		{name: "only a builder has one", src: `FROM alpine:3.20 AS build
HEALTHCHECK CMD true
FROM scratch
`, want: []want{{finding.Info, "FROM scratch", "stage 1", nil}}},
		{name: "present", src: `FROM alpine:3.20
HEALTHCHECK --interval=30s CMD ["/app", "health"]
`},
		{name: "explicitly none", src: `FROM alpine:3.20
HEALTHCHECK NONE
`},
		{name: "in the stage built on", src: `FROM alpine:3.20 AS base
HEALTHCHECK CMD true
FROM base
`},
	},
	"dockerfile/bad-suppression": {
		{name: "no reason", src: `FROM alpine:3.20
# ward:ignore dockerfile/user-root
USER root
`, want: []want{{finding.Low, "# ward:ignore", "", []string{"gives no reason"}}}},
		{name: "unknown rule", src: `# ward:ignore dockerfile/no-such-rule because
FROM alpine:3.20
`, want: []want{{finding.Low, "# ward:ignore", "", []string{`"dockerfile/no-such-rule"`}}}},
		{name: "another family's rule", src: `# ward:ignore netpol/host-network because
FROM alpine:3.20
`, want: []want{{finding.Low, "# ward:ignore", "", nil}}},
		{name: "no rule", src: `#ward:ignore
FROM alpine:3.20
`, want: []want{{finding.Low, "#ward:ignore", "", []string{"names no rule"}}}},
		{name: "cannot suppress itself", src: `# ward:ignore dockerfile/bad-suppression please
FROM alpine:3.20
`, want: []want{{finding.Low, "# ward:ignore", "", nil}}},
		{name: "blank line below", src: `FROM alpine:3.20
# ward:ignore dockerfile/user-root needed

USER root
`, want: []want{{finding.Low, "# ward:ignore", "", []string{"not directly above an instruction"}}}},
		{name: "end of file", src: `FROM alpine:3.20
# ward:ignore dockerfile/user-root needed
`, want: []want{{finding.Low, "# ward:ignore", "", nil}}},
		{name: "valid above an instruction", src: `FROM alpine:3.20
# ward:ignore dockerfile/user-root the agent needs raw sockets
USER root
`},
		{name: "valid at the top", src: `# syntax=docker/dockerfile:1
# ward:ignore dockerfile/user-missing the base image sets USER 10001
FROM registry.example.com/base:1
`},
		{name: "not a suppression", src: `# ward:ignored dockerfile/user-root
# see ward:ignore in the docs
FROM alpine:3.20
`},
		{name: "inside a heredoc", src: `FROM alpine:3.20
RUN <<EOF
# ward:ignore
echo hi
EOF
`},
		{name: "inside a continued RUN", src: `FROM alpine:3.20
RUN apk add \
# ward:ignore
    curl
`},
	},
}

func TestRules(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range dockerfile.Rules {
		if seen[r.ID] {
			t.Errorf("rule %s declared twice", r.ID)
		}
		seen[r.ID] = true
		if !strings.HasPrefix(r.ID, "dockerfile/") {
			t.Errorf("rule %s is not in the dockerfile/ family", r.ID)
		}
		if r.Summary == "" || r.Rationale == "" || r.Fix == "" {
			t.Errorf("rule %s lacks a summary, rationale or fix", r.ID)
		}
		if got, ok := dockerfile.Lookup(r.ID); !ok || got.ID != r.ID {
			t.Errorf("Lookup(%s) = %v, %v", r.ID, got.ID, ok)
		}
		var pos, neg bool
		for _, tc := range suites[r.ID] {
			pos = pos || len(tc.want) > 0
			neg = neg || len(tc.want) == 0
		}
		if !pos || !neg {
			t.Errorf("rule %s needs positive and negative test cases (positive %v, negative %v)", r.ID, pos, neg)
		}
	}
	for id := range suites {
		if !seen[id] {
			t.Errorf("suite %s tests no rule", id)
		}
	}
	if _, ok := dockerfile.Lookup("dockerfile/nope"); ok {
		t.Error("Lookup found an unknown rule")
	}
}

func TestSuites(t *testing.T) {
	for id, cases := range suites {
		t.Run(id, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					fs := audit(t, tc.src, tc.opts)
					var gotFs []finding.Finding
					var gots []got
					for _, f := range fs {
						if f.Rule == id {
							gotFs = append(gotFs, f)
							gots = append(gots, got{f.Rule, f.Severity, f.File, f.Line, f.Object})
						}
					}
					var wants []got
					for i, w := range tc.want {
						obj := w.Object
						if obj == "" && i < len(gotFs) {
							obj = gotFs[i].Object
						}
						wants = append(wants, got{id, w.Severity, testFile, lineAt(t, tc.src, w.At), obj})
					}
					if diff := cmp.Diff(wants, gots); diff != "" {
						t.Fatalf("findings of %s (-want +got):\n%s\nall findings: %+v", id, diff, fs)
					}
					for i, w := range tc.want {
						f := gotFs[i]
						for _, m := range w.Msg {
							if !strings.Contains(f.Message, m) {
								t.Errorf("message %q lacks %q", f.Message, m)
							}
						}
						if f.Fix == "" {
							t.Errorf("finding %s has no fix", f.Rule)
						}
						if f.Suppressed != nil {
							t.Errorf("finding %s is suppressed: %+v", f.Rule, f.Suppressed)
						}
					}
				})
			}
		})
	}
}

func TestSuppression(t *testing.T) {
	type sup struct {
		Rule   string
		Line   int
		Reason string
		At     int // line of the suppression, 0 when not suppressed
	}
	for _, tc := range []struct {
		name string
		src  string
		// rules limits the comparison to these rules.
		rules []string
		want  []sup
	}{
		{
			name: "above the instruction",
			src: `FROM alpine:3.20
# ward:ignore dockerfile/user-root the agent needs raw sockets
USER root
`,
			rules: []string{"dockerfile/user-root"},
			want:  []sup{{"dockerfile/user-root", 3, "the agent needs raw sockets", 2}},
		},
		{
			name: "file level silences a missing USER",
			src: `# syntax=docker/dockerfile:1
# ward:ignore dockerfile/user-missing the base image sets USER 10001
FROM registry.example.com/base:1
`,
			rules: []string{"dockerfile/user-missing"},
			want:  []sup{{"dockerfile/user-missing", 3, "the base image sets USER 10001", 2}},
		},
		{
			name: "file level silences every instance",
			src: `# ward:ignore dockerfile/latest-tag internal images are rebuilt nightly

FROM registry.example.com/build AS build
FROM registry.example.com/run
`,
			rules: []string{"dockerfile/latest-tag"},
			want: []sup{
				{"dockerfile/latest-tag", 3, "internal images are rebuilt nightly", 1},
				{"dockerfile/latest-tag", 4, "internal images are rebuilt nightly", 1},
			},
		},
		{
			name: "instruction level silences one instance",
			src: `FROM registry.example.com/build AS build
# ward:ignore dockerfile/latest-tag rebuilt nightly
FROM registry.example.com/run
`,
			rules: []string{"dockerfile/latest-tag"},
			want: []sup{
				{"dockerfile/latest-tag", 1, "", 0},
				{"dockerfile/latest-tag", 3, "rebuilt nightly", 2},
			},
		},
		{
			name: "above the final FROM silences what is missing from the stage",
			src: `FROM golang:1.27 AS build
# ward:ignore dockerfile/no-healthcheck Kubernetes probes check it
# another comment
# ward:ignore dockerfile/user-missing	tab separated, base sets the user
FROM registry.example.com/run:1
`,
			rules: []string{"dockerfile/no-healthcheck", "dockerfile/user-missing"},
			want: []sup{
				{"dockerfile/no-healthcheck", 5, "Kubernetes probes check it", 2},
				{"dockerfile/user-missing", 5, "tab separated, base sets the user", 4},
			},
		},
		{
			name: "other rules stay",
			src: `FROM alpine:3.20
# ward:ignore dockerfile/user-root needed
USER root
`,
			rules: []string{"dockerfile/user-root", "dockerfile/final-has-shell"},
			want: []sup{
				{"dockerfile/final-has-shell", 1, "", 0},
				{"dockerfile/user-root", 3, "needed", 2},
			},
		},
		{
			name: "no reason suppresses nothing",
			src: `FROM alpine:3.20
# ward:ignore dockerfile/user-root
USER root
`,
			rules: []string{"dockerfile/user-root", "dockerfile/bad-suppression"},
			want: []sup{
				{"dockerfile/bad-suppression", 2, "", 0},
				{"dockerfile/user-root", 3, "", 0},
			},
		},
		{
			name:  "CRLF line endings",
			src:   "FROM alpine:3.20\r\n# ward:ignore dockerfile/user-root needed\r\nUSER root\r\n",
			rules: []string{"dockerfile/user-root"},
			want:  []sup{{"dockerfile/user-root", 3, "needed", 2}},
		},
		{
			name:  "byte order mark",
			src:   "\ufeff# ward:ignore dockerfile/no-healthcheck probes\nFROM alpine:3.20\n",
			rules: []string{"dockerfile/no-healthcheck"},
			want:  []sup{{"dockerfile/no-healthcheck", 2, "probes", 1}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var gots []sup
			for _, f := range audit(t, tc.src, dockerfile.Options{}) {
				if !slices.Contains(tc.rules, f.Rule) {
					continue
				}
				s := sup{Rule: f.Rule, Line: f.Line}
				if f.Suppressed != nil {
					if f.Suppressed.By != "comment" {
						t.Errorf("suppressed by %q, want comment", f.Suppressed.By)
					}
					s.Reason, s.At = f.Suppressed.Reason, f.Suppressed.Line
				}
				gots = append(gots, s)
			}
			if diff := cmp.Diff(tc.want, gots); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		line int
	}{
		{"empty", "", 1},
		{"comments only", "# nothing\n# here\n", 2},
		{"no FROM", "ARG A=1\n", 1},
		{"instruction before FROM", "\nRUN echo\nFROM alpine\n", 2},
		{"unknown instruction", "FROM alpine\nFOO bar\n", 2},
		{"unterminated heredoc", "FROM alpine\nRUN <<EOF\necho\n", 2},
		{"bad stage name", "FROM alpine:3.20\nFROM alpine AS 1x\n", 2},
		{"FROM without image", "FROM alpine\nFROM\n", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, err := dockerfile.Audit(testFile, []byte(tc.src), dockerfile.Options{})
			var pe *dockerfile.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Audit = %v, %v; want a *ParseError", fs, err)
			}
			if fs != nil {
				t.Errorf("findings %v with the error", fs)
			}
			if pe.File != testFile || pe.Line != tc.line || pe.Err == nil {
				t.Errorf("ParseError{File: %q, Line: %d, Err: %v}, want file %q line %d", pe.File, pe.Line, pe.Err, testFile, tc.line)
			}
			if !strings.Contains(err.Error(), testFile+":") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestOptionErrors(t *testing.T) {
	src := []byte("FROM alpine:3.20 AS app\n")
	if _, err := dockerfile.Audit(testFile, src, dockerfile.Options{Target: "nope"}); !errors.Is(err, dockerfile.ErrUnknownTarget) {
		t.Errorf("unknown target: err = %v, want ErrUnknownTarget", err)
	}
	if _, err := dockerfile.Audit(testFile, src, dockerfile.Options{DigestSeverity: finding.Critical + 1}); err == nil {
		t.Error("invalid DigestSeverity: no error")
	}
}

// TestNoSecretInMessages checks that no message or object repeats a
// secret value or URL credentials.
func TestNoSecretInMessages(t *testing.T) {
	secrets := []string{
		"hunter2", "AKIAABCDEFGHIJKLMNOP", "ghp_0123456789abcdefghijABCDEFGHIJ012345",
		"s3cret", "tok3n", "Zq8x3Lw9Vb2Nc7Mk4Jh6Gf1Ds5Ap0QrTyUiOpLkJh", "sig=abc",
	}
	src := `ARG GITHUB_TOKEN=ghp_0123456789abcdefghijABCDEFGHIJ012345
FROM alpine:3.20
ENV DB_PASSWORD=hunter2 CONFIG=AKIAABCDEFGHIJKLMNOP
ENV DATABASE_URL=postgres://app:s3cret@db/app BLOB=Zq8x3Lw9Vb2Nc7Mk4Jh6Gf1Ds5Ap0QrTyUiOpLkJh
ENV X-AKIAABCDEFGHIJKLMNOP-TOKEN=1
ADD https://deploy:tok3n@artifacts.example.com/app.tgz?sig=abc /app.tgz
`
	fs := audit(t, src, dockerfile.Options{})
	n := 0
	for _, f := range fs {
		if f.Rule == "dockerfile/secret-in-env" {
			n++
		}
		for _, s := range secrets {
			if strings.Contains(f.Message, s) || strings.Contains(f.Object, s) || strings.Contains(f.Fix, s) {
				t.Errorf("%s finding shows a secret: %q", f.Rule, f.Message)
			}
		}
	}
	if n != 6 {
		t.Errorf("%d secret-in-env findings, want 6: %+v", n, fs)
	}
}

func TestFindingsAreComplete(t *testing.T) {
	src := `ARG GO_VERSION=1.27
FROM golang:${GO_VERSION} AS build
USER root
ENV API_TOKEN=x
ADD https://example.com/x /x
ADD app /app
RUN go build -o /app .
FROM alpine
# ward:ignore dockerfile/nope reason
COPY --from=build /app /app
`
	fs := audit(t, src, dockerfile.Options{})
	rules := map[string]bool{}
	for _, f := range fs {
		rules[f.Rule] = true
		if f.File != testFile || f.Line < 1 || f.Message == "" || f.Fix == "" {
			t.Errorf("incomplete finding %+v", f)
		}
		if r, ok := dockerfile.Lookup(f.Rule); !ok {
			t.Errorf("finding of unknown rule %s", f.Rule)
		} else if f.Rule != "dockerfile/base-not-pinned" && f.Severity != r.Severity {
			t.Errorf("%s severity %s, rule says %s", f.Rule, f.Severity, r.Severity)
		}
	}
	for _, id := range []string{"dockerfile/user-missing", "dockerfile/secret-in-env", "dockerfile/add-remote",
		"dockerfile/add-instead-of-copy", "dockerfile/latest-tag", "dockerfile/final-has-shell",
		"dockerfile/base-not-pinned", "dockerfile/no-healthcheck", "dockerfile/bad-suppression"} {
		if !rules[id] {
			t.Errorf("no %s finding", id)
		}
	}
	if !slices.IsSortedFunc(fs, finding.Compare) {
		t.Error("findings are not sorted")
	}
}

func TestIsDockerfile(t *testing.T) {
	for name, want := range map[string]bool{
		"Dockerfile":                  true,
		"dockerfile":                  true,
		"Containerfile":               true,
		"build/Dockerfile":            true,
		"api.Dockerfile":              true,
		"api.dockerfile":              true,
		"Dockerfile.dev":              true,
		"Containerfile.prod":          true,
		"Dockerfile.dockerignore":     false,
		"api.Dockerfile.dockerignore": false,
		"Dockerfile.":                 false,
		"Dockerfiles":                 false,
		"MyDockerfile":                false,
		"docker-compose.yaml":         false,
		".dockerignore":               false,
		"dockerfile/rules.go":         false,
		"Dockerfile/notes.md":         false,
		"Dockerfile-prod":             true,
		"Dockerfile_dev":              true,
		"containerfile-arm64":         true,
		"Dockerfile-":                 false,
		"Dockerfile.md":               false,
		"Dockerfile.README.txt":       false,
		"Dockerfile.orig":             false,
		"Dockerfile-build.sh":         false,
		"Dockerfile.dev.yaml":         false,
		"Dockerfile.prod":             true,
		"Dockerfile.alpine":           true,
	} {
		if got := dockerfile.IsDockerfile(name); got != want {
			t.Errorf("IsDockerfile(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestNotRead: a # syntax= directive that names a frontend other than
// Docker's Dockerfile frontend is reported, with its line: BuildKit hands
// the file to that image, which may build something else than what the
// Dockerfile says (before: judged as a Dockerfile without a word).
func TestNotRead(t *testing.T) {
	for _, tc := range []struct {
		src  string
		want []string
	}{
		{"# syntax=docker/dockerfile:1\nFROM scratch\n", nil},
		{"#syntax=docker.io/docker/dockerfile:1.7@sha256:0123\nFROM scratch\n", nil},
		{"# syntax = docker/dockerfile-upstream:master\nFROM scratch\n", nil},
		{"# check=skip=all\n# syntax=docker.io/docker/dockerfile\nFROM scratch\n", nil},
		{"FROM scratch\n# syntax=ghcr.io/evil/frontend\n", nil},
		{"# syntax=ghcr.io/evil/frontend:1\nFROM scratch\nUSER 1000\n", []string{"1: # syntax=ghcr.io/evil/frontend:1"}},
		{"\ufeff# escape=`\n# syntax=example.com/docker/dockerfile:1\nFROM scratch\n", []string{"2: # syntax=example.com/docker/dockerfile:1"}},
	} {
		got := dockerfile.NotRead([]byte(tc.src))
		if len(got) != len(tc.want) {
			t.Errorf("NotRead(%q) = %q, want %d warning(s) starting %q", tc.src, got, len(tc.want), tc.want)
			continue
		}
		for i := range got {
			if !strings.HasPrefix(got[i], tc.want[i]) {
				t.Errorf("NotRead(%q)[%d] = %q, want it to start %q", tc.src, i, got[i], tc.want[i])
			}
		}
	}
}

// TestCopiedPasswd: an /etc/passwd that a COPY or ADD brings from the
// build context (the Dockerfile's directory) is read: a line giving the
// USER UID 0 makes the final image run as root. Before, USER app after
// COPY passwd /etc/passwd passed.
func TestCopiedPasswd(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"passwd":     "root:x:0:0:root:/root:/bin/sh\napp:x:0:0::/home/app:/bin/sh\n",
		"ok/passwd":  "root:x:0:0:root:/root:/bin/sh\napp:x:10001:10001::/home/app:/sbin/nologin\n",
		"etc/passwd": "svc::00:0::/:/bin/sh\n",
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		src, want string
	}{
		{"FROM scratch\nCOPY passwd /etc/passwd\nUSER app\n", "USER app: the COPY at line 2 gives app UID 0"},
		{"FROM scratch\nADD ./passwd /etc/\nUSER app:app\n", "USER app:app: the ADD at line 2 gives app UID 0"},
		{"FROM scratch\nCOPY etc/passwd /etc/passwd\nUSER svc\n", "gives svc UID 0"},
		{"FROM scratch\nCOPY ok/passwd /etc/passwd\nUSER app\n", ""},
		{"FROM scratch\nCOPY passwd /srv/passwd\nUSER app\n", ""},
	} {
		fs, err := dockerfile.Audit(filepath.Join(dir, "Dockerfile"), []byte(tc.src), dockerfile.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range fs {
			if f.Rule == "dockerfile/user-root" {
				got = append(got, f.Message)
			}
		}
		switch {
		case tc.want == "" && len(got) > 0:
			t.Errorf("%q: %q, want no user-root", tc.src, got)
		case tc.want != "" && (len(got) != 1 || !strings.Contains(got[0], tc.want)):
			t.Errorf("%q: %q, want one containing %q", tc.src, got, tc.want)
		}
	}
}

// TestExpansionBounded audits a RUN whose variables double their length
// eight times an assignment. Before, Ward substituted them without a
// limit: the RUN below took hundreds of MiB, and up to J the machine's
// memory (fatal error: out of memory).
func TestExpansionBounded(t *testing.T) {
	src := "FROM debian:12\nRUN A=aaaaaaaaaaaaaaaa"
	for c := 'B'; c <= 'H'; c++ {
		src += "; " + string(c) + "=" + strings.Repeat("$"+string(c-1), 8)
	}
	src += "; echo $H $H $H $H; S=sudo; $S id\nUSER 1000\n"
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fs := audit(t, src, dockerfile.Options{})
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 16<<20 {
		t.Errorf("the audit allocated %d MiB", n>>20)
	}
	// The bound leaves the variables under it known.
	if !slices.ContainsFunc(fs, func(f finding.Finding) bool { return f.Rule == "dockerfile/run-sudo" }) {
		t.Errorf("$S id with S=sudo not found: %+v", fs)
	}
}

// TestExpansionExhausted: a RUN that spends the bound on expanded text
// on purpose, so that the commands after it are not known, is reported
// (dockerfile/run-unanalyzed); it hid a later S=sudo; $S id, and would
// hide chmod 4755 or a NOPASSWD line the same way. A RUN under the
// bounds is not.
func TestExpansionExhausted(t *testing.T) {
	big := strings.Repeat("a", 60<<10)
	for _, tt := range []struct {
		name, run string
		want      bool
	}{
		{"budget spent", "A=" + big + "; echo" + strings.Repeat(" $A", 20) + "; S=sudo; $S id", true},
		{"word too long", "A=" + big + "; echo $A$A; S=sudo; $S id", true},
		{"in sh -c", "sh -c 'A=" + big + "; echo" + strings.Repeat(" $A", 20) + "'", true},
		{"under the bounds", "A=" + big + "; echo $A $A; S=sudo; $S id", false},
		{"plain", "C=chmod; $C 755 /app", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fs := audit(t, "FROM debian:12\nRUN "+tt.run+"\nUSER 1000\n", dockerfile.Options{})
			got := slices.ContainsFunc(fs, func(f finding.Finding) bool {
				return f.Rule == "dockerfile/run-unanalyzed" && f.Severity == finding.High && f.Line == 2
			})
			if got != tt.want {
				t.Errorf("dockerfile/run-unanalyzed reported: %v, want %v: %+v", got, tt.want, fs)
			}
		})
	}
}
