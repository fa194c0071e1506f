package secretscan_test

import (
	"fmt"

	"github.com/wardsec/ward/internal/secretscan"
)

func Example() {
	for _, kv := range [][2]string{
		{"DB_PASSWORD", "hunter2-Prod"},
		{"SSH_KEY_PATH", "/run/secrets/key"}, // a file path locates a secret
		{"UPSTREAM", "postgres://app:s3cret@db/shop"},
		{"API_TOKEN", "$(TOKEN_FROM_FILE)"},
	} {
		name, value := kv[0], kv[1]
		switch {
		case secretscan.Placeholder(value):
			fmt.Println(name, "holds a placeholder")
		case secretscan.Name(name):
			fmt.Println(name, "is named like a secret")
		case secretscan.Value(value) != "":
			fmt.Println(name, "holds", secretscan.Value(value))
		default:
			fmt.Println(name, "holds no secret")
		}
	}
	// Output:
	// DB_PASSWORD is named like a secret
	// SSH_KEY_PATH holds a placeholder
	// UPSTREAM holds a URL with a password
	// API_TOKEN holds a placeholder
}
