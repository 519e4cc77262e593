package irproto

import (
	"fmt"
	"os"
	"reflect"
	"sort"
	"testing"

	"github.com/open-policy-agent/opa/v1/ir"

	"github.com/riskpdp/riskpdp/policies"
)

type counter map[string]int

func (c counter) Before(any) {}
func (c counter) After(any)  {}
func (c counter) Visit(x any) (ir.Visitor, error) {
	if s, ok := x.(ir.Stmt); ok {
		c[reflect.Indirect(reflect.ValueOf(s)).Type().Name()]++
	}
	if s, ok := x.(*ir.CallStmt); ok {
		c["call:"+s.Func]++
	}
	return c, nil
}

func TestDumpPlan(t *testing.T) {
	if os.Getenv("IRDUMP") == "" {
		t.Skip("IRDUMP not set")
	}
	p, err := Load(policies.FS, "riskpdp")
	if err != nil {
		t.Fatal(err)
	}
	c := counter{}
	if err := ir.Walk(c, p.Plan); err != nil {
		t.Fatal(err)
	}
	var ks []string
	for k := range c {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	for _, k := range ks {
		fmt.Println(k, c[k])
	}
	fmt.Println("funcs", len(p.Plan.Funcs.Funcs), "builtins", len(p.Plan.Static.BuiltinFuncs))
	if f := os.Getenv("IRDUMP"); f != "1" {
		out, _ := os.Create(f)
		defer out.Close()
		_ = ir.Pretty(out, p.Plan)
	}
}
