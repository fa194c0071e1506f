package cmdsecret_test

import (
	"fmt"

	"github.com/wardsec/ward/internal/cmdsecret"
)

func ExampleArgv() {
	// A container's command and args.
	fmt.Println(cmdsecret.Argv([]string{"mysql", "-h", "db", "-uroot", "-pS3cr3tPassw0rd!", "shop"}))
	// A reference Kubernetes expands from the environment is not a secret.
	fmt.Println(len(cmdsecret.Argv([]string{"mysql", "-h", "db", "-uroot", "-p$(DB_PASSWORD)", "shop"})))
	// Output:
	// [a literal password in the -p option of mysql]
	// 0
}
