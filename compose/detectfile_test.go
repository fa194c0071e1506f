package compose

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// maybeCompose is the test on a whole content that maybeComposeFile
// replaced: the reference. json is a name ending in .json.
func maybeCompose(src []byte, json bool) bool {
	if bytes.HasPrefix(src, []byte{0xFF, 0xFE}) || bytes.HasPrefix(src, []byte{0xFE, 0xFF}) {
		return true // UTF-16
	}
	if json || flowRoot(src[:min(len(src), 64<<10-1)]) {
		return regexp.MustCompile(`services["']?\s{0,8}:`).Match(src)
	}
	key := regexp.MustCompile(`^(?:\x{feff})?(?:\{[ \t]{0,8})?(?:\?[ \t]{1,8}["']?services|["']?services["']?[ \t]{0,8}:)`)
	for _, line := range regexp.MustCompile(`[\n\r]`).Split(string(src), -1) {
		if key.MatchString(line) {
			return true
		}
	}
	return false
}

// TestMaybeComposeFile holds the buffered scan of a file to maybeCompose
// on its whole content: the key at the start, at every offset around the
// 64 KiB read boundaries, cut by them, absent, indented, and files over
// the size limit.
func TestMaybeComposeFile(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(5, 6))
	filler := func(n int) string {
		var b strings.Builder
		for b.Len() < n {
			b.WriteString([]string{"kind: Pod\n", "  name: x\n", "---\n", "services\n", " services:\n", "xservices:\n",
				"\"services\"\n", "{ services\n", "? x\n", "services x:\n", "'services'  \n", "\r", "\t", "{"}[rng.IntN(14)])
		}
		return b.String()[:n]
	}
	var contents []string
	contents = append(contents, "", "services:\n  web: {}\n", "\ufeffservices:", "\xff\xfes\x00", "\xfe\xff\x00s", "\rservices:", "\nservices:", " services:", "service:", filler(200000),
		"{services: {}}", "\"services\":", "'services' :", "services :", "? services\n: {}", "{ \"services\": {}}", "# c\n---\n{\n  \"services\" :\n {}}", "x: {services: 1}", "- services:", "[services]")
	for _, at := range []int{1, 100, 64<<10 - 11, 64<<10 - 10, 64<<10 - 9, 64<<10 - 5, 64<<10 - 1, 64 << 10, 64<<10 + 3, 128<<10 - 12, 128<<10 - 3, 200000} {
		contents = append(contents, filler(at)+"\nservices:\n"+filler(1000))
		contents = append(contents, filler(at)+"\nservices"+filler(1000)) // no colon
		contents = append(contents, filler(at)+"\rservices:\n"+filler(1000), filler(at)+"\n\ufeffservices:\n"+filler(1000))
		contents = append(contents, filler(at)+"\n\"services\"  :\n"+filler(1000), filler(at)+"\n? services\n"+filler(1000), "{"+filler(at)+"services:"+filler(1000))
	}
	for i := 0; i < 200; i++ {
		contents = append(contents, filler(rng.IntN(300000)))
	}
	for i, c := range contents {
		path := filepath.Join(dir, "f.yaml")
		if err := os.WriteFile(path, []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
		if got, want := maybeComposeFile(path, int64(len(c)), 0), maybeCompose([]byte(c), false); got != want {
			t.Errorf("content %d (%d bytes): maybeComposeFile = %v, maybeCompose = %v", i, len(c), got, want)
		}
		jpath := filepath.Join(dir, "f.json")
		if err := os.WriteFile(jpath, []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
		if got, want := maybeComposeFile(jpath, int64(len(c)), 0), maybeCompose([]byte(c), true); got != want {
			t.Errorf("content %d (%d bytes), JSON: maybeComposeFile = %v, maybeCompose = %v", i, len(c), got, want)
		}
		if len(c) > 10 && maybeComposeFile(path, int64(len(c)), int64(len(c)-1)) {
			t.Errorf("content %d: a file over the size limit passes for Compose", i)
		}
	}
	if maybeComposeFile(filepath.Join(dir, "missing.yaml"), 0, 0) {
		t.Error("a missing file passes for Compose")
	}
}

// TestIsComposeFile: a file is a Compose file by its name, whatever it
// holds, or by its content when the scan for a top-level services key
// finds one and IsCompose agrees; a file over the size limit, missing, or
// whose services key is nested is not one by content.
func TestIsComposeFile(t *testing.T) {
	const service = "services:\n  web:\n    image: nginx\n"
	utf16 := func(s string) string {
		b := []byte{0xFF, 0xFE}
		for _, r := range s {
			b = append(b, byte(r), 0)
		}
		return string(b)
	}
	for _, tc := range []struct {
		name, file, src string
		maxSize         int64
		missing         bool
		want            bool
	}{
		{name: "by name, no services", file: "compose.yaml", src: "include:\n  - other.yaml\n", want: true},
		{name: "by name, missing", file: "docker-compose.yml", missing: true, want: true},
		{name: "by name, over the limit", file: "compose.yaml", src: service, maxSize: 4, want: true},
		{name: "by content", file: "stack.yaml", src: service, want: true},
		{name: "by content, override", file: "prod.yml", src: "services:\n  web:\n    privileged: true\n", want: true},
		{name: "by content, JSON", file: "stack.json", src: `{"services": {"web": {"image": "nginx"}}}`, want: true},
		{name: "by content, flow mapping", file: "stack.yaml", src: "# c\n{services: {web: {image: nginx}}}\n", want: true},
		{name: "by content, quoted key", file: "stack.yaml", src: "'services' :\n  web: {image: nginx}\n", want: true},
		{name: "by content, explicit key", file: "stack.yaml", src: "? services\n: web: {image: nginx}\n", want: true},
		{name: "by content, byte order mark and CR", file: "stack.yaml", src: "\ufeffname: x\rservices:\r  web:\r    image: nginx\r", want: true},
		{name: "by content, UTF-16", file: "stack.yaml", src: utf16(service), want: true},
		{name: "by content, at the limit", file: "stack.yaml", src: service, maxSize: int64(len(service)), want: true},
		{name: "by content, over the limit", file: "stack.yaml", src: service, maxSize: int64(len(service)) - 1},
		{name: "missing", file: "stack.yaml", missing: true},
		{name: "Helm values", file: "values.yaml", src: "replicaCount: 2\nservices:\n  api:\n    port: 8080\n"},
		{name: "Kubernetes object", file: "deploy.yaml", src: "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"},
		{name: "nested services key", file: "stack.yaml", src: "x:\n  services:\n    web:\n      image: nginx\n"},
		{name: "services without a colon", file: "stack.yaml", src: "# services\nname: x\n"},
		{name: "not YAML by name", file: "notes.txt", src: service},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tc.file)
			if !tc.missing {
				if err := os.WriteFile(path, []byte(tc.src), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if got := IsComposeFile(path, int64(len(tc.src)), tc.maxSize); got != tc.want {
				t.Errorf("IsComposeFile(%s, %q, max %d) = %v, want %v", tc.file, tc.src, tc.maxSize, got, tc.want)
			}
		})
	}
}

