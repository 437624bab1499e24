package home

import "errors"

// Why is a refusal with its reason, in words a user can act on: the
// server shows the reason after the status text ("263 permission denied
// (the path leaves the home)"). It unwraps to its kind, one of the
// sentinels, so errors.Is sees through it.
type Why struct {
	Kind   error
	Reason string
}

func (w *Why) Error() string { return w.Reason + ": " + w.Kind.Error() }

func (w *Why) Unwrap() error { return w.Kind }

// because returns kind with a reason.
func because(kind error, reason string) error { return &Why{Kind: kind, Reason: reason} }

// Reason returns the reason a refusal carries, or for one that carries
// none a default of its kind when there is one ("" otherwise).
func Reason(err error) string {
	var w *Why
	switch {
	case errors.As(err, &w):
		return w.Reason
	case errors.Is(err, ErrOutside):
		return "the path leaves the home"
	}
	return ""
}
