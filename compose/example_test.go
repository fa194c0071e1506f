package compose_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/wardsec/ward/compose"
)

func Example() {
	const src = `services:
  web:
    image: nginx:1.27
    user: "101:101"
    read_only: true
    cap_drop: [ALL]
    cap_add: [NET_ADMIN]
    security_opt: ["no-new-privileges:true"]
    mem_limit: 256m
    cpus: 0.5
    pids_limit: 100
    ports: ["8080:8080", "127.0.0.1:8081:8081"]
  # ward:ignore compose/no-user the postgres image drops to uid 999
  db:
    image: postgres:16
    ports: ["5432:5432"]
`
	fs, err := compose.Audit("compose.yaml", []byte(src), compose.Options{})
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range fs {
		if f.Suppressed != nil {
			fmt.Printf("%s %s (suppressed: %s)\n", f.Location(), f.Rule, f.Suppressed.Reason)
			continue
		}
		fmt.Printf("%s %s %s: %s\n", f.Location(), f.Severity, f.Rule, f.Message)
	}
	// Output:
	// compose.yaml:7 medium compose/dangerous-capability: cap_add: NET_ADMIN
	// compose.yaml:12 low compose/port-published: web publishes 8080/tcp on all host interfaces (host port 8080)
	// compose.yaml:14 medium compose/datastore-network-not-internal: data store postgres is on the project's default network, which is not internal
	// compose.yaml:14 medium compose/no-cap-drop-all: no cap_drop: [ALL], so the container keeps Docker's default capabilities
	// compose.yaml:14 medium compose/no-new-privileges-not-set: security_opt has no no-new-privileges:true, so setuid binaries can raise privileges
	// compose.yaml:14 low compose/no-resource-limits: db sets no memory limit (mem_limit), CPU limit (cpus) or process limit (pids_limit): one runaway or attacked container can starve the host and every other service
	// compose.yaml:14 compose/no-user (suppressed: the postgres image drops to uid 999)
	// compose.yaml:14 low compose/writable-root-fs: read_only is not set: the root filesystem is writable
	// compose.yaml:16 high compose/datastore-port-published: data store postgres publishes 5432/tcp on all host interfaces (host port 5432)
}

func ExampleIsCompose() {
	fmt.Println(compose.IsCompose("docker-compose.override.yml", nil))
	fmt.Println(compose.IsCompose("stack.yaml", []byte("services:\n  web:\n    image: nginx\n")))
	fmt.Println(compose.IsCompose("values.yaml", []byte("replicaCount: 2\nservices:\n  api: {port: 80}\n")))
	// Output:
	// true
	// true
	// false
}

func ExampleIsComposeFile() {
	dir, err := os.MkdirTemp("", "compose-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	for name, src := range map[string]string{
		"compose.yaml": "include: [base.yaml]\n",
		"stack.yaml":   "services:\n  web:\n    image: nginx\n",
		"values.yaml":  "replicaCount: 2\nservices:\n  api: {port: 80}\n",
		"deploy.yaml":  "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
			log.Fatal(err)
		}
	}
	for _, name := range []string{"compose.yaml", "stack.yaml", "values.yaml", "deploy.yaml"} {
		path := filepath.Join(dir, name)
		st, err := os.Stat(path)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(name, compose.IsComposeFile(path, st.Size(), 0))
	}
	// Output:
	// compose.yaml true
	// stack.yaml true
	// values.yaml false
	// deploy.yaml false
}

func ExampleListedFiles() {
	env, err := compose.DotEnv(".env", []byte("COMPOSE_FILE=compose.yaml,ci/compose.ci.yaml, prod.conf\nCOMPOSE_PATH_SEPARATOR=,\n"))
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range compose.ListedFiles("app", env) {
		fmt.Println(f.Name, filepath.ToSlash(f.Path))
	}
	// Output:
	// compose.yaml app/compose.yaml
	// ci/compose.ci.yaml app/ci/compose.ci.yaml
	// prod.conf app/prod.conf
}
