package compose

import (
	"errors"
	"testing"
)

// FuzzAudit checks that Audit and IsCompose never panic, that an error is
// always a *ParseError with no findings, and that every finding is of a
// registered rule and points at a line of the file.
func FuzzAudit(f *testing.F) {
	for _, tc := range ruleCases {
		f.Add([]byte(tc.src))
	}
	for _, s := range []string{
		"", "[]", "---\n---\n", "services:\n", "services: {a: &a {image: x, extends: a}}\n",
		"x: &a [*a]\n", "services:\n  web: &w\n    <<: *w\n    image: x\n",
		"services:\n  web:\n    image: ${A:-${B:?c}}\n    ports: [\"${P}-${Q}:80\"]\n",
		"version: 3\nservices:\n  web: {image: x, extends: {service: web}}\n",
		"services:\n  web:\n    image: x\n    ports: [\"1000-1100:1000-1100\"]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		IsCompose("x.yaml", src)
		fs, err := Audit("compose.yaml", src, Options{})
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || fs != nil {
				t.Fatalf("Audit = %v, %v (%T)", fs, err, err)
			}
			return
		}
		for _, f := range fs {
			if _, ok := Lookup(f.Rule); !ok || f.Line < 0 || f.File != "compose.yaml" {
				t.Fatalf("bad finding %+v", f)
			}
		}
	})
}
