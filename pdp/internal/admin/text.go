package admin

import (
	"unicode"
	"unicode/utf8"

	"github.com/riskpdp/riskpdp/pdp"
)

// The texts an operator change carries (who, why, which ticket) are the
// audit record: they must say something a person can read, and read the
// same to everyone who looks at the journal.
//
// A text is blank when nothing is left after removing what does not show:
// whitespace (White_Space: ' ', NBSP, U+3000, ...), control characters
// (Cc), format characters (Cf: U+200B–U+200F, U+2060, U+FEFF, bidi
// controls, ...), variation selectors and the other default-ignorable code
// points (Hangul fillers U+115F, U+1160, U+3164, U+FFA0, the combining
// grapheme joiner, ...), the blank Braille pattern U+2800, and combining
// marks with nothing to combine with. Only letters, digits, punctuation and
// symbols count as something written.
//
// Inside a text, control characters (a newline too: a journal line is one
// line), U+FFFD (a lone surrogate or a broken encoding decodes to it) and
// bidi controls (they reorder what a reader sees: "Trojan Source") are
// refused. In an identity (operator, ticket) every invisible character is
// refused: "al\u200bice" must not pass for "alice".

// textRule says what a field may hold.
type textRule struct {
	field    string
	max      int  // bytes
	required bool // "" refused
	identity bool // no invisible character anywhere
}

var (
	operatorText = textRule{field: "operator", max: 128, required: true, identity: true}
	reasonText   = textRule{field: "reason", max: 1024, required: true}
	ticketText   = textRule{field: "ticket", max: 128, required: true, identity: true}
)

// check refuses s unless it is a readable text for r: every operator write
// goes through it (action.check).
func (r textRule) check(s string, why string) error {
	if s == "" {
		if r.required {
			return pdp.Errorf(pdp.CodeMissingField, r.field, "is required: %s", why)
		}
		return nil
	}
	if len(s) > r.max {
		return pdp.Errorf(pdp.CodeInvalidValue, r.field, "too long (over %d bytes)", r.max)
	}
	if !utf8.ValidString(s) {
		return pdp.Errorf(pdp.CodeInvalidValue, r.field, "is not valid UTF-8")
	}
	written := false
	for _, c := range s {
		switch {
		case unicode.Is(unicode.Cc, c):
			return pdp.Errorf(pdp.CodeInvalidValue, r.field, "contains a control character (U+%04X)", c)
		case c == utf8.RuneError:
			return pdp.Errorf(pdp.CodeInvalidValue, r.field, "contains U+FFFD (a lone surrogate or broken encoding)")
		case isBidiControl(c):
			return pdp.Errorf(pdp.CodeInvalidValue, r.field, "contains a bidirectional control character (U+%04X)", c)
		case invisible(c):
			if r.identity {
				return pdp.Errorf(pdp.CodeInvalidValue, r.field, "contains an invisible character (U+%04X)", c)
			}
		case unicode.IsSpace(c), unicode.Is(unicode.M, c):
		case unicode.In(c, unicode.L, unicode.N, unicode.P, unicode.S):
			written = true
		}
	}
	if !written {
		return pdp.Errorf(pdp.CodeMissingField, r.field, "is blank (only spaces or invisible characters): %s", why)
	}
	return nil
}

// invisible reports a character that shows nothing by itself (whitespace
// aside): format characters, variation selectors, the other
// default-ignorable code points, the blank Braille pattern.
func invisible(c rune) bool {
	return unicode.In(c, unicode.Cf, unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point) || c == '\u2800'
}

// isBidiControl reports the characters that change the display order of
// text (Bidi_Control).
func isBidiControl(c rune) bool { return unicode.Is(unicode.Bidi_Control, c) }
