package helmchart

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"

	"github.com/Masterminds/sprig/v3"
	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/ignore"

	"github.com/wardsec/ward/manifest"
)

// The size limit (Options.MaxFileSize, ward's --max-input-size) bounds a
// chart twice: each file the chart loader would read, and what rendering
// produces. Helm's engine renders each template into a strings.Builder of
// its own and offers no hook on it (no writer, no size option; the
// context is only used by lookup), so the output cannot be cut off where
// it is written. Instead the render is metered from inside, by calls
// inserted in the chart's templates (in memory: the files are untouched):
//
//   - every range body and every define body starts with {{wardTick N}},
//     N being the literal text the body writes each time it runs (its
//     own and that of its if/with/else branches, and that of the empty
//     defines it calls; nested ranges count for themselves) plus one. A
//     define whose body is only space is left empty (see meter);
//   - every action that prints ends its pipeline with | wardOut, which
//     counts the printed size of the value and passes it on unchanged;
//   - the functions that make a large value in one call (repeat, until,
//     untilStep, seq, indent, nindent) are wrapped to charge their result
//     before computing it;
//   - every other function of helm's engine (sprig's, helm's own, and
//     text/template's that make text) is wrapped to charge the memory of
//     what it makes (funcmeter.go): an estimate before it runs for those
//     that format, serialize or copy their arguments or insert text many
//     times (print, toJson, toYaml, deepCopy, replace...), the size of its
//     result once it returns for the others.
//
// The insertions are made on the lines they meter, so helm's error lines
// and Ward's line map stay right, and keep the whitespace trimming around
// them, so the output is unchanged (TestMeterKeepsOutput, and
// meterdiff_test.go on random and hostile templates, compare it with
// helm's unmetered render). The render stops at the first call that
// takes the count past meterFactor times the limit: a template looping a
// hundred million times fails after a few times the limit, not after
// gigabytes, and so does a string or a list doubled in a loop, or a
// list of itself printed. The rendered text is then held to the limit
// exactly. What the meter does not see: include and tpl, left to the
// engine (what they write is metered as it is written), and the methods
// of helm's objects (.Files.Get, .Files.AsSecrets), whose strings are
// charged only once printed, formatted or held in a list or a map.
//
// tpl renders a string as a template: its first argument is wrapped in a
// call of wardSrc, which charges the string's length and meters it in the
// same way before tpl parses it (tpl strings that call tpl are metered in
// turn when they run), so a loop in a string given to tpl stops near the
// limit too.

// tickFunc, outFunc and srcFunc are the names of the metering functions
// inserted in templates. They end with a random part, new in each
// process: a chart that called them by name (in a template, or in a string
// given to tpl) would render in Ward when helm, which has no such
// function, refuses it.
var tickFunc, outFunc, srcFunc = meterNames()

func meterNames() (tick, out, src string) {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand: never fails
	s := hex.EncodeToString(b[:])
	return "wardTick" + s, "wardOut" + s, "wardSrc" + s
}

// meterFactor is how many times the limit the meter lets a render count.
// The meter counts text as it is made, so the same bytes may count more
// than once (a define's text when it runs, again where include's result
// is printed, again through nindent): a chart whose output is within the
// limit must not be refused for that. The output is held to the limit
// itself, exactly, when the render ends.
const meterFactor = 4

// maxSteps bounds the loop iterations and define calls (the ticks) of
// one render. The size limit alone let a loop that writes nothing run
// billions of times (each tick counts a byte at least): two nested
// `range until 100000` ran for hours, in each of the chart's renders.
// Charts of the real world take thousands; ten million take seconds.
var maxSteps int64 = 10_000_000

// chartStepsFactor bounds the ticks of all the renders of one chart
// (Render's own, and those of its variants: lookup, upgrade, API and
// Kubernetes versions, values files) to this many times maxSteps: each
// stays within maxSteps, but twenty such renders took minutes. The renders
// past it fail, and are named as not rendered (Variant.Err, LookupErr...).
const chartStepsFactor = 4

// stepPool is what is left of a chart's ticks, shared by its renders.
type stepPool struct{ left int64 }

// budget meters one chart's render against the size limit.
type budget struct {
	limit, used int64
	// allowed is what the meter lets the render count: meterFactor
	// times limit.
	allowed  int64
	exceeded bool
	// steps are the ticks so far; slow is set past maxSteps, or past
	// what is left in pool (pooled).
	steps        int64
	slow, pooled bool
	pool         *stepPool
}

