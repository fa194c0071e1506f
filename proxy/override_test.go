package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"testing/iotest"
)

// scan reads body through an overrideScanner in reads of the sizes
// chunks gives (cycled; nil: the whole body at once) and returns the
// bytes it passed and its error.
func scan(kind formKind, boundary, body string, chunks []int) (string, error) {
	return scanWith(kind, boundary, body, chunks, false)
}

// scanWith is scan with access_token fields refused too when tokens is
// set.
func scanWith(kind formKind, boundary, body string, chunks []int, tokens bool) (string, error) {
	var r io.Reader = strings.NewReader(body)
	if chunks != nil {
		r = &chunkReader{data: []byte(body), sizes: chunks}
	}
	s := newOverrideScanner(io.NopCloser(r), kind, boundary, tokens)
	var out bytes.Buffer
	buf := make([]byte, 64<<10)
	for {
		n, err := s.Read(buf)
		out.Write(buf[:n])
		if err == io.EOF {
			return out.String(), nil
		}
		if err != nil {
			return out.String(), err
		}
	}
}

// chunkReader returns data in reads of the sizes given, cycled.
type chunkReader struct {
	data  []byte
	sizes []int
	i     int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(c.sizes[c.i%len(c.sizes)], len(p), len(c.data))
	c.i++
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

func TestOverrideScannerURLEncoded(t *testing.T) {
	for _, tt := range []struct {
		body     string
		override bool
	}{
		{"_method=DELETE", true},
		{"a=1&_method=DELETE", true},
		{"a=1;_method=DELETE", true},
		{"_METHOD=delete", true},
		{"%5Fmethod=DELETE", true},
		{"%5f%6D%65%74%68%6f%64=DELETE", true},
		{"+_method=DELETE", true},
		{"%20%20_method=DELETE", true},
		{".method=DELETE", true},
		{"[method=DELETE", true},
		{"_method[]=DELETE", true},
		{"_method%00x=DELETE", true},
		{"_method", true},
		{"a=1&_method", true},
		{"%zz=1", true},  // undecodable name
		{"a%2=1", true},  // cut escape
		{"a=%zz", false}, // values are not read
		{"method=DELETE", false},
		{"x_method=DELETE", false},
		{"payment_method=card", false},
		{"_methods=DELETE", false},
		{"page=2&sort=_method", false},
		{"q=a%26_method%3DDELETE", false}, // an escaped '&' is part of the value
		{"name=" + strings.Repeat("x", 100000) + "&ok=1", false},
		{"", false},
	} {
		for _, chunks := range [][]int{nil, {1}, {2}, {3, 5}, {7}} {
			got, err := scan(urlencodedForm, "", tt.body, chunks)
			if (err != nil) != tt.override {
				t.Errorf("%.40q in reads of %v: error %v, want override %v", tt.body, chunks, err, tt.override)
			}
			if err == nil && got != tt.body {
				t.Errorf("%.40q in reads of %v: passed %.40q", tt.body, chunks, got)
			}
			if err != nil && strings.Contains(got, "DELETE") {
				t.Errorf("%.40q in reads of %v: the value got through: %q", tt.body, chunks, got)
			}
		}
	}
}

// TestOverrideScannerTokens: with tokens set, an access_token field is
// refused in urlencoded and multipart bodies under the spellings readers
// accept, before its value is passed; without, it is passed; method
// overrides are refused either way.
func TestOverrideScannerTokens(t *testing.T) {
	const secret = "SECRETTOKEN"
	for _, tt := range []struct {
		body string
		err  error // with tokens; nil: passed
	}{
		{"access_token=" + secret, errTokenBody},
		{"a=1&access_token=" + secret, errTokenBody},
		{"a=1;access_token=" + secret, errTokenBody},
		{"Access_Token=" + secret, errTokenBody},
		{"access%5Ftoken=" + secret, errTokenBody},
		{"%61ccess_token=" + secret, errTokenBody},
		{"access.token=" + secret, errTokenBody},
		{"access+token=" + secret, errTokenBody},
		{"+access_token=" + secret, errTokenBody},
		{"access_token[]=" + secret, errTokenBody},
		{"[access_token]=" + secret, errTokenBody}, // Rack 2 drops leading brackets
		{"access_token%00x=" + secret, errTokenBody},
		{"access_token", errTokenBody},
		{"_method=DELETE&access_token=" + secret, errMethodOverrideBody},
		{"token=x", nil},
		{"my_access_token=x", nil},
		{"access_tokens=x", nil},
		{"q=access_token%3D" + secret, nil}, // in a value
		{"authenticity_token=x&payment_method=card", nil},
	} {
		for _, chunks := range [][]int{nil, {1}, {2}, {3, 5}, {7}} {
			got, err := scanWith(urlencodedForm, "", tt.body, chunks, true)
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Errorf("%.40q in reads of %v: error %v, want %v", tt.body, chunks, err, tt.err)
			}
			if err == nil && got != tt.body {
				t.Errorf("%.40q in reads of %v: passed %.40q", tt.body, chunks, got)
			}
			if err != nil && strings.Contains(got, secret) {
				t.Errorf("%.40q in reads of %v: the token got through: %q", tt.body, chunks, got)
			}
			if got, err := scanWith(urlencodedForm, "", tt.body, chunks, false); tt.err == errTokenBody && (err != nil || got != tt.body) {
				t.Errorf("%.40q in reads of %v without tokens: %v, passed %.40q; want it passed", tt.body, chunks, err, got)
			}
		}
	}
	for _, tt := range []struct {
		disposition string
		refused     bool
	}{
		{`form-data; name="access_token"`, true},
		{`form-data; name=access_token`, true},
		{`form-data; NAME="ACCESS_TOKEN"`, true},
		{`form-data; name="access%5Ftoken"`, true},
		{`form-data; name*=UTF-8''access%5Ftoken`, true},
		{`form-data; name="access.token"`, true},
		{`form-data; name="access_token[]"`, true},
		{`form-data; name='access_token'`, true}, // PHP's quotes
		{`form-data; name="access_token"; name="x"`, true},
		{`form-data; name="authenticity_token"`, false},
		{`form-data; name="x"; filename="access_token"`, false},
	} {
		body, boundary := multipartBody(t, `form-data; name="a"`, "1", tt.disposition, secret, `form-data; name="b"`, "2")
		for _, chunks := range [][]int{nil, {1}, {3, 5}, {13}} {
			got, err := scanWith(multipartForm, boundary, body, chunks, true)
			if (err != nil) != tt.refused || err != nil && !errors.Is(err, errTokenBody) {
				t.Errorf("%s in reads of %v: error %v, want refused %v", tt.disposition, chunks, err, tt.refused)
			}
			if err == nil && got != body {
				t.Errorf("%s in reads of %v: passed %q", tt.disposition, chunks, got)
			}
			if err != nil && strings.Contains(got, secret) {
				t.Errorf("%s in reads of %v: the token got through: %q", tt.disposition, chunks, got)
			}
		}
	}
	body, boundary := multipartBody(t, `form-data; name="x"`, "1")
	body = strings.Replace(body, `Content-Disposition: form-data; name="x"`, "Content-ID: access_token", 1)
	if _, err := scanWith(multipartForm, boundary, body, nil, true); !errors.Is(err, errTokenBody) {
		t.Errorf("Content-ID: access_token (Rack's name for a part without one): %v, want refused", err)
	}
}

