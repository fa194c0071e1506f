package authz

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		err  error
	}{
		{"/", "/", nil},
		{"/a/b/", "/a/b/", nil},
		{"/a?b=c", "/a", nil},
		{"/a#frag", "/a", nil},
		{"*", "*", nil},
		{"//admin", "/admin", nil},
		{"/a///b//", "/a/b/", nil},
		{"/%61dmin", "/admin", nil},
		{"/caf%c3%a9", "/caf%C3%A9", nil},
		{"/a%20b", "/a%20b", nil},
		{"/a b", "/a%20b", nil},
		{"/é", "/%C3%A9", nil},
		{"/a%3Fb", "/a%3Fb", nil},
		// Sub-delimiters, ":" and "@" are decoded as servers decode
		// them; ";" is not (Ambiguous refuses it).
		{"/users/1%3adelete", "/users/1:delete", nil},
		{"/%40admin/%21%24%26%27%28%29%2A%2C%3D", "/@admin/!$&'()*,=", nil},
		{"/a%2bb", "/a%2Bb", nil}, // S3 reads a raw "+" as a space
		{"/a%3bb", "/a%3Bb", nil},
		{"/a%23b%25%5B%5D%22", "/a%23b%25%5B%5D%22", nil},
		{"/a/.../b", "/a/.../b", nil},
		{"/a/.b/c.", "/a/.b/c.", nil},
		{"/~user/x-y_z;v=1:@!$&'()*+,=", "/~user/x-y_z;v=1:@!$&'()*+,=", nil},
		{"/./admin", "", ErrDotSegment},
		{"/public/../admin", "", ErrDotSegment},
		{"/a/..", "", ErrDotSegment},
		{"/a/.", "", ErrDotSegment},
		{"/%2e%2E/admin", "", ErrDotSegment},
		{"/.%2e/admin", "", ErrDotSegment},
		{"/admin%2F", "", ErrEncodedSlash},
		{"/admin%2fx", "", ErrEncodedSlash},
		{"/a%5cb", "", ErrEncodedSlash},
		{`/a\b`, "", ErrBackslash},
		{"/a%", "", ErrMalformedPath},
		{"/a%4", "", ErrMalformedPath},
		{"/a%zz", "", ErrMalformedPath},
		{"/a\x00b", "", ErrMalformedPath},
		{"/a\nb", "", ErrMalformedPath},
		{"", "", ErrMalformedPath},
		{"admin", "", ErrMalformedPath},
		{"http://host/admin", "", ErrMalformedPath},
	} {
		got, err := Normalize(tc.in)
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("Normalize(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestNormalizeDoesNotAllocateWhenNormal(t *testing.T) {
	for _, p := range []string{"/api/v1/users/42", "/a%20b/%C3%A9", "/a?x=1"} {
		if n := testing.AllocsPerRun(100, func() { _, _ = Normalize(p) }); n != 0 {
			t.Errorf("Normalize(%q) allocates %v times", p, n)
		}
	}
}

// FuzzNormalize checks the properties Decide relies on: a normalised path
// normalises to itself, and holds neither "//" nor a dot segment.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"/", "//a//b", "/a/../b", "/%2e%2E", "/%2F", "/a%20b%c3%a9", "/a?b#c", "*", "/é/ü", `/a\b`, "/a/./b/", "/%25252e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := Normalize(in)
		if err != nil {
			if out != "" {
				t.Fatalf("Normalize(%q) = %q with error %v", in, out, err)
			}
			return
		}
		again, err := Normalize(out)
		if err != nil || again != out {
			t.Fatalf("Normalize(Normalize(%q) = %q) = %q, %v; want it unchanged", in, out, again, err)
		}
		if out == "*" {
			return
		}
		if strings.Contains(out, "//") || hasDotSegment(out) || !strings.HasPrefix(out, "/") {
			t.Fatalf("Normalize(%q) = %q: has //, a dot segment or no leading /", in, out)
		}
		for _, seg := range strings.Split(out, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("Normalize(%q) = %q: dot segment", in, out)
			}
		}
		if strings.ContainsAny(out, "?#\\ ") {
			t.Fatalf("Normalize(%q) = %q: raw character that should have been cut or encoded", in, out)
		}
	})
}

// FuzzLoad checks that loading never panics, and that what loads
// compiles and decides.
func FuzzLoad(f *testing.F) {
	f.Add([]byte("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a, namespace: foo}\nspec:\n  rules:\n  - from: [{source: {principals: [\"*\"], ipBlocks: [\"10.0.0.0/8\"]}}]\n    to: [{operation: {paths: [\"/a/{*}\"], hosts: [\"*.x\"]}}]\n    when: [{key: \"request.auth.claims[a][b]\", values: [\"x*\"]}]\n"))
	f.Add([]byte("apiVersion: v1\nkind: List\nitems:\n- apiVersion: security.istio.io/v1beta1\n  kind: AuthorizationPolicy\n  metadata: {name: b}\n  spec: {action: DENY, rules: [{}]}\n"))
	f.Add([]byte("a: &a [x, y]\nb: [*a, *a]\n---\nc: {<<: {d: 1}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := Load("fuzz.yaml", data)
		if err != nil {
			return
		}
		e, err := Compile(ps, Workload{Namespace: "foo"})
		if err != nil && strings.Contains(err.Error(), "defined twice") {
			return // "a" and "foo/a" are one policy for a workload in foo
		}
		if err != nil {
			t.Fatalf("Load accepted policies that Compile refuses: %v", err)
		}
		e.Decide(req())
	})
}

func TestAmbiguous(t *testing.T) {
	for _, tt := range []struct {
		path string
		want error
	}{
		{"/api/items", nil},
		{"/api/50%25off", nil},
		{"/caf%C3%A9", nil},
		{"/admin;x", errPathParameter},
		{"/admin%3Bx", errPathParameter},
		{"/admin%00", errEncodedCtl},
		{"/x%0D%0A", errEncodedCtl},
		{"/x%7F", errEncodedCtl},
		{"/%2561dmin", errDoubleEncoded},
		{"/%C0%AE", errOverlongUTF8},
		{"/%E0%80%AF", errOverlongUTF8},
		{"/%F0%80%80%AF", errOverlongUTF8},
		{"/x%2", ErrMalformedPath},
	} {
		if err := Ambiguous(tt.path); !errors.Is(err, tt.want) {
			t.Errorf("Ambiguous(%q) = %v, want %v", tt.path, err, tt.want)
		}
	}
}
