package srcpos

import "fmt"

// Error is an input error at a position: a file that cannot be read, a
// document that does not parse, a field that is invalid. Line is 0 when
// the error concerns the whole file (or is not known); File is "" when
// the input has no name (a configuration given inline).
type Error struct {
	File string
	Line int
	// Object names the object at fault, when known
	// ("payments/NetworkPolicy/deny").
	Object string
	Err    error
}

// Error renders the error as file:line: [object: ]message, leaving out
// what is not known.
func (e *Error) Error() string {
	var loc string
	switch {
	case e.File != "" && e.Line > 0:
		loc = fmt.Sprintf("%s:%d: ", e.File, e.Line)
	case e.File != "":
		loc = e.File + ": "
	case e.Line > 0:
		loc = fmt.Sprintf("line %d: ", e.Line)
	}
	if e.Object != "" {
		loc += e.Object + ": "
	}
	if e.Err == nil {
		return loc + "invalid input"
	}
	return loc + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// At returns an error at file and line with a message (fmt.Errorf's
// format and arguments, %w included).
func At(file string, line int, format string, args ...any) *Error {
	return &Error{File: file, Line: line, Err: fmt.Errorf(format, args...)}
}