// multipartBody writes fields (name, value pairs) with mime/multipart's
// writer and returns the body and its boundary.
func multipartBody(t *testing.T, fields ...string) (string, string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for i := 0; i+1 < len(fields); i += 2 {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fields[i])
		p, err := w.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(p, fields[i+1])
	}
	_ = w.Close()
	return b.String(), w.Boundary()
}

func TestOverrideScannerMultipart(t *testing.T) {
	for _, tt := range []struct {
		disposition string
		override    bool
	}{
		{`form-data; name="_method"`, true},
		{`form-data; name=_method`, true},
		{`form-data; NAME="_METHOD"`, true},
		{`form-data; name="%5Fmethod"`, true},
		{`form-data; name*=UTF-8''%5Fmethod`, true},
		{`form-data; name=".method"`, true},
		{`form-data; name="_method[]"`, true},
		{`form-data; name="_method"; name="x"`, true}, // unreadable (repeated), mentions method
		{`form-data; name="a"; filename="x.txt"`, false},
		{`form-data; name="payment_method"`, false},
		{`form-data; name="_methods"`, false},
		{`form-data; name="x"; filename="_method"`, false},
	} {
		body, boundary := multipartBody(t, `form-data; name="a"`, "1", tt.disposition, "DELETE", `form-data; name="b"`, "2")
		for _, chunks := range [][]int{nil, {1}, {2}, {3, 5}, {13}} {
			got, err := scan(multipartForm, boundary, body, chunks)
			if (err != nil) != tt.override {
				t.Errorf("%s in reads of %v: error %v, want override %v", tt.disposition, chunks, err, tt.override)
			}
			if err == nil && got != body {
				t.Errorf("%s in reads of %v: passed %q", tt.disposition, chunks, got)
			}
			if err != nil && strings.Contains(got, "DELETE") {
				t.Errorf("%s in reads of %v: the value got through: %q", tt.disposition, chunks, got)
			}
		}
	}
}

