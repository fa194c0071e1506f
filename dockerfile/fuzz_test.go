package dockerfile_test

import (
	"errors"
	"testing"

	"github.com/wardsec/ward/dockerfile"
)

// FuzzAudit checks that Audit never panics and keeps its contract on any
// input: a *ParseError and no findings, or complete findings of known
// rules.
func FuzzAudit(f *testing.F) {
	for _, cases := range suites {
		for _, tc := range cases {
			f.Add(tc.src)
		}
	}
	f.Add("")
	f.Add("# escape=`\nFROM alpine\nRUN echo `\n  hi\n")
	f.Add("ARG A=${B:-x}\nFROM ${A}:${C}@${D}\nCOPY --from=${A} / /\n")
	f.Add("FROM a AS b\nFROM b AS c\nFROM c\nUSER ${X:?err}\n")
	f.Add("# check=error=true\nFROM scratch\n# check=skip=all\nRUN x\n# ward:ignore\n")
	f.Add("FROM a\nRUN <<A bash <<B\nexport TOKEN=x1\nA\ncurl -u u:p -H 'Authorization: x' https://u:p@h <<<$(echo 'r:p' | chpasswd)\nB\n")
	f.Add("FROM a\nRUN [\"sh\", \"-c\", \"sudo -u env PGPASSWORD=p htpasswd -b\"]\nRUN env -- sudo --user= npm config set :_auth\n")
	f.Fuzz(func(t *testing.T, src string) {
		fs, err := dockerfile.Audit(testFile, []byte(src), dockerfile.Options{Shellless: []string{"x"}})
		if err != nil {
			var pe *dockerfile.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			if fs != nil || pe.Line < 1 || pe.File != testFile {
				t.Fatalf("error %v with findings %v", err, fs)
			}
			return
		}
		for _, f := range fs {
			if _, ok := dockerfile.Lookup(f.Rule); !ok || f.File != testFile || f.Line < 1 || f.Message == "" {
				t.Fatalf("bad finding %+v", f)
			}
		}
	})
}
