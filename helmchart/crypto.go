package helmchart

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"golang.org/x/crypto/bcrypt"
)

// Sprig's key and certificate functions cost far more than any other:
// genPrivateKey "rsa" makes a 4096-bit key (about a second), genCA,
// genSelfSignedCert and genSignedCert a 2048-bit one each, bcrypt and
// htpasswd hash at bcrypt's default cost, derivePassword runs scrypt. A
// loop of twenty genPrivateKey took 80 s, in each render of the chart.
// Ward checks what the chart installs, not its keys: cheapCrypto makes
// the same kinds of output (a PEM key of the type asked for,
// certificates signed as asked, a bcrypt hash) from keys made once per
// process, and bcrypt at its lowest cost. derivePassword, whose output
// is the same on every render, is bounded instead (maxDerived).

// maxDerived bounds the derivePassword calls of one render that the
// process did not make before.
const maxDerived = 8

// maxSigned bounds the certificates and bcrypt hashes of one render (a
// few milliseconds each).
var maxSigned = 1024

// cryptoCalls counts the costly calls of one render.
type cryptoCalls struct{ derived, signed int }

// sign counts a certificate or a hash, and fails past maxSigned.
func (c *cryptoCalls) sign(name string) error {
	if c.signed++; c.signed > maxSigned {
		return fmt.Errorf("more than %d certificates and bcrypt hashes (%s) in one render", maxSigned, name)
	}
	return nil
}

// dsaKey is sprig's genPrivateKey "dsa", made once per process.
var dsaKey = sync.OnceValue(func() string { return sprigFuncs["genPrivateKey"].(func(string) string)("dsa") })

var (
	cachedKeys   sync.Map // type -> func() (any, error), of sync.OnceValues
	sprigFuncs   = sprig.TxtFuncMap()
	errDerived   = fmt.Errorf("more than %d derivePassword calls (scrypt) in one render", maxDerived)
	keyTypeError = func(typ string) string { return "Unknown type " + typ }
)

// processKey returns the key of type typ made once per process: RSA
// 2048, ECDSA P-256 or Ed25519.
func processKey(typ string) (any, error) {
	if typ == "" {
		typ = "rsa"
	}
	f, _ := cachedKeys.LoadOrStore(typ, sync.OnceValues(func() (any, error) {
		switch typ {
		case "rsa":
			return rsa.GenerateKey(rand.Reader, 2048)
		case "ecdsa":
			return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		case "ed25519":
			_, k, err := ed25519.GenerateKey(rand.Reader)
			return k, err
		}
		return nil, errors.New(keyTypeError(typ))
	}))
	return f.(func() (any, error))()
}

// keyPEM encodes k as sprig's genPrivateKey does.
func keyPEM(k any) string {
	var b *pem.Block
	switch k := k.(type) {
	case *rsa.PrivateKey:
		b = &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}
	case *ecdsa.PrivateKey:
		der, _ := x509.MarshalECPrivateKey(k)
		b = &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
	default:
		der, _ := x509.MarshalPKCS8PrivateKey(k)
		b = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	}
	return string(pem.EncodeToMemory(b))
}

// withKey makes sprig's function name (genCA, genSelfSignedCert,
// genSignedCert) out of its WithKey form, given the process's RSA key:
// the same signature, the same certificate, a key made once.
func withKey(name string, calls *cryptoCalls) any {
	plain := reflect.ValueOf(sprigFuncs[name])
	keyed := reflect.ValueOf(sprigFuncs[name+"WithKey"])
	return reflect.MakeFunc(plain.Type(), func(args []reflect.Value) []reflect.Value {
		k, err := processKey("rsa")
		if err == nil {
			err = calls.sign(name)
		}
		if err != nil {
			out := []reflect.Value{reflect.Zero(plain.Type().Out(0)), reflect.ValueOf(&err).Elem()}
			return out
		}
		key := madeKey(name, fmt.Sprintf("%#v", valuesOf(args)))
		if out, ok := madeOnce.Load(key); ok {
			return out.([]reflect.Value)
		}
		out := keyed.Call(append(args, reflect.ValueOf(keyPEM(k))))
		if e := out[1].Interface(); e == nil {
			remember(key, out)
		}
		return out
	}).Interface()
}