// TestOverrideScannerMultipartForms: the delimiter and header forms other
// parsers accept (LF line ends, folded headers, padding after the
// delimiter, a preamble, parts after the closing delimiter) do not hide
// a field.
func TestOverrideScannerMultipartForms(t *testing.T) {
	const b = "XyZ"
	for _, tt := range []struct {
		name     string
		body     string
		override bool
	}{
		{"crlf", "--XyZ\r\nContent-Disposition: form-data; name=\"_method\"\r\n\r\nDELETE\r\n--XyZ--\r\n", true},
		{"lf", "--XyZ\nContent-Disposition: form-data; name=\"_method\"\n\nDELETE\n--XyZ--\n", true},
		{"preamble", "preamble line\r\n--XyZ\r\nContent-Disposition: form-data; name=\"_method\"\r\n\r\nDELETE\r\n--XyZ--", true},
		{"padding", "--XyZ  \r\nContent-Disposition: form-data; name=\"_method\"\r\n\r\nDELETE\r\n--XyZ--", true},
		{"folded", "--XyZ\r\nContent-Disposition: form-data;\r\n name=\"_method\"\r\n\r\nDELETE\r\n--XyZ--", true},
		{"header case", "--XyZ\r\ncontent-DISPOSITION : form-data; name=\"_method\"\r\n\r\nDELETE\r\n--XyZ--", true},
		{"second header", "--XyZ\r\nContent-Type: text/plain\r\nContent-Disposition: form-data; name=_method\r\n\r\nDELETE\r\n--XyZ--", true},
		{"after close", "--XyZ--\r\n--XyZ\r\nContent-Disposition: form-data; name=\"_method\"\r\n\r\nDELETE\r\n--XyZ--", true},
		{"cut off", "--XyZ\r\nContent-Disposition: form-data; name=\"_method\"", true},
		{"header over 16 KiB", "--XyZ\r\nX-Pad: " + strings.Repeat("p", 17<<10) + "\r\n\r\nDELETE", true},
		{"delimiter in data", "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx --XyZ name=\"_method\"\r\n--XyZ--", false},
		{"longer boundary", "--XyZW\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--XyZ--", false},
		{"big file", "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a\"\r\n\r\n" + strings.Repeat("_method\r\n", 20000) + "\r\n--XyZ--", false},
	} {
		for _, chunks := range [][]int{nil, {1}, {4}, {3, 7}} {
			got, err := scan(multipartForm, b, tt.body, chunks)
			if (err != nil) != tt.override {
				t.Errorf("%s in reads of %v: error %v, want override %v", tt.name, chunks, err, tt.override)
			}
			if err != nil && strings.Contains(got, "DELETE") {
				t.Errorf("%s in reads of %v: the value got through", tt.name, chunks)
			}
		}
	}
}