func newBudget(limit int64) *budget {
	return &budget{limit: limit, allowed: min(limit, math.MaxInt64/meterFactor) * meterFactor}
}

// errBudget is what a metered call returns once the limit is passed.
var errBudget = errors.New("ward's size limit reached")

// charge adds n bytes to the render; past the limit it fails, for good.
func (b *budget) charge(n int64) error {
	if n < 0 || b.exceeded || n > b.allowed-b.used {
		b.exceeded = true
		return errBudget
	}
	b.used += n
	return nil
}

// tooLarge is the error of a chart whose rendering passes the limit.
func (b *budget) tooLarge() error {
	if b.pooled {
		return fmt.Errorf("the chart's renders (its own and those Ward makes for its variants) together run more than %d loop iterations and template calls", chartStepsFactor*maxSteps)
	}
	if b.slow {
		return fmt.Errorf("rendering the chart runs more than %d loop iterations and template calls: a loop this long is refused", maxSteps)
	}
	return fmt.Errorf("%w: rendering the chart writes more than %s (see --max-input-size)", manifest.ErrTooLarge, manifest.FormatSize(b.limit))
}

// funcs are the template functions that meter the render: the tick, and
// sprig's functions that can make a large value in one call, charged
// their result size before they run.
func (b *budget) funcs() template.FuncMap {
	s := sprig.TxtFuncMap()
	repeat := s["repeat"].(func(int, string) string)
	until := s["until"].(func(int) []int)
	untilStep := s["untilStep"].(func(int, int, int) []int)
	seq := s["seq"].(func(...int) string)
	indent := s["indent"].(func(int, string) string)
	nindent := s["nindent"].(func(int, string) string)
	// An int is 8 bytes in a list; a number of seq as long as the
	// longer of its ends, and a space.
	ints := func(n uint64, ok bool) error {
		if !ok || n > uint64(b.allowed/8) { // #nosec G115 -- allowed is positive
			return b.charge(-1)
		}
		return b.charge(int64(8 * n)) // #nosec G115 -- n <= allowed/8, checked above
	}
	f := template.FuncMap{}
	for name, fn := range helmFuncs() {
		f[name] = b.guard(name, fn)
	}
	maps.Copy(f, template.FuncMap{
		tickFunc: func(n int) (string, error) {
			if b.steps++; b.steps > maxSteps {
				b.slow, b.exceeded = true, true
				return "", errBudget
			}
			if b.pool != nil {
				if b.pool.left--; b.pool.left < 0 {
					b.pooled, b.exceeded = true, true
					return "", errBudget
				}
			}
			return "", b.charge(int64(n))
		},
		// The string a tpl call renders, metered as a template file is.
		srcFunc: func(src string) (string, error) {
			if err := b.charge(int64(len(src))); err != nil {
				return "", err
			}
			return metered("tpl", src, nil), nil
		},
		// The value an action prints, passed on unchanged: its printed
		// size is counted without making the text. It is taken and
		// returned as a reflect.Value, which text/template passes as it
		// is: as an any, a value reached through a pointer would be a
		// copy, no longer addressable, and text/template would no longer
		// print it by the String method of its pointer
		// (.Capabilities.KubeVersion would print as a struct).
		outFunc: func(v reflect.Value) (reflect.Value, error) {
			switch {
			case v.Kind() == reflect.String: // most values: no formatting
				return v, b.charge(int64(v.Len()))
			case !v.IsValid() || !v.CanInterface():
				return v, nil // printed as <no value>, or not at all
			}
			// Formatted, a value may be much larger than its memory
			// (a list made of itself twice, twenty times over): fmt
			// formats it whole before writing it.
			if left := b.allowed - b.used; sizeOf(v, left, false, 0) > left {
				return v, b.charge(-1)
			}
			var c counter
			_, _ = fmt.Fprint(&c, v.Interface())
			return v, b.charge(int64(c))
		},
		"repeat": func(count int, str string) (string, error) {
			if count > 0 && int64(len(str)) > 0 && int64(count) > b.allowed/int64(len(str)) {
				return "", b.charge(-1)
			}
			if err := b.charge(int64(max(count, 0)) * int64(len(str))); err != nil {
				return "", err
			}
			return repeat(count, str), nil
		},
		"until": func(count int) ([]int, error) {
			step := 1 // as sprig's until
			if count < 0 {
				step = -1
			}
			if err := ints(untilSteps(0, count, step)); err != nil {
				return nil, err
			}
			return until(count), nil
		},
		"untilStep": func(start, stop, step int) ([]int, error) {
			if err := ints(untilSteps(start, stop, step)); err != nil {
				return nil, err
			}
			return untilStep(start, stop, step), nil
		},
		"seq": func(params ...int) (string, error) {
			// The untilStep sprig's seq calls: seq end, seq start end
			// and seq start step end, counting to end included.
			var start, stop, step int
			switch len(params) {
			case 1, 2:
				start, stop, step = 1, params[0], 1
				if len(params) == 2 {
					start, stop = params[0], params[1]
				}
				if stop < start {
					step = -1
				}
				stop += step
			case 3:
				start, step, stop = params[0], params[1], params[2]
				inc := 1
				if stop < start {
					inc = -1
				}
				stop += inc // sprig returns "" before, when step > 0: no steps either
			}
			n, ok := untilSteps(start, stop, step)
			width := uint64(max(len(strconv.Itoa(start)), len(strconv.Itoa(stop))) + 1)
			if !ok || n > uint64(b.allowed)/width { // #nosec G115 -- allowed is positive
				return "", b.charge(-1)
			}
			if err := b.charge(int64(n * width)); err != nil { // #nosec G115 -- n*width <= allowed, checked above
				return "", err
			}
			return seq(params...), nil
		},
		"indent": func(spaces int, v string) (string, error) {
			if err := b.chargeIndent(spaces, v); err != nil {
				return "", err
			}
			return indent(spaces, v), nil
		},
		"nindent": func(spaces int, v string) (string, error) {
			if err := b.chargeIndent(spaces, v); err != nil {
				return "", err
			}
			return nindent(spaces, v), nil
		},
	})
	return f
}

