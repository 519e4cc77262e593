package jsonw

import (
	"errors"
	"fmt"
)

// Compact appends src to dst without insignificant whitespace, as
// json.Compact does, and fails exactly when json.Valid(src) is false (a
// differential fuzz target holds it to both). It is the decision log
// writer's check of Input and Enrichment: a single pass, about five times
// faster than json.Compact, which calls a state function per byte.
func Compact(dst, src []byte) ([]byte, error) {
	var stackBuf [64]byte
	stack := stackBuf[:0] // '{' or '[' of the open containers
	i := skipWS(src, 0)
	for {
		// A value starts at i.
		if i >= len(src) {
			return dst, errJSONEnd
		}
		switch c := src[i]; {
		case c == '{' || c == '[':
			if len(stack) >= maxJSONDepth {
				return dst, errors.New("exceeded max depth")
			}
			stack = append(stack, c)
			dst = append(dst, c)
			i = skipWS(src, i+1)
			if i < len(src) && src[i] == c+2 { // '}' or ']': empty
				dst = append(dst, c+2)
				stack = stack[:len(stack)-1]
				i++
				break
			}
			if c == '{' {
				var err error
				if dst, i, err = compactKey(dst, src, i); err != nil {
					return dst, err
				}
			}
			continue
		case c == '"':
			end, err := scanJSONString(src, i)
			if err != nil {
				return dst, err
			}
			dst = append(dst, src[i:end]...)
			i = end
		case c == '-' || (c >= '0' && c <= '9'):
			end := numberEnd(src, i)
			if end < 0 {
				return dst, fmt.Errorf("invalid number at offset %d", i)
			}
			dst = append(dst, src[i:end]...)
			i = end
		case c == 't' || c == 'f' || c == 'n':
			lit := "null"
			if c == 't' {
				lit = "true"
			} else if c == 'f' {
				lit = "false"
			}
			if len(src)-i < len(lit) || string(src[i:i+len(lit)]) != lit {
				return dst, fmt.Errorf("invalid literal at offset %d", i)
			}
			dst = append(dst, lit...)
			i += len(lit)
		default:
			return dst, fmt.Errorf("invalid character %q at offset %d", c, i)
		}
		// After a value: close containers, or go on to the next element.
		for {
			i = skipWS(src, i)
			if len(stack) == 0 {
				if i != len(src) {
					return dst, fmt.Errorf("invalid character %q after top-level value", src[i])
				}
				return dst, nil
			}
			if i >= len(src) {
				return dst, errJSONEnd
			}
			top := stack[len(stack)-1]
			c := src[i]
			if c == top+2 {
				dst = append(dst, c)
				stack = stack[:len(stack)-1]
				i++
				continue
			}
			if c != ',' {
				return dst, fmt.Errorf("invalid character %q after %c element", c, top)
			}
			dst = append(dst, ',')
			i = skipWS(src, i+1)
			if top == '{' {
				var err error
				if dst, i, err = compactKey(dst, src, i); err != nil {
					return dst, err
				}
			}
			break
		}
	}
}

// maxJSONDepth is encoding/json's nesting limit.
const maxJSONDepth = 10000

var errJSONEnd = errors.New("unexpected end of JSON input")

// compactKey copies a key and its colon at src[i:], returning where the
// value starts.
func compactKey(dst, src []byte, i int) ([]byte, int, error) {
	if i >= len(src) {
		return dst, i, errJSONEnd
	}
	if src[i] != '"' {
		return dst, i, fmt.Errorf("invalid character %q looking for an object key", src[i])
	}
	end, err := scanJSONString(src, i)
	if err != nil {
		return dst, i, err
	}
	dst = append(dst, src[i:end]...)
	i = skipWS(src, end)
	if i >= len(src) {
		return dst, i, errJSONEnd
	}
	if src[i] != ':' {
		return dst, i, fmt.Errorf("invalid character %q after object key", src[i])
	}
	return append(dst, ':'), skipWS(src, i+1), nil
}

func skipWS(src []byte, i int) int {
	for i < len(src) {
		switch src[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanJSONString returns the end of the string at src[i] (one past the
// closing quote): no control characters, escapes among \" \\ \/ \b \f \n
// \r \t \uXXXX. Bytes above 0x7F pass unchecked, as in encoding/json.
func scanJSONString(src []byte, i int) (int, error) {
	for j := i + 1; j < len(src); j++ {
		switch c := src[j]; {
		case c == '"':
			return j + 1, nil
		case c < 0x20:
			return 0, fmt.Errorf("invalid character %q in string literal", c)
		case c == '\\':
			j++
			if j >= len(src) {
				return 0, errJSONEnd
			}
			switch src[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if _, ok := Hex4(src, j+1); !ok {
					return 0, errors.New("invalid \\u escape in string literal")
				}
				j += 4
			default:
				return 0, fmt.Errorf("invalid escape %q in string literal", src[j])
			}
		}
	}
	return 0, errJSONEnd
}

// Hex4 decodes the four hex digits of a \uXXXX escape at s[i:]; ok is
// false when there are not four.
func Hex4(s []byte, i int) (_ rune, ok bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range s[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