// TestOverrideScannerDifferential compares the streaming scanner, fed in
// random reads, with a reference that shares no code with it: the whole
// body split and decoded with net/url (urlencoded), or parsed with
// mime/multipart (multipart), on random forms of realistic field names.
func TestOverrideScannerDifferential(t *testing.T) {
	names := []string{"_method", "_METHOD", "%5Fmethod", "method", "payment_method", "id", "user[name]",
		"authenticity_token", " _method", ".method", "[method", "_methodx", "commit", "a+b", "%41", "_method[]", "utf8",
		"[_method]", "%5D_method", "post[_method]", "[]", "]]", "[method]", "[[method", "%5B%5B_method", "_method]x"}
	values := []string{"DELETE", "1", "", "a=b", "%26", "x;y", "caf%C3%A9", "+"}
	rng := rand.New(rand.NewPCG(1, 2))
	reference := func(body string) bool {
		for _, kv := range strings.FieldsFunc(body, func(r rune) bool { return r == '&' || r == ';' }) {
			k, _, _ := strings.Cut(kv, "=")
			u, err := url.QueryUnescape(k)
			if err != nil {
				return true
			}
			if i := strings.IndexByte(u, 0); i >= 0 {
				u = u[:i]
			}
			u = strings.TrimLeft(u, " ")
			// Rack 2: \A[\[\]]*([^\[\]]+)
			if m := regexp.MustCompile(`\A[\[\]]*([^\[\]]+)`).FindStringSubmatch(u); m != nil && len(m[1]) == 7 && strings.Contains("_.", m[1][:1]) && strings.EqualFold(m[1][1:], "method") {
				return true
			}
			// PHP: "[method" is "_method"
			if m := regexp.MustCompile(`\A\[([^\[\]]+)`).FindStringSubmatch(u); m != nil && strings.EqualFold(m[1], "method") {
				return true
			}
		}
		return false
	}
	for i := 0; i < 3000; i++ {
		var fields []string
		for range rng.IntN(6) {
			fields = append(fields, names[rng.IntN(len(names))]+"="+values[rng.IntN(len(values))])
		}
		body := strings.Join(fields, "&")
		chunks := []int{1 + rng.IntN(9), 1 + rng.IntN(30)}
		_, err := scan(urlencodedForm, "", body, chunks)
		if want := reference(body); (err != nil) != want {
			t.Fatalf("urlencoded %q in reads of %v: error %v, reference says override %v", body, chunks, err, want)
		}
	}
	mpReference := func(body, boundary string) bool {
		r := multipart.NewReader(strings.NewReader(body), boundary)
		for {
			p, err := r.NextPart()
			if err != nil {
				return false
			}
			if reference(url.QueryEscape(p.FormName())) {
				return true
			}
		}
	}
	for i := 0; i < 1000; i++ {
		var fields []string
		for range rng.IntN(5) {
			n, _ := url.QueryUnescape(names[rng.IntN(len(names))])
			fields = append(fields, `form-data; name="`+n+`"`, values[rng.IntN(len(values))])
		}
		body, boundary := multipartBody(t, fields...)
		chunks := []int{1 + rng.IntN(9), 1 + rng.IntN(60)}
		_, err := scan(multipartForm, boundary, body, chunks)
		if want := mpReference(body, boundary); (err != nil) != want {
			t.Fatalf("multipart %q in reads of %v: error %v, reference says override %v", body, chunks, err, want)
		}
	}
}

func TestFormBody(t *testing.T) {
	for _, tt := range []struct {
		ct       []string
		kind     formKind
		boundary string
		err      bool
	}{
		{nil, urlencodedForm, "", false},
		{[]string{"application/x-www-form-urlencoded"}, urlencodedForm, "", false},
		{[]string{"Application/X-WWW-Form-URLEncoded; charset=utf-8"}, urlencodedForm, "", false},
		{[]string{"application/x-www-form-urlencoded, text/plain"}, urlencodedForm, "", false},
		{[]string{"application/x-www-form-urlencoded; bad"}, urlencodedForm, "", false},
		{[]string{""}, urlencodedForm, "", false},
		{[]string{"multipart/form-data; boundary=abc"}, multipartForm, "abc", false},
		{[]string{`Multipart/Mixed; boundary="a b"`}, multipartForm, "a b", false},
		{[]string{"multipart/form-data"}, notForm, "", true},
		{[]string{"multipart/form-data; boundary=a; boundary=b"}, notForm, "", true},
		{[]string{"application/json"}, jsonForm, "", false},
		{[]string{"application/vnd.api+json; charset=utf-8"}, jsonForm, "", false},
		{[]string{"text/plain; x=/json"}, jsonForm, "", false}, // Laravel looks anywhere
		{[]string{"text/plain"}, notForm, "", false},
		{[]string{"text/plain", "application/x-www-form-urlencoded"}, notForm, "", true},
	} {
		kind, boundary, err := formBody(http.Header{"Content-Type": tt.ct})
		if tt.ct == nil {
			kind, boundary, err = formBody(http.Header{})
		}
		if kind != tt.kind || boundary != tt.boundary || (err != nil) != tt.err {
			t.Errorf("%q: %v %q %v, want %v %q error %v", tt.ct, kind, boundary, err, tt.kind, tt.boundary, tt.err)
		}
		if err != nil && !errors.Is(err, errFormType) {
			t.Errorf("%q: error %v is not errFormType", tt.ct, err)
		}
	}
}

// The scanner passes a body's read errors through.
func TestOverrideScannerReadError(t *testing.T) {
	boom := errors.New("boom")
	s := newOverrideScanner(io.NopCloser(iotest.ErrReader(boom)), urlencodedForm, "", false)
	if _, err := s.Read(make([]byte, 8)); !errors.Is(err, boom) {
		t.Fatalf("error %v, want %v", err, boom)
	}
}

