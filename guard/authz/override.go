package authz

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
)

// MaxFormBody is the size of the largest form body that Handler reads for
// a "_method" field, when policies read the method and
// Options.NoFormMethodOverride is not set: a larger one is refused with
// 413, since the field may come last.
const MaxFormBody = 1 << 20

// Errors of Handler for a POST form body it cannot read for a "_method"
// field, when policies read the method.
var (
	// ErrFormBodyTooLarge is a form body over MaxFormBody (a 413).
	ErrFormBodyTooLarge = fmt.Errorf("form body over %d bytes, which authz reads for a method override (_method): set Options.NoFormMethodOverride if the application runs none after authz", MaxFormBody)
	// ErrFormBodyUnreadable is a form body that Handler cannot read as
	// the application's form parser would (a 400): a Content-Type
	// repeated, multipart without a valid boundary or malformed, a
	// Content-Encoding, or a body that ended early.
	ErrFormBodyUnreadable = errors.New("form body unreadable for a method override (_method)")
)

// formOverrideMethods returns the methods, upper case, that the "_method"
// fields of a POST's form body name, as net/http's FormValue reads them
// (which gorilla/handlers' HTTPMethodOverrideHandler, Buffalo's and
// Echo's MethodFromForm call): application/x-www-form-urlencoded and
// multipart bodies. It reads at most MaxFormBody+1 bytes and returns a
// shallow copy of r whose body reads them, then the rest of r.Body, so
// that next reads the body whole (r itself when it read nothing). It is
// wider than FormValue, never narrower: names in any case,
// ';' separating pairs as '&' does, multipart/* of any subtype, file
// parts too.
func formOverrideMethods(r *http.Request) ([]string, *http.Request, error) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil, r, nil
	}
	types := r.Header.Values("Content-Type")
	form, multi := false, false
	for _, ct := range types {
		mt, _, _ := strings.Cut(ct, ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
		switch {
		case mt == "application/x-www-form-urlencoded":
			form = true
		case strings.HasPrefix(mt, "multipart/"):
			form, multi = true, true
		}
	}
	if !form {
		return nil, r, nil // FormValue reads no other body
	}
	if len(types) > 1 {
		return nil, r, fmt.Errorf("%w: Content-Type repeated", ErrFormBodyUnreadable)
	}
	for _, ce := range r.Header.Values("Content-Encoding") {
		if !strings.EqualFold(strings.TrimSpace(ce), "identity") {
			// A middleware behind Handler may inflate it.
			return nil, r, fmt.Errorf("%w: Content-Encoding %q", ErrFormBodyUnreadable, ce)
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxFormBody+1))
	r2 := new(http.Request)
	*r2 = *r
	r2.Body = &replayBody{Reader: io.MultiReader(bytes.NewReader(body), r.Body), c: r.Body}
	r = r2
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe), len(body) > MaxFormBody:
		return nil, r, ErrFormBodyTooLarge
	case err != nil:
		return nil, r, fmt.Errorf("%w: %v", ErrFormBodyUnreadable, err)
	}
	var vals []string
	if multi {
		_, params, err := mime.ParseMediaType(types[0])
		if err != nil || params["boundary"] == "" {
			return nil, r, fmt.Errorf("%w: multipart without a valid boundary", ErrFormBodyUnreadable)
		}
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, r, fmt.Errorf("%w: %v", ErrFormBodyUnreadable, err)
			}
			if !strings.EqualFold(p.FormName(), "_method") {
				continue
			}
			v, err := io.ReadAll(p)
			if err != nil {
				return nil, r, fmt.Errorf("%w: %v", ErrFormBodyUnreadable, err)
			}
			vals = append(vals, string(v))
		}
	} else {
		for _, pair := range strings.FieldsFunc(string(body), func(c rune) bool { return c == '&' || c == ';' }) {
			k, v, _ := strings.Cut(pair, "=")
			k, kerr := url.QueryUnescape(k)
			v, verr := url.QueryUnescape(v)
			if kerr == nil && verr == nil && strings.EqualFold(k, "_method") {
				vals = append(vals, v)
			}
		}
	}
	var ms []string
	for _, v := range vals {
		if v = strings.TrimSpace(v); v != "" {
			ms = append(ms, strings.ToUpper(v))
		}
	}
	return ms, r, nil
}

// replayBody is a request body with the bytes Handler read put back: it
// reads them, then the rest of the body, and closes the body.
type replayBody struct {
	io.Reader
	c io.Closer
}

func (b *replayBody) Close() error { return b.c.Close() }
