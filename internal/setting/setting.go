// Package setting holds what every package's Config has in common: the error that
// names one setting that cannot work, the checks that find one, and the filling in
// of defaults. A package names its settings as Go does (Writers, AdminTokens); the
// wiring maps those names to the environment variables an operator writes.
package setting

import (
	"cmp"
	"errors"
	"fmt"
	"reflect"
)

// Error is one setting of a package's Config that cannot work.
type Error struct {
	// Package is the package whose Config holds the setting ("sink").
	Package string
	// Setting is the field's Go name ("Writers", "AdminTokens").
	Setting string
	// Problem says what is wrong, naming the value.
	Problem string
}

func (e *Error) Error() string { return e.Package + ": " + e.Setting + " " + e.Problem }

// Problems gathers the Errors of one package's Config.
type Problems struct {
	pkg  string
	errs []error
}

// For starts the Problems of package pkg's Config.
func For(pkg string) *Problems { return &Problems{pkg: pkg} }

// Add records that setting has problem (a format with args).
func (p *Problems) Add(setting, format string, args ...any) {
	p.errs = append(p.errs, &Error{Package: p.pkg, Setting: setting, Problem: fmt.Sprintf(format, args...)})
}

// Err is every problem recorded, joined, or nil when there is none.
func (p *Problems) Err() error { return errors.Join(p.errs...) }

// Range records a problem unless lo <= v <= hi.
func Range[T cmp.Ordered](p *Problems, setting string, v, lo, hi T) {
	if v < lo || v > hi {
		p.Add(setting, "%v is not in [%v, %v]", v, lo, hi)
	}
}

// AtLeast records a problem unless v >= lo.
func AtLeast[T cmp.Ordered](p *Problems, setting string, v, lo T) {
	if v < lo {
		p.Add(setting, "%v is below %v", v, lo)
	}
}

// Required records a problem when v is its type's zero value.
func Required[T comparable](p *Problems, setting string, v T) {
	var zero T
	if v == zero {
		p.Add(setting, "is required")
	}
}

// Fill returns the struct c with each zero field set to the same field of defaults:
// a package states its defaults once, as one Config value.
func Fill[T any](c, defaults T) T {
	cv, dv := reflect.ValueOf(&c).Elem(), reflect.ValueOf(defaults)
	for i := range cv.NumField() {
		if f := cv.Field(i); f.CanSet() && f.IsZero() {
			f.Set(dv.Field(i))
		}
	}
	return c
}

// Each calls f with every Error in err's tree (errors.Join and %w wrapping).
func Each(err error, f func(*Error)) {
	switch e := err.(type) {
	case nil:
	case *Error:
		f(e)
	case interface{ Unwrap() []error }:
		for _, inner := range e.Unwrap() {
			Each(inner, f)
		}
	case interface{ Unwrap() error }:
		Each(e.Unwrap(), f)
	}
}

// Names lists the settings err names, in order.
func Names(err error) []string {
	var names []string
	Each(err, func(e *Error) { names = append(names, e.Setting) })
	return names
}
