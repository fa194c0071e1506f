package cmdsecret

import (
	"strings"
	"testing"

	"mvdan.cc/sh/v3/syntax"
)

func TestArgv(t *testing.T) {
	for _, c := range []struct {
		argv []string
		want string // a substring of the one Secret; "" for none
	}{
		{[]string{"mysql", "-pS3cr3tPassw0rd!"}, "-p option of mysql"},
		{[]string{"/app", "--db-password=Sup3rS3cret!x"}, "password"},
		{[]string{"curl", "-u", "admin:Adm1nPassw0rd", "https://api.example.com"}, "curl"},
		{[]string{"git", "clone", "https://x-access-token:ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789@github.com/org/repo.git"}, "URL"},
		{[]string{"sh", "-c", "export API_TOKEN=s3cr3tT0kenValue99 && exec /app"}, "API_TOKEN"},
		{[]string{"/bin/bash", "-ec", "PGPASSWORD=hunter2hunter2 psql -h db"}, "PGPASSWORD"},
		// References and placeholders are quiet.
		{[]string{"mysql", "-p$(DB_PASSWORD)"}, ""},
		{[]string{"/app", "--db-password=${DB_PASSWORD}"}, ""},
		{[]string{"/app", "--db-password=$DB_PASSWORD"}, ""},
		{[]string{"/app", "--password-file=/run/secrets/db"}, ""},
		{[]string{"/app", "--password=changeme"}, ""},
		{[]string{"sh", "-c", "psql -h db -U app \"$DATABASE_URL\""}, ""},
		{[]string{"/app", "--config=/etc/app.yaml", "--port=8080"}, ""},
		{nil, ""},
	} {
		got := Argv(c.argv)
		switch {
		case c.want == "" && len(got) != 0:
			t.Errorf("%q: %q, want nothing", c.argv, got)
		case c.want != "" && (len(got) != 1 || !strings.Contains(string(got[0]), c.want)):
			t.Errorf("%q: %q, want one mentioning %q", c.argv, got, c.want)
		}
		for _, s := range got {
			for _, w := range c.argv {
				if len(w) > 8 && strings.Contains(string(s), w) {
					t.Errorf("%q: the finding %q holds an argument", c.argv, s)
				}
			}
		}
	}
}

// TestLiteralEscapes checks that Literal removes backslash escapes as
// the shell does. Before, s\udo was read as written, not as the sudo the
// shell runs.
func TestLiteralEscapes(t *testing.T) {
	for src, want := range map[string]string{
		`s\udo`:                    "sudo",
		`\sh`:                      "sh",
		`7\77`:                     "777",
		`a\\b`:                     `a\b`,
		"ab\\\ncd":                 "abcd",
		`'s\udo'`:                  `s\udo`,
		`"s\udo"`:                  `s\udo`,
		`"a\"b\\c\$d\` + "`" + `"`: "a\"b\\c$d`",
		`"sh -c \"sudo id\""`:      `sh -c "sudo id"`,
		`NOPASS\WD:`:               "NOPASSWD:",
	} {
		f, err := Parse("x " + src)
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		w := f.Stmts[0].Cmd.(*syntax.CallExpr).Args[1]
		if got := Literal(w); got != want {
			t.Errorf("Literal(%s) = %q, want %q", src, got, want)
		}
	}
}
