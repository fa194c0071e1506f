package compose

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardsec/ward/finding"
)

// hit is what a rule case expects of one finding: its line and severity.
type hit struct {
	Line     int
	Severity finding.Severity
}

type ruleCase struct {
	name string
	rule string
	src  string
	want []hit // findings of rule only; none for a negative case
}

// hardened is a service that passes every rule.
const hardened = `
    user: "10001:10001"
    mem_limit: 256m
    cpus: 0.5
    pids_limit: 100
    read_only: true
    cap_drop: [ALL]
    security_opt: ["no-new-privileges:true"]`

var ruleCases = []ruleCase{
	// compose/unset-variable (more in TestUnsetVariables)
	{"network_mode from a variable set nowhere", ruleUnsetVariable, `services:
  web:
    image: nginx
    network_mode: ${NET}
`, []hit{{4, finding.High}}},
	{"network_mode from a variable with a default", ruleUnsetVariable, `services:
  web:
    image: nginx
    network_mode: ${NET:-bridge}
`, nil},
	// compose/privileged
	{"privileged", rulePrivileged, `services:
  web:
    image: nginx
    privileged: true
`, []hit{{4, finding.Critical}}},
	{"privileged through a merge key points at the anchor", rulePrivileged, `x-base: &base
  privileged: true
services:
  web:
    <<: *base
    image: nginx
`, []hit{{2, finding.Critical}}},
	{"privileged inherited through extends", rulePrivileged, `services:
  base:
    image: nginx
    privileged: true
  web:
    extends: base
`, []hit{{4, finding.Critical}, {4, finding.Critical}}},
	{"privileged false", rulePrivileged, `services:
  web:
    image: nginx
    privileged: false` + hardened + "\n", nil},

	// compose/host-network
	{"network_mode host", ruleHostNetwork, `services:
  web:
    image: nginx
    network_mode: host
`, []hit{{4, finding.High}}},
	{"the host network joined as an external network", ruleHostNetwork, `services:
  web:
    image: nginx
    networks: [hostnet]
  api:
    image: nginx
  db:
    image: nginx
    networks:
      private: {}
      hostnet: {priority: 10}
  cache:
    image: nginx
    networks:
      private: {}
networks:
  hostnet:
    external: true
    name: host
  default:
    external: true
    name: host
  private: {}
`, []hit{{4, finding.High}, {5, finding.High}, {11, finding.High}}},
	{"network_mode of another service", ruleHostNetwork, `services:
  web:
    image: nginx
  sidecar:
    image: envoyproxy/envoy
    network_mode: "service:web"
`, nil},

	{"network_mode of a host-networked service", ruleHostNetwork, `services:
  proxy:
    image: nginx
    network_mode: host
  sidecar:
    image: envoyproxy/envoy
    network_mode: "service:proxy"
`, []hit{{4, finding.High}, {7, finding.High}}},
	{"network_mode through a chain to the network named host", ruleHostNetwork, `services:
  agent:
    image: nginx
    networks: [hostnet]
  relay:
    image: nginx
    network_mode: service:agent
  shell:
    image: busybox
    network_mode: service:relay
networks:
  hostnet:
    external: true
    name: host
`, []hit{{4, finding.High}, {7, finding.High}, {10, finding.High}}},
	{"network_mode of a host-networked service's container, by its container_name", ruleHostNetwork, `services:
  proxy:
    image: nginx
    container_name: edge-proxy
    network_mode: host
  sidecar:
    image: envoyproxy/envoy
    network_mode: "container:edge-proxy"
  other:
    image: nginx
    network_mode: "container:not-in-project"
`, []hit{{5, finding.High}, {8, finding.High}}},
	{"network_mode of a host-networked service's container, by its default name", ruleHostNetwork, `name: shop
services:
  db:
    image: postgres
    network_mode: host
  tap:
    image: busybox
    network_mode: container:shop-db-1
  old:
    image: busybox
    network_mode: container:shop_db_2
  other:
    image: busybox
    network_mode: container:shop-db-x
  named:
    image: busybox
    container_name: fixed
    network_mode: host
  byname:
    image: busybox
    network_mode: container:shop-named-1
`, []hit{{5, finding.High}, {8, finding.High}, {11, finding.High}, {18, finding.High}}},
	{"network_mode inherited with extends while another service extends another file", ruleHostNetwork, `services:
  a:
    image: nginx
    network_mode: host
  b:
    extends: a
  tap:
    image: busybox
    network_mode: service:b
  z:
    extends: {file: other.yml, service: q}
`, []hit{{4, finding.High}, {4, finding.High}, {9, finding.High}}},
	{"network_mode inherited with extends naming the file itself", ruleHostNetwork, `services:
  a:
    image: nginx
    network_mode: host
  b:
    extends: {file: ./compose.yaml, service: a}
  tap:
    image: busybox
    network_mode: service:b
`, []hit{{4, finding.High}, {5, finding.High}, {9, finding.High}}},
	{"network_mode of services joining each other", ruleHostNetwork, `services:
  a:
    image: nginx
    network_mode: service:b
  b:
    image: nginx
    network_mode: service:a
`, nil},

	// compose/host-pid
	{"pid host", ruleHostPID, `services:
  debug:
    image: busybox
    pid: host
`, []hit{{4, finding.High}}},
	{"pid of another service", ruleHostPID, `services:
  web:
    image: nginx
  debug:
    image: busybox
    pid: "service:web"
`, nil},

	{"pid of a service on the host's", ruleHostPID, `services:
  web:
    image: nginx
    pid: host
  debug:
    image: busybox
    pid: "service:web"
`, []hit{{4, finding.High}, {7, finding.High}}},

	// compose/host-ipc
	{"ipc host", ruleHostIPC, `services:
  web:
    image: nginx
    ipc: host
`, []hit{{4, finding.Medium}}},
	{"ipc shareable", ruleHostIPC, `services:
  web:
    image: nginx
    ipc: shareable
`, nil},

	{"ipc of a service on the host's", ruleHostIPC, `services:
  web:
    image: nginx
    ipc: host
  worker:
    image: busybox
    ipc: service:web
`, []hit{{4, finding.Medium}, {7, finding.Medium}}},

	// compose/dangerous-capability
	{"dangerous capabilities, each on its line", ruleDangerousCapability, `services:
  web:
    image: nginx
    cap_add:
      - NET_ADMIN
      - chown
      - cap_sys_admin
      - ALL
      - net_raw
      - SYS_PTRACE
`, []hit{{5, finding.Medium}, {7, finding.High}, {8, finding.High}, {9, finding.Medium}, {10, finding.High}}},
	{"harmless capabilities", ruleDangerousCapability, `services:
  web:
    image: nginx
    cap_add: [NET_BIND_SERVICE, CHOWN]
`, nil},

	// compose/no-cap-drop-all
	{"no cap_drop", ruleNoCapDropAll, `services:
  web:
    image: nginx
`, []hit{{2, finding.Medium}}},
	{"cap_drop without ALL", ruleNoCapDropAll, `services:
  web:
    image: nginx
    cap_drop: [NET_RAW]
`, []hit{{4, finding.Medium}}},
	{"cap_drop ALL in any case", ruleNoCapDropAll, `services:
  web:
    image: nginx
    cap_drop: [all]
`, nil},

	// compose/writable-root-fs
	{"read_only not set", ruleWritableRootFS, `services:
  web:
    image: nginx
`, []hit{{2, finding.Low}}},
	{"read_only false", ruleWritableRootFS, `services:
  web:
    image: nginx
    read_only: false
`, []hit{{4, finding.Low}}},
	{"read_only true", ruleWritableRootFS, `services:
  web:
    image: nginx
    read_only: true
`, nil},

	// compose/user-root
	{"user root", ruleUserRoot, `services:
  a:
    image: nginx
    user: root
  b:
    image: nginx
    user: "0:0"
  c:
    image: nginx
    user: "0"
  d:
    image: nginx
    user: root:staff
`, []hit{{4, finding.High}, {7, finding.High}, {10, finding.High}, {13, finding.High}}},
	{"UID 0 with a sign, as runc's strconv.Atoi reads it", ruleUserRoot, `services:
  a:
    image: nginx
    user: "+0"
  b:
    image: nginx
    user: "-0:1000"
  c:
    image: nginx
    user: "+10"
`, []hit{{4, finding.High}, {7, finding.High}}},
	{"an empty user part keeps Docker's default user, uid 0", ruleUserRoot, `services:
  a:
    image: nginx
    user: ":1000"
  b:
    image: nginx
    post_start:
      - command: ["true"]
        user: ":0"
  c:
    image: nginx
    user: "1000"
    post_start:
      - command: ["true"]
`, []hit{{4, finding.High}, {9, finding.High}}},
	{"user not root", ruleUserRoot, `services:
  a:
    image: nginx
    user: "10001:10001"
  b:
    image: nginx
    user: "100:0"
  c:
    image: nginx
`, nil},

	// compose/no-user
	{"no user", ruleNoUser, `services:
  web:
    image: nginx
`, []hit{{2, finding.Medium}}},
	{"user set", ruleNoUser, `services:
  web:
    image: nginx
    user: "10001"
  root:
    image: nginx
    user: root
`, nil},

	// compose/security-opt-unconfined
	{"unconfined security options", ruleUnconfined, `services:
  web:
    image: nginx
    security_opt:
      - seccomp:unconfined
      - apparmor=unconfined
      - label:disable
      - systempaths=unconfined
      - no-new-privileges:true
`, []hit{{5, finding.High}, {6, finding.High}, {7, finding.High}, {8, finding.High}}},
	{"SELinux types that are not confined", ruleUnconfined, `services:
  web:
    image: nginx
    security_opt:
      - label=type:spc_t
      - "label:type:unconfined_t"
      - label=type:container_runtime_t
      - label=level:s0:c100,c200
      - label=type:container_t
`, []hit{{5, finding.High}, {6, finding.High}, {7, finding.High}}},
	{"confined security options", ruleUnconfined, `services:
  web:
    image: nginx
    security_opt:
      - seccomp=./seccomp.json
      - apparmor=docker-default
      - label=type:svirt_apache_t
`, nil},

	// compose/no-new-privileges-not-set
	{"no security_opt", ruleNoNewPrivileges, `services:
  web:
    image: nginx
`, []hit{{2, finding.Medium}}},
	{"security_opt without no-new-privileges", ruleNoNewPrivileges, `services:
  web:
    image: nginx
    security_opt: ["apparmor=docker-default"]
`, []hit{{4, finding.Medium}}},
	{"no-new-privileges false", ruleNoNewPrivileges, `services:
  web:
    image: nginx
    security_opt:
      - no-new-privileges:false
`, []hit{{5, finding.Medium}}},
	{"no-new-privileges in its three spellings", ruleNoNewPrivileges, `services:
  a:
    image: nginx
    security_opt: ["no-new-privileges:true"]
  b:
    image: nginx
    security_opt: ["no-new-privileges"]
  c:
    image: nginx
    security_opt: ["no-new-privileges=true"]
`, nil},

	// compose/datastore-network-not-internal
	{"data store in the network namespace of a host-networked service", ruleDatastoreNetwork, `services:
  agent:
    image: nginx
    network_mode: host
  db:
    image: postgres:16
    network_mode: service:agent
`, []hit{{7, finding.Medium}}},
	{"data store on the implicit default network", ruleDatastoreNetwork, `services:
  db:
    image: postgres:16
`, []hit{{2, finding.Medium}}},
	{"data store on a network that is not internal", ruleDatastoreNetwork, `services:
  cache:
    image: docker.io/library/redis:7@sha256:0123
    networks:
      - back
networks:
  back: {}
`, []hit{{5, finding.Medium}}},
	{"data store on an internal and a plain network", ruleDatastoreNetwork, `services:
  db:
    image: registry.example.com:5000/bitnami/mongodb:7
    networks:
      front:
      data:
networks:
  front: {}
  data: {internal: true}
`, []hit{{5, finding.Medium}}},
	{"data store on an external network", ruleDatastoreNetwork, `services:
  db:
    image: mariadb
    networks: [shared]
networks:
  shared: {external: true}
`, []hit{{4, finding.Medium}}},
	{"data store on the host network", ruleDatastoreNetwork, `services:
  db:
    image: postgres
    network_mode: host
`, []hit{{4, finding.Medium}}},
	{"data store only on internal networks", ruleDatastoreNetwork, `services:
  db:
    image: postgres
    networks: [data]
  cache:
    image: redis
networks:
  data: {internal: true}
  default: {internal: true}
`, nil},
	{"not data stores", ruleDatastoreNetwork, `services:
  ui:
    image: mongo-express
  metrics:
    image: oliver006/redis_exporter
  web:
    image: nginx
  isolated:
    image: postgres
    network_mode: none
`, nil},

	// compose/datastore-port-published
	{"data store ports on all interfaces", ruleDatastorePort, `services:
  db:
    image: postgres
    ports:
      - "5432:5432"
      - "6543"
      - 0.0.0.0:7000-7001:7000-7001
      - "[::]:8000:8000"
      - "127.0.0.1:9000:9000"
      - target: 9200
        published: "9200"
      - target: 9300
        host_ip: 127.0.0.1
`, []hit{{5, finding.High}, {6, finding.High}, {7, finding.High}, {8, finding.High}, {10, finding.High}}},
	{"data store ports on loopback, or exposed only", ruleDatastorePort, `services:
  db:
    image: mysql:8
    ports: ["127.0.0.1:3306:3306"]
    expose: ["33060"]
  web:
    image: nginx
    ports: ["80:80"]
`, nil},

	// compose/port-published
	{"ports on all interfaces, admin ports high", rulePortPublished, `services:
  web:
    image: nginx
    ports:
      - "8080:8080"
      - "2222:22"
      - "0.0.0.0:2375:2375"
      - "[::]:6443:6443"
      - 9000
      - 0.0.0.0:7000-7001:7000-7001
      - target: 10250
        published: "10250"
      - "2379:2379/tcp"
`, []hit{{5, finding.Low}, {6, finding.High}, {7, finding.High}, {8, finding.High}, {9, finding.Low}, {10, finding.Low}, {11, finding.High}, {13, finding.High}}},
	{"admin port in a range is high", rulePortPublished, `services:
  node:
    image: example/node
    ports: ["10240-10260:10240-10260"]
`, []hit{{4, finding.High}}},
	{"ports on loopback or a specific address, data stores, host network", rulePortPublished, `services:
  web:
    image: nginx
    ports:
      - "127.0.0.1:8080:8080"
      - "[::1]:8443:8443"
      - "192.0.2.10:22:22"
      - target: 2375
        host_ip: 127.0.0.1
    expose: ["9000"]
  db:
    image: postgres:16
    ports: ["5432:5432"]
  hostnet:
    image: example/agent
    network_mode: host
    ports: ["22:22"]
`, nil},

	// compose/privileged-host-port
	{"host ports below 1024", rulePrivilegedHostPort, `services:
  web:
    image: nginx
    ports:
      - "80:8080"
      - "127.0.0.1:443:8443"
      - "25:25"
      - "53:53/udp"
      - "1000-1030:1000-1030"
`, []hit{{5, finding.Info}, {6, finding.Info}, {7, finding.Low}, {8, finding.Low}, {9, finding.Low}}},
	{"host ports from 1024, ephemeral ports, container ports below 1024", rulePrivilegedHostPort, `services:
  web:
    image: nginx
    ports:
      - "8080:80"
      - "443"
      - "127.0.0.1:1024:22"
    expose: ["80"]
`, nil},

	// compose/sensitive-mount
	{"mounts taken through volumes_from, in a chain", ruleSensitiveMount, `services:
  agent:
    image: nginx
    volumes:
      - /var/run/docker.sock:/var/run/docker.sock
      - /etc:/host/etc:ro
      - data:/data
  relay:
    image: nginx
    volumes_from: [agent]
  web:
    image: nginx
    volumes_from:
      - container:other
      - relay:ro
volumes:
  data: {}
`, []hit{{5, finding.Critical}, {6, finding.Medium}, {10, finding.Medium}, {10, finding.Critical}, {15, finding.Medium}, {15, finding.Critical}}},
	{"secrets and configs taken through volumes_from", ruleSensitiveMount, `services:
  agent:
    image: nginx
    secrets: [shadow]
    configs: [app]
  web:
    image: nginx
    volumes_from: ["agent:rw"]
secrets:
  shadow:
    file: /etc/shadow
configs:
  app:
    file: ./app.conf
`, []hit{{4, finding.Medium}, {8, finding.Medium}}},
	{"volumes_from of services without sensitive mounts", ruleSensitiveMount, `services:
  a:
    image: nginx
    volumes: ["./data:/data", "cache:/cache"]
    volumes_from: [b]
  b:
    image: nginx
    volumes_from: [a]
volumes:
  cache: {}
`, nil},
	{"runtime sockets and sensitive host paths", ruleSensitiveMount, `services:
  agent:
    image: example/agent
    volumes:
      - /var/run/docker.sock:/var/run/docker.sock:ro
      - /run/containerd/containerd.sock:/run/containerd/containerd.sock
      - /:/host:ro
      - /etc:/host-etc
      - /proc:/host/proc:ro
      - /root/.ssh:/root/.ssh
      - type: bind
        source: /var/run
        target: /host-run
      - /etc/shadow:/etc/shadow:ro
      - /var/lib/kubelet/pki:/pki
      - "/sys/fs/cgroup/:/sys/fs/cgroup:ro"
`, []hit{{5, finding.Critical}, {6, finding.Critical}, {7, finding.High}, {8, finding.High}, {9, finding.Medium}, {10, finding.High}, {11, finding.Critical}, {14, finding.Medium}, {15, finding.High}, {16, finding.Medium}}},
	{"named volumes that bind a host path, secrets and configs read from one", ruleSensitiveMount, `services:
  agent:
    image: example/agent
    volumes:
      - sock:/var/run/docker.sock
      - type: volume
        source: hostroot
        target: /host
        read_only: true
      - data:/data
    secrets:
      - source: engine
        target: /var/run/docker.sock
      - plain
    configs:
      - shadow
volumes:
  sock:
    driver_opts: {type: none, o: bind, device: /var/run/docker.sock}
  hostroot:
    driver: local
    driver_opts:
      type: none
      o: "rbind,ro"
      device: /
  data:
    driver_opts: {type: nfs, o: "addr=10.0.0.1,rw", device: ":/etc"}
secrets:
  engine:
    file: /var/run/docker.sock
  plain:
    file: ./secret.txt
configs:
  shadow:
    file: /etc/shadow
`, []hit{{5, finding.Critical}, {6, finding.High}, {12, finding.Critical}, {16, finding.Medium}}},
	{"host disks and memory as devices", ruleSensitiveMount, `services:
  agent:
    image: example/agent
    devices:
      - /dev/sda:/dev/sda
      - "/dev/nvme0n1p2:/dev/disk:r"
      - source: /dev/mem
        target: /dev/mem
        permissions: rwm
      - /dev/mapper/vg-root
      - /dev/fuse
      - /dev/dri:/dev/dri
      - /dev/net/tun
`, []hit{{5, finding.Critical}, {6, finding.High}, {7, finding.Critical}, {10, finding.Critical}}},
	// With mknod, which Docker grants by default, a device cgroup rule
	// is as good as the device.
	{"device cgroup rules that open the host's disks or memory", ruleSensitiveMount, `services:
  agent:
    image: example/agent
    device_cgroup_rules:
      - "a *:* rwm"
      - "b 8:* rmw"
      - "b *:* r"
      - "c 1:1 rw"
      - "c 189:* rmw"
      - "c 10:200 rwm"
      - "b 8:* m"
`, []hit{{5, finding.Critical}, {6, finding.Critical}, {7, finding.High}, {8, finding.Critical}}},
	{"the home directory of the user running Compose", ruleSensitiveMount, `services:
  agent:
    image: example/agent
    volumes:
      - ~/.ssh:/root/.ssh:ro
      - ~:/home/me
      - ${HOME}/.docker:/root/.docker
      - type: bind
        source: $HOME/.kube
        target: /root/.kube
      - ./data:/data
`, []hit{{5, finding.Medium}, {6, finding.High}, {7, finding.High}, {8, finding.High}}},
	// They were not judged at all: path.Clean("~/..") is ".".
	{"paths that climb out of the home directory", ruleSensitiveMount, `services:
  agent:
    image: example/agent
    volumes:
      - ~/../..:/host
      - ${HOME}/../../var/run:/r
      - type: bind
        source: ~/..
        target: /homes
      - ~/../../srv/app:/app
      - ~/a/../b:/b
      - ~/../:/h
`, []hit{{5, finding.Critical}, {6, finding.Critical}, {7, finding.High}, {11, finding.High}, {12, finding.High}}},
	{"relative paths that climb to the host's root", ruleSensitiveMount, `services:
  agent:
    image: example/agent
    volumes:
      - ../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../var/run/docker.sock:/var/run/docker.sock
      - type: bind
        source: ./../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../etc
        target: /host-etc
      - ../shared:/shared
      - ./data/../../conf:/conf
`, []hit{{5, finding.Critical}, {6, finding.High}}},
	{"runtime sockets elsewhere: rootless, k3s, Docker Desktop, BuildKit", ruleSensitiveMount, `services:
  agent:
    image: example/agent
    volumes:
      - /run/user/1000/podman/podman.sock:/var/run/docker.sock
      - /run/k3s/containerd/containerd.sock:/c.sock:ro
      - /var/run/docker.sock.raw:/d.sock
      - /run/buildkit/buildkitd.sock:/b.sock
      - /srv/app/app.sock:/app.sock
`, []hit{{5, finding.Critical}, {6, finding.Critical}, {7, finding.Critical}, {8, finding.Critical}}},
	// The root link of a host process is the host's root directory.
	{"the host's root through /proc/<pid>/root", ruleSensitiveMount, `services:
  agent:
    image: example/agent
    volumes:
      - /proc/1/root:/host
      - /proc/self/root/var/run/docker.sock:/s.sock:ro
      - type: bind
        source: /proc/thread-self/root/etc/shadow
        target: /shadow
        read_only: true
      - /proc/1/root/etc/localtime:/etc/localtime:ro
      - /proc/1/status:/s:ro
      - /proc/x/root:/x:ro
`, []hit{{5, finding.Critical}, {6, finding.Critical}, {7, finding.Medium}, {12, finding.Medium}, {13, finding.Medium}}},
	{"ordinary bind mounts and volumes", ruleSensitiveMount, `services:
  web:
    image: nginx
    volumes:
      - /etc/localtime:/etc/localtime:ro
      - /etc/timezone:/etc/timezone:ro
      - ./conf:/etc/nginx/conf.d:ro
      - data:/var/lib/data
      - /srv/www:/usr/share/nginx/html:ro
      - /var/lib/app:/data
      - /etcetera:/x
      - type: tmpfs
        target: /run
      - type: volume
        source: run
        target: /var/run
volumes:
  data: {}
  run: {}
`, nil},

	// compose/secret-in-environment
	{"a password in the mapping form", ruleSecretInEnvironment, `services:
  db:
    image: postgres:16
    environment:
      POSTGRES_USER: shop
      POSTGRES_PASSWORD: hunter2-Prod
`, []hit{{6, finding.High}}},
	{"a token by its format in the list form", ruleSecretInEnvironment, `services:
  web:
    image: nginx
    environment:
      - UPSTREAM=ghp_0123456789abcdefghijABCDEFGHIJ012345
      - LOG_LEVEL=debug
`, []hit{{5, finding.High}}},
	{"references, placeholders and describing names", ruleSecretInEnvironment, `services:
  db:
    image: postgres:16
    environment:
      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}
      API_TOKEN: changeme
      SECRET_KEY_FILE: /run/secrets/key
      AUTH_SECRET: ""
      EMPTY_TOKEN:
    secrets: [db_password]
`, nil},
	{"abbreviated names with switches, numbers and paths", ruleSecretInEnvironment, `services:
  ci:
    image: example/ci:1
    environment:
      FIRST_PASS: "true"
      CI_PASS: 1
      BUILD_PWD: /src
      HTTP_PAT: /api
      DB_PASS: hunter2
`, []hit{{9, finding.High}}},
	{"interpolated from the environment is not in the file", ruleSecretInEnvironment, `services:
  web:
    image: nginx
    environment:
      - DB_PASSWORD=${DB_PASSWORD:-}
`, nil},

	// compose/secret-in-command
	{"a password option in a list command and mysql -p in a string entrypoint", ruleSecretInCommand, `services:
  app:
    image: example/app:1
    command: ["--db-host=db", "--db-password=Pr0d-Passw0rd!x"]
  init:
    image: mysql:8
    entrypoint: sh -c "mysql -h db -uroot -pR00tPassw0rd! shop < /init.sql"
`, []hit{{4, finding.High}, {7, finding.High}}},
	{"references, files and placeholders", ruleSecretInCommand, `services:
  app:
    image: example/app:1
    command: ["--db-password=${DB_PASSWORD}", "--token-file=/run/secrets/token", "--password=changeme"]
  init:
    image: mysql:8
    entrypoint: sh -c 'mysql -h db -uroot -p"$$MYSQL_ROOT_PASSWORD" shop'
    environment:
      MYSQL_ROOT_PASSWORD: ${MYSQL_ROOT_PASSWORD}
`, nil},

	// compose/host-userns
	{"userns_mode host", ruleHostUserns, `services:
  web:
    image: nginx
    userns_mode: host
`, []hit{{4, finding.Medium}}},
	{"userns_mode unset", ruleHostUserns, `services:
  web:
    image: nginx
`, nil},

	// compose/host-cgroup
	{"cgroup host", ruleHostCgroup, `services:
  web:
    image: nginx
    cgroup: host
`, []hit{{4, finding.Medium}}},
	{"cgroup private", ruleHostCgroup, `services:
  web:
    image: nginx
    cgroup: private
`, nil},

	// compose/host-uts
	{"uts host", ruleHostUTS, `services:
  web:
    image: nginx
    uts: host
`, []hit{{4, finding.Low}}},
	{"uts private", ruleHostUTS, `services:
  web:
    image: nginx
    hostname: web
`, nil},

	// compose/no-resource-limits
	{"no limits, or some", ruleNoResourceLimits, `services:
  web:
    image: nginx
  api:
    image: example/api
    mem_limit: 256m
    cpus: 0.5
  worker:
    image: example/worker
    deploy:
      resources:
        limits: {memory: 256M}
  unlimited:
    image: example/batch
    mem_limit: 1g
    cpus: 1
    pids_limit: -1
`, []hit{{2, finding.Low}, {4, finding.Low}, {10, finding.Low}, {13, finding.Low}}},
	{"limits set in the service or under deploy", ruleNoResourceLimits, `services:
  web:
    image: nginx
    mem_limit: 256m
    cpus: 0.5
    pids_limit: 100
  api:
    image: example/api
    cpu_quota: 50000
    mem_limit: 256m
    pids_limit: 100
  worker:
    image: example/worker
    deploy:
      resources:
        limits: {memory: 256M, cpus: "0.5", pids: 100}
`, nil},

	// compose/bad-suppression
	{"suppression without reason or with an unknown rule", ruleBadSuppression, `services:
  # ward:ignore compose/no-user
  web:
    image: nginx
    # ward:ignore compose/nope it is fine
    user: "1000"
`, []hit{{2, finding.Low}, {5, finding.Low}}},
	{"well-formed suppression", ruleBadSuppression, `services:
  # ward:ignore compose/no-user the image runs as uid 101
  web:
    image: nginx
`, nil},
}

