package urlredact

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"testing"
)

func TestString(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"https://id.example.com/jwks", "https://id.example.com/jwks"},
		{"https://ward:s3cret@id.example.com/jwks", "https://xxxxx@id.example.com/jwks"},
		{"https://TOKEN@id.example.com/jwks", "https://xxxxx@id.example.com/jwks"},
		{"https://f.azurewebsites.net/api/jwks?code=AbC%3D%3D", "https://f.azurewebsites.net/api/jwks?code=xxxxx"},
		{"https://a.blob.core.windows.net/c/jwks.json?sv=2022&sig=S1G&se=x", "https://a.blob.core.windows.net/c/jwks.json?sv=xxxxx&sig=xxxxx&se=xxxxx"},
		{"https://h/jwks?token=T&key=K&api_key=A", "https://h/jwks?token=xxxxx&key=xxxxx&api_key=xxxxx"},
		{"https://h/jwks?BARESECRET&a=", "https://h/jwks?xxxxx&a=xxxxx"},
		{"https://h/jwks#frag", "https://h/jwks#xxxxx"},
		{"http://[::1", "(not a URL)"},
	} {
		if got := String(tt.in); got != tt.want {
			t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestError(t *testing.T) {
	cause := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	ue := &url.Error{Op: "Get", URL: "https://u:***@h/jwks?code=SECRET", Err: cause}
	for name, err := range map[string]error{"bare": ue, "wrapped": fmt.Errorf("fetching: %w", ue)} {
		got := Error(err)
		want := `Get "https://xxxxx@h/jwks?code=xxxxx": dial tcp: connection refused`
		if name == "wrapped" {
			want = "fetching: " + want
		}
		var op *net.OpError
		if got.Error() != want || !errors.As(got, &op) {
			t.Errorf("%s: %v, want %s wrapping the *net.OpError", name, got, want)
		}
	}
	if plain := errors.New("x"); Error(plain) != plain {
		t.Error("an error without a url.Error was changed")
	}
}
