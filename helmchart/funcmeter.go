package helmchart

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"text/template"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
	"github.com/Masterminds/sprig/v3"
	"sigs.k8s.io/yaml"
	goYaml "sigs.k8s.io/yaml/goyaml.v3"
)

// Every function a chart's templates call is metered too (see the
// comment of budget.go): each is wrapped to charge the memory of what it
// makes. A function whose result may be much larger than its arguments
// in one call (it formats, serializes or copies them, or inserts text
// many times) is charged an estimate made from its arguments before it
// runs, and the estimate must fit in what the budget has left: a string
// doubled in a loop, or a list of itself formatted, stops after a few
// times the limit, not after gigabytes. Once it returns, a function is
// charged the size of its result: a string's length, a list's or a map's
// own entries (what they hold was made and charged before). The
// functions that return one of their arguments, or a part of one, are
// charged nothing; those that add to a map (set, merge) the entries they
// add. Those that hold their arguments (list, dict, append, set) are
// charged the strings they hold too: a string made by a method of a
// value (.Files.Get), not a function, is charged nowhere else.

// helmFuncs returns the functions helm's engine gives templates that
// Ward meters: sprig's (less env and expandenv, as helm), helm's own
// that are not bound to the render (toYaml, fromJson...), and
// text/template's that make text. include, tpl, required, fail, lookup
// and getHostByName are left to the engine: they are bound to the render
// (what include and tpl write is metered as a template is), or replaced
// by helm (getHostByName looks nothing up).
func helmFuncs() template.FuncMap {
	f := sprig.TxtFuncMap()
	for _, n := range []string{"env", "expandenv", "getHostByName", "fail"} {
		delete(f, n)
	}
	// helm's engine's functions (pkg/engine/funcs.go), which it does
	// not export: the same code.
	f["toToml"] = func(v any) string {
		var b bytes.Buffer
		if err := toml.NewEncoder(&b).Encode(v); err != nil {
			return err.Error()
		}
		return b.String()
	}
	f["mustToToml"] = func(v any) string {
		var b bytes.Buffer
		if err := toml.NewEncoder(&b).Encode(v); err != nil {
			panic(err)
		}
		return b.String()
	}
	f["fromToml"] = func(s string) map[string]any {
		m := map[string]any{}
		if err := toml.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	f["toYaml"] = func(v any) string {
		data, err := yaml.Marshal(v)
		if err != nil {
			return ""
		}
		return strings.TrimSuffix(string(data), "\n")
	}
	f["mustToYaml"] = func(v any) string {
		data, err := yaml.Marshal(v)
		if err != nil {
			panic(err)
		}
		return strings.TrimSuffix(string(data), "\n")
	}
	f["toYamlPretty"] = func(v any) string {
		var data bytes.Buffer
		enc := goYaml.NewEncoder(&data)
		enc.SetIndent(2)
		if err := enc.Encode(v); err != nil {
			return ""
		}
		return strings.TrimSuffix(data.String(), "\n")
	}
	f["fromYaml"] = func(s string) map[string]any {
		m := map[string]any{}
		if err := yaml.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	f["fromYamlArray"] = func(s string) []any {
		a := []any{}
		if err := yaml.Unmarshal([]byte(s), &a); err != nil {
			a = []any{err.Error()}
		}
		return a
	}
	f["toJson"] = func(v any) string {
		data, err := json.Marshal(v)
		if err != nil {
			return ""
		}
		return string(data)
	}
	f["mustToJson"] = func(v any) string {
		data, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		return string(data)
	}
	f["fromJson"] = func(s string) map[string]any {
		m := map[string]any{}
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	f["fromJsonArray"] = func(s string) []any {
		a := []any{}
		if err := json.Unmarshal([]byte(s), &a); err != nil {
			a = []any{err.Error()}
		}
		return a
	}
	// text/template's builtins that make text.
	f["print"] = fmt.Sprint
	f["printf"] = fmt.Sprintf
	f["println"] = fmt.Sprintln
	f["html"] = template.HTMLEscaper
	f["js"] = template.JSEscaper
	f["urlquery"] = template.URLQueryEscaper
	return f
}

// How a function is charged (see above).
const (
	chargeResult = iota // its result's own size
	chargeNone          // nothing: it returns what it was given
	chargeAdded         // the entries it adds to a map (set, merge)
)

// funcKinds are the functions not charged their result (chargeResult).
var funcKinds = map[string]int{
	"default": chargeNone, "first": chargeNone, "mustFirst": chargeNone, "last": chargeNone, "mustLast": chargeNone,
	"get": chargeNone, "coalesce": chargeNone, "ternary": chargeNone, "dig": chargeNone, "slice": chargeNone,
	"mustSlice": chargeNone, "unset": chargeNone,
	// Charged before they run only (preCharge).
	"split": chargeNone, "splitList": chargeNone, "splitn": chargeNone, "fromYaml": chargeNone, "fromYamlArray": chargeNone,
	"fromJson": chargeNone, "fromJsonArray": chargeNone, "mustFromJson": chargeNone, "fromToml": chargeNone,
	"set": chargeAdded, "merge": chargeAdded, "mustMerge": chargeAdded, "mergeOverwrite": chargeAdded, "mustMergeOverwrite": chargeAdded,
}

// formatting are the functions that format, serialize or copy their
// arguments whole: charged, before they run, the size of the arguments
// formatted (at least); indented, when they indent nested values.
var formatting = map[string]bool{
	"print": false, "printf": false, "println": false, "cat": false, "quote": false, "squote": false,
	"toString": false, "toStrings": false, "sortAlpha": false, "join": false, "html": false, "js": false, "urlquery": false,
	"toJson": false, "mustToJson": false, "toRawJson": false, "mustToRawJson": false, "deepCopy": false, "mustDeepCopy": false,
	"toPrettyJson": true, "mustToPrettyJson": true, "toYaml": true, "mustToYaml": true, "toYamlPretty": true,
	"toToml": true, "mustToToml": true,
}

// holding are the functions whose result holds their arguments: they
// are charged the strings they are given too (heldSize), as a string a
// method made (.Files.Get) is charged nowhere else.
var holding = map[string]bool{
	"list": true, "tuple": true, "dict": true, "append": true, "push": true, "prepend": true,
	"mustAppend": true, "mustPush": true, "mustPrepend": true, "set": true,
}

// heldSize is the length of the strings among args, and among the
// values of the variadic last one.
func heldSize(args []reflect.Value, variadic bool) int64 {
	var n int64
	str := func(v reflect.Value) {
		for v.Kind() == reflect.Interface && !v.IsNil() {
			v = v.Elem()
		}
		if v.Kind() == reflect.String || v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 {
			n += int64(v.Len())
		}
	}
	for i, a := range args {
		if variadic && i == len(args)-1 {
			for j := 0; j < a.Len(); j++ {
				str(a.Index(j))
			}
			continue
		}
		str(a)
	}
	return n
}

// entrySize is what a list's entry or a map's is charged: the memory of
// an interface value, about.
const entrySize = 16

var (
	stringerType = reflect.TypeFor[fmt.Stringer]()
	errorType    = reflect.TypeFor[error]()
)

// maxDepth is how deep sizeOf looks into a value: a value nested deeper
// (a map made to hold itself) counts as past the limit.
const maxDepth = 10000

// guard returns fn, the template function name, wrapped to charge b (see
// above).
func (b *budget) guard(name string, fn any) any {
	fv := reflect.ValueOf(fn)
	if fv.Kind() != reflect.Func || fv.Type().NumOut() == 0 {
		return fn
	}
	ft := fv.Type()
	kind := funcKinds[name]
	indent, formats := formatting[name]
	pre := preCharge[name]
	plain := !formats && pre == nil && !holding[name]
	if plain && (kind == chargeNone || scalar(ft.Out(0).Kind())) {
		return fn // it makes nothing to charge
	}
	// The common forms without reflect (text/template calls them by
	// reflect already: a second call by reflect would cost as much).
	if plain && kind == chargeResult {
		switch f := fn.(type) {
		case func(string) string:
			return func(s string) string { return b.made(f(s)) }
		case func(string, string) string:
			return func(s, t string) string { return b.made(f(s, t)) }
		case func(string, string, string) string:
			return func(s, t, u string) string { return b.made(f(s, t, u)) }
		case func(int, string) string:
			return func(n int, s string) string { return b.made(f(n, s)) }
		}
	}
	if formats && !indent && name != "printf" && kind == chargeResult {
		switch f := fn.(type) {
		case func(any) string:
			return func(v any) string {
				est := b.sizeOfArgs([]reflect.Value{reflect.ValueOf(v)}, false)
				b.must(b.charge(est))
				return b.madeOver(f(v), est)
			}
		case func(...any) string:
			return func(v ...any) string {
				est := b.sizeOfArgs([]reflect.Value{reflect.ValueOf(v)}, false)
				b.must(b.charge(est))
				return b.madeOver(f(v...), est)
			}
		}
	}
	return reflect.MakeFunc(ft, func(args []reflect.Value) []reflect.Value {
		var est int64
		switch {
		case formats:
			est = b.sizeOfArgs(args, indent)
			if name == "printf" && len(args) > 0 {
				est += formatWidths(args[0].String())
			}
		case pre != nil:
			est = pre(args)
		case kind == chargeAdded:
			est = addedSize(name, args)
		}
		if holding[name] {
			est += heldSize(args, ft.IsVariadic())
		}
		b.must(b.charge(est))
		var out []reflect.Value
		if ft.IsVariadic() {
			out = fv.CallSlice(args)
		} else {
			out = fv.Call(args)
		}
		if kind == chargeResult {
			switch size := resultSize(out[0]); {
			case size > est:
				b.must(b.charge(size - est))
			case pre != nil:
				b.used -= est - size // the bound was more than was made
			}
		}
		return out
	}).Interface()
}

// made charges the string a function made, and returns it.
func (b *budget) made(s string) string {
	b.must(b.charge(int64(len(s))))
	return s
}

// madeOver charges what the string a function made has over est,
// charged before, and returns it.
func (b *budget) madeOver(s string, est int64) string {
	if n := int64(len(s)); n > est {
		b.must(b.charge(n - est))
	}
	return s
}

// scalar reports whether a value of kind k holds no memory of its own.
func scalar(k reflect.Kind) bool {
	return k == reflect.Bool || k >= reflect.Int && k <= reflect.Complex128
}

// must fails the template function call in progress: text/template
// returns a panic in a function as the call's error.
func (b *budget) must(err error) {
	if err != nil {
		panic(err)
	}
}

// preCharge are the estimates, made before they run, of the functions
// that insert text many times in one call (an upper bound of their
// result's size, the difference given back when they return), and of
// those whose result is a structure made from a string (at least its
// size, or an entry a piece).
var preCharge = map[string]func(args []reflect.Value) int64{
	// replace old new s: exactly.
	"replace": func(a []reflect.Value) int64 {
		old, repl, s := a[0].String(), a[1].String(), a[2].String()
		return int64(len(s)) + int64(strings.Count(s, old))*int64(len(repl)-len(old))
	},
	"regexReplaceAll":            regexBound(1),
	"mustRegexReplaceAll":        regexBound(1),
	"regexReplaceAllLiteral":     regexBound(0),
	"mustRegexReplaceAllLiteral": regexBound(0),
	// wrapWith width sep s: sep at most once a character.
	"wrapWith": func(a []reflect.Value) int64 {
		sep, s := a[1].String(), a[2].String()
		return sat(int64(len(s)) + (int64(len(s))+1)*int64(len(sep)))
	},
	// The pieces of split, splitn and splitList: an entry each.
	"split":     func(a []reflect.Value) int64 { return pieces(a[1].String(), a[0].String()) },
	"splitList": func(a []reflect.Value) int64 { return pieces(a[1].String(), a[0].String()) },
	"splitn":    func(a []reflect.Value) int64 { return pieces(a[2].String(), a[0].String()) },
	// A document parsed: at least its size.
	"fromYaml": arg0Len, "fromYamlArray": arg0Len, "fromJson": arg0Len, "fromJsonArray": arg0Len,
	"mustFromJson": arg0Len, "fromToml": arg0Len,
}

// arg0Len is the length of the first argument, a string.
func arg0Len(a []reflect.Value) int64 { return int64(a[0].Len()) }

// regexBound is the upper bound of regexReplaceAll regex s repl: each
// match (at most one a byte, and one more) replaced by repl, each $
// reference of which (refs says whether they count) is at most the
// match, and the matches are at most s.
func regexBound(refs int64) func(a []reflect.Value) int64 {
	return func(a []reflect.Value) int64 {
		s, repl := int64(len(a[1].String())), a[2].String()
		r := refs * int64(strings.Count(repl, "$"))
		return sat(s*(1+r) + (s+1)*int64(len(repl)))
	}
}

// pieces is what splitting s at sep makes: an entry a piece.
func pieces(s, sep string) int64 {
	n := int64(utf8.RuneCountInString(s)) + 1
	if sep != "" {
		n = int64(strings.Count(s, sep)) + 1
	}
	return sat(n * entrySize)
}

// sat returns n, or the largest int64 for an overflow (negative).
func sat(n int64) int64 {
	if n < 0 {
		return math.MaxInt64
	}
	return n
}

// addedSize is what set and merge add to the map they return: for set,
// an entry; for merge, the entries of the maps merged in.
func addedSize(name string, args []reflect.Value) int64 {
	if name == "set" {
		return int64(len(args[1].String())) + entrySize
	}
	var n int64
	if len(args) == 2 {
		for i := 0; i < args[1].Len(); i++ {
			n += int64(args[1].Index(i).Len()) * entrySize
		}
	}
	return n
}

// resultSize is the memory of a function's result, but what it holds:
// a string's length, a list's or a map's entries.
func resultSize(v reflect.Value) int64 {
	for v.Kind() == reflect.Interface && !v.IsNil() {
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.String:
		return int64(v.Len())
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return int64(v.Len())
		}
		n := int64(v.Len()) * entrySize
		if v.Type().Elem().Kind() == reflect.Slice { // chunk
			for i := 0; i < v.Len(); i++ {
				n += int64(v.Index(i).Len()) * entrySize
			}
		}
		return n
	case reflect.Map:
		return int64(v.Len()) * 2 * entrySize
	}
	return 0
}

// formatWidths is the most printf's format may add to its arguments by
// the widths and precisions of its verbs: each at most a million, as
// fmt allows.
func formatWidths(format string) int64 {
	const most = 1e6
	var n int64
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		for i++; i < len(format); i++ {
			c := format[i]
			switch {
			case c == '*':
				n += most
			case c >= '0' && c <= '9':
				v := int64(0)
				for ; i < len(format) && format[i] >= '0' && format[i] <= '9'; i++ {
					v = min(v*10+int64(format[i]-'0'), most)
				}
				n += v
				i--
			case strings.IndexByte("+-# .[]", c) >= 0:
			default:
				goto verb
			}
		}
	verb:
	}
	return n
}

// sizeOfArgs is the size of args formatted, at least (see sizeOf),
// more than what b has left when it passes that.
func (b *budget) sizeOfArgs(args []reflect.Value, indent bool) int64 {
	left := b.allowed - b.used
	var n int64
	for _, a := range args {
		n += sizeOf(a, left-n, indent, 0)
		if n > left {
			break
		}
	}
	return n
}

// sizeOf is at least the size of v formatted by fmt, encoding/json or
// yaml (with indent, the indentation of the nested values counted),
// each value reached as many times as it is: a list made of itself
// twice, twenty times over, is a million times its size. It stops once
// past left, returning more than left: looking costs no more than that.
// Each value counts at least a byte, so that it stops.
func sizeOf(v reflect.Value, left int64, indent bool, depth int) int64 {
	if depth > maxDepth {
		return left + 1
	}
	pad := int64(1)
	if indent {
		pad += 2 * int64(depth)
	}
	for v.Kind() == reflect.Interface {
		if v.IsNil() {
			return pad
		}
		v = v.Elem()
	}
	if k := v.Kind(); (k == reflect.Struct || k == reflect.Pointer) && v.CanInterface() &&
		(v.Type().Implements(stringerType) || v.Type().Implements(errorType)) {
		if k == reflect.Pointer && v.IsNil() {
			return pad
		}
		switch s := v.Interface().(type) {
		case error:
			return pad + int64(len(s.Error()))
		case fmt.Stringer:
			return pad + int64(len(s.String()))
		}
	}
	switch v.Kind() {
	case reflect.String:
		return pad + int64(v.Len())
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 {
			return pad + int64(v.Len())
		}
		n := pad + 1
		for i := 0; i < v.Len() && n <= left; i++ {
			n += sizeOf(v.Index(i), left-n, indent, depth+1)
		}
		return n
	case reflect.Map:
		n := pad + 1
		for it := v.MapRange(); it.Next() && n <= left; {
			n += sizeOf(it.Key(), left-n, false, depth+1)
			n += sizeOf(it.Value(), left-n, indent, depth+1)
		}
		return n
	case reflect.Struct:
		n := pad + 1
		for i := 0; i < v.NumField() && n <= left; i++ {
			n += sizeOf(v.Field(i), left-n, indent, depth+1)
		}
		return n
	case reflect.Pointer:
		if v.IsNil() || depth > 0 { // fmt prints the address of a pointer nested
			return pad
		}
		return sizeOf(v.Elem(), left, indent, depth+1)
	}
	return pad
}
