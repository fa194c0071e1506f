// Package urlredact writes URLs from the configuration for errors and
// logs without the secrets they may carry: the whole userinfo (a
// username is often a token: https://TOKEN@host/) and every query value
// (Azure Functions ?code=, SAS ?sig=, ?token=, ?api_key=...) and the
// fragment. url.URL.Redacted hides only a password, and net/http's
// url.Error names the request URL with only its password hidden.
package urlredact

import (
	"errors"
	"net/url"
	"strings"
)

// Mask replaces each secret.
const Mask = "xxxxx"

// URL returns u written with its userinfo, query values and fragment
// replaced by Mask; query keys stay, in their order (?code=xxxxx).
func URL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	if c.User != nil {
		c.User = url.User(Mask)
	}
	if c.RawQuery != "" {
		parts := strings.Split(c.RawQuery, "&")
		for i, p := range parts {
			if k, _, ok := strings.Cut(p, "="); ok {
				parts[i] = k + "=" + Mask
			} else if p != "" {
				parts[i] = Mask // a bare value may be the secret itself
			}
		}
		c.RawQuery = strings.Join(parts, "&")
	}
	if c.Fragment != "" || c.RawFragment != "" {
		c.Fragment, c.RawFragment = Mask, ""
	}
	return c.String()
}

// String is URL for a URL as written; one that does not parse is not
// repeated at all (its parse error would quote it).
func String(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(not a URL)"
	}
	return URL(u)
}

// Error returns err with the URL of every *url.Error in its chain (as
// net/http's Client returns) redacted by String; other errors are
// returned unchanged. The chain is otherwise kept: errors.Is and
// errors.As still see the causes.
func Error(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	if ue == err {
		return &url.Error{Op: ue.Op, URL: String(ue.URL), Err: Error(ue.Err)}
	}
	// A url.Error wrapped in another error: its text is in the outer
	// one's, so it cannot be rewritten in place; say what failed instead.
	return &redacted{msg: strings.ReplaceAll(err.Error(), ue.URL, String(ue.URL)), err: err}
}

type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string { return r.msg }
func (r *redacted) Unwrap() error { return r.err }
