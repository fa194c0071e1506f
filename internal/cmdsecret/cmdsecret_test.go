package cmdsecret

import (
	"strings"
	"testing"
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