// Certificates and hashes are random (a serial number, the time, a
// salt): a template that makes one rendered otherwise in every render,
// so that each variant of a chart with a webhook's genCA (a Kubernetes
// version, a values file, lookup) named it as rendering otherwise.
// madeOnce keeps what each call made, by function and arguments, for the
// process: the same call makes the same certificate or hash in every
// render, which verifies as sprig's does (signed by the CA given).
var (
	madeOnce sync.Map // made -> the call's result
	madeMu   sync.Mutex
	madeN    int
)

// made is a call of a certificate or hash function: its name and the
// SHA-256 of its arguments printed, so that the maxMade calls kept hold
// no more than their results, whatever the size of their arguments (a
// common name or a password of megabytes).
type made struct {
	name string
	args [sha256.Size]byte
}

// maxMadeArgs bounds the printed arguments of a call madeOnce keeps:
// its result (a certificate names them) is kept as well, so that 4096
// calls with a common name of a megabyte each held gigabytes. Calls past
// it make anew, as sprig does.
const maxMadeArgs = 4 << 10

// madeKey returns the key of the call; the zero made, never kept, when
// args are past maxMadeArgs.
func madeKey(name, args string) made {
	if len(args) > maxMadeArgs {
		return made{}
	}
	return made{name, sha256.Sum256([]byte(args))}
}

// maxMade bounds the calls madeOnce keeps; past it, calls make anew.
const maxMade = 4096

// remember keeps out as the result of the call key, up to maxMade.
func remember(key made, out any) {
	if key.name == "" {
		return // not kept (madeKey)
	}
	madeMu.Lock()
	defer madeMu.Unlock()
	if madeN < maxMade {
		if _, loaded := madeOnce.LoadOrStore(key, out); !loaded {
			madeN++
		}
	}
}

// valuesOf returns the values args hold.
func valuesOf(args []reflect.Value) []any {
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = a.Interface()
	}
	return out
}

// cheapCrypto returns the key, certificate and hash functions made cheap
// (see above), bounded to maxSigned calls, and derivePassword bounded to
// maxDerived calls, counted in calls (one render's).
func cheapCrypto(calls *cryptoCalls) template.FuncMap {
	hash := func(s string) (string, error) {
		if err := calls.sign("bcrypt"); err != nil {
			return "", err
		}
		key := madeKey("bcrypt", s)
		if h, ok := madeOnce.Load(key); ok {
			return h.(string), nil
		}
		h, err := bcrypt.GenerateFromPassword([]byte(s), bcrypt.MinCost)
		if err != nil {
			return fmt.Sprintf("failed to encrypt string with bcrypt: %s", err), nil
		}
		remember(key, string(h))
		return string(h), nil
	}
	derive := sprigFuncs["derivePassword"].(func(uint32, string, string, string, string) string)
	return template.FuncMap{
		"genPrivateKey": func(typ string) string {
			switch typ {
			case "", "rsa", "ecdsa", "ed25519":
			case "dsa":
				return dsaKey()
			default:
				return keyTypeError(typ)
			}
			k, err := processKey(typ)
			if err != nil {
				return fmt.Sprintf("failed to generate private key: %s", err)
			}
			return keyPEM(k)
		},
		"genCA":             withKey("genCA", calls),
		"genSelfSignedCert": withKey("genSelfSignedCert", calls),
		"genSignedCert":     withKey("genSignedCert", calls),
		"bcrypt":            hash,
		"htpasswd": func(user, password string) (string, error) {
			if strings.Contains(user, ":") {
				return fmt.Sprintf("invalid username: %s", user), nil
			}
			h, err := hash(password)
			return user + ":" + h, err
		},
		"derivePassword": func(counter uint32, typ, password, user, site string) (string, error) {
			// The same call gives the same password: made once a
			// process, only new calls count (a chart's every render
			// made them anew, each a tenth of a second or more).
			key := madeKey("derivePassword", fmt.Sprintf("%d\x00%s\x00%s\x00%s\x00%s", counter, typ, password, user, site))
			if p, ok := madeOnce.Load(key); ok {
				return p.(string), nil
			}
			if calls.derived++; calls.derived > maxDerived {
				return "", errDerived
			}
			p := derive(counter, typ, password, user, site)
			remember(key, p)
			return p, nil
		},
	}
}
