package compose

import "github.com/wardsec/ward/finding"

// Rule ids. They are a contract: reports, suppressions and CI gates refer
// to them.
const (
	rulePrivileged          = "compose/privileged"
	ruleHostNetwork         = "compose/host-network"
	ruleHostPID             = "compose/host-pid"
	ruleHostIPC             = "compose/host-ipc"
	ruleDangerousCapability = "compose/dangerous-capability"
	ruleNoCapDropAll        = "compose/no-cap-drop-all"
	ruleWritableRootFS      = "compose/writable-root-fs"
	ruleUserRoot            = "compose/user-root"
	ruleNoUser              = "compose/no-user"
	ruleUnconfined          = "compose/security-opt-unconfined"
	ruleNoNewPrivileges     = "compose/no-new-privileges-not-set"
	ruleDatastoreNetwork    = "compose/datastore-network-not-internal"
	ruleDatastorePort       = "compose/datastore-port-published"
	ruleEmbeddedDNS         = "compose/embedded-dns-bypasses-policy"
	ruleBadSuppression      = "compose/bad-suppression"
	ruleHostUserns          = "compose/host-userns"
	ruleSecretInEnvironment = "compose/secret-in-environment" // #nosec G101 -- a rule id, not a credential
	ruleSecretInCommand     = "compose/secret-in-command"     // #nosec G101 -- a rule id, not a credential
	ruleHostCgroup          = "compose/host-cgroup"
	ruleHostUTS             = "compose/host-uts"
	ruleSensitiveMount      = "compose/sensitive-mount"
	// ruleInlineUnreadable is ward check's rule of inputs that do not
	// parse: an inline Dockerfile is an input of its own.
	ruleInlineUnreadable   = "input/unreadable"
	ruleNoResourceLimits   = "compose/no-resource-limits"
	rulePortPublished      = "compose/port-published"
	rulePrivilegedHostPort = "compose/privileged-host-port"
	ruleUntrustedRegistry  = "compose/untrusted-registry"
	ruleUnsetVariable      = "compose/unset-variable"
)