// untilSteps returns how many numbers sprig's untilStep(start, stop,
// step) makes: start, start+step, ... short of stop. ok is false when
// the next number after the last would overflow int: sprig's loop would
// go on with the wrapped number, past any limit.
func untilSteps(start, stop, step int) (n uint64, ok bool) {
	switch {
	case step > 0 && start < stop:
		// In uint64, the difference and the last number are exact in
		// two's complement, whatever the signs.
		s := uint64(step)                        // #nosec G115 -- step > 0
		n = (uint64(stop)-uint64(start)-1)/s + 1 // #nosec G115 -- two's complement on purpose: stop > start, so the difference is exact
		last := int(uint64(start) + (n-1)*s)     // #nosec G115 -- two's complement on purpose: the last number lies between start and stop
		return n, last <= math.MaxInt-step
	case step < 0 && start > stop:
		s := -uint64(step)                       // #nosec G115 -- |step|, math.MinInt included: two's complement on purpose
		n = (uint64(start)-uint64(stop)-1)/s + 1 // #nosec G115 -- two's complement on purpose: start > stop, so the difference is exact
		last := int(uint64(start) - (n-1)*s)     // #nosec G115 -- two's complement on purpose: the last number lies between stop and start
		return n, last >= math.MinInt-step
	}
	return 0, true // sprig makes none
}

// counter counts the bytes written to it.
type counter int64

func (c *counter) Write(p []byte) (int, error) {
	*c += counter(len(p))
	return len(p), nil
}

// chargeIndent charges what indent and nindent make: v with spaces in
// front of each of its lines.
func (b *budget) chargeIndent(spaces int, v string) error {
	lines := int64(strings.Count(v, "\n")) + 2
	if spaces > 0 && int64(spaces) > (b.allowed-int64(len(v)))/lines {
		return b.charge(-1)
	}
	return b.charge(int64(max(spaces, 0))*lines + int64(len(v)))
}

