package srcpos

import (
	"errors"
	"io/fs"
	"testing"
)

func TestError(t *testing.T) {
	for _, tc := range []struct {
		e    *Error
		want string
	}{
		{&Error{File: "a.yaml", Line: 3, Err: errors.New("bad")}, "a.yaml:3: bad"},
		{&Error{File: "a.yaml", Err: errors.New("bad")}, "a.yaml: bad"},
		{&Error{Line: 3, Err: errors.New("bad")}, "line 3: bad"},
		{&Error{Err: errors.New("bad")}, "bad"},
		{&Error{File: "a.yaml", Line: 3, Object: "ns/Pod/p", Err: errors.New("bad")}, "a.yaml:3: ns/Pod/p: bad"},
		{&Error{File: "a.yaml", Line: 3}, "a.yaml:3: invalid input"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("%+v: %q, want %q", *tc.e, got, tc.want)
		}
	}
	if e := (&Error{File: "x", Err: fs.ErrNotExist}); !errors.Is(e, fs.ErrNotExist) {
		t.Error("Unwrap: the cause is lost")
	}
}
