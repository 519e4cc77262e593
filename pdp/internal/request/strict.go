package request

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/jsonw"
	"github.com/riskpdp/riskpdp/pdp/internal/pii"
)

// DecodeStrict decodes a small request body (events, verifications,
// operator actions) into v: the sidecar's strict JSON rules first
// (CheckJSON: duplicates, secrets, card numbers, depth), then encoding/json
// with unknown fields refused. Errors are *pdp.Error naming the field.
func DecodeStrict(body []byte, maxDepth int, v any) error {
	if err := CheckJSON(body, maxDepth); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var te *json.UnmarshalTypeError
	switch {
	case err == nil:
		return exactKeys(body, reflect.TypeOf(v))
	case errors.As(err, &te):
		return pdp.Errorf(pdp.CodeWrongType, te.Field, "must be a %s", jsonKind(te.Type.Kind().String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		var scan pii.Scanner // a number in the key is not echoed back
		return pdp.Errorf(pdp.CodeUnknownField, scan.Masked(field), "unknown field")
	}
	return pdp.Errorf(pdp.CodeMalformedJSON, "", "%v", err)
}

// exactKeys refuses a key that encoding/json matched to a field only
// case-insensitively ({"UID": …} for "uid"): a field has one spelling, so
// two spellings of one request cannot mean one thing to the sidecar and
// another to whatever else reads the body. It walks the body along t's
// json names (embedded structs' promoted, types that decode themselves and
// maps of any not looked into).
//
// Most bodies take a shortcut: when every key in the body, at any depth,
// is spelled exactly as one of t's json names and no two of those names
// differ in case only, encoding/json can have matched each key to its own
// spelling, and the body is not decoded again (the second decode was a
// third of an outcome report's decoding).
func exactKeys(body []byte, t reflect.Type) error {
	if names := jsonNames(t); names != nil && keysAmong(body, names) {
		return nil
	}
	return walkBody(body, t)
}

// walkBody is exactKeys without the shortcut: the body decoded again and
// walked along t.
func walkBody(body []byte, t reflect.Type) error {
	var doc any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return pdp.Errorf(pdp.CodeMalformedJSON, "", "%v", err)
	}
	return walkKeys(doc, t, "")
}

var unmarshaler = reflect.TypeFor[json.Unmarshaler]()

func walkKeys(doc any, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshaler) || t.Implements(unmarshaler) {
		return nil
	}
	switch d := doc.(type) {
	case map[string]any:
		switch t.Kind() {
		case reflect.Struct:
			fields := jsonFields(t)
			for k, v := range d {
				f, ok := fields[k]
				if !ok {
					var scan pii.Scanner // a number in the key is not echoed back
					return pdp.Errorf(pdp.CodeUnknownField, scan.Masked(join(path, k)), "unknown field (field names are case-sensitive)")
				}
				if err := walkKeys(v, f, join(path, k)); err != nil {
					return err
				}
			}
		case reflect.Map:
			for k, v := range d {
				if err := walkKeys(v, t.Elem(), join(path, k)); err != nil {
					return err
				}
			}
		}
	case []any:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			for i, v := range d {
				if err := walkKeys(v, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// typeNames caches jsonNames by type.
var typeNames sync.Map // reflect.Type → map[string]bool (nil: no shortcut)

// jsonNames returns the json names of the structs in t (through pointers,
// slices, arrays and map values), or nil when two of them differ in case
// only, so that a key spelled as one could be another's case-insensitive
// match.
func jsonNames(t reflect.Type) map[string]bool {
	if v, ok := typeNames.Load(t); ok {
		return v.(map[string]bool)
	}
	names := map[string]bool{}
	seen := map[reflect.Type]bool{}
	var collect func(reflect.Type)
	collect = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || seen[t] {
			return
		}
		seen[t] = true
		for name, ft := range jsonFields(t) {
			names[name] = true
			collect(ft)
		}
	}
	collect(t)
	if foldCollision(names) {
		names = nil
	}
	typeNames.Store(t, names)
	return names
}

// foldCollision reports whether two of names differ in case only.
func foldCollision(names map[string]bool) bool {
	for a := range names {
		for b := range names {
			if a != b && strings.EqualFold(a, b) {
				return true
			}
		}
	}
	return false
}

// keysAmong reports whether every object key in body, a valid JSON text,
// is one of names as written: a key with an escape or outside names is not
// (the caller then walks the body).
func keysAmong(body []byte, names map[string]bool) bool {
	for i := 0; i < len(body); {
		if body[i] != '"' {
			i++
			continue
		}
		end, flags, err := jsonw.StringEnd(body, i)
		if err != nil {
			return false
		}
		if j := jsonw.SkipSpace(body, end); j < len(body) && body[j] == ':' {
			if flags&jsonw.Escaped != 0 || !names[string(body[i+1:end-1])] {
				return false
			}
		}
		i = end
	}
	return true
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// jsonFields are a struct's JSON names (exported fields, embedded
// structs' promoted) and their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					if _, ok := out[k]; !ok {
						out[k] = v
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "struct", "map":
		return "object"
	case "slice", "array":
		return "array"
	}
	return "number"
}
