package podsec

import "github.com/wardsec/ward/finding"

// Rule ids of Ward's own checks. They are a contract: reports,
// suppressions and CI gates refer to them. The Pod Security Standards
// checks are reported as pssPrefix + the library's check id.
const (
	pssPrefix = "pss/"

	ruleWritableRootFS    = "pod/writable-root-fs"
	ruleRootGroup         = "pod/root-group"
	ruleAutomountSA       = "pod/automount-sa-token"
	ruleDefaultSA         = "pod/default-service-account"
	ruleNetRaw            = "pod/net-raw-not-dropped"
	ruleImageLatest       = "pod/image-latest"
	ruleImageNotPinned    = "pod/image-not-pinned"
	ruleNoLimits          = "pod/no-resource-limits"
	ruleExposedUnisolated = "pod/exposed-unisolated"
	ruleSecretInEnv       = "pod/secret-in-env"  // #nosec G101 -- a rule id, not a credential
	ruleSecretEnvRef      = "pod/secret-env-ref" // #nosec G101 -- a rule id, not a credential
	ruleSecretInArgs      = "pod/secret-in-args" // #nosec G101 -- a rule id, not a credential
	ruleUntrustedRegistry = "pod/untrusted-registry"
	rulePrivilegedPort    = "pod/privileged-port"
	ruleDeviatesTemplate  = "pod/deviates-from-template"
	ruleHostPathPV        = "pod/hostpath-persistent-volume"

	ruleConfigMapSecret = "configmap/secret-in-data" // #nosec G101 -- a rule id, not a credential

	ruleExternalIPs     = "exposure/service-external-ips"
	ruleLBSourceRanges  = "exposure/lb-no-source-ranges"
	ruleIngressNoTLS    = "exposure/ingress-no-tls"
	ruleNginxSnippet    = "exposure/ingress-nginx-snippet"
	ruleNginxAuthBypass = "exposure/ingress-nginx-auth-bypass"

	ruleClusterAdmin    = "rbac/cluster-admin-binding"
	ruleRBACWildcard    = "rbac/wildcard"
	ruleRBACExec        = "rbac/pods-exec"
	ruleRBACSecrets     = "rbac/read-secrets"
	ruleRBACImpersonate = "rbac/impersonate"
	ruleRBACEscalate    = "rbac/escalate-bind"
	ruleRBACWorkloads   = "rbac/create-workloads"
	ruleRBACNodesProxy  = "rbac/nodes-proxy"
	ruleRBACPolicyEdit  = "rbac/edit-network-policies"
	ruleRBACPortForward = "rbac/port-forward"
	ruleRBACConfigMaps  = "rbac/write-configmaps"
	ruleRBACWebhooks    = "rbac/manage-webhooks"
	ruleRBACWriteRBAC   = "rbac/write-rbac"
	ruleRBACWriteSecret = "rbac/write-secrets" // #nosec G101 -- a rule id, not a credential
)

// Severities of Pod Security Standards findings: a check of the baseline
// level guards against known privilege escalations, a check that only the
// restricted level adds is hardening.
const (
	baselineSeverity   = finding.High
	restrictedSeverity = finding.Medium
)

const restrictedNote = " Restricted-level check: medium, or high when the pod also fails the baseline check it replaces at this level."

