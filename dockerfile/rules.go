package dockerfile

import "github.com/wardsec/ward/finding"

// Rule ids. They are a contract: reports, suppressions and CI gates refer
// to them.
const (
	ruleUserRoot          = "dockerfile/user-root"
	ruleUserMissing       = "dockerfile/user-missing"
	ruleSecretInEnv       = "dockerfile/secret-in-env" // #nosec G101 -- a rule id, not a credential
	ruleNoMultiStage      = "dockerfile/no-multi-stage"
	ruleFinalHasShell     = "dockerfile/final-has-shell"
	ruleGoCgoEnabled      = "dockerfile/go-cgo-enabled"
	ruleAddRemote         = "dockerfile/add-remote"
	ruleLatestTag         = "dockerfile/latest-tag"
	ruleAddInsteadOfCopy  = "dockerfile/add-instead-of-copy"
	ruleBaseNotPinned     = "dockerfile/base-not-pinned"
	ruleNoHealthcheck     = "dockerfile/no-healthcheck"
	ruleBadSuppression    = "dockerfile/bad-suppression"
	ruleRunSudo           = "dockerfile/run-sudo"
	ruleExposeSSH         = "dockerfile/expose-ssh"
	ruleSetuidFile        = "dockerfile/setuid-file"
	ruleUnpinnedPackage   = "dockerfile/unpinned-package"
	ruleCopySecretFile    = "dockerfile/copy-secret-file" // #nosec G101 -- a rule id, not a credential
	ruleUntrustedRegistry = "dockerfile/untrusted-registry"
	ruleSecretInRun       = "dockerfile/secret-in-run" // #nosec G101 -- a rule id, not a credential
	ruleWorldWritable     = "dockerfile/world-writable"
	rulePipeToShell       = "dockerfile/pipe-to-shell"
	ruleSudoNopasswd      = "dockerfile/sudo-nopasswd" // #nosec G101 -- a rule id, not a credential
	ruleRunUnanalyzed     = "dockerfile/run-unanalyzed"
)

