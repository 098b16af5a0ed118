package contract

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/zcloud/zcloud/models"
)

// The rules below decide what a request parameter means. They follow ZStack
// 5.x's ApiMessageParamValidator, adjusted for clients that send Go zero
// values:
//
//   - Not set: a parameter is "not set" when it is absent or its JSON value
//     is null, "", 0, false, [] or {}. The Go SDK sends every int and bool
//     field, so 0 and false cannot be told apart from "not given"; ZCloud
//     treats them as absent everywhere (an absent boolean means false, an
//     absent number means "use the default", e.g. the instance offering's).
//   - Required parameters must be set. A required number sent as 0 reports
//     its range when 0 is outside it, which is the more useful message.
//   - Types: the JSON value must fit the published Java type, with the
//     leniency of ZStack's JSON decoder (Gson): numbers and booleans are
//     accepted for strings, numeric strings for numbers, "true"/"false" for
//     booleans, integral floats (1.0, 1e3) for integers. int/Integer must fit
//     32 bits, long/Long 64 bits.
//   - Valid values ("one of") are compared exactly and case-sensitively, as
//     ZStack 5.x does; for a list every element must be valid.
//   - Ranges apply to integers, maximum lengths to strings (counted in UTF-16
//     code units like Java's String.length). Strings are not trimmed.
//   - Unknown parameters are ignored, as ZStack ignores JSON keys that its
//     message class lacks, so newer clients keep working.

// Normalize returns a copy of params without the values that mean "not set"
// (see the rules above) and with every known parameter converted to its
// canonical Go type: string, int64, float64, bool, []any or map[string]any.
// A value that cannot be converted is kept unchanged for Validate to report;
// unknown parameters are kept unless they are not set.
func (a *API) Normalize(params map[string]any) map[string]any {
	out := make(map[string]any, len(params))
	for name, v := range params {
		if unset(v) {
			continue
		}
		if p, ok := a.Param(name); ok {
			if c, err := p.convert(v); err == nil {
				if unset(c) {
					continue
				}
				v = c
			}
		}
		out[name] = v
	}
	return out
}

// Validate checks params against the API's parameter rules (see the rules
// above) and returns the first violation in the table's parameter order as a
// models.Invalid error (ZStack code SYS.1007). Values of path placeholders
// must already be copied into params. Validate accepts raw or normalized
// params alike.
func (a *API) Validate(params map[string]any) error {
	for i := range a.Params {
		p := &a.Params[i]
		v, present := params[p.Name]
		if !present || unset(v) {
			if !p.Required {
				continue
			}
			if present && v != nil {
				if c, err := p.convert(v); err == nil {
					if err := p.checkRange(c); err != nil {
						return err
					}
				}
			}
			return models.Invalid("missing required parameter [%s]", p.Name)
		}
		c, err := p.convert(v)
		if err != nil {
			return err
		}
		if unset(c) {
			// e.g. the numeric string "0": not set after all.
			if p.Required {
				if err := p.checkRange(c); err != nil {
					return err
				}
				return models.Invalid("missing required parameter [%s]", p.Name)
			}
			continue
		}
		if err := p.checkValidValues(c); err != nil {
			return err
		}
		if err := p.checkRange(c); err != nil {
			return err
		}
		if err := p.checkMaxLength(c); err != nil {
			return err
		}
	}
	return nil
}

// unset reports whether a JSON value means "not set".
func unset(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case bool:
		return !x
	case json.Number:
		f, err := x.Float64()
		return err == nil && f == 0
	case float64:
		return x == 0
	case float32:
		return x == 0
	case int:
		return x == 0
	case int64:
		return x == 0
	case int32:
		return x == 0
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Map, reflect.Array:
		return rv.Len() == 0
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64, reflect.Bool, reflect.String:
		return rv.IsZero()
	}
	return false
}

