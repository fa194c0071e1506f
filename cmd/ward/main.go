// Command ward is Ward's command line; see internal/cli and docs/.
package main

import "github.com/wardsec/ward/internal/cli"

func main() { cli.Main() }
