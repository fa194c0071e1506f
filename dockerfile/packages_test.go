package dockerfile

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestUnpinnedInstalls(t *testing.T) {
	for _, tc := range []struct {
		script string
		want   []unpinned
	}{
		{"apt-get update && apt-get install -y --no-install-recommends curl ca-certificates=20240203", []unpinned{{"apt-get install", []string{"curl"}}}},
		{"apt-get install -y curl=8.5.0-2 && rm -rf /var/lib/apt/lists/*", nil},
		{"apt-get -y -o Dpkg::Options::=--force-confnew install 'jq' \"git\"", []unpinned{{"apt-get install", []string{"jq", "git"}}}},
		{"apt install ./local.deb", nil},
		{"apk add --no-cache -t .build-deps gcc musl-dev=1.2.5-r0", []unpinned{{"apk add", []string{"gcc"}}}},
		{"apk add --no-cache curl~8.12", nil},
		{"pip install --no-cache-dir flask requests==2.32.3", []unpinned{{"pip install", []string{"flask"}}}},
		{"pip3 install -r requirements.txt", nil},
		{"python3 -m pip install --upgrade pip", []unpinned{{"pip install", []string{"pip"}}}},
		{"pip install --require-hashes -r req.txt", nil},
		{"pip install .", nil},
		{"npm install -g typescript @angular/cli@17.3.0", []unpinned{{"npm install", []string{"typescript"}}}},
		{"npm ci && npm install", nil},
		{"npm i left-pad@latest", []unpinned{{"npm i", []string{"left-pad@latest"}}}},
		{"gem install bundler", []unpinned{{"gem install", []string{"bundler"}}}},
		{"gem install bundler -v 2.5.6", nil},
		{"yum install -y httpd-2.4.6 mod_ssl", []unpinned{{"yum install", []string{"mod_ssl"}}}},
		{"dnf -y install nginx", []unpinned{{"dnf install", []string{"nginx"}}}},
		{"zypper --non-interactive in curl=8.0", nil},
		{"zypper install -y curl", []unpinned{{"zypper install", []string{"curl"}}}},
		{"go install golang.org/x/tools/cmd/goimports@latest", []unpinned{{"go install", []string{"golang.org/x/tools/cmd/goimports@latest"}}}},
		{"go install golang.org/x/tools/cmd/goimports@v0.30.0 ./cmd/...", nil},
		{"sudo apt-get install -y vim", []unpinned{{"apt-get install", []string{"vim"}}}},
		{"apt-get install -y $PACKAGES", nil},
		{"echo 'apt-get install curl'", nil},
		{"(cd /src && pip install six)", []unpinned{{"pip install", []string{"six"}}}},
		{"apt-get install -y curl &&", nil}, // does not parse: not judged
	} {
		got := unpinnedInstalls(tc.script, nil)
		if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(unpinned{})); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tc.script, diff)
		}
	}
}
