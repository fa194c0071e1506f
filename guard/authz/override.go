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
// a "_method" field (when policies read the method, and another method
// could change the decision) or an "access_token" field (when they read
// the JWT, and the request has no verified token in an Authorization
// header that starts "Bearer "), unless
// Options.FormBodiesUnread is set: a larger one is refused with 413,
// since the field may come last.
const MaxFormBody = 1 << 20

// Errors of Handler for a form body it cannot read for a "_method" or
// "access_token" field, and for a bearer token it was not given.
var (
	// ErrFormBodyTooLarge is a form body over MaxFormBody (a 413).
	ErrFormBodyTooLarge = fmt.Errorf("form body over %d bytes, which authz reads for a method override (_method) or a bearer token (access_token): see Options.FormBodiesUnread", MaxFormBody)
	// ErrFormBodyUnreadable is a form body that Handler cannot read as
	// the application's form parser would (a 400): a Content-Type
	// repeated, multipart without a valid boundary or malformed, a
	// Content-Encoding, or a body that ended early.
	ErrFormBodyUnreadable = errors.New("form body unreadable for a method override (_method) or a bearer token (access_token)")
	// ErrTokenOutsideHeader is a request with an "access_token" query
	// parameter or form field, or a WebSocket subprotocol
	// "base64url.bearer.authorization.k8s.io.<token>", when policies
	// read the JWT (a 400): jwt verifies the Authorization header's token
	// only, an application that reads the other (go-oauth2's BearerAuth,
	// golang-jwt's OAuth2Extractor, RFC 6750 2.2 and 2.3) acts on an
	// identity that policies never saw.
	ErrTokenOutsideHeader = errors.New("bearer token in the query, form body (access_token) or WebSocket subprotocol: only the Authorization header's is verified")
	// ErrDPoPToken is a request with a DPoP-bound token (RFC 9449,
	// "Authorization: DPoP <token>") and no RequestPrincipal, when
	// policies read the JWT (a 400): jwt verifies Bearer tokens and
	// passes this one on as anonymous.
	ErrDPoPToken = errors.New("DPoP token in Authorization: jwt verifies Bearer tokens only, and the policies read the JWT")
)

// formFields are the fields of a form body that Handler reads.
type formFields struct {
	methods []string // of "_method" fields, as sent, non-empty
	token   bool     // an "access_token" field with a value
}

// readFormFields returns the "_method" and "access_token" fields of r's
// form body, and of the form a middleware before Handler parsed already
// (r.Form, r.PostForm, r.MultipartForm), as net/http's FormValue reads them (which gorilla/handlers'
// HTTPMethodOverrideHandler, Buffalo's and Echo's MethodFromForm, and
// go-oauth2's BearerAuth call): application/x-www-form-urlencoded and
// multipart bodies. It reads at most MaxFormBody+1 bytes and returns a
// shallow copy of r whose body reads them, then the rest of r.Body, so
// that next reads the body whole (r itself when it read nothing). It is
// wider than FormValue, never narrower: names in any case, ';'
// separating pairs as '&' does, multipart/* of any subtype, the body of
// any method (FormValue parses a multipart one whatever the method),
// a body behind ContentLength 0, file parts too.
func readFormFields(r *http.Request) (formFields, *http.Request, error) {
	var f formFields
	add := func(k, v string) {
		switch {
		case v == "":
		case strings.EqualFold(k, "_method"):
			f.methods = append(f.methods, v)
		case strings.EqualFold(k, "access_token") && strings.TrimSpace(v) != "":
			f.token = true
		}
	}
	// A middleware before Handler may have parsed the form already
	// (gorilla/csrf and nosurf read their token with PostFormValue and
	// FormValue): FormValue then reads r.Form, and the body is spent.
	for _, vs := range []url.Values{r.Form, r.PostForm} {
		for k, v := range vs {
			for _, x := range v {
				add(k, x)
			}
		}
	}
	if r.MultipartForm != nil {
		for k, v := range r.MultipartForm.Value {
			for _, x := range v {
				add(k, x)
			}
		}
	}
	// Not ContentLength 0: parsePostForm reads the body whatever
	// ContentLength says (a middleware that inflates or replaces the
	// body may leave 0).
	if r.Body == nil || r.Body == http.NoBody {
		return f, r, nil
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
		return f, r, nil // FormValue reads no other body
	}
	if len(types) > 1 {
		return f, r, fmt.Errorf("%w: Content-Type repeated", ErrFormBodyUnreadable)
	}
	for _, ce := range r.Header.Values("Content-Encoding") {
		if !strings.EqualFold(strings.TrimSpace(ce), "identity") {
			// A middleware behind Handler may inflate it.
			return f, r, fmt.Errorf("%w: Content-Encoding %q", ErrFormBodyUnreadable, ce)
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
		return f, r, ErrFormBodyTooLarge
	case err != nil:
		return f, r, fmt.Errorf("%w: %v", ErrFormBodyUnreadable, err)
	case len(body) == 0:
		// Spent by a middleware that parsed it (above), or empty:
		// FormValue finds no field in it either.
		return f, r, nil
	}
	if !multi {
		addPairs(string(body), add)
		return f, r, nil
	}
	_, params, err := mime.ParseMediaType(types[0])
	if err != nil || params["boundary"] == "" {
		return f, r, fmt.Errorf("%w: multipart without a valid boundary", ErrFormBodyUnreadable)
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return f, r, nil
		}
		if err != nil {
			return f, r, fmt.Errorf("%w: %v", ErrFormBodyUnreadable, err)
		}
		if name := p.FormName(); strings.EqualFold(name, "_method") || strings.EqualFold(name, "access_token") {
			v, err := io.ReadAll(p)
			if err != nil {
				return f, r, fmt.Errorf("%w: %v", ErrFormBodyUnreadable, err)
			}
			add(name, string(v))
		}
	}
}

// addPairs calls add with each name and value of a query or urlencoded
// body, decoded, split at ';' as well as '&' (net/http's
// AllowQuerySemicolons, other parsers); pairs that do not decode are
// skipped, as url.ParseQuery skips them.
func addPairs(s string, add func(k, v string)) {
	for _, pair := range strings.FieldsFunc(s, func(c rune) bool { return c == '&' || c == ';' }) {
		k, v, _ := strings.Cut(pair, "=")
		k, kerr := url.QueryUnescape(k)
		v, verr := url.QueryUnescape(v)
		if kerr == nil && verr == nil {
			add(k, v)
		}
	}
}

// replayBody is a request body with the bytes Handler read put back: it
// reads them, then the rest of the body, and closes the body.
type replayBody struct {
	io.Reader
	c io.Closer
}

func (b *replayBody) Close() error { return b.c.Close() }
