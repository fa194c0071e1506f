package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// shopCopy links a temporary directory to examples/shop and returns the
// link, as users link their manifests into a repository.
func shopLink(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	link := filepath.Join(dir, "shop")
	if err := os.Symlink(filepath.Join(root, "examples", "shop"), link); err != nil {
		t.Fatal(err)
	}
	return link
}

// TestSymlinkedInput: a symbolic link to a directory, named on the command
// line or met inside a walked directory, is read like the directory.
func TestSymlinkedInput(t *testing.T) {
	link := shopLink(t)
	parent := filepath.Dir(link) // holds only the link
	for _, args := range [][]string{
		{"reach", "-o", "json"},
		{"check", "-o", "json", "--config", "examples/shop/ward.yaml"},
		{"fw", "plan", "--inventory", "firewall/testdata/shop-inventory.yaml"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			want, errOut, wantCode := run(t, "", append(args, "examples/shop")...)
			if wantCode == ExitError {
				t.Fatalf("examples/shop: exit %d: %s", wantCode, errOut)
			}
			for _, p := range []string{link, parent} {
				got, errOut, code := run(t, "", append(args, p)...)
				if code != wantCode {
					t.Errorf("%s: exit %d, want %d as for examples/shop; stderr: %s", p, code, wantCode, errOut)
				}
				got = strings.ReplaceAll(got, p+"/", "examples/")
				got = strings.ReplaceAll(got, link, "examples/shop")
				if args[0] == "check" {
					if a, b := len(manifestFindings(t, want)), len(manifestFindings(t, got)); a != b {
						t.Errorf("%s: %d findings, want %d as for examples/shop", p, b, a)
					}
					continue
				}
				if got != want {
					t.Errorf("%s: output differs from examples/shop's:\n%s", p, got)
				}
			}
		})
	}
}

// TestInputSizeLimit: every input Ward reads, whatever it is, stops at
// --max-input-size with an error naming it and exit 2: /dev/zero as a
// manifest, standard input, --config and --inventory.
func TestInputSizeLimit(t *testing.T) {
	const limit = "--max-input-size=1MiB"
	tests := []struct {
		name  string
		args  []string
		stdin string
		want  string
	}{
		{"manifest", []string{"reach", "/dev/zero", limit}, "", "/dev/zero: cannot read input: input larger than the size limit of 1 MiB"},
		{"manifest in check", []string{"check", "/dev/zero", limit}, "", "input larger than the size limit of 1 MiB"},
		{"stdin", []string{"reach", "-", limit}, strings.Repeat("#", 1<<20+1), "-: cannot read input: input larger than the size limit of 1 MiB"},
		{"config", []string{"check", "examples/shop", "--config", "/dev/zero", limit}, "", "/dev/zero: input larger than the size limit of 1 MiB"},
		{"expect", []string{"assert", "examples/shop", "--expect", "/dev/zero", limit}, "", "/dev/zero: input larger than the size limit of 1 MiB"},
		{"inventory", []string{"fw", "plan", "examples/shop", "--inventory", "/dev/zero", limit}, "", "/dev/zero: cannot read input: input larger than the size limit of 1 MiB"},
		{"bad flag", []string{"reach", "examples/shop", "--max-input-size", "lots"}, "", `--max-input-size: invalid size "lots"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := run(t, tt.stdin, tt.args...)
			if code != ExitError {
				t.Errorf("exit %d, want %d", code, ExitError)
			}
			if !strings.Contains(out+errOut, tt.want) {
				t.Errorf("output %q\nstderr %q\nwant %q", out, errOut, tt.want)
			}
		})
	}
}

// TestParseSize checks the --max-input-size forms.
func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1048576": 1 << 20, "512KiB": 512 << 10, "64M": 64 << 20, "2GiB": 2 << 30, "1 TB": 1 << 40, "10b": 10} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1", "GiB", "1.5GiB", "2PiB", "9999999999999GiB"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, got)
		}
	}
}
