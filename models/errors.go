// Package models holds ZCloud's entities, their states and transitions, and
// the error kinds every layer shares.
package models

import (
	"errors"
	"fmt"
)

// Kind classifies an error so that exactly one place (the API) can map it to
// an HTTP status and a ZStack error code.
type Kind string

// The error kinds. They are few on purpose; details go in the message.
const (
	KindNotFound    Kind = "NotFound"
	KindInvalid     Kind = "Invalid"
	KindConflict    Kind = "Conflict"
	KindBusy        Kind = "Busy"
	KindUnavailable Kind = "Unavailable"
	KindAuth        Kind = "Auth"
	KindInternal    Kind = "Internal"
)

// Sentinel errors for errors.Is checks.
var (
	ErrNotFound    = &Error{Kind: KindNotFound}
	ErrInvalid     = &Error{Kind: KindInvalid}
	ErrConflict    = &Error{Kind: KindConflict}
	ErrBusy        = &Error{Kind: KindBusy}
	ErrUnavailable = &Error{Kind: KindUnavailable}
	ErrAuth        = &Error{Kind: KindAuth}
)

// Error is a ZCloud error: a kind, a stable ZStack code, a one-line
// description and free-form details.
type Error struct {
	Kind    Kind   `json:"kind"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Details string `json:"details,omitempty"`
	Cause   error  `json:"-"`
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = string(e.Kind)
	}
	if e.Details != "" {
		msg += ": " + e.Details
	}
	if e.Cause != nil {
		msg += ": " + e.Cause.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

// Is matches sentinel errors by kind.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	return t.Code == "" && t.Message == "" && t.Kind == e.Kind
}

// ZStack error codes used by ZCloud (header/errorcode in ZStack).
const (
	CodeInternal        = "SYS.1000"
	CodeTimeout         = "SYS.1001"
	CodeCreateResource  = "SYS.1002"
	CodeNotFound        = "SYS.1003"
	CodeOperation       = "SYS.1006"
	CodeInvalidArgument = "SYS.1007"
	CodeResourceBusy    = "SYS.1012"
	CodeCancel          = "SYS.1017"
	CodeIdentity        = "ID.1001"
	CodeVMCreate        = "VM.1000"
	CodeVMState         = "VM.1010"
	CodeHostState       = "HOST.1001"
	CodeHostUnavailable = "HOST.1003"
	CodeAllocation      = "HOST.1007"
	CodeL3NoIP          = "L3.1001"
	CodeStorageCapacity = "PS.1002"
)

// defaultCodes is the code given to a kind when the caller names none.
var defaultCodes = map[Kind]string{
	KindNotFound:    CodeNotFound,
	KindInvalid:     CodeInvalidArgument,
	KindConflict:    CodeOperation,
	KindBusy:        CodeResourceBusy,
	KindUnavailable: CodeOperation,
	KindAuth:        CodeIdentity,
	KindInternal:    CodeInternal,
}

// DefaultCode returns the ZStack code for a kind.
func DefaultCode(k Kind) string {
	if c, ok := defaultCodes[k]; ok {
		return c
	}
	return CodeInternal
}

func newErr(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Code: DefaultCode(k), Message: fmt.Sprintf(format, args...)}
}

// NotFound reports a missing resource.
func NotFound(format string, args ...any) *Error { return newErr(KindNotFound, format, args...) }

// Invalid reports bad input.
func Invalid(format string, args ...any) *Error { return newErr(KindInvalid, format, args...) }

// Conflict reports an operation that the resource's state forbids.
func Conflict(format string, args ...any) *Error { return newErr(KindConflict, format, args...) }

// Busy reports a resource that another operation holds.
func Busy(format string, args ...any) *Error { return newErr(KindBusy, format, args...) }

// Unavailable reports that something needed (a host, a capacity) is not there.
func Unavailable(format string, args ...any) *Error { return newErr(KindUnavailable, format, args...) }

// WithCode returns a copy of e carrying a more specific ZStack code.
func (e *Error) WithCode(code string) *Error {
	c := *e
	c.Code = code
	return &c
}

// AsError returns err as an *Error, wrapping unknown errors as internal.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Kind: KindInternal, Code: CodeInternal, Message: "internal error", Cause: err}
}
