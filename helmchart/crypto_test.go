package helmchart

import (
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
)

// TestCheapCrypto: sprig's key, certificate and hash functions make the
// same kinds of output from keys made once per process, so a loop of
// them costs no more than other functions. Before, each genPrivateKey
// "rsa" made a 4096-bit key (twenty took 80 s, in each render of the
// chart) and each genCA a 2048-bit one; derivePassword (scrypt) is
// bounded to maxDerived calls a render, past which the render is an
// error at the template's line.
func TestCheapCrypto(t *testing.T) {
	const tpl = `apiVersion: v1
kind: Secret
metadata: {name: s}
stringData:
  a: {{ genPrivateKey "rsa" | quote }}
  b: {{ genPrivateKey "rsa" | quote }}
  e: {{ genPrivateKey "ecdsa" | quote }}
  ca: {{ $ca := genCA "ca" 365 }}{{ $ca.Cert | quote }}
  cert: {{ (genSignedCert "svc" nil (list "svc.ns") 365 $ca).Cert | quote }}
  self: {{ (genSelfSignedCert "x" nil nil 365).Key | quote }}
  pw: {{ htpasswd "user" "pw" | quote }}
  bad: {{ genPrivateKey "nope" | quote }}
  d: {{ derivePassword 1 "long" "pw" "user" "example.com" | quote }}
`
	c, err := Render(write(t, map[string]string{
		"Chart.yaml":       "apiVersion: v2\nname: app\nversion: 0.1.0\n",
		"templates/s.yaml": tpl,
	}), Options{})
	if err != nil {
		t.Fatal(err)
	}
	data := get(objects(t, c)["app/templates/s.yaml Secret/s"], "stringData").(map[string]any)
	if data["a"] != data["b"] {
		t.Errorf("two genPrivateKey \"rsa\" made two keys:\n%v\n%v", data["a"], data["b"])
	}
	for _, k := range []string{"a", "e", "ca", "cert", "self"} {
		b, _ := pem.Decode([]byte(data[k].(string)))
		if b == nil {
			t.Errorf("%s: not PEM: %q", k, data[k])
			continue
		}
		switch b.Type {
		case "RSA PRIVATE KEY":
			_, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			_, err = x509.ParseECPrivateKey(b.Bytes)
		case "CERTIFICATE":
			_, err = x509.ParseCertificate(b.Bytes)
		default:
			t.Errorf("%s: PEM of type %s", k, b.Type)
		}
		if err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	if pw := data["pw"].(string); !strings.HasPrefix(pw, "user:$2a$04$") {
		t.Errorf("htpasswd: %q, want a bcrypt hash at the lowest cost", pw)
	}
	if data["bad"] != "Unknown type nope" || data["d"] == "" {
		t.Errorf("bad %q, d %q", data["bad"], data["d"])
	}
	e := chartError(t, write(t, map[string]string{
		"Chart.yaml":       "apiVersion: v2\nname: app\nversion: 0.1.0\n",
		"templates/s.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n{{- range $i := until 20 }}\n  k{{ $i }}: {{ derivePassword 1 \"long\" \"pw\" \"u\" (print $i) }}\n{{- end }}\n",
	}), Options{})
	if !strings.HasSuffix(e.File, "templates/s.yaml") || e.Line != 6 || !strings.Contains(e.Err.Error(), "derivePassword") {
		t.Errorf("got %s:%d: %v, want templates/s.yaml:6 about derivePassword", e.File, e.Line, e.Err)
	}
}

// TestCryptoCallsBounded: certificates and bcrypt hashes are bounded to
// maxSigned a render (a millisecond each: a loop of a hundred thousand
// genCA ran for minutes in each render), past which the render is an
// error at the template's line.
func TestCryptoCallsBounded(t *testing.T) {
	defer func(n int) { maxSigned = n }(maxSigned)
	maxSigned = 20
	for _, fn := range []string{`genCA "x" 1`, `htpasswd "u" "p"`} {
		e := chartError(t, write(t, map[string]string{
			"Chart.yaml":       "apiVersion: v2\nname: app\nversion: 0.1.0\n",
			"templates/s.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n{{- range until 50 }}\n{{- $x := " + fn + " }}\n{{- end }}\n",
		}), Options{})
		if !strings.HasSuffix(e.File, "templates/s.yaml") || e.Line != 5 || !strings.Contains(e.Err.Error(), "certificates and bcrypt hashes") {
			t.Errorf("%s: got %s:%d: %v, want templates/s.yaml:5 about certificates", fn, e.File, e.Line, e.Err)
		}
	}
}

// TestCertVariants: a chart that makes its webhook's certificates
// (genCA, genSignedCert, as charts without cert-manager do) is not named
// as rendering otherwise in every variant. Before, each certificate was
// random (serial number, time) in every render: each Kubernetes version
// and values file of the chart named the webhook's template, though
// nothing but the certificates differed, drowning the variant that does
// differ. The certificates are still a valid chain: each signed one
// verifies against the CA it was signed with, for its name.
func TestCertVariants(t *testing.T) {
	const webhook = `{{- $ca := genCA "hook-ca" 365 }}
apiVersion: v1
kind: Secret
metadata: {name: hook-tls}
stringData:
  ca: {{ $ca.Cert | quote }}
{{- range list "a" "b" }}
  {{ . }}: {{ (genSignedCert (printf "%s.ns.svc" .) nil (list (printf "%s.ns.svc" .)) 365 $ca).Cert | quote }}
{{- end }}
  htpasswd: {{ htpasswd "admin" "pw" | quote }}
`
	const deploy = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  r: {{ .Values.replicas | quote }}\n" +
		"{{- if semverCompare \">=1.30-0\" .Capabilities.KubeVersion.Version }}\n  new: \"yes\"\n{{- end }}\n"
	c, err := Render(write(t, map[string]string{
		"Chart.yaml":             "apiVersion: v2\nname: app\nversion: 0.1.0\n",
		"values.yaml":            "replicas: 1\n",
		"values-prod.yaml":       "replicas: 3\n",
		"templates/webhook.yaml": webhook,
		"templates/cm.yaml":      deploy,
	}), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range append(c.KubeVersions, c.ValuesFiles...) {
		if v.Err != nil {
			t.Errorf("%s: %v", v.Name, v.Err)
		}
		if len(v.Templates) != 1 || v.Templates[0] != "app/templates/cm.yaml" {
			t.Errorf("%s: templates %v render otherwise, want the ConfigMap's only", v.Name, v.Templates)
		}
	}
	if len(c.KubeVersions) == 0 || len(c.ValuesFiles) != 1 {
		t.Errorf("Kubernetes versions %v, values files %v: want v1.29.0's and values-prod.yaml's", variantNames(c.KubeVersions), variantNames(c.ValuesFiles))
	}
	data := get(objects(t, c)["app/templates/webhook.yaml Secret/hook-tls"], "stringData").(map[string]any)
	cert := func(k string) *x509.Certificate {
		b, _ := pem.Decode([]byte(data[k].(string)))
		if b == nil {
			t.Fatalf("%s: not PEM", k)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		return c
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert("ca"))
	a, b := cert("a"), cert("b")
	if a.SerialNumber.Cmp(b.SerialNumber) == 0 {
		t.Errorf("two signed certificates share the serial number %v", a.SerialNumber)
	}
	for name, leaf := range map[string]*x509.Certificate{"a": a, "b": b} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: name + ".ns.svc"}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestDerivePasswordOnce: derivePassword gives the same password for the
// same call, so a chart that derives a few passwords in a loop, or in
// each of its many renders (variants), runs scrypt once a call. Before,
// a loop deriving the same two passwords ten times failed past
// maxDerived calls, though helm renders it (the chart was an input
// error, exit 2), and every variant ran scrypt anew.
func TestDerivePasswordOnce(t *testing.T) {
	const tpl = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n{{- range $i := until 10 }}\n  a{{ $i }}: {{ derivePassword 1 \"long\" \"pw\" \"u\" \"a.example\" | quote }}\n  b{{ $i }}: {{ derivePassword 1 \"long\" \"pw\" \"u\" \"b.example\" | quote }}\n{{- end }}\n"
	c, err := Render(write(t, map[string]string{
		"Chart.yaml":       "apiVersion: v2\nname: app\nversion: 0.1.0\n",
		"templates/s.yaml": tpl,
	}), Options{})
	if err != nil {
		t.Fatal(err)
	}
	data := get(objects(t, c)["app/templates/s.yaml ConfigMap/x"], "data").(map[string]any)
	want := sprigFuncs["derivePassword"].(func(uint32, string, string, string, string) string)(1, "long", "pw", "u", "b.example")
	if data["b9"] != want || data["a0"] == data["b0"] || data["a0"] != data["a9"] {
		t.Errorf("b9 %q, want sprig's %q; a0 %q a9 %q", data["b9"], want, data["a0"], data["a9"])
	}
}

// TestMadeOnceBounded: a call with arguments past maxMadeArgs is not
// kept (its result names them: 4096 certificates of a megabyte's common
// name each were kept for the process), and a call under it is kept
// under a key of fixed size.
func TestMadeOnceBounded(t *testing.T) {
	big := strings.Repeat("n", maxMadeArgs+1)
	if k := madeKey("genCA", big); k != (made{}) {
		t.Errorf("a call of %d bytes of arguments is kept: %+v", len(big), k.name)
	}
	madeMu.Lock()
	before := madeN
	madeMu.Unlock()
	remember(madeKey("genCA", big), "result")
	madeMu.Lock()
	after := madeN
	madeMu.Unlock()
	if after != before {
		t.Errorf("remember kept a call past maxMadeArgs (%d -> %d)", before, after)
	}
	small := madeKey("genCA", "webhook.svc")
	if small.name != "genCA" || small == madeKey("genCA", "other.svc") {
		t.Errorf("calls under the bound: %+v", small)
	}
}
