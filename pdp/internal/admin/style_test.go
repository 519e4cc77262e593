package admin

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestOneJSONStyle walks every answer of an operator's session: keys are
// snake_case, times RFC 3339, durations strings ("24h0m0s"), a journal
// record's detail the object it holds, and every change to an account
// answers with exactly what GET /admin/v1/accounts/{uid} then shows (a
// grey freeze is not "frozen": it restricts functions).
func TestOneJSONStyle(t *testing.T) {
	a := newTestAPI(t)
	act := strings.TrimSuffix(why, "}")
	changes := []struct{ method, target, body string }{
		{"POST", "/admin/v1/accounts/u-1/freeze", act + `,"kind":"review","functions":["withdrawal"]}`},
		{"PUT", "/admin/v1/accounts/u-1/limit", act + `,"daily_amount":1000,"currency":"CNY","duration":"48h"}`},
		{"POST", "/admin/v1/accounts/u-1/release", act + `}`},
		{"POST", "/admin/v1/accounts/u-1/freeze", act + `,"kind":"temporary","duration":"30m"}`},
		{"DELETE", "/admin/v1/accounts/u-1/limit", act + `}`},
	}
	for _, c := range changes {
		code, got := a.do(c.method, c.target, c.body)
		if code != 200 && code != 202 { // 202: a release waiting for a second operator
			t.Fatalf("%s %s: %d %v", c.method, c.target, code, got)
		}
		checkStyle(t, c.target, "", got)
		_, view := a.do("GET", "/admin/v1/accounts/u-1", "")
		if !reflect.DeepEqual(got, view) {
			t.Errorf("%s %s answered\n%v\nthe account view then shows\n%v", c.method, c.target, got, view)
		}
		switch c {
		case changes[0]:
			if got["frozen"] != false || !reflect.DeepEqual(got["restricted"], []any{"withdrawal"}) {
				t.Errorf("grey freeze: frozen %v, restricted %v; want false, [withdrawal]", got["frozen"], got["restricted"])
			}
		case changes[1]:
			if l := got["limits"].([]any); len(l) != 1 || l[0].(map[string]any)["duration"] != "48h0m0s" {
				t.Errorf("limits %v, want one of duration \"48h0m0s\"", l)
			}
		case changes[4]:
			if l, ok := got["limits"].([]any); !ok || len(l) != 0 {
				t.Errorf("limits %#v after clearing them, want []", got["limits"])
			}
		}
	}
	if code, got := a.do("PUT", "/admin/v1/lists/block/device/d-1", act+`,"ttl":"72h"}`); code != 200 {
		t.Fatalf("list put: %d %v", code, got)
	}
	for _, target := range []string{"/admin/v1/accounts/u-1", "/admin/v1/lists/block/device", "/admin/v1/journal",
		"/admin/v1/cases", "/admin/v1/cases/u-1"} {
		code, got := a.do("GET", target, "")
		if code != 200 {
			t.Fatalf("GET %s: %d %v", target, code, got)
		}
		checkStyle(t, target, "", got)
	}
	_, j := a.do("GET", "/admin/v1/journal", "")
	for _, r := range j["records"].([]any) {
		if _, ok := r.(map[string]any)["detail"].(map[string]any); !ok {
			t.Errorf("journal record %v: detail is not an object", r)
		}
	}
}

var snakeKey = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// checkStyle walks v (at key) for keys, times and durations out of style.
func checkStyle(t *testing.T, where, key string, v any) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if !snakeKey.MatchString(k) {
				t.Errorf("%s: key %q is not snake_case", where, k)
			}
			checkStyle(t, where, k, x)
		}
	case []any:
		for _, x := range v {
			checkStyle(t, where, key, x)
		}
	case string:
		switch {
		case key == "at" || key == "since" || key == "until" || key == "created" || key == "expires" ||
			strings.HasSuffix(key, "_at") || strings.HasSuffix(key, "_seen") || strings.HasSuffix(key, "_until"):
			if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
				t.Errorf("%s: %s = %q is not an RFC 3339 time", where, key, v)
			}
		case key == "duration" || key == "ttl":
			if _, err := time.ParseDuration(v); err != nil {
				t.Errorf("%s: %s = %q is not a duration", where, key, v)
			}
		}
	case float64:
		if key == "duration" || key == "ttl" || key == "at" || key == "until" || key == "since" {
			t.Errorf("%s: %s is the number %v", where, key, v)
		}
	}
}