func auditSrc(t *testing.T, src string) []finding.Finding {
	t.Helper()
	fs, err := Audit("compose.yaml", []byte(src), Options{})
	if err != nil {
		t.Fatalf("Audit: %v", err)
	}
	return fs
}

// hitsOf audits src and returns the lines and severities of the findings
// of rule.
func hitsOf(t *testing.T, src, rule string) []hit {
	t.Helper()
	var got []hit
	for _, f := range auditSrc(t, src) {
		if f.Rule == rule {
			got = append(got, hit{f.Line, f.Severity})
		}
	}
	return got
}

func TestRules(t *testing.T) {
	for _, tc := range ruleCases {
		t.Run(tc.rule+"/"+tc.name, func(t *testing.T) {
			if diff := cmp.Diff(hitsOf(t, tc.src, tc.rule), tc.want); diff != "" {
				t.Errorf("findings of %s (-got +want):\n%s", tc.rule, diff)
			}
		})
	}
}

// TestEveryRuleTested checks that every rule has a positive and a
// negative case.
func TestEveryRuleTested(t *testing.T) {
	pos, neg := map[string]bool{}, map[string]bool{}
	for _, tc := range ruleCases {
		if len(tc.want) > 0 {
			pos[tc.rule] = true
		} else {
			neg[tc.rule] = true
		}
	}
	for _, tc := range dnsCases {
		if len(tc.want) > 0 {
			pos[ruleEmbeddedDNS] = true
		} else {
			neg[ruleEmbeddedDNS] = true
		}
	}
	for _, tc := range registryCases {
		if len(tc.want) > 0 {
			pos[ruleUntrustedRegistry] = true
		} else {
			neg[ruleUntrustedRegistry] = true
		}
	}
	for _, r := range Rules {
		if !pos[r.ID] || !neg[r.ID] {
			t.Errorf("rule %s: positive case %v, negative case %v", r.ID, pos[r.ID], neg[r.ID])
		}
	}
}