// Rules is every rule Audit can report, in documentation order. A
// finding may be less severe than its rule: compose/dangerous-capability
// is medium for NET_ADMIN and NET_RAW. Equivalents name the same check
// in other tools: KICS's Docker Compose queries ("kics:<uuid>"), and the
// Kubernetes counterpart of the setting in Trivy ("KSV-0017") and
// kube-linter ("kube-linter:<check>").
var Rules = []finding.Rule{
	{
		ID:       rulePrivileged,
		Severity: finding.Critical,
		Summary:  "A service runs privileged (privileged: true).",
		Rationale: "A privileged container gets every capability, all host devices, and no seccomp, AppArmor or SELinux confinement; " +
			"root in it is root on the host (mount the host disk, load a kernel module, write to /sys). " +
			"It is critical because no further mistake is needed to escape the container.",
		Fix:         "Remove `privileged: true`; add only the capabilities (`cap_add`) and devices (`devices`) the service really needs.",
		Equivalents: []string{"kics:dockerCompose/privileged_containers_enabled"},
	},
	{
		ID:       ruleHostNetwork,
		Severity: finding.High,
		Summary:  "A service shares the host's network namespace (network_mode: host, or its first network is the external network named host).",
		Rationale: "On the host network the container can bind any host port, reach services that listen only on the host's loopback " +
			"(the Docker API on tcp://127.0.0.1:2375, metadata endpoints, local databases) and, with NET_ADMIN or NET_RAW, sniff or alter host traffic. " +
			"Its ports are exposed on every host interface without any `ports:` entry, and Compose networks no longer isolate it. " +
			"A service without network_mode whose first network (default included) is an external network named host gets the same: Compose makes that network's name the container's network mode. " +
			"So does a service with `network_mode: service:<name>` (or `container:<name>` naming the container_name of a service of the project, or the name Compose gives its containers otherwise, `<project>-<service>-<index>`, the project being the `COMPOSE_PROJECT_NAME` of the `.env`, else the `name:` key, else the directory's name; services of the files brought by `include` count as the project's) when that service (or the one it joins in turn) is on the host's network: Docker starts it in the same namespace, and it is reported too.",
		Fix:         "Remove `network_mode: host` (or the network named host); attach the service to a Compose network and publish only the ports it serves, bound to an address (`127.0.0.1:8080:8080`).",
		Equivalents: []string{"kics:dockerCompose/shared_host_network_namespace"},
	},
	{
		ID:       ruleHostPID,
		Severity: finding.High,
		Summary:  "A service shares the host's process namespace (pid: host).",
		Rationale: "The container sees every process on the host, their command lines and environments (often carrying secrets), " +
			"and as root can signal them; with SYS_PTRACE it can inject code into them. " +
			"A service with `pid: service:<name>` joining a service that has pid: host (directly or through others) is in the host's process namespace too, and is reported.",
		Fix:         "Remove `pid: host`. To debug another container, share only its namespace (`pid: service:<name>`).",
		Equivalents: []string{"kics:dockerCompose/host_namespace_is_shared"},
	},
	{
		ID:       ruleHostIPC,
		Severity: finding.Medium,
		Summary:  "A service shares the host's IPC namespace (ipc: host).",
		Rationale: "The container can read and write the host's System V shared memory and semaphores and POSIX message queues, " +
			"which other processes on the host use to exchange data. " +
			"A service with `ipc: service:<name>` joining a service that has ipc: host (directly or through others) shares the host's IPC namespace too, and is reported.",
		Fix:         "Remove `ipc: host`; use `ipc: shareable` on one service and `ipc: service:<name>` on the others that need to share memory.",
		Equivalents: []string{"kics:dockerCompose/shared_host_ipc_namespace"},
	},
	{
		ID:       ruleSecretInEnvironment,
		Severity: finding.High,
		Summary:  "A service's environment holds a secret written in the Compose file: a variable named like one (DB_PASSWORD, API_TOKEN) with a literal value, or a value that looks like a credential.",
		Rationale: "Compose files live in Git and in `docker inspect`: anyone who can read either reads the secret. Judged on the file as written, " +
			"before interpolation: `${DB_PASSWORD}` (the value comes from the shell or an .env file) is a reference, not a secret, and so are " +
			"empty values and placeholders such as changeme. Names and values are judged as for pod/secret-in-env; the message names the " +
			"variable, never its value.",
		Fix: "Use Compose secrets (`secrets: [db_password]`, read from /run/secrets/db_password) or `${VAR}` interpolation from an .env file kept out of Git, and rotate the exposed value.",
	},
	{
		ID:       ruleSecretInCommand,
		Severity: finding.High,
		Summary:  "A service's command or entrypoint holds a secret written in the Compose file: a password option (--password=..., mysql -p..., curl -u user:pass), credentials in a URL, a credential-shaped word, or an assignment with a secret-like name in a `sh -c` script.",
		Rationale: "Compose files live in Git, and command lines in `docker inspect` and in /proc/<pid>/cmdline, which `ps` on the host shows. Judged on the file as written, " +
			"before interpolation: `${DB_PASSWORD}` is a reference, not a secret; placeholders and file paths are not reported. A string command is read as a shell " +
			"line, a list as the arguments. The message says what was found and where, never the value.",
		Fix: "Use Compose secrets (`secrets: [db_password]`, read from /run/secrets/db_password) and have the command read the file, or `${VAR}` interpolation from an .env file kept out of Git; rotate the exposed value.",
	},
	{
		ID:       ruleHostUserns,
		Severity: finding.Medium,
		Summary:  "A service opts out of the daemon's user namespace remapping (userns_mode: host).",
		Rationale: "With userns-remap set in daemon.json, root in a container is an unprivileged uid on the host, so an escape lands without privileges. " +
			"userns_mode: host runs the service in the host's user namespace instead: its root is the host's root. " +
			"Without userns-remap the setting changes nothing, but it keeps the service from ever benefiting from it.",
		Fix:         "Remove `userns_mode: host`. If the service needs host uids for a bind mount, chown the mounted files to the remapped uid instead.",
		Equivalents: []string{"kics:dockerCompose/shared_host_user_namespace"},
	},
	{
		ID:       ruleHostCgroup,
		Severity: finding.Medium,
		Summary:  "A service shares the host's cgroup namespace (cgroup: host).",
		Rationale: "In the host's cgroup namespace the container sees the host's whole cgroup tree, the paths (and so the ids) of every other container, " +
			"and with a writable cgroup filesystem (privileged, or CAP_SYS_ADMIN) it can move processes and change limits outside its own group; " +
			"cgroup v1's release_agent is a known escape from there. The default on cgroup v2 hosts is private.",
		Fix:         "Remove `cgroup: host` (or set `cgroup: private`).",
		Equivalents: []string{"kics:dockerCompose/cgroup_not_default"},
	},
	{
		ID:       ruleHostUTS,
		Severity: finding.Low,
		Summary:  "A service shares the host's UTS namespace (uts: host).",
		Rationale: "In the host's UTS namespace the container reads the host's hostname and NIS domain name, and with CAP_SYS_ADMIN " +
			"(privileged, or added) sets them for the whole host, which logs, certificates and cluster software identify it by.",
		Fix: "Remove `uts: host`; set `hostname:` if the service needs a name of its own.",
	},
	{
		ID:       ruleDangerousCapability,
		Severity: finding.High,
		Summary:  "A service adds a dangerous Linux capability: ALL, SYS_ADMIN, SYS_MODULE, SYS_RAWIO, SYS_PTRACE, DAC_READ_SEARCH, BPF (high) or NET_ADMIN, NET_RAW (medium).",
		Rationale: "SYS_ADMIN allows mounting filesystems and most of what privileged mode gives; SYS_MODULE loads kernel code; " +
			"SYS_RAWIO, DAC_READ_SEARCH (the \"shocker\" escape), SYS_PTRACE and BPF each have known container escapes; ALL adds all of them. " +
			"NET_ADMIN lets the container reconfigure interfaces, routes and firewall rules of its network namespace (of the host's, with network_mode: host); " +
			"NET_RAW allows raw sockets, used for ARP and DNS spoofing against neighbours on the same network. " +
			"Docker grants NET_RAW by default, so adding it only matters together with cap_drop: [ALL], but it shows the service relies on it. " +
			"Capabilities may be written with or without the CAP_ prefix, in any case.",
		Fix: "Remove the capability from `cap_add`. If the service truly needs it, start from `cap_drop: [ALL]` and add back only that capability, " +
			"then suppress this finding with the reason.",
		Equivalents: []string{"kics:dockerCompose/container_capabilities_unrestricted"},
	},
	{
		ID:       ruleSensitiveMount,
		Severity: finding.Critical,
		Summary:  "A service bind-mounts a container runtime socket (docker.sock: critical) or a sensitive host path (/, /etc, /proc, /sys, /var/run, /root, ...), or is given a host disk or the host's memory as a device.",
		Rationale: "Whoever can connect to the Docker socket (or containerd's, CRI-O's, Podman's) can start a privileged container with the host's root mounted: " +
			"mounting it gives the service, and anyone who compromises it, the host. A read-only mount does not help, since a socket is used by connecting to it. " +
			"The host's /, /run and /var/run (which hold the socket) are critical too. " +
			"Other sensitive paths are high when writable and medium when read-only: /proc, /sys, /dev, /boot, /root, /home, /var/lib/docker, /var/lib/kubelet, " +
			"/etc/kubernetes, /etc/ssh, /etc/docker, /etc/systemd and everything under them, and /etc, /usr, /bin, /sbin, /lib, /var, /var/log, /etc/shadow, /etc/passwd " +
			"themselves: they hold credentials (shadow, SSH host keys, kubelet and cluster certificates) or let the container change what the host runs. " +
			"Files such as /etc/localtime are not reported. A path through the root link of a host process (/proc/1/root, /proc/self/root, /proc/thread-self/root) is judged as the host path it reaches, since the mount follows the link: /proc/1/root is the host's root, /proc/1/root/var/run/docker.sock the runtime's socket. The home directory of the user running Compose (`~`, `${HOME}`: SSH keys, registry, cloud and cluster credentials) is high too, and a path that climbs out of it (`~/..`, `${HOME}/../..`) is judged as if the home directory were `/home/<user>` (`~/../..` is the host's root). Only absolute host paths and the home directory are judged, however they reach the container: bind mounts, named volumes of the local driver that bind a host path (`driver_opts: {type: none, o: bind, device: /var/run/docker.sock}`), the `file:` of secrets and configs, which Compose bind-mounts read-only, and the mounts of another service of the project (its volumes, secret and config files) taken with `volumes_from` (reported on the service that takes them, read-only when either side says so, through chains of volumes_from); other named volumes and paths relative to the project are not, unless they climb to the host's root (`../../../../var/run/docker.sock`). " +
			"A host disk or partition (/dev/sda, /dev/nvme0n1p1, /dev/mapper/..., /dev/disk/...) or memory device (/dev/mem, /dev/kmem, /dev/port) given with devices: is critical, high when its permissions have no w: " +
			"writing it rewrites the host's filesystems or kernel, reading it reads every file of the host. Other devices (GPUs, fuse, tun, serial ports) are not reported. " +
			"So is a device_cgroup_rules entry that opens every device (a), the block devices (b) or the memory devices (c 1:1, 1:2, 1:4, 1:*) for reading or writing: Docker grants mknod by default, so the container creates the node and opens it.",
		Fix: "Remove the bind mount. A service that needs the Docker API should reach a socket proxy that allows only the calls it needs (for instance tecnativa/docker-socket-proxy); " +
			"a service that needs a file of the host should mount just that file, read-only.",
		Equivalents: []string{"kics:dockerCompose/docker_socket_mounted_in_container", "kics:dockerCompose/volume_has_sensitive_host_directory"},
	},
	{
		ID:       ruleNoCapDropAll,
		Severity: finding.Medium,
		Summary:  "A service does not drop all capabilities (no cap_drop: [ALL]).",
		Rationale: "Docker's default set has 14 capabilities, among them NET_RAW (spoofing), CHOWN, DAC_OVERRIDE, SETUID/SETGID and MKNOD; " +
			"most services need none of them. Dropping ALL and adding back the few needed (usually NET_BIND_SERVICE, or nothing) " +
			"removes what an attacker in the container would use next.",
		Fix:         "Add `cap_drop: [ALL]` to the service, and `cap_add: [NET_BIND_SERVICE]` only if it binds a port below 1024 as a non-root user.",
		Equivalents: []string{"kics:dockerCompose/container_capabilities_unrestricted"},
	},
	{
		ID:       ruleWritableRootFS,
		Severity: finding.Low,
		Summary:  "A service's root filesystem is writable (read_only is not true).",
		Rationale: "A writable root filesystem lets an attacker drop tools, modify binaries and configuration, and persist until the container is recreated. " +
			"A read-only one also makes what the service writes explicit. Low, because many images need adjustments (tmpfs mounts) before they run read-only.",
		Fix: "Set `read_only: true` and mount writable paths explicitly: `tmpfs: [/tmp, /run]` and named volumes for data.",
	},
	{
		ID:       ruleUserRoot,
		Severity: finding.High,
		Summary:  "A service runs as root (user: root, 0 or 0:<group>).",
		Rationale: "Root in the container is root on the host unless user namespaces are enabled: any escape (a kernel bug, a mounted socket, " +
			"a writable host path) gives the attacker the host. Setting user: root also overrides a non-root USER the image may have chosen. A user: with an empty user part (`\":1000\"`) is root too: Docker then keeps its default user, uid 0.",
		Fix: "Set `user:` to an unprivileged uid and gid (`user: \"10001:10001\"`), and make the files the service writes owned by it.",
	},
	{
		ID:       ruleNoUser,
		Severity: finding.Medium,
		Summary:  "A service does not set user, so it runs as the image's USER, which is root unless the image says otherwise.",
		Rationale: "Most images, databases included, start as root. The Compose file alone cannot tell: the image may set a non-root USER, " +
			"in which case this finding can be suppressed with that reason. Setting user in the Compose file makes the choice visible and reviewable.",
		Fix: "Set `user:` to an unprivileged uid and gid (`user: \"10001:10001\"`), or suppress with the reason if the image's USER is non-root.",
	},
	{
		ID:       ruleUnconfined,
		Severity: finding.High,
		Summary:  "A service disables a confinement layer in security_opt (seccomp:unconfined, apparmor:unconfined, label:disable or an unconfined SELinux type such as label=type:spc_t, systempaths=unconfined).",
		Rationale: "Docker's default seccomp profile blocks about 44 system calls used in container escapes and kernel exploits (keyctl, bpf, unshare, mount); " +
			"its AppArmor and SELinux profiles stop writes to /proc and /sys and access to host files; systempaths=unconfined unmasks /proc paths such as /proc/kcore. " +
			"Disabling them removes a layer that has stopped real escapes. " +
			"The SELinux types spc_t (super privileged container), unconfined_t and container_runtime_t are as good as label:disable.",
		Fix:         "Remove the option. If a system call is missing, write a seccomp profile that allows just it (`security_opt: [\"seccomp=./seccomp.json\"]`).",
		Equivalents: []string{"kics:dockerCompose/default_seccomp_profile_disabled"},
	},
	{
		ID:       ruleNoNewPrivileges,
		Severity: finding.Medium,
		Summary:  "A service does not set no-new-privileges:true in security_opt.",
		Rationale: "Without it a process in the container can gain privileges through setuid and setgid binaries or file capabilities (su, sudo, ping on some images), " +
			"turning a non-root foothold into root. no-new-privileges costs nothing for services that do not rely on setuid programs.",
		Fix:         "Add `security_opt: [\"no-new-privileges:true\"]` to the service (or set it for the daemon with `\"no-new-privileges\": true` in daemon.json).",
		Equivalents: []string{"kics:dockerCompose/no_new_privileges_not_set"},
	},
	{
		ID:       ruleDatastoreNetwork,
		Severity: finding.Medium,
		Summary:  "A data store service is attached to a network that is not internal: true (the implicit default network included).",
		Rationale: "A data store is a service whose image (the last element of the repository, ignoring registry, tag and digest) names a database, cache or broker: " +
			"postgres, mysql, mariadb, redis, valkey, mongo, elasticsearch, opensearch, memcached, cassandra, couchdb, couchbase, rabbitmq, kafka, zookeeper, etcd, " +
			"clickhouse, influxdb, neo4j, cockroach, timescaledb, postgis; admin UIs and exporters (mongo-express, redis_exporter) are not. " +
			"On a network without internal: true the data store can open connections to the internet, so a compromised or malicious plugin or query " +
			"(COPY ... PROGRAM, Redis MODULE LOAD, a Kafka Connect plugin) can exfiltrate data and fetch tools. Its network also connects it to every other " +
			"service on that network. network_mode: host counts as a network that is not internal; external networks are reported because the file cannot show their flag.",
		Fix: "Put the data store on its own network declared `internal: true` (`networks: {db: {internal: true}}`) that only its clients join; " +
			"services that need the internet join a second network.",
	},
	{
		ID:       ruleDatastorePort,
		Severity: finding.High,
		Summary:  "A data store service publishes a port on all host interfaces.",
		Rationale: "A ports entry without a host address (\"5432:5432\", or just \"5432\", which picks a random host port) or with 0.0.0.0 or :: " +
			"publishes the port on every interface of the host, so anyone who can reach the host can reach the database. " +
			"Docker inserts its own iptables rules for published ports, so host firewalls such as ufw do not block them. " +
			"Data stores often run without authentication in development setups that end up on shared or public hosts.",
		Fix: "Remove the ports entry and let clients reach the data store over a Compose network; for access from the host only, " +
			"bind it to loopback: `ports: [\"127.0.0.1:5432:5432\"]`.",
		Equivalents: []string{"kics:dockerCompose/container_traffic_not_bound_to_host_interface"},
	},
	{
		ID:       rulePortPublished,
		Severity: finding.High,
		Summary:  "A service that is not a data store publishes a port on all host interfaces: high for administration and control ports, low for others.",
		Rationale: "A ports entry without a host address (\"8080:8080\", or \"8080\") or with 0.0.0.0 or :: publishes the port on every interface of the host, " +
			"and Docker's own iptables rules let the traffic in whatever ufw or firewalld say. A port meant for the machine's own use, or for a reverse proxy " +
			"in front of it, is then open to everyone who can reach the host. High when the container port is an administration or control port: " +
			"22 (SSH), 2375 and 2376 (Docker API), 2379 (etcd), 6443 (Kubernetes API server), 10250 (kubelet); low for others, such as a web server's. " +
			"Ports bound to a loopback address (127.0.0.1, ::1) or to another specific address are not reported, nor are services on the host network " +
			"(compose/host-network) or data stores (compose/datastore-port-published). One finding per ports entry: a range such as \"7000-7001:7000-7001\" is one.",
		Fix: "Bind the port to the address it is meant for: `ports: [\"127.0.0.1:8080:8080\"]` for the host only, or a specific interface's address; " +
			"or drop the ports entry and let other services reach it over a Compose network.",
		Equivalents: []string{"kics:dockerCompose/container_traffic_not_bound_to_host_interface"},
	},
	{
		ID:       rulePrivilegedHostPort,
		Severity: finding.Low,
		Summary:  "A service publishes a host port below 1024 (low; info for 80 and 443).",
		Rationale: "Ports below 1024 are reserved to privileged processes so that clients can trust that a system service answers on them (SSH on 22, SMTP on 25, DNS on 53). " +
			"Docker binds published ports as root, so any user allowed to run Compose can put a container there, in front of or instead of the host's service. " +
			"80 and 443 are reported as info: a web front end is the usual case. Reported whatever the host address, since the host's port is taken either way.",
		Fix:         "Publish a host port of 1024 or more (`\"8080:80\"`), and let a reverse proxy or a firewall redirect the well-known port if clients need it.",
		Equivalents: []string{"kics:dockerCompose/privileged_ports_mapped_in_container"},
	},
	{
		ID:       ruleUntrustedRegistry,
		Severity: finding.Medium,
		Summary:  "A service's image comes from a registry that ward.yaml's audit.registries.trusted does not list. Runs only when that list is set.",
		Rationale: "Images pulled from anywhere bypass the scanning and signing of the team's own registries, and a look-alike name pulls an " +
			"attacker's image. References are normalised as Docker does (redis is docker.io/library/redis) and matched by registry host and whole " +
			"path segments. A service with `build:` is not judged: its image: names what it builds, and the Dockerfile's FROM is judged by " +
			"dockerfile/untrusted-registry. An image that is not a valid reference after interpolation (a variable without a value or default) is " +
			"reported, since its registry cannot be known. Without a list the rule is silent.",
		Fix: "Pull the image from a trusted registry (mirror it there), or add its registry or repository prefix to `audit.registries.trusted` in ward.yaml.",
	},
	{
		ID:       ruleUnsetVariable,
		Severity: finding.High,
		Summary:  "A security-relevant field of a service (privileged, network_mode, pid, ipc, uts, userns_mode, cgroup, user, an item of cap_add, security_opt or devices, the source of a volume, the privileged or user of a post_start or pre_stop hook) comes from a variable that the project's .env does not set and that has no default.",
		Rationale: "docker compose interpolates the variable from the environment it runs in, warning that it is not set, so the value deployed is decided there: " +
			"`network_mode: ${NET}` is the host's network when the deploy sets NET=host. Ward reads the .env beside the Compose file and not the environment it runs in, " +
			"which is not the deploy's, so it judges the field without its value (empty; true for privileged). Variables with a default (`${NET:-bridge}`) are judged with it and not reported; " +
			"required ones (`${NET:?msg}`) and presence tests (`${NET:+host}`) are. Of a volume only the source counts (`./data/${SUB}:/data` is reported, `data:/x/${T}` is not): " +
			"a default is judged as the value (`${HOST_DIR:-/}:/host` is the host's root to compose/sensitive-mount). Of a hook only privileged and user count, not its command.",
		Fix: unsetFix,
	},
	{
		ID:       ruleNoResourceLimits,
		Severity: finding.Low,
		Summary:  "A service sets no memory, CPU or process limit (mem_limit, cpus, pids_limit, or deploy.resources.limits).",
		Rationale: "Without limits one container can use every CPU, all memory (and the kernel's OOM killer then picks a victim among all the host's processes) " +
			"and every process id (a fork bomb stops the host from starting anything). That is a denial of service against every other service on the host, " +
			"by a bug or by an attacker who controls one container. The finding names the limits that are missing; a CPU limit may be cpus, cpu_quota or deploy.resources.limits.cpus.",
		Fix:         "Set the three limits on the service: `mem_limit: 512m`, `cpus: 1.0`, `pids_limit: 200` (or `deploy: {resources: {limits: {memory: 512M, cpus: \"1.0\", pids: 200}}}`).",
		Equivalents: []string{"kics:dockerCompose/cpus_not_limited", "kics:dockerCompose/memory_not_limited", "kics:dockerCompose/pids_limit_not_set"},
	},
	{
		ID:       ruleEmbeddedDNS,
		Severity: finding.Medium,
		Summary:  "A service's NetworkPolicies allow it no DNS, yet Docker's embedded resolver (127.0.0.11) answers it the names of the other containers.",
		Rationale: "A container on a user-defined network, which every Compose network is, resolves names through Docker's embedded DNS server at 127.0.0.11. " +
			"It runs inside the container's own network namespace, so the query never leaves it: no host firewall, Ward's table included, sees it. " +
			"A service whose policies allow no DNS (`egress: []`, or egress rules none of which allows 53/UDP or 53/TCP, nor every port, nor a named port) " +
			"still learns the names and addresses of the containers on its networks (service names, aliases, container names); " +
			"other names are forwarded upstream by dockerd, from the container's namespace (Ward then judges the forwarded query as the service's egress) " +
			"or, for a resolver on the host's loopback, from the host's (Ward does not), so the policy is no defence against DNS tunnelling either. " +
			"The rule runs when NetworkPolicies are checked with the Compose file, and judges them as `ward fw --docker` would enforce them: each service is a Pod " +
			"in the namespace of its ward.dev/namespace label, else of the Compose project (the COMPOSE_PROJECT_NAME of the .env, else the file's name:, else its directory's name; " +
			"`docker compose -p` or a COMPOSE_PROJECT_NAME of the environment compose runs in would change it), labelled with the service's labels and Compose's own " +
			"(com.docker.compose.project, com.docker.compose.service); labels of the image are not known here. " +
			"Services with a network_mode (host, none, bridge, service: or container:) do not use a Compose network and are not checked.",
		Fix: "If the service needs names, allow DNS in its egress policy (to 53/UDP and 53/TCP) so that the policy says what happens. " +
			"If it must not learn them, the policy cannot stop it: put the service on a network of its own shared only with the services it must reach, " +
			"so that the resolver knows no other names, and suppress this finding with that reason (`# ward:ignore compose/embedded-dns-bypasses-policy <reason>`). " +
			"See docs/firewall.md, Known gaps.",
	},
	{
		ID:       ruleBadSuppression,
		Severity: finding.Low,
		Summary:  "A # ward:ignore comment has no reason, names an unknown rule or names compose/bad-suppression, so it suppresses nothing.",
		Rationale: "Every suppression must name the rule it silences and say why the finding does not apply, so that reviewers can judge it later. " +
			"A suppression that is malformed is treated as a mistake, not as consent: it silences nothing and is reported.",
		Fix: "Write `# ward:ignore <rule-id> <reason>` on its own line, with a compose/ rule id and a reason: " +
			"`# ward:ignore compose/no-user the image runs as uid 999`.",
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
