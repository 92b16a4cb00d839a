package routeright

/*
#include <routeright.h>
*/
import "C"

import "fmt"

// Code is a routeright error code: RR_OK (0) or a negative RR_E* value. Codes are never
// renumbered, so these constants match every library of ABI version 1.
type Code int

// The codes of routeright.h's error table.
const (
	OK        Code = 0
	EINVAL    Code = -1
	ENOMEM    Code = -2
	EIO       Code = -3
	EJSON     Code = -4
	EPOLICY   Code = -5
	EEXPR     Code = -6
	EREGEX    Code = -7
	ELIMIT    Code = -8
	ETOOBIG   Code = -9
	EUTF8     Code = -10
	ENOTFOUND Code = -11
	ERANGE    Code = -12
	EVERSION  Code = -13
	ESCHEMA   Code = -14
	EDEPTH    Code = -15
	EABORT    Code = -16
	ECALLBACK Code = -17
	EMODEL    Code = -18
	EDATA     Code = -19
	ESTATE    Code = -20
)

// Name is the code's symbol without prefix, e.g. "EPOLICY" ("UNKNOWN" if not a code).
func (c Code) Name() string { return C.GoString(C.rr_error_name(C.int(c))) }

// String is the library's description of the code, e.g. "invalid policy".
func (c Code) String() string { return C.GoString(C.rr_strerror(C.int(c))) }

// Error is what every failing call returns (as error; use errors.As to get it). Pointer,
// Line and Column locate the offending value in a policy or schema document: an RFC 6901
// JSON pointer and 1-based position, ""/0 when not applicable; ExprColumn is the column
// inside a condition expression.
type Error struct {
	Code       Code
	Name       string
	Message    string
	Pointer    string
	Line       int
	Column     int
	ExprColumn int
	cause      error // what made a run abort (e.g. context.Canceled), for errors.Is
}

// Unwrap returns what made a run abort, when that was a Go error (a cancelled context, or
// the error a callback returned to stop the run).
func (e *Error) Unwrap() error { return e.cause }

func (e *Error) Error() string {
	if e.Line > 0 && e.Column > 0 {
		return fmt.Sprintf("routeright: %s: %s (line %d, column %d)", e.Name, e.Message, e.Line, e.Column)
	}
	if e.Line > 0 {
		return fmt.Sprintf("routeright: %s: %s (line %d)", e.Name, e.Message, e.Line)
	}
	return fmt.Sprintf("routeright: %s: %s", e.Name, e.Message)
}

// Is makes errors.Is(err, routeright.ErrPolicy) true for every error with that code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Pointer == "" && t.Code == e.Code
}

// Sentinels for errors.Is: they match any *Error with the same code.
var (
	ErrInvalid  = &Error{Code: EINVAL, Name: "EINVAL"}
	ErrNoMemory = &Error{Code: ENOMEM, Name: "ENOMEM"}
	ErrIO       = &Error{Code: EIO, Name: "EIO"}
	ErrJSON     = &Error{Code: EJSON, Name: "EJSON"}
	ErrPolicy   = &Error{Code: EPOLICY, Name: "EPOLICY"}
	ErrExpr     = &Error{Code: EEXPR, Name: "EEXPR"}
	ErrRegex    = &Error{Code: EREGEX, Name: "EREGEX"}
	ErrLimit    = &Error{Code: ELIMIT, Name: "ELIMIT"}
	ErrTooBig   = &Error{Code: ETOOBIG, Name: "ETOOBIG"}
	ErrUTF8     = &Error{Code: EUTF8, Name: "EUTF8"}
	ErrSchema   = &Error{Code: ESCHEMA, Name: "ESCHEMA"}
	ErrDepth    = &Error{Code: EDEPTH, Name: "EDEPTH"}
	ErrAbort    = &Error{Code: EABORT, Name: "EABORT"}
	ErrCallback = &Error{Code: ECALLBACK, Name: "ECALLBACK"}
	ErrState    = &Error{Code: ESTATE, Name: "ESTATE"}
)

// newError builds an *Error from a failed call's code and the rr_error it filled (nil or
// unfilled: the library's description of the code stands in for the message).
func newError(code C.int, e *C.rr_error) *Error {
	out := &Error{Code: Code(code), Name: Code(code).Name()}
	if e != nil && e.code == code && e.message[0] != 0 {
		out.Message = C.GoString(&e.message[0])
		out.Pointer = C.GoString(&e.pointer[0])
		out.Line = int(e.line)
		out.Column = int(e.column)
		out.ExprColumn = int(e.expr_column)
		e.code = 0 // a later failure that fills nothing must not reuse this report
	} else {
		out.Message = Code(code).String()
	}
	return out
}

func errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Name: code.Name(), Message: fmt.Sprintf(format, args...)}
}
