package harden

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/wardsec/ward/internal/auditctx"
)

// bodilessWait bounds ReadBodiless's wait for the first byte of a
// request of unknown length (a variable for tests).
var bodilessWait = time.Second

// BodyError is the refusal of a GET, HEAD or TRACE request with a body.
type BodyError struct {
	Method  string
	Framing string // "Content-Length 49", "Transfer-Encoding chunked", "DATA frames"
}

func (e *BodyError) Error() string {
	return fmt.Sprintf("%s with a body (%s)", e.Method, e.Framing)
}

// BodilessMethod reports whether requests of method carry no content:
// GET and HEAD, whose content has no defined semantics (RFC 9110 9.3.1,
// 9.3.2), and TRACE, which must not have any (9.3.8).
func BodilessMethod(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodTrace
}

// Bodiless refuses with 400 a GET, HEAD or TRACE request with a body (a
// Content-Length over 0, a Transfer-Encoding, or HTTP/2 DATA that is not
// empty); allowGET lets GET bodies through, never HEAD's or TRACE's. Put
// it in front of a handler that forwards requests (httputil.ReverseProxy):
// an upstream that ignores a GET's body (a CL.0 bug, common in servers and
// frameworks) reads it as the next request on its connection, one that no
// check of the chain saw (request smuggling). A handler that serves the
// request itself is not exposed: net/http frames bodies on every method.
func Bodiless(allowGET bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2, err := ReadBodiless(w, r, allowGET)
		if err != nil {
			// Recorded as Limits records its refusals: the audit log
			// otherwise counted a smuggling attempt as allowed.
			auditctx.Deny(r.Context(), "limits", err.Error())
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		next.ServeHTTP(w, r2)
	})
}

// ReadBodiless is Bodiless's decision. It returns the request to go on
// with, or a *BodyError when r may not have the body it has, or the
// error reading it. An HTTP/2 or HTTP/3 request of unknown length (its
// HEADERS frame left the stream open without a content-length; clients
// may end it with an empty DATA frame) is read for its first byte: the
// request returned is then a copy, with no body when it has none, or
// with the byte put back. r itself is never changed. The wait for that
// byte is bounded (a second, through w's http.ResponseController): a
// client that leaves the stream open and sends nothing held the handler
// until the server's read timeout (30 s), and the error read then was
// reported as the client's. A stream still silent after the wait goes on
// as a request without a body; what its client sends later is never
// read, so never forwarded. w may be nil (no bound). An allowed GET is
// not read at all.
func ReadBodiless(w http.ResponseWriter, r *http.Request, allowGET bool) (*http.Request, error) {
	if !BodilessMethod(r.Method) || allowGET && r.Method == http.MethodGet {
		return r, nil
	}
	if r.ContentLength < 0 && len(r.TransferEncoding) == 0 && r.Body != nil && r.Body != http.NoBody {
		var rc *http.ResponseController
		if w != nil {
			rc = http.NewResponseController(w)
			if rc.SetReadDeadline(time.Now().Add(bodilessWait)) != nil {
				rc = nil // not supported: wait as the server lets it
			}
		}
		var b [1]byte
		n, err := io.ReadFull(r.Body, b[:])
		if rc != nil {
			_ = rc.SetReadDeadline(time.Time{})
		}
		switch {
		case n == 0 && (errors.Is(err, io.EOF) || rc != nil && errors.Is(err, os.ErrDeadlineExceeded)):
			r2 := r.WithContext(r.Context())
			r2.Body, r2.ContentLength = http.NoBody, 0
			return r2, nil
		case n == 0:
			return nil, err
		}
		r2 := r.WithContext(r.Context())
		r2.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(b[:n]), r.Body), r.Body}
		r = r2
	} else if r.ContentLength == 0 && len(r.TransferEncoding) == 0 {
		return r, nil
	}
	framing := "DATA frames"
	switch {
	case len(r.TransferEncoding) > 0:
		framing = "Transfer-Encoding " + strings.Join(r.TransferEncoding, ", ")
	case r.ContentLength > 0:
		framing = fmt.Sprintf("Content-Length %d", r.ContentLength)
	}
	return nil, &BodyError{Method: r.Method, Framing: framing}
}