// meter inserts the metering calls (see above) in the templates of c and
// of its dependencies. A template that does not parse is left as it is: helm
// reports its error.
//
// A define or block whose body is only space (and comments) gets no tick:
// text/template never lets such an empty definition replace one of the
// same name (helm parses all the chart's files into one set), and a tick
// would make it non-empty, so that a later empty define would win over
// the real one in Ward's render only. What an empty body writes is
// charged instead where a template action in a metered body calls it,
// at the longest of the empty definitions of its name in the chart.
func meter(c *chart.Chart) {
	empty := map[string]int64{}
	walkTemplates(c, func(name, src string) string {
		for n, cost := range emptyDefines(name, src) {
			empty[n] = max(empty[n], cost)
		}
		return src
	})
	walkTemplates(c, func(name, src string) string { return meteredSource(metered(name, src, empty)) })
}

// meteredSource is the last step of metering a template's source: none
// but in TestRenderIsHelms, which makes the metered render differ from
// helm's to show that the output is helm's all the same.
var meteredSource = func(src string) string { return src }

// walkTemplateFiles calls f on each template file of c and of its
// dependencies.
func walkTemplateFiles(c *chart.Chart, f func(*common.File)) {
	for _, t := range c.Templates {
		if t != nil {
			f(t)
		}
	}
	for _, d := range c.Dependencies() {
		walkTemplateFiles(d, f)
	}
}

// walkTemplates replaces the source of each template of c and of its
// dependencies with what f returns for it, given its name in helm's
// template set.
func walkTemplates(c *chart.Chart, f func(name, src string) string) {
	for _, t := range c.Templates {
		if t != nil {
			t.Data = []byte(f(path.Join(c.ChartFullPath(), t.Name), string(t.Data)))
		}
	}
	for _, d := range c.Dependencies() {
		walkTemplates(d, f)
	}
}

// parseTrees parses src as helm does, the functions aside: the template
// named name and those it defines, by name. False when it does not parse.
func parseTrees(name, src string) (map[string]*parse.Tree, bool) {
	t := parse.New(name)
	t.Mode = parse.SkipFuncCheck
	trees := map[string]*parse.Tree{}
	if _, err := t.Parse(src, "", "", trees); err != nil {
		return nil, false
	}
	return trees, true
}

// emptyDefines returns the defines and blocks of src that text/template
// holds empty (parse.IsEmptyTree), with the length of the text each
// writes.
func emptyDefines(name, src string) map[string]int64 {
	trees, _ := parseTrees(name, src)
	empty := map[string]int64{}
	for n, tr := range trees {
		if n == name || tr == nil || tr.Root == nil || !parse.IsEmptyTree(tr.Root) {
			continue
		}
		for _, node := range tr.Root.Nodes {
			if text, ok := node.(*parse.TextNode); ok {
				empty[n] += int64(len(text.Text))
			}
		}
	}
	return empty
}