func TestHardenedServiceIsClean(t *testing.T) {
	src := `services:
  api:
    image: example/api:1.4` + hardened + `
    ports: ["127.0.0.1:8080:8080"]
    networks: [front, data]
  db:
    image: postgres:16` + hardened + `
    ports: ["127.0.0.1:5432:5432"]
    networks: [data]
networks:
  front: {}
  data: {internal: true}
`
	if fs := auditSrc(t, src); len(fs) != 0 {
		t.Errorf("hardened services have findings: %+v", fs)
	}
}

var kebab = regexp.MustCompile(`^compose/[a-z0-9]+(-[a-z0-9]+)*$`)

func TestRegistry(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Rules {
		if !kebab.MatchString(r.ID) {
			t.Errorf("rule id %q is not compose/<kebab-case>", r.ID)
		}
		if seen[r.ID] {
			t.Errorf("rule %s listed twice", r.ID)
		}
		seen[r.ID] = true
		if r.Summary == "" || r.Rationale == "" || r.Fix == "" {
			t.Errorf("rule %s lacks summary, rationale or fix", r.ID)
		}
		if got, ok := Lookup(r.ID); !ok || got.ID != r.ID {
			t.Errorf("Lookup(%q) = %v, %v", r.ID, got.ID, ok)
		}
	}
	if _, ok := Lookup("compose/nope"); ok {
		t.Error("Lookup of an unknown id succeeded")
	}
}

