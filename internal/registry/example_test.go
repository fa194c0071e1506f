package registry_test

import (
	"fmt"

	"github.com/wardsec/ward/internal/registry"
)

func Example() {
	trusted, err := registry.Parse([]string{"registry.example.com", "ghcr.io/myorg", "docker.io/library"})
	if err != nil {
		panic(err)
	}
	for _, image := range []string{"nginx:1.27", "ghcr.io/myorg/api:2", "ghcr.io/someone/tool", "bitnami/redis"} {
		name, ok, _ := trusted.Check(image)
		fmt.Println(name, ok)
	}
	// Output:
	// docker.io/library/nginx true
	// ghcr.io/myorg/api true
	// ghcr.io/someone/tool false
	// docker.io/bitnami/redis false
}