// BenchmarkOverrideScanner: a 10 KiB form, a 1 MiB upload, 1 MiB of
// adversarial part headers and 10 KiB JSON documents read through the
// scanner, against the same bodies copied as they are.
func BenchmarkOverrideScanner(b *testing.B) {
	var form strings.Builder
	for i := 0; form.Len() < 10<<10; i++ {
		form.WriteString("post%5Bbody%5D=Lorem+ipsum+dolor+sit+amet%2C+consectetur&post%5Btags%5D%5B%5D=go&")
	}
	var upload bytes.Buffer
	w := multipart.NewWriter(&upload)
	_ = w.WriteField("authenticity_token", "qmXyZ0rLhZ2sBvQ8kJxN4Wm1pR7tUe9aYc3oVb6dFg")
	fw, _ := w.CreateFormFile("photo", "IMG_2041.jpg")
	photo := make([]byte, 1<<20) // compressed image data: as good as random
	_, _ = rand.NewChaCha8([32]byte{7}).Read(photo)
	_, _ = fw.Write(photo)
	_ = w.Close()
	// Parts whose header blocks are 16 KiB of folded lines: unfolding
	// them was quadratic (1.4 s for this MiB).
	folded := strings.Repeat("--XyZ\r\nContent-Disposition: form-data; name=a\r\n"+strings.Repeat(" x\r\n", 4000)+"\r\nv\r\n", 64)
	// And of one line of Content-IDs, each read to the line's end
	// before (0.8 s for this MiB).
	// (Lines under the 4 KiB a part header line may have.)
	contentID := strings.Repeat("--XyZ\r\n"+strings.Repeat(strings.Repeat("Content-ID:", 350)+"\r\n", 4)+"\r\nv\r\n", 68)
	// A JSON:API document of orders, with an escape in every record
	// (a note quoting a name) or in none.
	orders := func(note string) string {
		var doc strings.Builder
		doc.WriteString(`{"data":[`)
		for i := 0; doc.Len() < 10<<10; i++ {
			if i > 0 {
				doc.WriteString(",")
			}
			fmt.Fprintf(&doc, `{"id":%d,"type":"orders","attributes":{"status":"shipped","total":"129.90","currency":"EUR","note":%q,"items":[{"sku":"A-%d","qty":2}]}}`, 1000+i, note, i)
		}
		doc.WriteString(`]}`)
		return doc.String()
	}
	buf := make([]byte, 32<<10)
	for _, tt := range []struct {
		name, body, boundary string
		kind                 formKind
	}{
		{"form-10KiB", form.String(), "", urlencodedForm},
		{"upload-1MiB", upload.String(), w.Boundary(), multipartForm},
		{"folded-headers-1MiB", folded, "XyZ", multipartForm},
		{"content-id-headers-1MiB", contentID, "XyZ", multipartForm},
		{"json-10KiB", orders("Leave at the door"), "", jsonForm},
		{"json-escapes-10KiB", orders(`Leave at "B"`), "", jsonForm},
		// The slowest JSON found: a name "_method" waiting for a ':'
		// across a MiB of spaces (read byte by byte), and a MiB of
		// escapes.
		{"json-pending-spaces-1MiB", `["_method"` + strings.Repeat(" ", 1<<20) + `]`, "", jsonForm},
		{"json-backslashes-1MiB", `["` + strings.Repeat(`\\`, 1<<18) + `"]`, "", jsonForm},
	} {
		for _, scanned := range []bool{false, true} {
			name := tt.name + "/copy"
			if scanned {
				name = tt.name + "/scanned"
			}
			b.Run(name, func(b *testing.B) {
				b.SetBytes(int64(len(tt.body)))
				for b.Loop() {
					var r io.ReadCloser = io.NopCloser(strings.NewReader(tt.body))
					if scanned {
						r = newOverrideScanner(r, tt.kind, tt.boundary, false)
					}
					if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{r}, buf); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestOverrideScannerParserQuirks: names and part forms that Rack 2,
// Rack 3 or PHP read as "_method" although Go's parsers do not.
func TestOverrideScannerParserQuirks(t *testing.T) {
	for _, tt := range []struct {
		name     string
		kind     formKind
		body     string
		override bool
	}{
		// Rack 2's normalize_params matches \A[\[\]]*([^\[\]]+)\]*: the
		// brackets around a top-level name are dropped.
		{"rack 2 brackets", urlencodedForm, "[_method]=DELETE", true},
		{"rack 2 leading brackets", urlencodedForm, "a=1&[]]_method=DELETE", true},
		{"rack 2 trailing bracket", urlencodedForm, "_method]=DELETE", true},
		{"rack 2 escaped brackets", urlencodedForm, "%5B_method%5D=DELETE", true},
		{"rack 2 multipart brackets", multipartForm, "--XyZ\r\nContent-Disposition: form-data; name=\"[_method]\"\r\n\r\nDELETE\r\n--XyZ--", true},
		{"brackets legit", urlencodedForm, "post[method]=x&[id]=1&_methods]=2", false},
		// PHP quotes parameters with ' as well as ", and its header
		// reader appends a line without ':' to the header before it.
		{"php single quotes", multipartForm, "--XyZ\r\nContent-Disposition: form-data; name='_method'\r\n\r\nDELETE\r\n--XyZ--", true},
		{"php continuation", multipartForm, "--XyZ\r\nContent-Disposition: form-data; name=_me\r\nthod\r\n\r\nDELETE\r\n--XyZ--", true},
		// Rack 2's MULTIPART_CONTENT_DISPOSITION is not anchored to the
		// header and crosses lines; Rack 2.0's is .*\s+name=.
		{"rack regex in another header", multipartForm, "--XyZ\r\nX-Note: Content-Disposition: form-data; name=_method\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nDELETE\r\n--XyZ--", true},
		{"rack 2.0 name in a quoted value", multipartForm, "--XyZ\r\nContent-Disposition: form-data; name=\"a\"; x=\"y name=_method\"\r\n\r\nDELETE\r\n--XyZ--", true},
		// Rack names a part without a name after its Content-ID.
		{"rack content-id", multipartForm, "--XyZ\r\nContent-ID: _method\r\n\r\nDELETE\r\n--XyZ--", true},
		// Rack 2's consume_boundary compares each line stripped.
		{"rack 2 indented delimiter", multipartForm, "  --XyZ\r\nContent-Disposition: form-data; name=\"_method\"\r\n\r\nDELETE\r\n--XyZ--", true},
		{"rack 2 tab delimiter", multipartForm, "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1 --XyZ\r\n\t--XyZ\r\nContent-Disposition: form-data; name=\"_method\"\r\n\r\nDELETE\r\n--XyZ--", true},
		// Rack (2 and 3) ends a part's head at "\r\n\r\n" only; Go and
		// PHP at a bare-LF empty line: Rack reads the next lines as
		// headers. A head not ended by CRLF CRLF is refused.
		{"rack head past a bare LF", multipartForm, "--XyZ\r\nContent-Disposition: form-data\n\nContent-Disposition: form-data; name=\"_method\"\r\n\r\nDELETE\r\n--XyZ--", true},
		{"lf only", multipartForm, "--XyZ\nContent-Disposition: form-data; name=\"a\"\n\n1\n--XyZ--\n", true},
		// Rack 2 ends a line at the end of each read of the body (1 MiB,
		// or what the socket gives under Unicorn): "xx" and
		// "--XyZ\r\n" in two reads is a delimiter line.
		{"rack 2 delimiter after a read's end", multipartForm, "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\nxx--XyZ \r\nContent-Disposition: form-data; name=\"_method\"\r\n\r\nDELETE\r\n--XyZ--", true},
		{"delimiter inside a line", multipartForm, "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nxx--XyZ yy\r\nContent-Disposition: form-data; name=\"_method\"\r\n\r\nDELETE\r\n--XyZ--", false},
		// PHP reads a line longer than its 5 KiB buffer in pieces: in
		// the preamble, a piece may start with the delimiter; in a
		// header, a piece may be "Content-Disposition:name=_method",
		// whose first word PHP reads as a parameter.
		{"php preamble line split", multipartForm, strings.Repeat("x", 5120) + "--XyZ junk\r\nContent-Disposition: form-data; name=\"_method\"\r\n\r\nDELETE\r\n--XyZ--", true},
		{"php header line split", multipartForm, "--XyZ\r\nX-Pad: " + strings.Repeat("p", 5113) + "Content-Disposition:name=_method\r\n\r\nDELETE\r\n--XyZ--", true},
		{"php header line split in a quoted name", multipartForm, "--XyZ\r\nContent-Disposition: form-data; x=\"" + strings.Repeat("p", 5060) + "\"; name=\"_method" + "X: \"\r\n\r\nDELETE\r\n--XyZ--", true},
		{"preamble legit", multipartForm, "This is a multi-part message in MIME format.\r\n--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1 --XyZ junk\r\n--XyZ--", false},
		{"quirks legit", multipartForm, "--XyZ\r\nContent-Disposition: form-data; name=\"a\"; filename=\"_method\"\r\nContent-ID: <part1@x>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nname=_method\r\n --not the delimiter\r\n--XyZ--", false},
	} {
		for _, chunks := range [][]int{nil, {1}, {3, 7}} {
			got, err := scan(tt.kind, "XyZ", tt.body, chunks)
			if (err != nil) != tt.override {
				t.Errorf("%s in reads of %v: error %v, want override %v", tt.name, chunks, err, tt.override)
			}
			if err == nil && got != tt.body {
				t.Errorf("%s in reads of %v: passed %q", tt.name, chunks, got)
			}
			if err != nil && strings.Contains(got, "DELETE") {
				t.Errorf("%s in reads of %v: the value got through", tt.name, chunks)
			}
		}
	}
}

// TestFormBodyParserQuirks: Content-Types that Rack or PHP read as a form
// other than Go does. Rack takes the last "boundary=" ([^";,]+) and, when
// it finds none, parses the body as urlencoded; PHP takes the text after
// the first "boundary" and the next '=', and ends the media type at a
// space as well as at ';' and ','.
func TestFormBodyParserQuirks(t *testing.T) {
	for _, tt := range []struct {
		ct, ce string
		kind   formKind
		err    bool
	}{
		// Apache's SetInputFilter DEFLATE inflates a request body before
		// PHP reads it; the scanner would read the compressed bytes.
		{"application/x-www-form-urlencoded", "gzip", notForm, true},
		{"multipart/form-data; boundary=B0", "deflate", notForm, true},
		{"application/x-www-form-urlencoded", "identity", urlencodedForm, false},
		{"application/json", "gzip", notForm, true},
		{"application/vnd.api+json", "br", notForm, true},
		{"application/json", "identity", jsonForm, false},
		{"application/octet-stream", "gzip", notForm, false},               // no framework reads _method from it
		{"application/x-www-form-urlencoded x", "", urlencodedForm, false}, // PHP: a form
		{"multipart/form-data x; boundary=B0", "", notForm, true},
		{"multipart/form-data; boundary =B0", "", notForm, true},                 // Rack: no boundary, urlencoded
		{"multipart/form-data; boundary= B0", "", notForm, true},                 // Rack and PHP: " B0"
		{"multipart/form-data; boundary*=UTF-8''B0", "", notForm, true},          // Rack: no boundary
		{`multipart/form-data; boundary=B0; x="boundary=B1"`, "", notForm, true}, // Rack: B1
		{"multipart/form-data; xboundary=B1; boundary=B0", "", notForm, true},    // PHP: B1
		{`multipart/form-data; boundary="B0;x"`, "", notForm, true},              // Rack: B0
		{"multipart/form-data; charset=utf-8; boundary=B0", "", multipartForm, false},
		{`multipart/form-data; boundary="B0"`, "", multipartForm, false},
		{"multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW", "", multipartForm, false},
		{"text/plain x", "", notForm, false},
		// Rack trims a tab around the type; PHP does not.
		{"application/x-www-form-urlencoded\t; charset=utf-8", "", urlencodedForm, false},
		{"application/x-www-form-urlencoded\t, text/plain", "", urlencodedForm, false},
		{"text/plain\t; charset=utf-8", "", notForm, false},
		// Tomcat decodes names in the form's charset.
		{"application/x-www-form-urlencoded; charset=UTF-16", "", notForm, true},
		{"application/x-www-form-urlencoded; Charset = \"utf-32le\"", "", notForm, true},
		{"multipart/form-data; boundary=B0; charset=ibm037", "", notForm, true},
		{"application/x-www-form-urlencoded; charset=iso-8859-15", "", urlencodedForm, false},
		{"application/x-www-form-urlencoded; charset=utf8", "", urlencodedForm, false},
		{"text/plain; charset=utf-16", "", notForm, false},
		// Laravel reads a body as JSON when its type mentions /json
		// or +json anywhere.
		{"application/x-www-form-urlencoded; x=/json", "", notForm, true},
		{"multipart/form-data; boundary=B0; t=a+json", "", notForm, true},
		{"application/vnd.api+json", "", jsonForm, false},
	} {
		h := http.Header{"Content-Type": {tt.ct}}
		if tt.ce != "" {
			h.Set("Content-Encoding", tt.ce)
		}
		kind, _, err := formBody(h)
		if kind != tt.kind || (err != nil) != tt.err {
			t.Errorf("%q %q: %v %v, want %v error %v", tt.ct, tt.ce, kind, err, tt.kind, tt.err)
		}
	}
}

func TestOverrideScannerJSON(t *testing.T) {
	for _, tt := range []struct {
		body     string
		override bool
	}{
		{`{"_method":"DELETE"}`, true},
		{`{"id": 1, "_method" : "DELETE"}`, true},
		{"{\"id\":1,\n  \"_method\"\t:\r\n\"DELETE\"}", true},
		{"{\"_method\"\r\n :\"DELETE\"}", true},
		{`{"\u005fmethod":"DELETE"}`, true},
		{`{"\u005Fmeth\u006fd":"DELETE"}`, true},
		{`{"_METHOD":"DELETE"}`, false}, // PHP's array keys are case-sensitive
		{`{".method":"DELETE"}`, false}, // JSON names are not mangled as form names
		{`{"post":{"_method":"DELETE"}}`, true},
		{`[{"a":1},{"_method":"DELETE"}]`, true},
		{`{"long":"` + strings.Repeat(`x\"y`, 5000) + `","_method":"DELETE"}`, true},
		{`{"a":"\\","_method":"DELETE"}`, true}, // an escaped backslash ends before the quote
		{`{"payment_method":"card"}`, false},
		{`{"sort":"_method"}`, false},
		{`["_method", "DELETE"]`, false},
		{`{"a":"_method","b":1}`, false},
		{`{"_method_":"DELETE"}`, false},
		{`{" _method":"DELETE"}`, false},
		{`{"a":"\"_method\":1"}`, false}, // inside a string
		{`{"_m\u00e9thod":"DELETE"}`, false},
		{`{"emoji":"\ud83d\ude00","n":-1.5e3,"t":true,"z":null}`, false},
		{``, false},
	} {
		for _, chunks := range [][]int{nil, {1}, {2}, {3, 5}, {7}} {
			got, err := scan(jsonForm, "", tt.body, chunks)
			if (err != nil) != tt.override {
				t.Errorf("%.60s in reads of %v: error %v, want override %v", tt.body, chunks, err, tt.override)
			}
			if err == nil && got != tt.body {
				t.Errorf("%.60s in reads of %v: passed %.60q", tt.body, chunks, got)
			}
			if err != nil && strings.Contains(got, "DELETE") {
				t.Errorf("%.60s in reads of %v: the value got through: %q", tt.body, chunks, got)
			}
		}
	}
}

// TestOverrideScannerJSONDifferential compares the scanner, in random
// reads, with encoding/json's decoding of random documents whose keys are
// escaped at random.
func TestOverrideScannerJSONDifferential(t *testing.T) {
	names := []string{"_method", "_METHOD", "method", "payment_method", "id", "_methods", ".method", "title", "a\"b", "é", "_meth\\od"}
	rng := rand.New(rand.NewPCG(3, 4))
	escapeKey := func(k string) string {
		var b strings.Builder
		b.WriteByte('"')
		for _, r := range k {
			switch {
			case r == '"' || r == '\\':
				b.WriteString(`\` + string(r))
			case rng.IntN(3) == 0:
				fmt.Fprintf(&b, `\u%04x`, r)
			default:
				b.WriteRune(r)
			}
		}
		b.WriteByte('"')
		return b.String()
	}
	var gen func(depth int) string
	gen = func(depth int) string {
		switch n := rng.IntN(6); {
		case depth > 3 || n == 0:
			return []string{`1`, `"DELETE"`, `"_method"`, `null`, `"x\"y\\"`, `true`}[rng.IntN(6)]
		case n == 1:
			var els []string
			for range rng.IntN(4) {
				els = append(els, gen(depth+1))
			}
			return "[" + strings.Join(els, ", ") + "]"
		default:
			var fields []string
			seen := map[string]bool{} // no repeated keys: encoding/json keeps the last, the scanner refuses any
			for range rng.IntN(4) {
				name := names[rng.IntN(len(names))]
				if seen[name] {
					continue
				}
				seen[name] = true
				fields = append(fields, escapeKey(name)+[]string{":", " : ", ":\n ", "\r\n\t:"}[rng.IntN(4)]+gen(depth+1))
			}
			return "{" + strings.Join(fields, ",") + "}"
		}
	}
	var hasOverride func(v any) bool
	hasOverride = func(v any) bool {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if k == "_method" || hasOverride(e) {
					return true
				}
			}
		case []any:
			for _, e := range v {
				if hasOverride(e) {
					return true
				}
			}
		}
		return false
	}
	for i := 0; i < 10000; i++ {
		doc := gen(0)
		chunks := []int{1 + rng.IntN(9), 1 + rng.IntN(40)}
		if i%10 == 0 {
			// Large documents in large reads: the windows of 512 bytes
			// and their seams.
			var docs []string
			for range 40 {
				docs = append(docs, gen(0))
			}
			doc = "[" + strings.Join(docs, ",") + "]"
			chunks = []int{300 + rng.IntN(2000), 1 + rng.IntN(700)}
		}
		var v any
		if err := json.Unmarshal([]byte(doc), &v); err != nil {
			t.Fatalf("generated %s: %v", doc, err)
		}
		_, err := scan(jsonForm, "", doc, chunks)
		if want := hasOverride(v); (err != nil) != want {
			t.Fatalf("%s in reads of %v: error %v, encoding/json finds an override: %v", doc, chunks, err, want)
		}
	}
}