// metered returns src with a tick at the start of each range and
// non-empty define body, and | wardOut at the end of each action that
// prints; src as it is when it does not parse or an action's end is not
// found. empty is the text length of the chart's empty defines, by name
// (see meter).
func metered(name, src string, empty map[string]int64) string {
	trees, ok := parseTrees(name, src)
	if !ok {
		return src
	}
	// A tick (cost >= 0) at the start of a body, an out (cost -1) at
	// the end of an action that prints, or the start (cost -3) and end
	// (cost -2) of the string a tpl call renders.
	type tick struct {
		pos  int
		cost int64
	}
	const tickOut, tickSrcEnd, tickSrcStart = -1, -2, -3
	var ticks []tick
	var pipe func(p *parse.PipeNode)
	pipe = func(p *parse.PipeNode) {
		if p == nil {
			return
		}
		for _, c := range p.Cmds {
			for _, a := range c.Args {
				switch a := a.(type) {
				case *parse.PipeNode:
					pipe(a)
				case *parse.ChainNode:
					if inner, ok := a.Node.(*parse.PipeNode); ok {
						pipe(inner)
					}
				}
			}
			if id, ok := c.Args[0].(*parse.IdentifierNode); !ok || id.Ident != "tpl" || len(c.Args) < 2 {
				continue
			}
			start := operandStart(src, c.Args[1])
			end := operandEnd(src, start)
			ticks = append(ticks, tick{start, tickSrcStart}, tick{end, tickSrcEnd})
		}
	}
	var scope func(l *parse.ListNode) int64
	scope = func(l *parse.ListNode) int64 {
		var cost int64
		if l == nil {
			return 0
		}
		for _, n := range l.Nodes {
			switch n := n.(type) {
			case *parse.TextNode:
				cost += int64(len(n.Text))
			case *parse.ActionNode:
				pipe(n.Pipe)
				if n.Pipe != nil && len(n.Pipe.Decl) == 0 {
					ticks = append(ticks, tick{actionEnd(src, int(n.Pos)), tickOut})
				}
			case *parse.IfNode:
				pipe(n.Pipe)
				cost += scope(n.List) + scope(n.ElseList)
			case *parse.WithNode:
				pipe(n.Pipe)
				cost += scope(n.List) + scope(n.ElseList)
			case *parse.TemplateNode:
				pipe(n.Pipe)
				cost += empty[n.Name] // an empty define, unmetered
			case *parse.RangeNode:
				pipe(n.Pipe)
				ticks = append(ticks, tick{int(n.List.Pos), scope(n.List) + 1})
				cost += scope(n.ElseList)
			}
		}
		return cost
	}
	for n, tr := range trees {
		if tr == nil || tr.Root == nil || (n != name && parse.IsEmptyTree(tr.Root)) {
			continue
		}
		cost := scope(tr.Root)
		if n != name { // a define body: runs once per include or template call
			ticks = append(ticks, tick{int(tr.Root.Pos), cost + 1})
		}
		// The template's own body runs once: its literal text is
		// checked with the output.
	}
	// From the end, so that each offset is still the source's; at one
	// offset, the out first and the end of a tpl string next, so that
	// the string's closing parenthesis comes before the out.
	rank := func(k tick) int64 { return min(-k.cost-1, 3) } // out 0, string end 1, string start 2, tick 3
	sort.Slice(ticks, func(i, j int) bool {
		if ticks[i].pos != ticks[j].pos {
			return ticks[i].pos > ticks[j].pos
		}
		return rank(ticks[i]) < rank(ticks[j])
	})
	for _, k := range ticks {
		if k.pos < 0 || k.pos > len(src) {
			return src
		}
	}
	for _, k := range ticks {
		switch k.cost {
		case tickSrcStart:
			src = src[:k.pos] + "(" + srcFunc + " " + src[k.pos:]
			continue
		case tickSrcEnd:
			src = src[:k.pos] + ")" + src[k.pos:]
			continue
		}
		if k.cost < 0 {
			// A pipeline may end with its pipe ({{ x | }} prints x):
			// a second one would not parse.
			pipe := " | "
			if strings.HasSuffix(strings.TrimRight(src[:k.pos], " \t\r\n"), "|") {
				pipe = " "
			}
			src = src[:k.pos] + pipe + outFunc + src[k.pos:]
			continue
		}
		// Before an action that trims the space in front of it, the
		// tick trims that space instead, as the action would have.
		trim := ""
		if strings.HasPrefix(src[k.pos:], "{{- ") || strings.HasPrefix(src[k.pos:], "{{-\t") ||
			strings.HasPrefix(src[k.pos:], "{{-\n") || strings.HasPrefix(src[k.pos:], "{{-\r") {
			trim = "- "
		}
		src = src[:k.pos] + fmt.Sprintf("{{%s%s %d}}", trim, tickFunc, k.cost) + src[k.pos:]
	}
	return src
}

// operandStart returns the offset in src where the operand n starts: a
// parenthesized pipeline at its parenthesis (parse positions it after),
// a chain at its operand's start, and a field or variable at its first
// part (parse positions .a.b at .b).
func operandStart(src string, n parse.Node) int {
	switch n := n.(type) {
	case *parse.ChainNode:
		return operandStart(src, n.Node)
	case *parse.PipeNode:
		i := int(n.Pos) - 1
		for i >= 0 && i < len(src) && src[i] != '(' {
			i--
		}
		return i
	case *parse.FieldNode, *parse.VariableNode:
		i := int(n.Position())
		for i > 0 && i <= len(src) && isOperandByte(src[i-1]) {
			i--
		}
		return i
	}
	return int(n.Position())
}