// TestComposeKeyAt: what may stand before and after a "services" for it
// to be a top-level key, and when more of the file is needed to decide.
func TestComposeKeyAt(t *testing.T) {
	for _, tc := range []struct {
		name, data      string
		anywhere, eof   bool
		match, wantMore bool
	}{
		{name: "line start", data: "\nservices:", eof: true, match: true},
		{name: "after CR", data: "x\rservices:", eof: true, match: true},
		{name: "byte order mark", data: "\n\ufeffservices:", eof: true, match: true},
		{name: "flow mapping", data: "\n{ services:", eof: true, match: true},
		{name: "double quotes, blanks", data: "\n\"services\"  \t:", eof: true, match: true},
		{name: "single quotes", data: "\n'services':", eof: true, match: true},
		{name: "explicit key", data: "\n? services\n", eof: true, match: true},
		{name: "explicit key, quoted", data: "\n?  'services'\n", eof: true, match: true},
		{name: "indented", data: "\n  services:", eof: true},
		{name: "list item", data: "\n- services:", eof: true},
		{name: "part of a key", data: "\nxservices:", eof: true},
		{name: "longer key", data: "\nservices_x:", eof: true},
		{name: "no colon", data: "\nservices\n:", eof: true},
		{name: "no line break before", data: "services:", eof: true},
		{name: "line break too far", data: "\n" + strings.Repeat("x", 40) + "services:", eof: true},
		{name: "more needed", data: "\nservices", wantMore: true},
		{name: "enough without eof", data: "\nservices:" + strings.Repeat(" ", 16), match: true},
		{name: "anywhere", data: "{\"a\": {\"services\"\n :", anywhere: true, eof: true, match: true},
		{name: "anywhere, no colon", data: "[\"services\"]", anywhere: true, eof: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(tc.data)
			i := bytes.Index(data, composeKey)
			match, more := composeKeyAt(data, i, tc.anywhere, tc.eof)
			if match != tc.match || more != tc.wantMore {
				t.Errorf("composeKeyAt(%q, %d) = %v, %v; want %v, %v", tc.data, i, match, more, tc.match, tc.wantMore)
			}
		})
	}
}

// TestFlowRoot: the first document is a flow mapping after what may
// precede its content.
func TestFlowRoot(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      bool
	}{
		{"flow mapping", "{services: {}}", true},
		{"after comments, directives and ---", "\ufeff# c\n%YAML 1.2\n---\n\n  {\n", true},
		{"after CR", "# c\r{", true},
		{"block mapping", "services:\n  {}\n", false},
		{"document start with content", "--- {a: 1}\n", false},
		{"sequence", "[a]", false},
		{"empty", "", false},
		{"comments only", "# c\n---\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := flowRoot([]byte(tc.src)); got != tc.want {
				t.Errorf("flowRoot(%q) = %v, want %v", tc.src, got, tc.want)
			}
		})
	}
}
