package fastyaml

import "os"

func init() {
	// Tests and fuzzing see the parser's own panics instead of a silent
	// fallback; FASTYAML_LENIENT=1 tries the production behaviour.
	strict = os.Getenv("FASTYAML_LENIENT") == ""
}