// isOperandByte reports whether c can be part of a field or variable
// operand: .a.b, $x.y.
func isOperandByte(c byte) bool {
	return c == '.' || c == '$' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// operandEnd returns the offset of the end of the operand that starts at
// pos in src: the first space, pipe, comma, closing parenthesis or right
// delimiter outside parentheses, quoted strings, raw strings and
// character constants. -1 when there is none.
func operandEnd(src string, pos int) int {
	if pos < 0 {
		return -1
	}
	depth := 0
	for i := pos; i < len(src); i++ {
		switch c := src[i]; {
		case c == '"' || c == '\'' || c == '`':
			if i = skipQuoted(src, i); i < 0 {
				return -1
			}
		case c == '(':
			depth++
		case c == ')':
			if depth == 0 {
				return i
			}
			depth--
		case depth > 0:
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '|' || c == ',' || strings.HasPrefix(src[i:], "}}"):
			return i
		}
	}
	return -1
}

// skipQuoted returns the offset of the end of the quoted string, raw
// string or character constant that starts at i in src: its closing
// quote, or len(src) when an interpreted one is not closed; -1 for a raw
// string not closed.
func skipQuoted(src string, i int) int {
	c := src[i]
	if c == '`' {
		j := strings.IndexByte(src[i+1:], '`')
		if j < 0 {
			return -1
		}
		return i + j + 1
	}
	for i++; i < len(src) && src[i] != c; i++ {
		if src[i] == '\\' {
			i++
		}
	}
	return i
}

// actionEnd returns the offset of the end of the action whose pipeline
// starts at pos in src: its right delimiter, or the space of its trim
// marker (" -}}"). Delimiters inside quoted strings, raw strings and
// character constants do not count. -1 when there is none.
func actionEnd(src string, pos int) int {
	for i := pos; i < len(src); i++ {
		switch c := src[i]; {
		case c == '"' || c == '\'' || c == '`':
			if i = skipQuoted(src, i); i < 0 {
				return -1
			}
		case strings.HasPrefix(src[i:], "}}"):
			return i
		case (c == ' ' || c == '\t' || c == '\r' || c == '\n') && strings.HasPrefix(src[i+1:], "-}}"):
			return i
		}
	}
	return -1
}

// checkFiles fails for the first file under dir that the chart loader
// would read (helm's .helmignore rules and defaults applied) and that is
// larger than limit, naming it. It only looks at sizes: helm's loader
// reads the files, itself bounded by a total it sets for a chart. The
// archives among them are decompressed to bound what they hold together
// (archiveBudget).
func checkFiles(dir string, limit int64) error {
	top, err := filepath.Abs(dir)
	if err != nil {
		return nil // the loader reports it
	}
	rules := ignore.Empty()
	if r, err := ignore.ParseFile(filepath.Join(top, ignore.HelmIgnore)); err == nil {
		rules = r
	}
	rules.AddDefaults()
	archives := newArchiveBudget(limit)
	seen := map[string]bool{}
	var walk func(abs, shown string) error
	walk = func(abs, shown string) error {
		real, err := filepath.EvalSymlinks(abs)
		if err != nil || seen[real] {
			return nil
		}
		seen[real] = true
		ents, err := os.ReadDir(abs)
		if err != nil {
			return nil
		}
		for _, e := range ents {
			p, s := filepath.Join(abs, e.Name()), filepath.Join(shown, e.Name())
			fi, err := os.Stat(p) // through symlinks, as helm's loader
			if err != nil {
				continue
			}
			rel, err := filepath.Rel(top, p)
			if err != nil {
				continue
			}
			if rules.Ignore(filepath.ToSlash(rel), fi) {
				continue
			}
			switch {
			case fi.IsDir():
				if err := walk(p, s); err != nil {
					return err
				}
			case fi.Mode().IsRegular() && fi.Size() > limit:
				return &Error{File: s, Err: fmt.Errorf("%w: %w of %s", manifest.ErrRead, manifest.ErrTooLarge, manifest.FormatSize(limit))}
			case fi.Mode().IsRegular() && strings.HasSuffix(e.Name(), ".tgz"):
				if err := archives.scanFile(p, s); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(top, dir)
}

// checkOutput fails when the rendered templates, in helm's name order,
// pass limit together, naming the template that passes it: before Ward
// copies any of them.
func checkOutput(files map[string]string, res resolver, limit int64) error {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var total int64
	for _, n := range names {
		total += int64(len(files[n]))
		if total > limit {
			return &Error{File: res.file(n), Err: fmt.Errorf("%w: the chart's rendered output is larger than %s (see --max-input-size)", manifest.ErrTooLarge, manifest.FormatSize(limit))}
		}
	}
	return nil
}
