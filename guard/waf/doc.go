// Package waf filters HTTP requests with the OWASP Core Rule Set (CRS v4)
// running on the Coraza web application firewall.
//
// New compiles the rule set, embedded in the binary by
// github.com/corazawaf/coraza-coreruleset, with a paranoia level (1 to 4)
// and an inbound anomaly threshold: every matching rule adds to the
// request's score (5 for a critical match such as SQL injection or XSS),
// and a request whose score reaches the threshold is blocked. The WAF
// answers [WAF.Check] (the decision), [WAF.Inspect] (the decision and the
// request to serve, body intact) and [WAF.Handler] (middleware: 403 with
// a fixed body for a blocked request). In Detect mode nothing is blocked:
// matches are only reported, to Config.OnMatch and in the [Decision], so a
// rule set can be tried on real traffic before it refuses any.
//
// # Security trade-offs
//
// False positives. CRS is generic: at paranoia level 1 it already refuses
// some legitimate requests, such as prose that reads as SQL ("please; drop
// me a line"), an Expect: 100-continue header (an HTTP desync defence;
// .NET clients and curl for large uploads send it), a compressed body
// (Content-Encoding), and bodies whose type is not form, multipart, XML or
// JSON (Config.AllowedContentTypes). Higher paranoia levels catch more
// attacks and refuse much more, from apostrophes to HTML in rich text.
// Start in Detect mode, read the matches, then block. Ward widens CRS's
// allowed methods to include PUT, PATCH and DELETE (Config.AllowedMethods).
//
// False negatives. Signatures miss what they were not written for, and
// anything the WAF cannot see: compressed or encrypted payloads, bodies of
// types no body processor reads, and, in Detect mode, body bytes beyond
// MaxBodyBytes. A WAF is a layer in front of correct code, not a
// substitute for parameterised queries and output encoding.
//
// Requests only. The URI, headers and up to MaxBodyBytes of body are
// inspected; responses are not, so CRS's data-leakage rules (95x) never
// run.
//
// Encoded bodies. In Block mode a body with a Content-Encoding other than
// identity (gzip, br, ...) is refused with 415 before the body rules run,
// at any threshold: the rules would see compressed bytes, and an
// application that decompresses request bodies would read a payload that
// only protocol rules scored (920450 for the restricted header, 920270
// for a NUL byte: 10 points, under a threshold raised to 15). Detect mode
// passes it on, with those matches reported. So is a body whose
// Content-Type names a charset that is not ASCII-compatible (UTF-7,
// UTF-16, EBCDIC...; see [ReadableCharsets]): the rules read the bytes as
// UTF-8 or Latin text, and CRS's own check (920480) reads only the first
// parameter spelled "charset" in lower case, scoring 5; a multipart part
// in such a charset is refused with 400 (CRS's 922110 scores it 5), and
// a query or form (urlencoded or multipart) whose _charset_ field names
// one with 415 (Jetty 12, Sling and mu-server decode the other fields in
// it; CRS's 922100 scores a multipart one 5, nothing the others).
//
// Bodies. Up to MaxBodyBytes (default 128 KiB) of body is read into memory
// before the upstream sees any of it, and Coraza keeps a second copy while
// it inspects: budget twice MaxBodyBytes per request in flight. In Block
// mode a longer body is refused with 413 (without reading it when
// Content-Length announces it); in Detect mode its first MaxBodyBytes are
// inspected and the whole body is passed on. A body that cannot be parsed
// as its Content-Type says (malformed JSON sent as application/json) is
// refused with 400, as is a request with more than 1000 arguments in its
// query, path or body: Coraza drops arguments beyond that unseen, and
// filler arguments must not hide an attack.
//
// Request targets. net/http keeps a raw "#" in the request target as part
// of the path and parses the query after it ("/#?q=x" has the query q=x),
// where Coraza would cut the target at "#" as a fragment and never see the
// query: in Block mode such a request is refused with 400 (no client sends
// a fragment), in Detect mode the target is inspected as net/http reads
// it, the "#" escaped.
//
// Bodies are also read as servers behind the WAF may read them, where
// Coraza (Go's readers) does not: multipart parts after the closing
// delimiter, parts PHP takes for fields where Go reads a file name
// (filename* alone, "filename ="), and parts Go's ParseMultipartForm
// reads as values where Coraza reads a file name ("filename" with an
// empty "filename*"), are inspected as arguments; a multipart body
// holding its delimiter where Go reads none, or a part with a
// Content-Transfer-Encoding (base64, quoted-printable: some readers
// decode it, others do not), is refused with 400 (7bit, 8bit and binary
// change no byte and pass: in Block mode CRS's 922120, which scores any
// Content-Transfer-Encoding, is removed, as Apache HttpClient 4 writes
// them on every part); a body that looks like
// JSON under another type has its string literals inspected (in UTF-16
// and UTF-32 too, which Python's json.loads detects without a charset),
// and so has a multipart part typed JSON, a file or not, and one typed
// XML its text and attribute values as for an XML body (Coraza gives the
// rules their text with its \u escapes or character references, the
// application decodes them), and an upload's file names as sent
// ("filename" and "filename*" both; CRS looks at them for quotes, ";"
// and "=" only);
// XML attribute values (which CRS leaves out) are inspected, namespace
// and schema attributes aside, and so is an element's text joined across
// comments, CDATA sections, processing instructions and child elements,
// as DOM and ElementTree readers join it (Coraza gives the rules each
// run apart); an XML document type declaration other than a bare
// <!DOCTYPE name> (whose entities Java's, Python's and libxml2's parsers
// expand, Go's does not) is refused with 400. Quoted cookie values are
// inspected as Python applications read them too: unquoted, octal and
// backslash escapes decoded (Django, Werkzeug).
//
// Cost. CRS runs hundreds of regular expressions over every argument:
// expect hundreds of microseconds for a plain GET and tens of milliseconds
// per KiB of a JSON body with many small fields. Put the WAF after
// authentication and rate limiting in a chain, so that anonymous clients
// cannot spend its CPU freely, and enable it only on routes that need it.
//
// Logs. Match.Data holds up to 100 bytes of what matched, which may be
// part of a parameter value that a client sent (a password field, say).
// The response to a blocked client names no rule, message or score.
package waf
