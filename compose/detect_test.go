package compose

import "testing"

func TestIsCompose(t *testing.T) {
	const service = "services:\n  web:\n    image: nginx\n"
	for _, tc := range []struct {
		name, file, src string
		want            bool
	}{
		{"compose.yaml by name", "deploy/compose.yaml", "", true},
		{"compose.yml by name", "compose.yml", "", true},
		{"docker-compose.yaml by name", "docker-compose.yaml", "", true},
		{"docker-compose.yml by name", "a/b/docker-compose.yml", "", true},
		{"override variant", "docker-compose.override.yml", "", true},
		{"environment variant", "compose.prod.yaml", "", true},
		{"prefixed variant", "dev.compose.yaml", "", true},
		{"upper case", "Docker-Compose.YML", "", true},
		{"other yaml with services", "stack.yaml", service, true},
		{"build only", "stack.yml", "services:\n  api:\n    build: ./api\n", true},
		{"build mapping and x- keys", "stack.yml", "x-env: &env {A: 1}\nname: shop\nservices:\n  api:\n    build: {context: ., dockerfile: Dockerfile}\n    environment: *env\nnetworks: {}\n", true},
		{"override without image or build", "prod.yaml", "services:\n  web:\n    privileged: true\n    network_mode: host\n", true},
		{"override with x- keys and several services", "ci.yml", "services:\n  web:\n    x-note: debug\n    volumes: [/var/run/docker.sock:/var/run/docker.sock]\n  db:\n    user: root\n", true},
		{"Helm-like service keys", "values.yaml", "services:\n  api:\n    port: 8080\n    enabled: true\n", false},
		{"Compose and other service keys", "values.yaml", "services:\n  api:\n    ports: [80]\n    enabled: true\n", false},
		{"empty service", "x.yaml", "services:\n  web: {}\n", false},
		// compose-go reads them as services: they passed for other YAML.
		{"services merged in", "stack.yaml", "x-base: &base\n  services:\n    web: {image: nginx, privileged: true}\n<<: *base\n", true},
		{"services merged from a list", "stack.yaml", "x-a: &a {name: shop}\nx-b: &b {services: {web: {image: nginx}}}\n<<: [*a, *b]\n", true},
		{"services key as !!binary", "stack.yaml", "!!binary c2VydmljZXM=:\n  web: {image: nginx, privileged: true}\n", true},
		{"other key merged in", "values.yaml", "x-base: &base {replicas: 2}\n<<: *base\nservices:\n  web: {image: nginx}\n", false},
		{"other key as !!binary", "values.yaml", "!!binary cmVwbGljYXM=: 2\nservices:\n  web: {image: nginx}\n", false},
		{"stdin by content", "-", service, true},
		{"no name by content", "", service, true},
		{"compose.json by name", "compose.json", "", true},
		{"docker-compose.override.json by name", "docker-compose.override.JSON", "", true},
		{"other json by content", "stack.json", `{"services": {"web": {"image": "nginx", "privileged": true}}}`, true},
		{"Kubernetes JSON", "deploy.json", `{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}}`, false},
		{"JSON values", "values.json", `{"services": {"api": {"port": 8080, "enabled": true}}}`, false},
		{"not yaml, not compose by content", "notes.txt", service, false},
		{"Kubernetes manifest", "deploy.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nservices:\n  web:\n    image: nginx\n", false},
		{"Kubernetes Deployment", "deploy.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers: [{name: web, image: nginx}]\n", false},
		{"Helm values with services", "values.yaml", "replicaCount: 2\nservices:\n  api:\n    port: 8080\n    enabled: true\n", false},
		{"Helm values with image mappings", "values.yaml", "services:\n  api:\n    image:\n      repository: example/api\n      tag: 1.0\n", false},
		{"services that are not mappings", "x.yaml", "services:\n  - web\n", false},
		{"service entries not mappings", "x.yaml", "services:\n  web: nginx\n", false},
		{"no services", "x.yaml", "networks: {a: {}}\n", false},
		{"empty services", "x.yaml", "services: {}\n", false},
		{"not YAML", "x.yaml", "services: [\n", false},
		{"empty", "x.yaml", "", false},
		{"services in a second document", "stack.yaml", "name: shop\n---\n" + service, true},
		{"services after empty documents", "stack.yaml", "---\n---\n# c\n---\n" + service, true},
		{"override in a second document", "prod.yaml", "x-a: 1\n---\nservices:\n  web:\n    privileged: true\n", true},
		{"Kubernetes object after the services", "x.yaml", service + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n", true},
		{"Kubernetes object before the services", "x.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n" + service, false},
		{"Helm-like services in a second document", "values.yaml", "name: x\n---\nservices:\n  api:\n    port: 8080\n    enabled: true\n", false},
	} {
		if got := IsCompose(tc.file, []byte(tc.src)); got != tc.want {
			t.Errorf("%s: IsCompose(%q) = %v, want %v", tc.name, tc.file, got, tc.want)
		}
	}
}

// TestServiceKeys: the keys read from compose-go's schema are there.
func TestServiceKeys(t *testing.T) {
	keys := serviceKeys()
	for _, k := range []string{"image", "build", "privileged", "network_mode", "pid", "cap_add", "volumes", "user", "security_opt", "deploy", "extends", "profiles"} {
		if !keys[k] {
			t.Errorf("service key %s missing from the schema's (%d keys)", k, len(keys))
		}
	}
}