// TestFindingFields checks what every finding carries, on a file that
// triggers every rule.
func TestFindingFields(t *testing.T) {
	src := `# ward:ignore compose/host-ipc
services:
  db:
    image: postgres
    privileged: true
    network_mode: host
    pid: host
    ipc: host
    cap_add: [SYS_ADMIN, "${CAP}"]
    read_only: false
    user: root
    security_opt: ["seccomp:unconfined"]
    ports: ["5432:5432"]
    userns_mode: host
    cgroup: host
    uts: host
    volumes: ["/var/run/docker.sock:/var/run/docker.sock"]
    environment: {POSTGRES_PASSWORD: hunter2-Prod}
    command: ["postgres", "--password=Pr0d-Passw0rd!x"]
`
	// A trusted list without Docker Hub, for compose/untrusted-registry.
	fs, err := Audit("compose.yaml", []byte(src), Options{TrustedRegistries: []string{"registry.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	rules := map[string]bool{}
	for _, f := range fs {
		rules[f.Rule] = true
		r, ok := Lookup(f.Rule)
		switch {
		case !ok:
			t.Errorf("finding of unregistered rule %s", f.Rule)
		case f.File != "compose.yaml" || f.Line < 1 || f.Message == "" || f.Fix != r.Fix:
			t.Errorf("finding lacks file, line, message or fix: %+v", f)
		case f.Rule != ruleBadSuppression && f.Object != "service db":
			t.Errorf("finding of %s has object %q, want %q", f.Rule, f.Object, "service db")
		case f.Severity > r.Severity:
			t.Errorf("finding of %s is more severe (%s) than its rule (%s)", f.Rule, f.Severity, r.Severity)
		}
	}
	// compose/embedded-dns-bypasses-policy needs NetworkPolicies:
	// TestEmbeddedDNSMessage checks its fields. On the host network ports
	// are not published: TestMessages checks the fields of the port rules.
	for _, r := range Rules {
		if r.ID != ruleNoUser && r.ID != ruleDatastoreNetwork && r.ID != ruleEmbeddedDNS &&
			r.ID != rulePortPublished && r.ID != rulePrivilegedHostPort && !rules[r.ID] {
			t.Errorf("no finding of %s", r.ID)
		}
	}
	if !slices.IsSortedFunc(fs, finding.Compare) {
		t.Error("findings are not sorted")
	}
}

func TestMessages(t *testing.T) {
	src := `services:
  db:
    image: postgres:16
    ports: ["5432:5432", "6543", "0.0.0.0:7000-7002:7000-7002/udp"]
`
	var got []string
	for _, f := range auditSrc(t, src) {
		got = append(got, fmt.Sprintf("%s %s: %s", f.Location(), f.Rule, f.Message))
	}
	want := []string{
		"compose.yaml:2 compose/datastore-network-not-internal: data store postgres is on the project's default network, which is not internal",
		"compose.yaml:2 compose/no-cap-drop-all: no cap_drop: [ALL], so the container keeps Docker's default capabilities",
		"compose.yaml:2 compose/no-new-privileges-not-set: security_opt has no no-new-privileges:true, so setuid binaries can raise privileges",
		"compose.yaml:2 compose/no-user: no user: the service runs as the image's USER, which is root unless the image sets a non-root user",
		"compose.yaml:2 compose/writable-root-fs: read_only is not set: the root filesystem is writable",
		"compose.yaml:4 compose/datastore-port-published: data store postgres publishes 3 ports (7000/udp to 7002/udp) on all host interfaces",
		"compose.yaml:4 compose/datastore-port-published: data store postgres publishes 5432/tcp on all host interfaces (host port 5432)",
		"compose.yaml:4 compose/datastore-port-published: data store postgres publishes 6543/tcp on all host interfaces (an ephemeral host port)",
	}
	want = slices.Insert(want, 3, "compose.yaml:2 compose/no-resource-limits: db sets no memory limit (mem_limit), CPU limit (cpus) or process limit (pids_limit): "+
		"one runaway or attacked container can starve the host and every other service")
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("(-got +want):\n%s", diff)
	}
}

func TestDatastore(t *testing.T) {
	for image, want := range map[string]bool{
		"postgres":                              true,
		"postgres:16-alpine":                    true,
		"docker.io/library/postgres@sha256:":    true,
		"localhost:5000/team/redis:7":           true,
		"bitnami/postgresql":                    true,
		"confluentinc/cp-kafka:7.6.0":           true,
		"quay.io/coreos/etcd:v3.5":              true,
		"CLICKHOUSE/CLICKHOUSE-SERVER":          true,
		"mongo-express":                         false,
		"prometheuscommunity/postgres-exporter": false,
		"provectuslabs/kafka-ui":                false,
		"redis-commander":                       false,
		"postgres.example.com/nginx":            false,
		"nginx":                                 false,
		"":                                      false,
	} {
		if _, got := datastore(image); got != want {
			t.Errorf("datastore(%q) = %v, want %v", image, got, want)
		}
	}
}

// TestNoDiskNoEnvironment checks that Audit reads no other file and no
// environment variable, and does not fail on unset variables. (privileged
// from a variable set nowhere is judged true, TestUnknownPrivileged: the
// environment's false is not read.)
func TestNoDiskNoEnvironment(t *testing.T) {
	t.Setenv("WARD_TEST_PRIVILEGED", "false")
	src := `include: [does-not-exist.yaml]
services:
  web:
    image: nginx:${TAG:?set TAG}
    privileged: ${WARD_TEST_PRIVILEGED}
    read_only: ${RO}
    env_file: [does-not-exist.env]
    label_file: does-not-exist.labels
    ports: ["${PORT:-8080}:80"]
  child:
    extends: {file: does-not-exist.yaml, service: base}
    image: nginx
`
	privileged := false
	for _, f := range auditSrc(t, src) {
		privileged = privileged || f.Rule == rulePrivileged
	}
	if !privileged {
		t.Errorf("privileged read from the environment (false), not judged unknown")
	}
}

// TestUnknownPrivileged: privileged from a variable set nowhere in the
// project was judged false (an empty value, cast leniently), and a
// service that docker compose runs privileged once CI sets PRIV=true
// passed the gate. docker compose fails on an empty privileged, so the
// value comes from an environment Ward cannot see: it is judged true. A
// default, or the .env file, still decides.
func TestUnknownPrivileged(t *testing.T) {
	for _, tc := range []struct {
		value string
		env   map[string]string
		want  bool
	}{
		{"${PRIV}", nil, true},
		{"${PRIV:?set PRIV}", nil, true},
		{"${PRIV?set PRIV}", nil, true},
		{"${PRIV:-}", nil, true},
		{`"${PRIV}"`, nil, true},
		{"${PRIV:-false}", nil, false},
		{"${PRIV}", map[string]string{"PRIV": "false"}, false},
		{"${PRIV}", map[string]string{"PRIV": "true"}, true},
		{"false", nil, false},
	} {
		t.Run(tc.value, func(t *testing.T) {
			src := "services:\n  web:\n    image: nginx\n    privileged: " + tc.value + "\n"
			fs, err := Audit("compose.yaml", []byte(src), Options{Environment: tc.env})
			if err != nil {
				t.Fatal(err)
			}
			var lines []int
			for _, f := range fs {
				if f.Rule == rulePrivileged {
					lines = append(lines, f.Line)
				}
			}
			if got := len(lines) > 0; got != tc.want {
				t.Errorf("privileged %v (lines %v), want %v", got, lines, tc.want)
			}
			if tc.want && !slices.Contains(lines, 4) {
				t.Errorf("privileged at lines %v, want line 4", lines)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		line      int
	}{
		{"empty", "", 0},
		{"only comments", "# nothing\n", 0},
		{"sequence", "- a\n- b\n", 1},
		{"scalar", "hello\n", 1},
		{"second document not a mapping", "services: {web: {image: x}}\n---\n[1]\n", 3},
		// yaml.v3 reports the line of the mapping entry before the tab.
		{"bad YAML", "services:\n  web:\n    image: x\n\tuser: 1\n", 3},
		{"recursive alias", "services:\n  web: &w\n    <<: *w\n    image: x\n", 3},
		{"unknown top-level key", "services:\n  web: {image: x}\nfoo: 1\n", 3},
		{"unknown service key", "services:\n  web:\n    image: x\n    bogus: 1\n", 4},
		{"service not a mapping", "services:\n  web: [1]\n", 2},
		{"services not a mapping", "services: 1\n", 1},
		{"bad port", "services:\n  web:\n    image: x\n    ports: [{target: abc}]\n", 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, err := Audit("dir/compose.yaml", []byte(tc.src), Options{})
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Audit: %v (%T), want *ParseError", err, err)
			}
			if fs != nil {
				t.Errorf("findings with an error: %v", fs)
			}
			if pe.File != "dir/compose.yaml" || pe.Line != tc.line {
				t.Errorf("got %s:%d, want dir/compose.yaml:%d (%v)", pe.File, pe.Line, tc.line, err)
			}
			if !strings.HasPrefix(err.Error(), "dir/compose.yaml") || pe.Unwrap() == nil {
				t.Errorf("error %q does not name the file or wrap a cause", err)
			}
		})
	}
}

func TestParseErrorString(t *testing.T) {
	cause := errors.New("boom")
	for _, tc := range []struct {
		err  *ParseError
		want string
	}{
		{&ParseError{File: "a.yaml", Line: 3, Err: cause}, "a.yaml:3: boom"},
		{&ParseError{File: "a.yaml", Err: cause}, "a.yaml: boom"},
		{&ParseError{Line: 3, Err: cause}, "line 3: boom"},
		{&ParseError{Err: cause}, "boom"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
		if !errors.Is(tc.err, cause) {
			t.Errorf("%v does not wrap its cause", tc.err)
		}
	}
}

// TestProfilesAndDocuments checks that services behind profiles are
// audited and that multi-document files are merged as Compose does.
func TestProfilesAndDocuments(t *testing.T) {
	src := `services:
  debug:
    image: busybox
    profiles: [debug]
    pid: host
---
services:
  debug:
    privileged: true
`
	var got []string
	for _, f := range auditSrc(t, src) {
		if f.Rule == ruleHostPID || f.Rule == rulePrivileged {
			got = append(got, fmt.Sprintf("%d %s", f.Line, f.Rule))
		}
	}
	want := []string{"5 compose/host-pid", "9 compose/privileged"}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("(-got +want):\n%s", diff)
	}
}

func TestVersionKeyIsIgnored(t *testing.T) {
	src := "version: \"3.8\"\nservices:\n  web:\n    image: nginx\n    privileged: true\n"
	var lines []int
	for _, f := range auditSrc(t, src) {
		if f.Rule == rulePrivileged {
			lines = append(lines, f.Line)
		}
	}
	if !slices.Equal(lines, []int{5}) {
		t.Errorf("privileged at lines %v, want [5]", lines)
	}
}

// TestSecretEnvironmentWithholdsValues: findings name the variables, never
// their values.
func TestSecretEnvironmentWithholdsValues(t *testing.T) {
	fs := auditSrc(t, `services:
  web:
    image: nginx
    environment:
      DB_PASSWORD: hunter2-Prod
      DATABASE_URL: postgres://app:s3cret@db/shop
      GH: ghp_0123456789abcdefghijABCDEFGHIJ012345
`)
	n := 0
	for _, f := range fs {
		if f.Rule != ruleSecretInEnvironment {
			continue
		}
		n++
		for _, s := range []string{"hunter2", "s3cret", "ghp_0123456789"} {
			if strings.Contains(f.Message, s) || strings.Contains(f.Fix, s) {
				t.Errorf("finding %q shows the secret %q", f.Message, s)
			}
		}
	}
	if n != 3 {
		t.Errorf("%d findings of %s, want 3", n, ruleSecretInEnvironment)
	}
}

// TestDotEnv: Options.Environment, the project's .env parsed by DotEnv,
// is what the file is interpolated with; a .env that does not parse is a
// ParseError with its line.
func TestDotEnv(t *testing.T) {
	env, err := DotEnv(".env", []byte("# settings\nMODE=host\nPRIV=true\nWHO=${MODE:+root}\n"))
	if err != nil {
		t.Fatal(err)
	}
	src := `services:
  web:
    image: nginx
    privileged: ${PRIV}
    network_mode: ${MODE}
    user: ${WHO:-1000}
`
	fs, err := Audit("compose.yaml", []byte(src), Options{Environment: env})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, f := range fs {
		got[f.Rule] = f.Line
	}
	for rule, line := range map[string]int{rulePrivileged: 4, ruleHostNetwork: 5, ruleUserRoot: 6} {
		if got[rule] != line {
			t.Errorf("%s at line %d, want %d", rule, got[rule], line)
		}
	}
	_, err = DotEnv("app/.env", []byte("A=1\n\nB C=2\n"))
	var pe *ParseError
	if !errors.As(err, &pe) || pe.File != "app/.env" || pe.Line != 3 {
		t.Errorf("DotEnv of a bad line: %v, want a ParseError at app/.env:3", err)
	}
}

// TestLifecycleHooks: what lifecycle hooks run is judged like the
// service (before: a hardened service with a privileged post_start hook
// run as root, and a pre_start init container that is privileged, on the
// host's network and mounts the Docker socket, passed clean).
func TestLifecycleHooks(t *testing.T) {
	src := `services:
  web:
    image: nginx
    user: "1000"
    read_only: true
    cap_drop: [ALL]
    security_opt: ["no-new-privileges:true"]
    post_start:
      - command: chown -R 1000 /data
        user: root
        privileged: true
    pre_stop:
      - command: ["sh", "-c", "true"]
        user: "1000"
    pre_start:
      - command: ["sh", "-c", "mount"]
        privileged: true
        network_mode: host
        pid: host
        user: "0:0"
        cap_add: [SYS_ADMIN]
        security_opt: ["apparmor=unconfined"]
        volumes: ["/var/run/docker.sock:/var/run/docker.sock"]
      - command: migrate
`
	type got struct {
		Rule string
		Line int
	}
	var gs []got
	for _, f := range auditSrc(t, src) {
		switch f.Rule {
		case ruleNoResourceLimits:
			continue
		}
		gs = append(gs, got{f.Rule, f.Line})
		if !strings.Contains(f.Message, "hook") {
			t.Errorf("%s: message %q does not name the hook", f.Rule, f.Message)
		}
	}
	want := []got{
		{ruleUserRoot, 10}, {rulePrivileged, 11},
		{rulePrivileged, 17}, {ruleHostNetwork, 18}, {ruleHostPID, 19}, {ruleUserRoot, 20}, {ruleDangerousCapability, 21},
		{ruleUnconfined, 22}, {ruleSensitiveMount, 23},
	}
	sortGot := func(s []got) {
		slices.SortStableFunc(s, func(a, b got) int { return a.Line - b.Line })
	}
	sortGot(gs)
	if diff := cmp.Diff(gs, want); diff != "" {
		t.Errorf("findings (-got +want):\n%s", diff)
	}
}

// TestWatchExec: the exec of a develop.watch sync+exec trigger is a
// command run in the container like a post_start hook (before: a
// privileged one run as root passed).
func TestWatchExec(t *testing.T) {
	src := `services:
  web:
    image: nginx
    user: "1000"
    develop:
      watch:
        - path: ./src
          action: sync
          target: /app
        - path: ./conf
          action: sync+exec
          target: /etc/app
          exec:
            command: reload
            user: root
            privileged: true
`
	var got []hit
	for _, f := range auditSrc(t, src) {
		if (f.Rule == rulePrivileged || f.Rule == ruleUserRoot) && strings.Contains(f.Message, "watch") {
			got = append(got, hit{f.Line, f.Severity})
		}
	}
	want := []hit{{15, finding.High}, {16, finding.Critical}}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("findings (-got +want):\n%s", diff)
	}
}
