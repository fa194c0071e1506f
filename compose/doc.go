// Package compose audits Docker Compose files for container hardening:
// privileged services, host namespaces (network, pid, ipc: also when
// joined through service:<name> from a service that is on the host's), dangerous
// capabilities and capabilities not dropped, writable root filesystems,
// services running as root or without a user, disabled seccomp or
// AppArmor, missing no-new-privileges, and data stores (databases,
// caches, brokers) on networks that are not internal or publishing ports
// on every host interface. Given the NetworkPolicies checked with the
// file (Options.Policies), it also reports services whose policies allow
// no DNS, which Docker's embedded resolver answers anyway: each service is
// seen as the Pod `ward fw --docker` makes of its container (namespace:
// the ward.dev/namespace label, else the Compose project; labels: the
// service's and Compose's own).
//
// Audit loads a file with compose-go, from memory, so services are seen
// as Compose sees them (after interpolation, YAML anchors and merge keys,
// extends within the file, profiles: every service is audited whatever
// its profiles). What a service's lifecycle hooks set is judged with it:
// post_start and pre_stop hooks and develop.watch execs run privileged or
// as root, and pre_start init containers that are privileged, share a
// host namespace, add a dangerous capability, run as root, are unconfined
// or mount a sensitive host path. compose-go keeps no positions, so Audit parses the same
// bytes with yaml.v3 to point each finding at the offending key or list
// item (services.web.privileged, services.db.ports[0]), or at the
// service's key when something is missing. Every finding's Object is
// "service <name>", except that of a compose/bad-suppression comment
// outside any service, which has none.
//
// A comment line `# ward:ignore <rule-id>[,<rule-id>...] <reason>`
// suppresses rules. Written above a service's key, or above any key of
// the service's definition, it silences those rules for that service;
// written above a key shared through an anchor, it silences the findings
// that point at that key; written anywhere before the top-level services
// key, it silences them for the whole file. The reason is required: a
// comment without one, or naming a rule this package does not have, is
// reported as compose/bad-suppression and silences nothing. Suppressed
// findings are still returned, with Suppressed set.
//
// Rules is the registry of every rule id Audit can emit, with its default
// severity, rationale, fix and the ids of the same check in KICS, Trivy and
// kube-linter. IsCompose tells Compose files from Kubernetes manifests and
// Helm values files; IsComposeFile does so for a file on disk, scanning it
// for a top-level services key before reading it whole, so that a tree of
// large YAML files is not read twice. ListedFiles lists the files that the
// COMPOSE_FILE variable of a .env file (DotEnv) names, which docker
// compose merges into the project, and ProjectFiles the files docker
// compose merges when run in a directory without -f (those, else
// compose.yaml or its like and its override file): AuditProject audits
// such files merged, as one project, each finding at the file that sets
// what it is about. References (and NotRead, for warnings) lists the
// files a Compose file names that Audit does not read: those of include
// entries and of extends from another file.
package compose