// Rules is every rule Audit can report, in documentation order: the Pod
// Security Standards checks of the baseline level, those the restricted
// level adds (each named pss/<the library's check id>), then Ward's own
// pod/ rules.
//
// A pss/ check of the baseline level is high; one only the restricted
// level has is medium, except that a restricted check which replaces a
// baseline check at the selected version (capabilities_restricted,
// seccompProfile_restricted, restrictedVolumes, procMount_restricted) is
// high when the pod fails that baseline check too, so a pod does not look
// safer under the stricter level.
//
// Ward has no hostPort rule of its own: pss/hostPorts is in both levels and
// already reports every hostPort with the container's line.
var Rules = []finding.Rule{
	{
		ID:       pssPrefix + "appArmorProfile",
		Severity: baselineSeverity,
		Summary:  "A pod or container sets an AppArmor profile other than RuntimeDefault or Localhost, by field or by annotation.",
		Rationale: "An Unconfined profile turns off the AppArmor confinement the container runtime applies on AppArmor nodes, " +
			"which limits what a compromised process may mount, write and execute.",
		Fix: "Remove the setting or use `securityContext: {appArmorProfile: {type: RuntimeDefault}}`; drop " +
			"`container.apparmor.security.beta.kubernetes.io/<container>` annotations with other values.",
		Equivalents: []string{"KSV-0002"},
	},
	{
		ID:       pssPrefix + "capabilities_baseline",
		Severity: baselineSeverity,
		Summary:  "A container adds a Linux capability beyond the runtime's default set.",
		Rationale: "Capabilities such as SYS_ADMIN, NET_ADMIN, SYS_PTRACE or SYS_MODULE give a container most of root's power over the node, " +
			"its network stack or other processes. Baseline allows adding only AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, " +
			"NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID and SYS_CHROOT.",
		Fix: "Remove the capability from `securityContext.capabilities.add`; grant the workload the narrow permission it needs another way.",
	},
	{
		ID:       pssPrefix + "hostNamespaces",
		Severity: baselineSeverity,
		Summary:  "A pod shares the node's network, PID or IPC namespace (hostNetwork, hostPID or hostIPC).",
		Rationale: "With hostNetwork the pod uses the node's interfaces and address: NetworkPolicy does not protect it and it reaches services " +
			"listening on the node. With hostPID it sees, signals and may trace the node's processes; with hostIPC it shares their memory segments.",
		Fix:         "Remove `hostNetwork: true`, `hostPID: true` and `hostIPC: true` unless the workload is a node agent that needs them.",
		Equivalents: []string{"KSV-0008", "KSV-0009", "KSV-0010", "kics:k8s/shared_host_ipc_namespace", "kics:k8s/shared_host_network_namespace", "kics:k8s/shared_host_pid_namespace", "kube-linter:host-ipc", "kube-linter:host-network", "kube-linter:host-pid", "polaris:hostIPCSet", "polaris:hostNetworkSet", "polaris:hostPIDSet"},
	},
	{
		ID:        pssPrefix + "hostPathVolumes",
		Severity:  baselineSeverity,
		Summary:   "A pod mounts a hostPath volume.",
		Rationale: "A hostPath volume exposes the node's file system to the container: a socket, credentials or a writable system directory is a direct path to the node.",
		Fix:       "Replace the hostPath volume with an emptyDir, a persistentVolumeClaim, a configMap or a secret.",
	},
	{
		ID:       pssPrefix + "hostPorts",
		Severity: baselineSeverity,
		Summary:  "A container uses a hostPort.",
		Rationale: "A hostPort publishes the container on the node's own address, outside the Services and ingress that reviewers look at, " +
			"and to every client that can reach the node. Ward has no separate hostPort rule: this check runs at both levels.",
		Fix:         "Remove `hostPort` and expose the port through a Service.",
		Equivalents: []string{"KSV-0024", "kics:k8s/workload_host_port_not_specified", "polaris:hostPortSet"},
	},
	{
		ID:       pssPrefix + "hostProbesAndHostLifecycle",
		Severity: baselineSeverity,
		Summary:  "A probe or lifecycle handler sets a host other than the pod's own address.",
		Rationale: "The kubelet runs probes and lifecycle handlers from the node. A host field makes it connect to any address the author picks, " +
			"such as node-local services or the cloud metadata endpoint.",
		Fix: "Remove `host` from httpGet and tcpSocket probes and lifecycle handlers; they then target the pod's IP.",
	},
	{
		ID:          pssPrefix + "privileged",
		Severity:    baselineSeverity,
		Summary:     "A container runs privileged.",
		Rationale:   "A privileged container has every capability and access to the node's devices: it is root on the node.",
		Fix:         "Remove `securityContext.privileged: true`; add only the capabilities the container needs.",
		Equivalents: []string{"KSV-0017", "kics:k8s/container_is_privileged", "kube-linter:privileged-container", "polaris:runAsPrivileged"},
	},
	{
		ID:       pssPrefix + "procMount",
		Severity: baselineSeverity,
		Summary:  "A container unmasks /proc (procMount other than Default) outside a user namespace.",
		Rationale: "The runtime masks parts of /proc that leak host information or allow host changes. From v1.35 baseline allows other " +
			"procMount values in pods with `hostUsers: false`.",
		Fix:         "Remove `securityContext.procMount` or set it to Default.",
		Equivalents: []string{"KSV-0027", "kics:k8s/container_runs_unmasked", "kube-linter:unsafe-proc-mount", "polaris:procMount"},
	},
	{
		ID:          pssPrefix + "seLinuxOptions",
		Severity:    baselineSeverity,
		Summary:     "A pod or container sets an SELinux type other than the container types, or sets an SELinux user or role.",
		Rationale:   "Custom SELinux labels can lift the confinement that keeps container processes away from host files and other containers.",
		Fix:         "Remove `seLinuxOptions.user` and `role`, and use a type of container_t, container_init_t, container_kvm_t or container_engine_t, or none.",
		Equivalents: []string{"KSV-0025"},
	},
	{
		ID:       pssPrefix + "seccompProfile_baseline",
		Severity: baselineSeverity,
		Summary:  "A pod or container sets the seccomp profile to Unconfined.",
		Rationale: "Seccomp filters the system calls a container may make; Unconfined exposes the whole kernel interface to an attacker. " +
			"A pod-level Unconfined is reported even when every container sets its own RuntimeDefault or Localhost profile, " +
			"which the kubelet applies instead: the library, and so admission, rejects the pod-level value; the message then says so.",
		Fix:         "Set `securityContext.seccompProfile.type: RuntimeDefault` on the pod.",
		Equivalents: []string{"KSV-0104", "kics:k8s/seccomp_profile_is_not_configured"},
	},
	{
		ID:       pssPrefix + "sysctls",
		Severity: baselineSeverity,
		Summary:  "A pod sets a sysctl outside the safe, namespaced set.",
		Rationale: "Unsafe sysctls change kernel settings shared with the node or other pods and can disable protections or starve the node. " +
			"A safe sysctl written with slashes (net/ipv4/ip_local_port_range) is reported: the kubelet and the kernel read it as the dotted name, " +
			"but the library, and so admission, compares the names as written; the message then says so.",
		Fix:         "Remove the sysctl from `spec.securityContext.sysctls`, or tune it on the node.",
		Equivalents: []string{"KSV-0026", "kics:k8s/cluster_allows_unsafe_sysctls", "kube-linter:unsafe-sysctls"},
	},
	{
		ID:          pssPrefix + "windowsHostProcess",
		Severity:    baselineSeverity,
		Summary:     "A Windows pod or container runs as a HostProcess container.",
		Rationale:   "A HostProcess container runs directly on the Windows node with the node's privileges.",
		Fix:         "Remove `securityContext.windowsOptions.hostProcess: true`.",
		Equivalents: []string{"KSV-0103", "polaris:hostProcess"},
	},
	{
		ID:       pssPrefix + "allowPrivilegeEscalation",
		Severity: restrictedSeverity,
		Summary:  "A container does not set allowPrivilegeEscalation: false.",
		Rationale: "Unless it is false, a process can gain privileges through setuid binaries or file capabilities (no_new_privs is unset). " +
			"From v1.25 Windows pods (`spec.os.name: windows`) are exempt.",
		Fix:         "Set `securityContext.allowPrivilegeEscalation: false` on every container.",
		Equivalents: []string{"KSV-0001", "kics:k8s/privilege_escalation_allowed", "kube-linter:privilege-escalation-container", "polaris:privilegeEscalationAllowed"},
	},
	{
		ID:       pssPrefix + "capabilities_restricted",
		Severity: restrictedSeverity,
		Summary:  "A container does not drop ALL capabilities, or adds one other than NET_BIND_SERVICE.",
		Rationale: "The runtime's default capabilities include NET_RAW, SETUID and DAC_OVERRIDE, which most applications never use and attackers do. " +
			"Replaces pss/capabilities_baseline at the restricted level. `drop: [all]` in another case is reported: containerd and CRI-O drop every capability for it, " +
			"but the library, and so admission, wants \"ALL\"; the message then says so." + restrictedNote,
		Fix:         "Set `securityContext.capabilities: {drop: [ALL]}` on every container, adding back only NET_BIND_SERVICE when it binds a port below 1024.",
		Equivalents: []string{"KSV-0003", "KSV-0106"},
	},
	{
		ID:          pssPrefix + "procMount_restricted",
		Severity:    restrictedSeverity,
		Summary:     "A container unmasks /proc (procMount other than Default), even in a user namespace.",
		Rationale:   "From v1.35 the restricted level keeps forbidding unmasked /proc in pods with `hostUsers: false`, which baseline allows. Replaces pss/procMount." + restrictedNote,
		Fix:         "Remove `securityContext.procMount` or set it to Default.",
		Equivalents: []string{"KSV-0027", "kics:k8s/container_runs_unmasked", "kube-linter:unsafe-proc-mount", "polaris:procMount"},
	},
	{
		ID:       pssPrefix + "restrictedVolumes",
		Severity: restrictedSeverity,
		Summary:  "A pod uses a volume type other than configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected and secret.",
		Rationale: "Other types, such as hostPath, nfs or iscsi, reach storage outside the cluster's control and its access checks. " +
			"A volume with no source counts as an emptyDir, as the API server defaults it. Replaces pss/hostPathVolumes." + restrictedNote,
		Fix:         "Use a persistentVolumeClaim backed by a StorageClass instead of a direct volume source.",
		Equivalents: []string{"KSV-0028"},
	},
	{
		ID:       pssPrefix + "runAsNonRoot",
		Severity: restrictedSeverity,
		Summary:  "The pod does not make every container set runAsNonRoot: true, or a pod or container sets it to false.",
		Rationale: "Without runAsNonRoot the kubelet starts containers whose image runs as UID 0, and root in a container is one kernel bug " +
			"or mount away from root on the node. From v1.35 pods with `hostUsers: false` are exempt.",
		Fix:         "Set `spec.securityContext.runAsNonRoot: true` and a non-zero `runAsUser`, and build images with a non-root USER.",
		Equivalents: []string{"KSV-0012", "kics:k8s/containers_running_as_root", "kube-linter:run-as-non-root", "polaris:runAsRootAllowed"},
	},
	{
		ID:          pssPrefix + "runAsUser",
		Severity:    restrictedSeverity,
		Summary:     "A pod or container sets runAsUser: 0.",
		Rationale:   "UID 0 is root; runAsNonRoot alone does not stop an explicit runAsUser: 0 on a container. From v1.35 pods with `hostUsers: false` are exempt.",
		Fix:         "Set `runAsUser` to a non-zero UID, such as 10001, or remove it and rely on the image's non-root USER.",
		Equivalents: []string{"KSV-0105", "kics:k8s/containers_running_as_root", "kube-linter:run-as-non-root", "polaris:runAsRootAllowed"},
	},
	{
		ID:       pssPrefix + "seccompProfile_restricted",
		Severity: restrictedSeverity,
		Summary:  "The pod does not give every container a seccomp profile of RuntimeDefault or Localhost.",
		Rationale: "Without a profile, most runtimes run containers unconfined, exposing every system call to an attacker. " +
			"A pod-level Unconfined fails even when every container overrides it; the message then says so. " +
			"Replaces pss/seccompProfile_baseline at the restricted level." + restrictedNote,
		Fix:         "Set `spec.securityContext.seccompProfile: {type: RuntimeDefault}`.",
		Equivalents: []string{"KSV-0030", "KSV-0104", "kics:k8s/seccomp_profile_is_not_configured"},
	},
	{
		ID:       ruleWritableRootFS,
		Severity: finding.Medium,
		Summary:  "A container's root file system is writable (securityContext.readOnlyRootFilesystem is not true).",
		Rationale: "An attacker who gets code execution can then replace binaries and libraries, plant tools and persist until the container restarts. " +
			"Init and ephemeral containers are checked too. Pods with `spec.os.name: windows` are not: the field does not apply there.",
		Fix:         "Set `securityContext.readOnlyRootFilesystem: true` and mount an emptyDir at each path the container writes to (/tmp, caches).",
		Equivalents: []string{"KSV-0014", "kics:k8s/root_container_not_mounted_as_read_only", "kube-linter:no-read-only-root-fs", "polaris:notReadOnlyRootFilesystem"},
	},
	{
		ID:       ruleRootGroup,
		Severity: finding.Low,
		Summary:  "A pod or container sets group 0: runAsGroup: 0, fsGroup: 0 or supplementalGroups containing 0.",
		Rationale: "Group root owns many files in images and on nodes; a process in it can read or change them, and fsGroup: 0 makes " +
			"volumes group-owned by root. Only explicit values are reported: when runAsGroup is unset, the image decides. Windows pods are not checked.",
		Fix:         "Use a non-zero GID in `runAsGroup` and `fsGroup` (such as 10001) and remove 0 from `supplementalGroups`.",
		Equivalents: []string{"KSV-0029", "KSV-0116"},
	},
	{
		ID:       ruleAutomountSA,
		Severity: finding.Low,
		Summary:  "A pod spec does not set automountServiceAccountToken: false.",
		Rationale: "Unless it is false, every container gets a token for the Kubernetes API; an attacker in any of them acts with the service " +
			"account's permissions. As in Kubernetes, the pod spec's setting wins; when it is unset, the setting of the pod's ServiceAccount " +
			"applies if the input holds that ServiceAccount.",
		Fix: "Set `automountServiceAccountToken: false` in the pod spec; workloads that call the API mount a projected serviceAccountToken " +
			"volume in the container that needs it.",
		Equivalents: []string{"kics:k8s/service_account_token_automount_not_disabled", "polaris:automountServiceAccountToken"},
	},
	{
		ID:       ruleDefaultSA,
		Severity: finding.Low,
		Summary:  "A pod runs as its namespace's default ServiceAccount and gets a token of it.",
		Rationale: "Every pod that names no ServiceAccount runs as default, so a role bound to default for one workload is granted to all of them, " +
			"and the audit log cannot tell them apart. Reported only when the pod gets a token: automounted (the pod's automountServiceAccountToken, " +
			"else its ServiceAccount's when the input holds it, else true) or through a projected serviceAccountToken volume. " +
			"A pod with no token carries no credential of the account, so it is not reported (kube-linter's default-service-account reports it anyway). " +
			"The deprecated spec.serviceAccount is read when serviceAccountName is unset, as the API server does.",
		Fix: "Create a ServiceAccount per workload, bind to it only the roles that workload needs, and set `spec.serviceAccountName`; " +
			"set `automountServiceAccountToken: false` on the default ServiceAccount of every namespace.",
		Equivalents: []string{"kube-linter:default-service-account"},
	},
	{
		ID:       ruleNetRaw,
		Severity: finding.Medium,
		Summary:  "A container keeps NET_RAW: its capabilities.drop lists neither NET_RAW nor ALL, it adds NET_RAW back, or it is privileged.",
		Rationale: "NET_RAW is in the runtime's default set although almost no application needs it. It lets a compromised container open raw and packet sockets: " +
			"craft arbitrary packets, spoof ARP replies or IPv6 router advertisements to neighbours on bridge-based pod networks (CVE-2020-10749) and capture traffic. " +
			"The baseline level allows it and restricted reports it only as part of drop ALL, so Ward reports it at both levels. " +
			"Capability names are compared case-insensitively, with or without the CAP_ prefix. Windows pods are not checked.",
		Fix:         "Set `securityContext.capabilities.drop: [ALL]` (or at least NET_RAW) and do not add NET_RAW back.",
		Equivalents: []string{"kics:k8s/net_raw_capabilities_not_being_dropped", "kube-linter:drop-net-raw-capability"},
	},
	{
		ID:       ruleSecretInEnv,
		Severity: finding.High,
		Summary:  "A container's environment holds a secret written in the manifest: a variable named like one (DB_PASSWORD, API_TOKEN) with a literal value, or a value that looks like a credential.",
		Rationale: "Manifests live in Git, CI logs and `kubectl get -o yaml`; anyone who can read the workload reads the secret, and rotating it means " +
			"a commit. A name suggests a secret when one of its words (split at _, - and . and between camelCase words) is key, token, secret, password, passphrase, credential or auth, or its last word (of several) is pass, pwd or pat (DB_PASS, MYSQL_PWD, GITHUB_PAT), no word is public, " +
			"gpg or fingerprint, and the last word does not describe rather than hold it (PATH, FILE, URL, ID, USER, ENABLED...): SSH_KEY_PATH and " +
			"AWS_ACCESS_KEY_ID pass, DB_USER_PASSWORD does not. " +
			"A name that suggests a secret only by such an abbreviation, or by a secret word that is not its last (io.github.secret-scanning), is not reported when its value is clearly not a secret: empty, a boolean or switch (true, off, enabled ...), an integer of up to 3 digits, or a path starting with / (CI_PASS=1, BUILD_PWD=/src); names whose last word is a secret word (DB_PASSWORD, GITHUB_TOKEN) are reported whatever the value. A value looks like a credential when it matches a known format (AWS key id, private " +
			"key, GitHub, GitLab, Slack, Stripe, npm or Google keys, a JWT, a URL with a password) or is a long random string. valueFrom (secretKeyRef, " +
			"configMapKeyRef, fieldRef) is never reported, nor are placeholders: an empty value, `$(OTHER_VAR)` references, `<...>` and `{{ ... }}` " +
			"templates, changeme and the like, absolute file paths (/run/secrets/db) and references to a secret store (vault:..., ref+..., ARNs). " +
			"The message names the variable, never its value.",
		Fix:         "Keep the value in a Secret and reference it: `valueFrom: {secretKeyRef: {name: db, key: password}}` (or mount it as a file), and rotate the exposed one.",
		Equivalents: []string{"kube-linter:env-var-secret", "polaris:sensitiveContainerEnvVar"},
	},
	{
		ID:       ruleSecretInArgs,
		Severity: finding.High,
		Summary:  "A container's command or args hold a secret written in the manifest: a password option (--password=..., mysql -p..., curl -u user:pass), credentials in a URL, a credential-shaped word, or an assignment with a secret-like name in a `sh -c` script.",
		Rationale: "Command lines are in the manifest (Git, CI logs, `kubectl get -o yaml`) and, at run time, in /proc/<pid>/cmdline, which every process of the " +
			"pod and `ps` on the node can read. References Kubernetes expands from the environment (`$(DB_PASSWORD)`), shell references in `sh -c` scripts " +
			"(`$DB_PASSWORD`), placeholders and file paths (--password-file=/run/secrets/db) are not reported. The message says what was found and where, never the value.",
		Fix:         "Pass the secret through the environment from a Secret (`valueFrom.secretKeyRef`) or a mounted file, and have the command read it (`--password-file`, `$(DB_PASSWORD)`); rotate the exposed one.",
		Equivalents: nil,
	},
	{
		ID:       ruleSecretEnvRef,
		Severity: finding.Info,
		Summary:  "A container reads a Secret into its environment (env valueFrom.secretKeyRef, or envFrom secretRef).",
		Rationale: "Environment variables are inherited by every child process, readable in /proc/<pid>/environ by processes of the same user, " +
			"and printed by crash reports, debug endpoints and frameworks that log their configuration; a mounted Secret file is read only by the program " +
			"that opens it, and is updated in place when the Secret changes. Info: the value is not in the manifest (pod/secret-in-env reports that), " +
			"and many programs only read configuration from the environment.",
		Fix:         "Mount the Secret as a volume (`secret: {secretName: <name>}`) and point the program at the file (`DB_PASSWORD_FILE=/run/secrets/db/password`).",
		Equivalents: []string{"kics:k8s/secrets_as_environment_variables", "kube-linter:read-secret-from-env-var"},
	},
	{
		ID:       ruleImageLatest,
		Severity: finding.Medium,
		Summary:  "A container image uses the tag latest, or no tag (which means latest), and no digest.",
		Rationale: "What runs then depends on when each node pulled the image: rollouts are not reproducible, a rollback does not roll back, " +
			"and a pushed or compromised image is picked up silently. An image pinned by digest is not reported, whatever its tag. " +
			"A malformed digest (sha256 with other than 64 lower-case hex digits, sha512 with other than 128) pins nothing and makes the kubelet " +
			"refuse the image (InvalidImageName): the message names it and what is wrong with it.",
		Fix:         "Use an immutable version tag or, better, a digest: `image: registry/app:1.4.2@sha256:<digest>`.",
		Equivalents: []string{"KSV-0013", "kics:k8s/invalid_image", "kube-linter:latest-tag", "polaris:tagNotSpecified"},
	},
	{
		ID:       ruleImageNotPinned,
		Severity: finding.Info,
		Summary:  "A container image is referenced by tag only, not by digest.",
		Rationale: "Tags are mutable: the registry can serve different content under the same tag, by mistake or after a compromise. " +
			"A digest names exactly the bytes that were reviewed and scanned. Info by default; Options.DigestSeverity raises it. " +
			"Images already reported by pod/image-latest are not reported again. A tagged image with a malformed digest is reported here, " +
			"with the digest and what is wrong with it.",
		Fix: "Append the digest: `image: registry/app:1.4.2@sha256:<digest>` (`crane digest` or `docker buildx imagetools inspect` print it); " +
			"let a bot such as Renovate keep it current.",
		Equivalents: []string{"kics:k8s/image_without_digest"},
	},
	{
		ID:       ruleNoLimits,
		Severity: finding.Low,
		Summary:  "A container has no memory limit, or neither a CPU request nor a CPU limit.",
		Rationale: "Without them one compromised or runaway container can starve every other pod on its node, a cheap denial of service. " +
			"Memory cannot be reclaimed from a container, so it needs a limit; CPU is shared by weight, so a CPU request already protects the " +
			"other pods' share (a CPU limit is accepted too, but throttles even on an idle node). " +
			"Pod-level resources (spec.resources) cover its containers. Ephemeral containers cannot have resources and are not checked.",
		Fix:         "Set `resources.limits.memory` and `resources.requests.cpu` on every container and init container.",
		Equivalents: []string{"KSV-0018", "kics:k8s/memory_limits_not_defined", "kube-linter:unset-cpu-requirements", "kube-linter:unset-memory-requirements", "polaris:memoryLimitsMissing"},
	},
	{
		ID:       ruleUntrustedRegistry,
		Severity: finding.Medium,
		Summary:  "A container image comes from a registry that ward.yaml's audit.registries.trusted does not list. Runs only when that list is set.",
		Rationale: "Images pulled from anywhere bypass the scanning, signing and mirroring a team applies to its own registries, and a typo or a " +
			"look-alike name pulls an attacker's image. References are normalised as the container runtime does (nginx is " +
			"docker.io/library/nginx, myorg/app is docker.io/myorg/app) and matched by registry host and whole path segments: " +
			"ghcr.io/myorg trusts ghcr.io/myorg/app, not ghcr.io/myorganisation/app. Init and ephemeral containers are checked too. " +
			"Without a list the rule is silent: Ward does not guess which registries a team trusts.",
		Fix:         "Pull the image from a trusted registry (mirror it there), or add its registry or repository prefix to `audit.registries.trusted`.",
		Equivalents: []string{"KSV-0125"},
	},
	{
		ID:       rulePrivilegedPort,
		Severity: finding.Low,
		Summary:  "A container port is below 1024 (a privileged port).",
		Rationale: "Binding a port below 1024 takes root or the NET_BIND_SERVICE capability, so a container declaring one usually runs as root or keeps " +
			"a capability the restricted level asks to drop. Recent runtimes (Docker, containerd 2 and CRI-O by default) lower " +
			"net.ipv4.ip_unprivileged_port_start to 0 in the pod's network namespace, which makes the port bindable without privilege; Ward " +
			"cannot see the runtime, so it reports the port (low), except where the pod itself sets the sysctl " +
			"net.ipv4.ip_unprivileged_port_start at or below the port. Windows pods are not checked. Published ports of the node " +
			"(hostPort) are pss/hostPorts.",
		Fix:         "Listen on a port of 1024 or above and let the Service map the well-known port (`port: 80, targetPort: 8080`).",
		Equivalents: []string{"KSV-0117", "kube-linter:privileged-ports"},
	},
	{
		ID:       ruleDeviatesTemplate,
		Severity: finding.Medium,
		Summary:  "A Pod folded into a workload (through its ownerReferences) runs another spec than the workload's pod template.",
		Rationale: "In a cluster dump each Pod is counted with the workload its ownerReferences lead to, and the workload is audited by its pod " +
			"template. ownerReferences prove nothing: a Pod created by hand, changed by a mutating webhook or by `kubectl debug` (ephemeral containers) " +
			"can name a clean workload's ReplicaSet and run privileged, on the host network, with another image. Ward compares each Pod's spec, " +
			"and the AppArmor and seccomp annotations, with the template, leaving out what the API server, the scheduler, controllers and " +
			"standard admission add to every Pod (nodeName, the kube-api-access volume and its mounts, the not-ready and unreachable " +
			"tolerations, priority, requests defaulted from limits, ...; see usage.md). A Pod that differs is audited on its own spec: every " +
			"other rule runs on it, and the findings its workload does not already get name it, at its file and line. Pods of one workload with the same spec are audited once, at the first in the input. " +
			"A Pod of the previous revision during a rollout differs too, and is rightly audited: it runs the old template. " +
			"A Pod whose labels, host network or named ports differ from the template's is also a workload of its own in the network model, " +
			"so that Services, NetworkPolicies, reachability and assertions judge it by its own labels.",
		Fix: "Find out what changed the Pod (its managedFields name the writer) and delete it if nothing should have; " +
			"if a mutating webhook adds containers or volumes, audit what it adds, or give the workload the template its Pods really run.",
	},
	{
		ID:       ruleExposedUnisolated,
		Severity: finding.High,
		Summary:  "A NodePort or LoadBalancer Service selects pods that no NetworkPolicy isolates for ingress.",
		Rationale: "The Service publishes the pods on every node's address, or on a load balancer outside the cluster, and nothing filters who connects: " +
			"not only the intended clients but every address that reaches a node, and every pod. The finding points at the Service and lists the workloads " +
			"it selects in its namespace that are not isolated for ingress. A policy that isolates ingress but lets every outside address in on every " +
			"port (`ingress: [{}]`) does not count as isolating. Runs only when the caller knows the policies (Options.IngressIsolated).",
		Fix: "Select the workloads with a NetworkPolicy that isolates ingress and allows only the expected sources (the load balancer's or clients' " +
			"ipBlocks, the ingress controller's pods), or make the Service ClusterIP behind an ingress controller.",
	},
	{
		ID:       ruleExternalIPs,
		Severity: finding.High,
		Summary:  "A Service sets spec.externalIPs.",
		Rationale: "kube-proxy on every node sends the traffic for each external IP to the Service, whoever owns the address: " +
			"a Service naming another service's address, or a public one, takes its traffic from every pod and node (CVE-2020-8554, unfixable in Kubernetes itself). " +
			"Few clusters need the field; where no admission control (the DenyServiceExternalIPs plugin, a policy engine) forbids it, " +
			"anyone who may create Services may use it to intercept traffic, so a manifest that needs it is a sign that the cluster allows it.",
		Fix: "Remove spec.externalIPs; expose the Service with type LoadBalancer or an Ingress. " +
			"Turn on the DenyServiceExternalIPs admission plugin (or an equivalent policy) so no Service can set it.",
		Equivalents: []string{"KSV-0108"},
	},
	{
		ID:       ruleLBSourceRanges,
		Severity: finding.Medium,
		Summary:  "A LoadBalancer Service accepts every source address: no loadBalancerSourceRanges, or 0.0.0.0/0 or ::/0 among them (low for an internal load balancer).",
		Rationale: "A LoadBalancer Service gets an address outside the cluster; without source ranges the cloud load balancer, and the firewall rules the cloud provider opens for it, " +
			"accept every address, so the whole internet can reach the pods behind it. The ranges may also be set with the " +
			"service.beta.kubernetes.io/load-balancer-source-ranges annotation. An internal load balancer (the AWS, Azure, GKE, OCI, IBM, OpenStack or Alibaba annotation " +
			"that makes it so) is low: it is open to the whole cloud network rather than the internet. Whether NetworkPolicies isolate the pods is pod/exposed-unisolated's question.",
		Fix: "Set spec.loadBalancerSourceRanges to the networks of the clients that need the Service (an office range, a partner's addresses, a CDN's), " +
			"or expose it through an Ingress or gateway that authenticates.",
	},
	{
		ID:       ruleIngressNoTLS,
		Severity: finding.Medium,
		Summary:  "An Ingress has no spec.tls, or serves a host that no spec.tls entry lists.",
		Rationale: "Without TLS the ingress controller serves the hosts over plain HTTP: passwords, tokens and session cookies cross the network readable and alterable " +
			"by anyone on the path, and clients cannot tell the site from an impostor. A tls entry without hosts covers every host; a wildcard (*.example.com) covers one label.",
		Fix:         "Add `spec.tls: [{hosts: [<host>], secretName: <tls secret>}]` for every host (cert-manager can issue and renew the certificate), and redirect HTTP to HTTPS.",
		Equivalents: []string{"polaris:tlsSettingsMissing"},
	},
	{
		ID:       ruleNginxSnippet,
		Severity: finding.High,
		Summary:  "An Ingress sets an ingress-nginx snippet annotation (configuration-snippet, server-snippet, auth-snippet, stream-snippet, modsecurity-snippet), or another ingress-nginx annotation to a value that injects NGINX configuration.",
		Rationale: "A snippet is raw NGINX configuration that the ingress controller loads as its own. The controller's service account can read every Secret of the cluster, " +
			"so whoever can write an Ingress can, through a snippet, read its token and every Secret (CVE-2021-25742), or route other hosts' traffic. " +
			"ingress-nginx turned snippet annotations off by default (allow-snippet-annotations: false) for this reason; an Ingress that relies on them forces the cluster to turn them back on for everyone. " +
			"Other annotations are written into nginx.conf too: a value with a line break, a ';', a brace or a path to /var/run/secrets injects configuration the same way " +
			"(CVE-2023-5043, CVE-2023-5044) and is reported as well; the message names what was found, not the value.",
		Fix: "Replace the snippet with the dedicated annotations (headers, rewrites, rate limits) or with configuration in the controller's ConfigMap that the cluster admins own; " +
			"keep allow-snippet-annotations false.",
		Equivalents: []string{"KCV-0093"},
	},
	{
		ID:       ruleNginxAuthBypass,
		Severity: finding.Medium,
		Summary:  "An Ingress sets an ingress-nginx annotation that lifts authentication: enable-global-auth: \"false\", satisfy: any, or auth-tls-verify-client off or optional_no_ca with auth-tls-secret.",
		Rationale: "enable-global-auth: \"false\" takes the Ingress's paths out of the external authentication the controller applies to every Ingress (global-auth-url). " +
			"satisfy: any lets a request in when it passes either the address allowlist or the authentication, so an allowed address needs no credentials. " +
			"auth-tls-verify-client: off or optional_no_ca with an auth-tls-secret accepts client certificates without checking them against the CA, so mutual TLS authenticates no one. " +
			"Each quietly removes a control that reviewers of the rest of the configuration assume is there.",
		Fix:         "Remove the annotation (the defaults are global auth on, satisfy: all, verify-client on), or give the paths an authentication of their own.",
		Equivalents: []string{"KCV-0093"},
	},
	{
		ID:       ruleClusterAdmin,
		Severity: finding.Critical,
		Summary:  "A RoleBinding or ClusterRoleBinding grants cluster-admin, or a role of the input with a rule of \"*\" verbs on \"*\" resources in \"*\" API groups, to subjects.",
		Rationale: "cluster-admin may do anything: read every Secret, run any pod on any node, change RBAC itself. Critical when a subject is a workload of the input " +
			"(its ServiceAccount; whoever compromises the pod owns the cluster) or a broad group (system:authenticated, system:unauthenticated, system:serviceaccounts[:<namespace>]); " +
			"high for other users, groups and ServiceAccounts, and for a RoleBinding, which limits it to one namespace (but all of that namespace), unless it binds system:authenticated or system:unauthenticated. " +
			"Kubernetes' own bindings (named system:* or labelled kubernetes.io/bootstrapping: rbac-defaults), and bindings whose only subject is the group system:masters (which bypasses RBAC anyway, as the default cluster-admin binding does), " +
			"are quiet unless they bind a broad group. The finding points at the binding's roleRef.",
		Fix:         "Bind a role that lists the verbs and resources the subjects need; keep cluster-admin for break-glass human accounts.",
		Equivalents: []string{"KSV-0111", "kics:k8s/cluster_admin_role_binding_with_super_user_permissions", "kube-linter:cluster-admin-role-binding", "polaris:clusterrolebindingClusterAdmin", "polaris:rolebindingClusterAdminClusterRole", "polaris:rolebindingClusterAdminRole"},
	},
	{
		ID:       ruleRBACWildcard,
		Severity: finding.Medium,
		Summary:  "A rule of a Role or ClusterRole uses \"*\" in verbs, resources or apiGroups (high when all three are \"*\").",
		Rationale: "A wildcard grants every present and future verb, resource or API group, custom resources included; \"*\" on \"*\" in \"*\" is cluster-admin within the role's scope. " +
			"A rule that is \"*\" in all three is reported by this rule only, not also by each rbac/ rule below.",
		Fix:         "List the verbs, resources and API groups the subjects need.",
		Equivalents: []string{"KSV-0044", "KSV-0045", "KSV-0046", "KSV-0050", "kics:k8s/rbac_wildcard_in_rule", "kube-linter:wildcard-in-rules"},
	},
	{
		ID:          ruleRBACExec,
		Severity:    finding.High,
		Summary:     "A rule grants create (or get, which WebSocket clients use) on pods/exec or pods/attach.",
		Rationale:   "Exec and attach run commands in every pod in scope, with its ServiceAccount token, mounted Secrets and network position.",
		Fix:         "Remove pods/exec and pods/attach; use a separate, short-lived role for debugging.",
		Equivalents: []string{"KSV-0053", "KSV-0054", "kics:k8s/rbac_roles_with_attach_permission", "polaris:clusterrolePodExecAttach", "polaris:clusterrolebindingPodExecAttach", "polaris:rolePodExecAttach", "polaris:rolebindingClusterRolePodExecAttach", "polaris:rolebindingRolePodExecAttach"},
	},
	{
		ID:       ruleRBACSecrets,
		Severity: finding.High,
		Summary:  "A rule grants get, list or watch on secrets (low when resourceNames limits it to named Secrets).",
		Rationale: "Reading Secrets gives away other ServiceAccounts' tokens, TLS keys and passwords; list and watch return their contents too. " +
			"A rule limited by resourceNames reads only the Secrets it names, which is how an application should be given its own Secret: low.",
		Fix:         "Grant get on the named Secrets (resourceNames), or mount the Secrets into the pods that need them.",
		Equivalents: []string{"KSV-0041", "kics:k8s/rbac_roles_with_read_secrets_permissions", "kube-linter:access-to-secrets"},
	},
	{
		ID:          ruleRBACImpersonate,
		Severity:    finding.High,
		Summary:     "A rule grants impersonate on users, groups, serviceaccounts, userextras or uids.",
		Rationale:   "Impersonation acts as another identity, with all of its rights: it is a path to every right of the cluster.",
		Fix:         "Remove impersonate.",
		Equivalents: []string{"KSV-0043", "kics:k8s/rbac_roles_with_impersonate_permission"},
	},
	{
		ID:          ruleRBACEscalate,
		Severity:    finding.High,
		Summary:     "A rule grants escalate or bind on roles or clusterroles.",
		Rationale:   "escalate lets a subject write roles with rights it does not hold; bind lets it bind any role, cluster-admin included. Both bypass RBAC's escalation check.",
		Fix:         "Remove escalate and bind; let cluster administrators manage roles and bindings.",
		Equivalents: []string{"KSV-0050", "kics:k8s/rbac_roles_allow_privilege_escalation"},
	},
	{
		ID:       ruleRBACWorkloads,
		Severity: finding.Medium,
		Summary:  "A rule grants create on pods or on controllers of pods (deployments, daemonsets, statefulsets, replicasets, jobs, cronjobs, replicationcontrollers).",
		Rationale: "A pod it creates may run as any ServiceAccount of its namespace and mount any of its Secrets: the subject gains all of them (privilege by proxy), " +
			"and, where admission allows, host access.",
		Fix:         "Let a deployment pipeline create workloads; running workloads rarely need to.",
		Equivalents: []string{"KSV-0048", "kube-linter:access-to-create-pods"},
	},
	{
		ID:          ruleRBACNodesProxy,
		Severity:    finding.High,
		Summary:     "A rule grants get or create on nodes/proxy.",
		Rationale:   "nodes/proxy reaches the kubelet API of every node, which runs commands in any pod on it, outside the API server's audit log and admission control.",
		Fix:         "Remove nodes/proxy; read node metrics through the metrics API.",
		Equivalents: []string{"KSV-0047"},
	},
	{
		ID:       ruleRBACPolicyEdit,
		Severity: finding.Medium,
		Summary:  "A rule grants create, update, patch, delete or deletecollection on NetworkPolicies, Istio AuthorizationPolicies or PeerAuthentications.",
		Rationale: "A subject that can change these policies can undo every reachability assertion Ward checks: it opens any pod to any other, or turns mutual TLS off. " +
			"No peer auditor has this check.",
		Fix: "Let only the pipeline that applies the reviewed policies change them.",
	},
	{
		ID:       ruleHostPathPV,
		Severity: finding.High,
		Summary:  "A PersistentVolume is a hostPath volume: a pod whose claim binds to it mounts a path of its node.",
		Rationale: "The Pod Security Standards forbid hostPath volumes in pod specs (pss/hostPathVolumes) but allow persistentVolumeClaim volumes, " +
			"whatever the claim binds to: a PersistentVolume with `spec.hostPath` gives every pod that claims it the node's files " +
			"(`path: /` is the node's root filesystem, /var/run the container runtime's socket) with no finding on the pod. " +
			"Any claim that matches the volume's storage class, size and access modes may bind to it, in any namespace, unless its claimRef reserves it. " +
			"Reported on the PersistentVolume, whether or not a pod of the input uses it; `local` volumes, which name a disk the administrator set aside, are not.",
		Fix: "Use a storage class backed by a CSI driver, or a `local` PersistentVolume on a dedicated disk; keep hostPath volumes to single-node test clusters, and suppress the finding there with a ward.yaml ignore entry and its reason.",
	},
	{
		ID:       ruleConfigMapSecret,
		Severity: finding.High,
		Summary:  "A ConfigMap holds a secret: a key named like one with a literal value, a value that looks like a credential, or a configuration file with such an assignment in it.",
		Rationale: "ConfigMaps are not Secrets: they are not encrypted at rest when Secrets are, RBAC roles grant reading them widely (the built-in view role " +
			"does, for Secrets it does not), and they are printed in full by `kubectl describe`. In data, a single-line value is judged like pod/secret-in-env " +
			"judges an environment variable (its key's name, its value's form); a multi-line value is a configuration file (properties, .env, INI, YAML, " +
			"JSON) whose lines `key=value` or `key: value` are judged the same way, PEM certificate bodies skipped. binaryData is judged by its key " +
			"(a private key or keystore file name: id_rsa, *.key, *.p12, *.pfx, *.jks, *.keystore; not *.pem, *.crt or trust stores, which hold " +
			"certificates) and by its content when that is text. Quiet: placeholders (changeme, `<...>`, `{{ ... }}`, `${VAR}` references), " +
			"references to a secret store or to a secret another program reads (vault:, ref+..., AWS Secrets Manager and SSM ARNs, sm://, ENC(...), " +
			"Argo CD's `$name:key`, Grafana's `$__file{...}`, absolute file paths), flags and small numbers " +
			"(password_min_length: 12), checksums, digests and UUIDs. The message names the key and the line, never the value.",
		Fix:         "Move the value into a Secret (mounted as a file or referenced with secretKeyRef) or an external secret store, and rotate the exposed one.",
		Equivalents: []string{"KSV-0109", "KSV-01010", "polaris:sensitiveConfigmapContent"},
	},
	{
		ID:       ruleRBACPortForward,
		Severity: finding.Medium,
		Summary:  "A rule grants create (or get, which WebSocket clients use) on pods/portforward.",
		Rationale: "Port forwarding opens a tunnel from the subject to any port of any pod in scope through the API server and the kubelet, which enter the pod's " +
			"network namespace directly: NetworkPolicies, which filter traffic between pods, do not see it, so every isolation Ward checks is bypassed for that subject.",
		Fix:         "Remove pods/portforward; reach services through their reviewed ingress, or grant it in a separate, short-lived role for debugging.",
		Equivalents: []string{"kics:k8s/rbac_roles_with_portforwarding_permissions"},
	},
	{
		ID:       ruleRBACConfigMaps,
		Severity: finding.Medium,
		Summary:  "A rule grants create, update, patch, delete or deletecollection on configmaps (high when it names the EKS aws-auth ConfigMap or any ConfigMap in kube-system).",
		Rationale: "ConfigMaps configure the workloads that read them: a subject that writes them changes what those programs do (a proxy's upstreams, an app's endpoints and feature flags). " +
			"In kube-system they configure the cluster itself (CoreDNS's Corefile redirects every name; kube-proxy's configuration), and on EKS the aws-auth ConfigMap maps cloud identities " +
			"to Kubernetes groups, system:masters included: writing it is cluster-admin. A rule limited by resourceNames to other ConfigMaps is reported too (low), since the named ones are still rewritten.",
		Fix:         "Let the deployment pipeline write ConfigMaps; give running workloads get on the ConfigMaps they read (resourceNames).",
		Equivalents: []string{"KSV-0049"},
	},
	{
		ID:       ruleRBACWebhooks,
		Severity: finding.High,
		Summary:  "A rule grants create, update, patch, delete or deletecollection on mutatingwebhookconfigurations or validatingwebhookconfigurations.",
		Rationale: "An admission webhook receives every object the API server admits, Secrets included, and a mutating one may rewrite them: add a container to every pod, " +
			"change its image or ServiceAccount. Deleting or editing a validating webhook removes a policy engine's checks. Either is a path to the whole cluster.",
		Fix:         "Let only the cluster's administrators and the operators that own their webhook (cert-manager, a policy engine) manage webhook configurations.",
		Equivalents: []string{"KSV-0114"},
	},
	{
		ID:       ruleRBACWriteSecret,
		Severity: finding.Medium,
		Summary:  "A rule grants create, update, patch, delete or deletecollection on secrets (low when resourceNames limits it to named Secrets).",
		Rationale: "Workloads trust the Secrets they mount: a subject that rewrites them swaps an Ingress's TLS key (and serves its host), a database password or a webhook's CA. " +
			"Creating a Secret of type kubernetes.io/service-account-token makes the token controller fill it with a token of any ServiceAccount of the namespace, " +
			"which a pod the subject can start then mounts. Reading Secrets is rbac/read-secrets.",
		Fix: "Let the pipeline or the secret operator (External Secrets, Sealed Secrets) write Secrets; limit an application's own writes with resourceNames.",
	},
	{
		ID:       ruleRBACWriteRBAC,
		Severity: finding.Medium,
		Summary:  "A rule grants create, update, patch, delete or deletecollection on roles, clusterroles, rolebindings or clusterrolebindings.",
		Rationale: "RBAC's escalation check limits what such a subject can grant to the rights it holds itself (escalate and bind lift that limit: rbac/escalate-bind), " +
			"but it can hand all of them to any user, group or ServiceAccount, outside the cluster included, and delete the bindings other teams rely on. " +
			"Namespace administrators (the default admin role) have it within their namespace; a workload rarely needs it.",
		Fix: "Let the pipeline that applies reviewed RBAC manifests write roles and bindings; remove the right from workloads' ServiceAccounts.",
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
