package plugin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/riskpdp/riskpdp/pdp/internal/jsonw"
	"github.com/riskpdp/riskpdp/pdp/plugin/abi"
)

// Features is the feature record the host hands to every plugin; index it
// with the constants of package abi (f[abi.Amount]).
type Features = abi.Features

// NewFeatures returns a neutral record: every feature 0 except those whose
// "unknown" value is -1 (account_age_days, hours_since_sensitive_change).
func NewFeatures() Features { return unknownFeatures }

// unknownFeatures is the record with nothing known.
var unknownFeatures = func() Features {
	var f Features
	for i := range f {
		if abi.KindOf(abi.Feature(i)) == abi.KindUnknown1 {
			f[i] = -1
		}
	}
	return f
}()

// maxFeaturesJSON bounds what DecodeFeaturesJSON reads.
const maxFeaturesJSON = 64 << 10

// DecodeFeaturesJSON decodes a flat JSON object of features by name into a
// record that starts as NewFeatures. Values are numbers; boolean features
// also take true/false; stage, category_code and payment_method_code also
// take their names ("payment", "digital", "virtual_card"). Unknown names,
// duplicate names, values out of a feature's domain and trailing data are
// errors.
//
//	{"amount": 4999, "stage": "payment", "category_code": "digital", "device_new": true}
func DecodeFeaturesJSON(b []byte) (Features, error) {
	f := NewFeatures()
	if len(b) > maxFeaturesJSON {
		return f, fmt.Errorf("features JSON is %d bytes, over the %d byte limit", len(b), maxFeaturesJSON)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return f, fmt.Errorf("features JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return f, errors.New("features JSON: want an object of feature names to values")
	}
	var seen [abi.NumFeatures]bool
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return f, fmt.Errorf("features JSON: %w", err)
		}
		name, _ := tok.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return f, fmt.Errorf("features JSON: %s: %w", name, err)
		}
		i, ok := abi.LookupFeature(name)
		if !ok {
			return f, fmt.Errorf("features JSON: unknown feature %q", name)
		}
		if seen[i] {
			return f, fmt.Errorf("features JSON: %q given twice", name)
		}
		seen[i] = true
		if err := setFeature(&f, i, v); err != nil {
			return f, fmt.Errorf("features JSON: %w", err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return f, fmt.Errorf("features JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return f, errors.New("features JSON: trailing data after the object")
	}
	return f, nil
}

// featuresFromMap builds a record from a decoded YAML or JSON map.
func featuresFromMap(m map[string]any) (Features, error) {
	f := NewFeatures()
	for name, v := range m {
		i, ok := abi.LookupFeature(name)
		if !ok {
			return f, fmt.Errorf("unknown feature %q", name)
		}
		if err := setFeature(&f, i, v); err != nil {
			return f, err
		}
	}
	return f, nil
}

// setFeature stores v as feature i after checking its domain.
func setFeature(f *Features, i abi.Feature, v any) error {
	var x float64
	switch v := v.(type) {
	case json.Number:
		var err error
		if x, err = strconv.ParseFloat(string(v), 64); err != nil {
			return fmt.Errorf("%s: %q is not a number", i, v)
		}
	case float64:
		x = v
	case int:
		x = float64(v)
	case bool:
		if abi.KindOf(i) != abi.KindBool {
			return fmt.Errorf("%s: true/false only for 0/1 features", i)
		}
		if v {
			x = 1
		}
	case string:
		c, ok := abi.CodeOf(i, v)
		if !ok {
			return fmt.Errorf("%s: %q is not a known name", i, v)
		}
		x = float64(c)
	default:
		return fmt.Errorf("%s: want a number, got %T", i, v)
	}
	if math.IsNaN(x) || math.IsInf(x, 0) || math.Abs(x) > 1e15 {
		return fmt.Errorf("%s: %v is not a finite number within ±1e15", i, x)
	}
	switch abi.KindOf(i) {
	case abi.KindBool:
		if x != 0 && x != 1 {
			return fmt.Errorf("%s: want 0 or 1, got %v", i, x)
		}
	case abi.KindCode:
		if x != math.Trunc(x) || x < 0 || x > float64(abi.MaxCode(i)) {
			return fmt.Errorf("%s: want an integer code from 0 to %d, got %v", i, abi.MaxCode(i), x)
		}
	case abi.KindUnknown1:
		if x < 0 && x != -1 {
			return fmt.Errorf("%s: want a non-negative number or -1 (unknown), got %v", i, x)
		}
	}
	f[i] = x
	return nil
}

// EncodeFeaturesJSON writes f as the JSON DecodeFeaturesJSON reads, one
// number per feature, in slot order.
func EncodeFeaturesJSON(f *Features) []byte {
	b := []byte{'{'}
	for i, x := range f {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = jsonw.AppendString(b, abi.Feature(i).String())
		b = append(b, ": "...)
		b, _ = jsonw.AppendFloat(b, x) // the sidecar's one number format
	}
	return append(b, '}')
}