// convert turns a JSON value into the canonical Go type of the parameter's
// kind, or explains why it does not fit.
func (p *Param) convert(v any) (any, error) {
	switch k := p.Kind(); k {
	case KindString:
		s, ok := scalarString(v)
		if !ok {
			return nil, p.typeErr(v)
		}
		return s, nil
	case KindInt, KindLong:
		n, ok := toInt64(v)
		if !ok || (k == KindInt && (n < math.MinInt32 || n > math.MaxInt32)) {
			return nil, p.typeErr(v)
		}
		return n, nil
	case KindFloat:
		f, ok := toFloat64(v)
		if !ok {
			return nil, p.typeErr(v)
		}
		return f, nil
	case KindBool:
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			if strings.EqualFold(x, "true") {
				return true, nil
			}
			if strings.EqualFold(x, "false") {
				return false, nil
			}
		}
		return nil, p.typeErr(v)
	case KindList:
		if l, ok := v.([]any); ok {
			return l, nil
		}
		rv := reflect.ValueOf(v)
		if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
			return nil, p.typeErr(v)
		}
		l := make([]any, rv.Len())
		for i := range l {
			l[i] = rv.Index(i).Interface()
		}
		return l, nil
	case KindMap:
		if m, ok := v.(map[string]any); ok {
			return m, nil
		}
		rv := reflect.ValueOf(v)
		if rv.Kind() != reflect.Map || rv.Type().Key().Kind() != reflect.String {
			return nil, p.typeErr(v)
		}
		m := make(map[string]any, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			m[it.Key().String()] = it.Value().Interface()
		}
		return m, nil
	default:
		return v, nil
	}
}

func (p *Param) typeErr(v any) error {
	return models.Invalid("invalid parameter [%s]: expected %s, got %s", p.Name, p.Kind().noun(), describe(v))
}

func (p *Param) checkValidValues(v any) error {
	if len(p.ValidValues) == 0 {
		return nil
	}
	values := []any{v}
	if l, ok := v.([]any); ok {
		values = l
	}
	for _, e := range values {
		s, ok := scalarString(e)
		if !ok || !slices.Contains(p.ValidValues, s) {
			return models.Invalid("invalid parameter [%s]: value %s is not one of [%s]",
				p.Name, describe(e), strings.Join(p.ValidValues, ", "))
		}
	}
	return nil
}

func (p *Param) checkRange(v any) error {
	n, ok := v.(int64)
	if !ok || p.Min == nil || p.Max == nil {
		return nil
	}
	if n < *p.Min || n > *p.Max {
		return models.Invalid("invalid parameter [%s]: value %d is out of range [%d, %d]", p.Name, n, *p.Min, *p.Max)
	}
	return nil
}

func (p *Param) checkMaxLength(v any) error {
	s, ok := v.(string)
	if !ok || p.MaxLength == 0 {
		return nil
	}
	if n := javaLen(s); n > p.MaxLength {
		return models.Invalid("invalid parameter [%s]: length %d exceeds the maximum of %d", p.Name, n, p.MaxLength)
	}
	return nil
}

// javaLen is the length of s in UTF-16 code units, as Java counts it.
func javaLen(s string) int {
	n := 0
	for _, r := range s {
		n += max(utf16.RuneLen(r), 1)
	}
	return n
}

// scalarString renders a JSON scalar the way Gson reads it into a String.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case json.Number:
		return x.String(), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32), true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(rv.Uint(), 10), true
	}
	return "", false
}

// toInt64 reads an integral JSON number (or numeric string) as int64.
func toInt64(v any) (int64, bool) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = strings.TrimSpace(x)
	case float64:
		return floatToInt64(x)
	case float32:
		return floatToInt64(float64(x))
	default:
		rv := reflect.ValueOf(v)
		switch rv.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			return rv.Int(), true
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			if u := rv.Uint(); u <= math.MaxInt64 {
				return int64(u), true
			}
		}
		return 0, false
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false
	}
	return floatToInt64(f)
}

func floatToInt64(f float64) (int64, bool) {
	if f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
		return 0, false
	}
	return int64(f), true
}

// toFloat64 reads a JSON number (or numeric string) as float64.
func toFloat64(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil
	}
	if n, ok := toInt64(v); ok {
		return float64(n), true
	}
	return 0, false
}

// describe names a JSON value for an error message without dumping it whole.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		if len(x) > 64 {
			x = x[:64] + "..."
		}
		return strconv.Quote(x)
	case bool, json.Number, float64, float32, int, int64, int32:
		return fmt.Sprint(x)
	}
	switch reflect.ValueOf(v).Kind() {
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return fmt.Sprintf("a %T", v)
}