// Rules is every rule Audit can report, in documentation order.
var Rules = []finding.Rule{
	{
		ID:       ruleUserRoot,
		Severity: finding.High,
		Summary:  "The final image runs as root: its last USER is root or UID 0.",
		Rationale: "A process running as root inside the container is root on the host once it escapes through a kernel or runtime bug, " +
			"and owns every file of mounted volumes. Only the user the container starts with counts: the last USER of the final stage, " +
			"or of the stages it is built FROM, since USER carries over through FROM <stage>, and the ONBUILD triggers of the stage it is built FROM, which BuildKit runs at its start (`ONBUILD USER root`). " +
			"Stages that are only copied from (builders) are never judged: running the build as root is harmless, and flagging it is " +
			"hadolint DL3002's best-known false positive. A USER is root when its user part is `root`, a number equal to 0 (`0`, `0:0`, `root:app`) or empty; " +
			"a group of 0 alone is accepted (OpenShift runs arbitrary UIDs in group 0). So is a name that a RUN of the final stage or its FROM chain gives UID 0, " +
			"since the runtime looks the name up in the image's /etc/passwd: `useradd -o -u 0 admin`, `adduser -u 0`, `usermod -u 0` (`--uid 0`), or a line with UID 0 " +
			"written into /etc/passwd (`echo 'toor:x:0:0::/root:/bin/sh' >> /etc/passwd`, a here-document, a sed replacement), or an /etc/passwd that a COPY or ADD " +
			"brings in with such a line: from a stage (`COPY --from=users /etc/passwd /etc/passwd`, judged by that stage's RUNs) or from the build context, read as " +
			"the Dockerfile's directory (a file elsewhere, a glob or a URL is not read). " +
			"Any other user passes: a non-zero UID, or a name other than root, " +
			"whether the Dockerfile creates it or the base image ships it (node's `node`, distroless `nonroot`); low UIDs are not required to be 1000 or more, " +
			"only UID 0 is root. A USER that uses a build argument without a value is judged as a build without --build-arg makes it: `USER ${UID:-0}` is root (the message names the --build-arg that would change it), and so is `USER ${UID}`: BuildKit writes the expanded value as the image's user, and an empty user (`USER ${UID}` with UID unset or empty, a global ARG not declared again in the stage) or an empty user part (`USER :1000`) starts the container as uid 0, whatever user the base image set.",
		Fix: "End the final stage with a non-root user: `USER 65532:65532` (distroless `nonroot`), or create one " +
			"(`RUN addgroup -S app && adduser -S -G app -u 10001 app` then `USER 10001`). " +
			"Do root-only work (package installs, chown) before the USER line, or in a builder stage.",
		Equivalents: []string{"DL3002", "DS-0002", "kics:dockerfile/last_user_is_root", "kics:dockerfile/missing_user_instruction"},
	},
	{
		ID:       ruleUserMissing,
		Severity: finding.High,
		Summary:  "The final stage has no USER instruction, so the container runs as the base image's user, usually root.",
		Rationale: "Without USER the container starts as whatever user its base image sets, and almost every base image (scratch, alpine, debian, " +
			"the language images) leaves it at root. hadolint says nothing in this case. USER instructions of the stages the final stage is built " +
			"FROM count, since USER carries over. Not reported when the base image is known to set a non-root user: gcr.io/distroless and " +
			"mcr.microsoft.com distroless images with a `nonroot` tag, cgr.dev/chainguard/static and glibc-dynamic (UID 65532), " +
			"and the `chiseled` .NET images of mcr.microsoft.com/dotnet (user app). For other images that set a user, suppress the finding " +
			"with a file-level `# ward:ignore dockerfile/user-missing <reason>` comment.",
		Fix: "Add `USER <uid>:<gid>` with a UID of 1000 or more at the end of the final stage (`USER 65532:65532` on distroless or scratch), " +
			"or base the image on a non-root variant such as `gcr.io/distroless/static-debian12:nonroot`.",
		Equivalents: []string{"DS-0002", "kics:dockerfile/missing_user_instruction"},
	},
	{
		ID:       ruleSecretInEnv,
		Severity: finding.High,
		Summary:  "An ENV, ARG or LABEL looks like it carries a secret, by its name or by its value.",
		Rationale: "ENV values and labels are stored in the image configuration: anyone who can pull the image reads them with `docker inspect`. " +
			"ARG values, even without a default (passed with --build-arg), are recorded in the image history of the stages that use them " +
			"and in BuildKit's provenance attestations. Every stage is checked, builders included, since build caches and `--target` builds keep them too. " +
			"A name is suspect when one of its words (split at `_`, `-`, `.`) is key, apikey, token, secret, password, passwd, pword, passphrase, " +
			"credential(s) or auth, or its last word (of several) is pass, pwd or pat (DB_PASS, MYSQL_PWD, GITHUB_PAT), unless a word says the material is public (public, gpg, pgp, fingerprint) or its last word says it only " +
			"locates or describes the secret (file, path, dir, url, host, port, id, name, user, type, enabled, version, length, checksum, " +
			"sha256, hash, endpoint, ...): SSH_KEY_PATH and AWS_ACCESS_KEY_ID pass, DB_USER_PASSWORD does not. " +
			"A name that suggests a secret only by such an abbreviation, or by a secret word that is not its last (io.github.secret-scanning), in an ENV or LABEL is not reported when its value is clearly not a secret: empty, a boolean or switch (true, off, enabled ...), an integer of up to 3 digits, or a path starting with / (CI_PASS=1, BUILD_PWD=/src); names whose last word is a secret word (DB_PASSWORD, GITHUB_TOKEN) are reported whatever the value. An ARG is judged by its name alone: its default says nothing of the value a build passes. " +
			"A value is suspect when it looks like an AWS access key id, a private key block, a GitHub, GitLab, Slack, Stripe, npm or Google API token, " +
			"a JWT, a URL with a password, or a long random string (32 or more base64 characters mixing cases and digits, with high entropy and no run of 7 letters of one case, " +
			"which identifiers have). " +
			"Findings name the variable, never its value.",
		Fix: "Pass build-time secrets with a secret mount (`RUN --mount=type=secret,id=npm_token,env=NPM_TOKEN npm ci`, " +
			"built with `--secret id=npm_token,env=NPM_TOKEN`), and runtime secrets from the orchestrator (Kubernetes Secrets, mounted files). " +
			"Rotate any secret that was committed or pushed in an image.",
		Equivalents: []string{"DL3064", "DS-0031", "docker:SecretsUsedInArgOrEnv"},
	},
	{
		ID:       ruleSecretInRun,
		Severity: finding.High,
		Summary:  "A RUN writes a secret literally: a password option, credentials in a URL, a secret-named variable's value, or a credential-shaped word.",
		Rationale: "The image history (`docker history --no-trunc`) keeps every RUN command line, and build logs, CI output and BuildKit's cache and provenance show them: " +
			"a secret written in a RUN is readable by anyone who can pull the image or read the build, in build stages too. " +
			"The RUN is parsed as the shell would (mvdan.cc/sh), as BuildKit runs it: a heredoc that is the whole command is the script, here-documents fed to " +
			"a command are judged as configuration text (by their secret-named keys and credential-shaped values), a heredoc script with the shebang of " +
			"another language likewise. Reported: assignments and environment prefixes (`TOKEN=... cmd`, `export DB_PASSWORD=...`, `env PGPASSWORD=... psql`) " +
			"whose name suggests a secret (as for dockerfile/secret-in-env, plus PGPASSWORD, MYSQL_PWD and SSHPASS) and whose value is literal; " +
			"words that look like credentials (private key headers, AWS access key ids, GitHub, GitLab, Slack, Stripe, npm and Google tokens, JWTs, long random strings); " +
			"credentials in URLs (`https://user:password@host`, `https://x-access-token:<token>@github.com`); and password options: `curl -u user:password`, " +
			"`--password=`, `--token`, `--api-key` and other options named so, `-p<password>` of the MySQL and MariaDB clients, `-p` of `docker login` (podman, helm, ...) and of sshpass, " +
			"`htpasswd -b`, `echo user:password | chpasswd` (or a here-string), `npm config set //registry/:_authToken <token>`, and Authorization headers of curl and wget. " +
			"Not reported: values the shell expands (`$TOKEN`, `${TOKEN}`, `$(cat /run/secrets/token)`), so secret mounts and build arguments passed through stay quiet; " +
			"placeholders (`changeme`, `<password>`, `xxx`); digests written with their algorithm (`sha256:...`, `sha512-...`); hex checksums and UUIDs; scripts that do not parse. " +
			"Findings say what the secret looks like and where it stands, never its value.",
		Fix: "Pass the secret with a secret mount: `RUN --mount=type=secret,id=token,env=TOKEN git clone https://x-access-token:$TOKEN@github.com/org/repo`, " +
			"built with `--secret id=token,env=TOKEN`; or mount a credentials file (`--mount=type=secret,id=npmrc,target=/root/.npmrc`). " +
			"Rotate any secret that was committed or pushed in an image.",
	},
	{
		ID:       ruleNoMultiStage,
		Severity: finding.Medium,
		Summary:  "The final image of a compiled language still holds its compiler or SDK: no multi-stage build.",
		Rationale: "A compiler image (golang, rust, gcc, maven, gradle, swift, a JDK of openjdk, eclipse-temurin, amazoncorretto, " +
			"mcr.microsoft.com/dotnet/sdk, ...) is hundreds of megabytes of tools, package managers and sources that the program never needs " +
			"at run time, each one a vulnerability to patch and a tool for an attacker. Reported when the final stage's base image " +
			"(following FROM <stage> chains) is such an image (JDK images with a `jre` tag are runtimes and pass), or when the final stage, " +
			"or a stage it is built FROM, runs a compiler: `go build`, `go install`, `cargo build`, `mvn`, `gradle`, `gcc`, `g++`, `clang`, " +
			"`javac`, `rustc`, `dotnet build` or `dotnet publish`. Node, Python and other interpreted images are not compiler images.",
		Fix: "Build in a first stage and copy only the result into a minimal final stage: " +
			"`FROM golang:1.27 AS build` ... `RUN CGO_ENABLED=0 go build -o /out/app .` then `FROM gcr.io/distroless/static-debian12:nonroot` " +
			"and `COPY --from=build /out/app /app`.",
	},
	{
		ID:       ruleFinalHasShell,
		Severity: finding.Medium,
		Summary:  "The final image has a shell and a package manager: its base is not scratch, distroless or another shell-less image.",
		Rationale: "A shell, coreutils and a package manager turn any code execution bug into an interactive foothold, and carry most of the CVEs " +
			"scanners report. Shell-less bases are: scratch; gcr.io/distroless/* and the mcr.microsoft.com cbl-mariner and azurelinux distroless images " +
			"(except `debug` tags, which add busybox); cgr.dev/chainguard/static and glibc-dynamic (except `dev` tags); the `chiseled` .NET images of " +
			"mcr.microsoft.com/dotnet; and the images listed under `shellless` in ward.yaml. The base is the image at the root of the final stage's " +
			"FROM <stage> chain; the finding points at the FROM that names it. Not reported when a build argument without a default hides the image name.",
		Fix: "Copy the build output into `FROM scratch` (static binaries) or a distroless image " +
			"(`gcr.io/distroless/static-debian12:nonroot`, `gcr.io/distroless/base-debian12` for glibc, `gcr.io/distroless/java21-debian12` ...). " +
			"If your organisation has its own shell-less base, list it under `shellless` in ward.yaml.",
	},
	{
		ID:       ruleGoCgoEnabled,
		Severity: finding.Medium,
		Summary:  "A Go binary copied into a shell-less final image is built without CGO_ENABLED=0.",
		Rationale: "With cgo on (the default whenever a C compiler is present, as in the golang Debian images) `go build` links against the build " +
			"image's libc: the binary fails to start on scratch or distroless/static, or breaks when the libc versions differ, and name " +
			"resolution goes through the C resolver. Reported for every RUN with `go build` or `go install` in a stage whose files the final " +
			"stage copies (COPY --from, followed through further COPY --from and FROM <stage> links), when the final base is shell-less " +
			"(see dockerfile/final-has-shell), unless CGO_ENABLED is 0 at that RUN: set by ENV or ARG in the stage or a stage it is built FROM, " +
			"or inline in the RUN (`CGO_ENABLED=0 go build`, `export CGO_ENABLED=0`). A RUN that links statically (`-extldflags` with `-static`) " +
			"is accepted.",
		Fix: "Build with `RUN CGO_ENABLED=0 go build -o /out/app .` (or `ENV CGO_ENABLED=0` in the build stage); if the program needs cgo, " +
			"link it statically or use a base with the same libc (`gcr.io/distroless/base-debian12`).",
	},
	{
		ID:       ruleAddRemote,
		Severity: finding.Medium,
		Summary:  "ADD downloads a remote URL or Git repository without --checksum.",
		Rationale: "ADD fetches http(s) URLs and Git repositories at build time and trusts whatever the server returns: a compromised or changed " +
			"source silently changes the image, and nothing in the Dockerfile records what was fetched. `ADD --checksum=sha256:...` makes BuildKit " +
			"verify the download and is accepted. The finding names the host only, since URLs may carry credentials.",
		Fix: "Pin the download with `ADD --checksum=sha256:<digest> <url> <dest>`, or download in a RUN and verify " +
			"(`curl -fsSLo app.tgz <url> && echo \"<sha256>  app.tgz\" | sha256sum -c -`); for Git sources, pin a commit.",
	},
	{
		ID:       ruleLatestTag,
		Severity: finding.Medium,
		Summary:  "A FROM image has no tag or the `latest` tag, and no digest.",
		Rationale: "`latest` (what an untagged image means) moves with every release: rebuilds pull in new major versions and break or change " +
			"behaviour without any change to the Dockerfile. Every FROM of every stage is checked, except `scratch` and references to earlier " +
			"stages; build arguments in FROM are expanded with the defaults of the ARGs before the first FROM. A reference with a digest is pinned " +
			"and passes. Not reported when a build argument without a default leaves the reference unknown.",
		Fix:         "Name a version: `FROM alpine:3.20`, `FROM golang:1.27-bookworm`, and better also pin its digest (see dockerfile/base-not-pinned).",
		Equivalents: []string{"DL3006", "DL3007", "DS-0001", "kics:dockerfile/image_version_not_explicit", "kics:dockerfile/image_version_using_latest"},
	},
	{
		ID:       ruleAddInsteadOfCopy,
		Severity: finding.Low,
		Summary:  "ADD copies local files that COPY would copy.",
		Rationale: "ADD also downloads URLs and unpacks local archives; used for plain files it hides that intent from reviewers, and a file " +
			"later renamed to an archive is unpacked by surprise. An ADD is not reported when a source may be an archive ADD unpacks " +
			"(.tar, .tgz, .tbz2, .txz, .tzst, or compressed: .gz, .bz2, .xz, .zst), or holds a build argument.",
		Fix:         "Replace `ADD <src> <dest>` with `COPY <src> <dest>`.",
		Equivalents: []string{"DL3020", "DS-0005", "kics:dockerfile/add_instead_of_copy"},
	},
	{
		ID:       ruleBaseNotPinned,
		Severity: finding.Info,
		Summary:  "A FROM image is not pinned by digest (@sha256:...).",
		Rationale: "Tags are mutable: the registry, a mirror or an attacker who controls either can serve different content under the same tag, " +
			"and rebuilds are not reproducible. A digest names exactly one image. Every FROM of every stage is checked, except `scratch` and " +
			"references to earlier stages. Info by default, since pinning needs a bot (Renovate, Dependabot) to keep digests fresh; " +
			"ward.yaml can raise it. Not reported when a build argument without a default leaves the reference unknown.",
		Fix: "Append the digest to the tag: `FROM alpine:3.20@sha256:<digest>` (`docker buildx imagetools inspect alpine:3.20` prints it), " +
			"and let Renovate or Dependabot update it.",
	},
	{
		ID:       ruleNoHealthcheck,
		Severity: finding.Info,
		Summary:  "The final stage has no HEALTHCHECK.",
		Rationale: "Docker and Compose restart or route around unhealthy containers only when the image says how to check them. Kubernetes ignores " +
			"HEALTHCHECK and uses the pod's probes instead, hence the info severity. A HEALTHCHECK in a stage the final stage is built FROM counts, " +
			"and so does `HEALTHCHECK NONE`, an explicit choice.",
		Fix: "Add `HEALTHCHECK CMD [\"/app\", \"healthcheck\"]` (exec form, with a health subcommand of your program: shell-less images have no curl), " +
			"or `HEALTHCHECK NONE` when the orchestrator's probes do the job.",
		Equivalents: []string{"DS-0026"},
	},
	{
		ID:       ruleCopySecretFile,
		Severity: finding.High,
		Summary:  "COPY or ADD puts a file that holds a secret into the final image: a private key, a certificate key, .env, .npmrc, .netrc, cloud or registry credentials.",
		Rationale: "Every file of an image is readable by anyone who can pull it, in every layer, even after a later RUN deletes it. Judged by the " +
			"source's name: id_rsa, id_dsa, id_ecdsa, id_ed25519, *.pem, *.key, *.p12, *.pfx, *.jks, .env and .env.*, .npmrc, .pypirc, .netrc, " +
			".git-credentials, .dockercfg, .docker/config.json, .aws/credentials, credentials.json, kubeconfig. Only the final stage and the stages it " +
			"is built FROM are judged, COPY --from included: a builder stage's files reach the image only when copied, which names them again. " +
			"Public certificates (*.crt) are not secrets.",
		Fix: "Use a build secret (`RUN --mount=type=secret,id=npmrc,target=/root/.npmrc npm ci`) or copy the file into a builder stage only, " +
			"and give the running container its secrets at run time (a mounted Secret, environment from a secret store). Add the file to .dockerignore.",
		Equivalents: []string{"DS-0031"},
	},
	{
		ID:       ruleExposeSSH,
		Severity: finding.Medium,
		Summary:  "EXPOSE 22: the image offers SSH.",
		Rationale: "An SSH server in a container is a second way in, with its own keys and passwords to leak, that bypasses the orchestrator's " +
			"exec and audit. Containers are entered with `docker exec` or `kubectl exec`, which the platform authenticates and logs.",
		Fix:         "Remove the SSH server and EXPOSE 22; use `docker exec` or `kubectl exec` (or an ephemeral debug container) to get a shell.",
		Equivalents: []string{"DS-0004", "kics:dockerfile/exposing_port_22"},
	},
	{
		ID:       ruleSetuidFile,
		Severity: finding.Medium,
		Summary:  "The final image gets a setuid or setgid file: COPY or ADD --chmod, or a RUN chmod, install -m or mkdir -m, sets mode bit 4000 or 2000 (u+s, g+s).",
		Rationale: "A setuid program runs with its owner's rights, root's for the files a build creates, whoever starts it: one bug in it, or an " +
			"option that runs commands or writes files (as GTFOBins lists for many tools), takes the container's non-root USER to root and undoes it. " +
			"Judged for the final stage and the stages it is built FROM (their ONBUILD triggers included): octal modes (`--chmod=4755`, `chmod 2755`) and " +
			"symbolic ones (`u+s`, `g=rxs`), in shell and exec form and in heredocs, parsed as the shell splits them (mvdan.cc/sh), " +
			"by path (`/bin/chmod`), through `sudo -u root`, `env X=1`, `busybox`, `exec`, `nice`, `timeout`, `xargs`, `find -exec`, in the script of `sh -c` (or `bash -ec`), and through variables the script sets (`C=chmod; $C 4755 f`) or the stage's ENV and ARG values, which BuildKit gives the shell (`ARG MODE=4755` then `chmod $MODE f`; an ARG is judged by its default, as the build without --build-arg makes it). Builder stages " +
			"only copied from are not judged, since Ward cannot tell which of their files are copied; nor are modes a build argument without a " +
			"value makes up, nor the setuid files the base image already ships (passwd, su, mount). Docker's no-new-privileges and Kubernetes' " +
			"`allowPrivilegeEscalation: false` stop setuid from raising privileges, when set. A setgid program runs with its file's group instead, which " +
			"the finding says. Setgid alone on a directory is not a privilege (new files in it take its group: the shared-directory pattern): " +
			"a RUN chmod that sets only setgid, not recursively, on paths that the same RUN creates with mkdir or install -d, or that find selects with -type d (`find /srv -type d -exec chmod 2775 {} +`), is not reported. A shell-form RUN under a SHELL of PowerShell or cmd (`SHELL [\"powershell\", \"-Command\"]`) is not read as sh (nor by dockerfile/world-writable and dockerfile/sudo-nopasswd, whose text match stays).",
		Fix: "Drop the setuid bit (`--chmod=0755`, `chmod u-s`); if the program needs one privilege, give the container that capability alone " +
			"(a file capability set with setcap, or cap_add) and run it with no-new-privileges.",
	},
	{
		ID:       ruleUntrustedRegistry,
		Severity: finding.Medium,
		Summary:  "A FROM, COPY --from or RUN --mount=from= pulls an image from a registry that ward.yaml's audit.registries.trusted does not list. Runs only when that list is set.",
		Rationale: "A base image is code that runs in every build and ships in the image; pulled from anywhere it bypasses the scanning and " +
			"signing of the team's own registries. Every stage is judged, build stages too: a builder's image runs the build. Stage names " +
			"(FROM builder, COPY --from=build, RUN --mount=from=build) and scratch pull nothing and are not judged; a name a build argument without value makes up is " +
			"not judged either. References are normalised as Docker does (golang is docker.io/library/golang) and matched by registry host " +
			"and whole path segments. Without a list the rule is silent.",
		Fix:         "Pull the base image from a trusted registry (mirror it there), or add its registry or repository prefix to `audit.registries.trusted` in ward.yaml.",
		Equivalents: []string{"DL3026"},
	},
	{
		ID:       ruleSudoNopasswd,
		Severity: finding.High,
		Summary:  "The final image grants passwordless root: a RUN, or a COPY or ADD of a here-document, writes a sudoers rule with NOPASSWD or `Defaults !authenticate`, or a doas `permit nopass` rule.",
		Rationale: "`app ALL=(ALL) NOPASSWD: ALL` (in /etc/sudoers, a file of /etc/sudoers.d, or a group rule such as `%wheel ... NOPASSWD: ALL` the user is added to) lets any process of that user run anything as root with `sudo -n`: " +
			"the container's non-root USER is then root to whoever gets code execution in it, as with dockerfile/user-root. " +
			"Reported for the final stage and the stages it is built FROM, wherever the rule is written: the RUN's command line and heredoc bodies (`RUN <<EOF`, `RUN <<-EOT bash`), " +
			"its commands' words after quote removal (`NOPASS\"WD\":`) and escapes (`printf 'NOPASS\\127D:'`, `echo -e`, `$'...'`), and with the variables the script or the stage's ENV and ARG set (`ENV GRANT=\"NOPASSWD: ALL\"`), the scripts of `sh -c` inside it, and the here-documents COPY and ADD write (`COPY <<EOF /etc/sudoers.d/app`). " +
			"Not reported: a rule without NOPASSWD, and adding a user to the sudo or wheel group (`usermod -aG sudo app`) alone, since the distributions' group rules ask for the user's password; " +
			"a sudoers file copied from the build context, whose content Ward does not read; content built at run time (base64); what a sed command searches for (`sed -i 's/NOPASSWD: //' /etc/sudoers`, `/NOPASSWD:/d`, also inside `sh -c`), not what it writes; a pattern that `\\1` or `&` writes back, and the address of a line the command keeps (`/%wheel.*NOPASSWD/s/^# //` uncomments it), count as written; an address whose s command neither removes a # nor writes NOPASSWD (`/NOPASSWD/s/NOPASSWD: //`) does not. A sed that removes a leading # (`s/^# *//`, `s/^#\\(.*\\)/\\1/`) in /etc/sudoers, /etc/sudoers.d, /etc/doas.conf or /etc/doas.d is reported whatever regex selects the line: it may enable a commented rule (Fedora's `# %wheel ALL=(ALL) NOPASSWD: ALL`). `no-new-privileges` (compose, Kubernetes allowPrivilegeEscalation: false) stops sudo and doas.",
		Fix: "Remove the rule: do root-only work in RUN steps before `USER`, or in a builder stage. If the container needs one root command at run time, " +
			"grant that command alone, with a password or from an entrypoint running as root that drops privileges (`su-exec`, `gosu`), and run the container with no-new-privileges.",
	},
	{
		ID:       ruleRunUnanalyzed,
		Severity: finding.High,
		Summary:  "A RUN expands more variable text than Ward follows (64 KiB a word, 1 MiB a RUN), so the commands built from it are not known.",
		Rationale: "dockerfile/run-sudo, setuid-file, world-writable and sudo-nopasswd read a RUN's commands with the values its variables hold (`C=chmod; $C 4755 f`). " +
			"That text is bounded so that a line that doubles a variable eight times a command (`B=$A$A$A$A$A$A$A$A; C=$B$B...`) cannot take the machine's memory; " +
			"a word past the bound is not known, and a RUN that spends the bound on purpose would hide the commands after it (`A=<60 KB>; echo $A $A ...; S=sudo; $S id`). " +
			"No build script needs that much text in variables: the RUN is reported instead of passed unjudged. Every stage is judged.",
		Fix: "Keep large text out of shell variables: write it to a file with COPY, or split the RUN.",
	},
	{
		ID:       rulePipeToShell,
		Severity: finding.Medium,
		Summary:  "A RUN pipes a download into a shell or interpreter (`curl ... | sh`, `wget -O- ... | bash`, `bash <(curl ...)`, `sh -c \"$(curl ...)\"`) without checking it.",
		Rationale: "The script runs as it arrives: a compromised or changed server, a hijacked DNS name or a man in the middle (`curl -k`, http) runs its code in the build, " +
			"and a rebuild silently runs a different script, as with dockerfile/add-remote. Every stage is checked, builders included: code run there can change what they hand to the final image. " +
			"Reported: a pipeline in which curl, wget, fetch, aria2c or httpie's http feeds, directly or through other commands (`curl | tee x | sh`), a shell or python, perl, ruby, node or php that reads its " +
			"script from standard input (`sh`, `bash -s -- args`, `python3 -`); an interpreter, `eval`, `source` or `.` given a command or process substitution that downloads; an interpreter (or `source /dev/stdin`) reading one from a redirection (`bash <<<\"$(curl ...)\"`, `sh < <(curl ...)`); a download's output run as the command (`$(curl ...)`) or as the script of `xargs bash -c`. " +
			"Found in shell and exec form, heredoc bodies (`RUN <<EOF`, `RUN <<-EOT bash`), `sh -c` scripts, by path, in a subshell or block (`| (sh)`), and through sudo, env, busybox, timeout or exec. Not reported: an interpreter given its script with -c or -e or a file " +
			"(`curl api | python3 -c 'import json...'` reads data), a download to a file that a later command runs, which may be checked between the two, and a shell-form RUN under a SHELL of PowerShell or cmd (`SHELL [\"powershell\", \"-Command\"]`, `SHELL [\"cmd\", \"/S\", \"/C\"]`), which is not sh.",
		Fix: "Download to a file, verify it, then run it: `curl -fsSLo install.sh <url> && echo \"<sha256>  install.sh\" | sha256sum -c - && sh install.sh`, " +
			"or use `ADD --checksum=sha256:<digest> <url> /tmp/install.sh`; better, install a package or copy a pinned release.",
	},
	{
		ID:       ruleWorldWritable,
		Severity: finding.Low,
		Summary:  "The final image gets world-writable files: a RUN chmod, install -m, mkdir -m, setfacl (o::rwx) or umask (umask 000), or a COPY or ADD --chmod, gives others write permission (777, 666, o+w, a+w) without the sticky bit.",
		Rationale: "A file every user may write is a file any process of the container may change, whatever its UID: the application's code and scripts, " +
			"configuration, or the entrypoint a root process runs later (`chmod -R 777 /app`, `chmod 666 /etc/passwd`). It usually stands in for a " +
			"missing `--chown` or USER. Judged for the final stage and the stages it is built FROM, read as dockerfile/setuid-file reads modes: octal and " +
			"symbolic clauses applied in order (`o+w`, `a=rwx`, `go+w`; not `a+rwX,o-w`; `+w` and `=rwx` without who follow the umask and are not counted), in shell and exec form, in heredocs " +
			"(`RUN <<EOF`, `RUN <<-EOT bash`), by path (`/bin/chmod`), through `busybox`, `sudo`, `env`, `xargs`, `timeout`, `find -exec`, `sh -c`, and variables the script or the stage's ENV and ARG set (`ENV M=777` then `chmod $M /app`). Not reported: " +
			"modes with the sticky bit (`chmod 1777 /tmp`, `+t`), where users cannot remove or rename each other's files, also when a later chmod of the RUN that surely runs after it sets it (`chmod 0777 /d && chmod o+t /d`: the mode the RUN leaves is judged; not a chmod in an if, case, loop or function, after an exit, or a break or continue of its loop, or right of `||` or of an `&&` whose left side does not end with the first chmod (`chmod 0777 d && chmod 0755 /x && chmod o+t d`); an exit right of `||` after that chmod, `chmod 0777 d || exit 1`, does not count); device nodes (`chmod 666 /dev/null`), which are no files of the image, unless the RUN links a path under /dev (`ln -s /app /dev/x`); modes a build argument without a value makes up.",
		Fix: "Give the files to the user that writes them (`COPY --chown=10001:10001`, `chown -R 10001 /app/data`) with a mode of 0755 or 0644 (0775 for a shared group), " +
			"or make writable directories sticky (`chmod 1777`).",
	},
	{
		ID:       ruleRunSudo,
		Severity: finding.Low,
		Summary:  "A RUN uses sudo.",
		Rationale: "Build steps already run as the stage's USER, and a step that needs root should say USER root before it and switch back after. " +
			"sudo in an image means the image ships sudo and a sudoers entry, a path from the running user to root, and it behaves unpredictably " +
			"without a TTY. sudo is found as a command wherever the shell runs it: a line of a heredoc (`RUN <<EOF`), the exec form, a path (`/usr/bin/sudo`), " +
			"after `env`, `exec`, `nice` or an assignment (`X=1 sudo`), in a `sh -c` script, or through a variable the script or an ENV or ARG sets (`S=sudo; $S id`); the word sudo as an argument (`apt-get install sudo`) is not reported. " +
			"A passwordless sudoers rule is dockerfile/sudo-nopasswd.",
		Fix:         "Drop sudo: put `USER root` before the step and `USER <uid>` after it, or do the work in a builder stage.",
		Equivalents: []string{"DL3004", "DS-0010", "kics:dockerfile/run_using_sudo"},
	},
	{
		ID:       ruleUnpinnedPackage,
		Severity: finding.Low,
		Summary:  "A RUN installs packages without pinning their versions (apt-get, apk, pip, npm, gem, yum, dnf, zypper, go install).",
		Rationale: "An unpinned install takes whatever version the repository serves at build time: a rebuild of a reviewed Dockerfile ships different code, " +
			"and a compromised or hijacked release (a typosquatted or taken-over PyPI or npm package) enters the image silently. " +
			"The RUN is parsed as the shell would (mvdan.cc/sh): every command of it is judged, after sudo. Pinned is `pkg=1.2` (apt-get, apk, zypper; " +
			"also `~` and `<`, `>` for apk and zypper), `pkg==1.2` or `pkg @ url` (pip), `pkg@1.2` (npm; not `@latest`), `-v` or `pkg:1.2` (gem), " +
			"`pkg-1.2` (yum, dnf), `@v1.2` (go install; without a version it builds the one go.mod requires, `@latest` and branches are unpinned). " +
			"Local files, paths and URLs are accepted, and so are installs from a requirements or constraints file (pip -r, -c, --require-hashes) or " +
			"from a lock file (npm install without package names, npm ci), whose pinning is the file's. Words the shell expands at run time " +
			"(`$PKGS`) and scripts that do not parse are not judged. Pinning distribution packages has a cost (mirrors drop old versions): " +
			"a base image pinned by digest with a snapshot mirror is the alternative, and the finding can be suppressed with that reason.",
		Fix: "Pin each package: `apt-get install -y curl=8.5.0-2ubuntu10.6`, `apk add curl=8.12.1-r0`, `pip install requests==2.32.3` (better: " +
			"`pip install --require-hashes -r requirements.txt`), `npm ci` with a lock file, `go install golang.org/x/tools/cmd/goimports@v0.30.0`.",
		Equivalents: []string{"DL3008", "DL3013", "DL3016", "DL3018", "DL3028", "DL3033", "DL3037", "DL3041", "DL3062", "kics:dockerfile/apt_get_install_pin_version_not_defined", "kics:dockerfile/gem_install_without_version", "kics:dockerfile/npm_install_without_pinned_version", "kics:dockerfile/unpinned_package_version_in_apk_add", "kics:dockerfile/unpinned_package_version_in_pip_install", "kics:dockerfile/yum_install_without_version", "kics:dockerfile/zypper_install_without_version"},
	},
	{
		ID:       ruleBadSuppression,
		Severity: finding.Low,
		Summary:  "A `# ward:ignore` comment is malformed, names an unknown rule, has no reason, or is not directly above an instruction.",
		Rationale: "A suppression must say which rule it silences and why, so a reviewer can judge it later. The form is " +
			"`# ward:ignore <rule-id> <reason>` on its own line: before the first instruction it silences the rule for the whole file, " +
			"after it, for the instruction directly below (only comment lines between). A suppression that is malformed, names a rule this " +
			"audit does not have, has no reason, or stands above nothing suppresses nothing. This rule itself cannot be suppressed by a comment.",
		Fix: "Write `# ward:ignore dockerfile/<rule> <why this is acceptable>` directly above the instruction, or at the top of the file " +
			"for findings about the whole image (user-missing, no-healthcheck).",
	},
}

// Lookup returns the registry entry for id.
func Lookup(id string) (finding.Rule, bool) {
	for _, r := range Rules {
		if r.ID == id {
			return r, true
		}
	}
	return finding.Rule{}, false
}

// fixOf returns the Fix of rule id.
func fixOf(id string) string {
	r, _ := Lookup(id)
	return r.Fix
}
