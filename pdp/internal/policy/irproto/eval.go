package irproto

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// ErrUnsupported is returned (wrapped) by Compile for a statement or call
// the prototype does not interpret.
var ErrUnsupported = errors.New("not supported")

// ErrConflict is a complete rule or object key with two values, as
// topdown's eval_conflict_error.
var ErrConflict = errors.New("conflict")

// The interpreter runs a tree of ops compiled once from the plan: every
// function name, built-in and string constant is resolved ahead of time, so
// an evaluation only walks slices.
//
// Control flow follows OPA's WebAssembly compiler (the reference consumer of
// the IR, internal/compiler/wasm): a statement that is undefined leaves the
// innermost block; BreakStmt{Index: n} leaves n+1 blocks; a nested
// BlockStmt's blocks run one after the other; a ScanStmt's body is
// block{loop{body}}, so a break of 0 continues with the next element and a
// break of 1 ends the scan; a NotStmt's body is one block.

type opKind uint8

const (
	opReturn opKind = iota
	opCall
	opBuiltin
	opBlock
	opBreak
	opDot
	opLen
	opScan
	opNot
	opAssignInt
	opAssign
	opAssignOnce
	opReset
	opMakeNull
	opMakeNum
	opMakeArray
	opMakeObject
	opMakeSet
	opEqual
	opNotEqual
	opIsArray
	opIsObject
	opIsSet
	opIsDefined
	opIsUndefined
	opArrayAppend
	opObjectInsert
	opObjectInsertOnce
	opSetAdd
	opResultSetAdd
	opNop
)

// operand is a local (c == nil) or a constant.
type operand struct {
	local int
	c     *ast.Term
}

type op struct {
	kind   opKind
	a, b   operand
	target int
	n      int // break index, func index
	blocks []*block
	args   []operand
	bi     topdown.BuiltinFunc
	biName string
	loc    *ir.Location
}

type block struct{ ops []op }

type fn struct {
	name    string
	params  []int
	ret     int
	nlocals int
	blocks  []*block
	memo    bool
	index   int
}

// Program is a plan compiled for the interpreter.
type Program struct {
	plan    []*block
	nlocals int
	funcs   []*fn
	// Stmts counts the plan's statements by kind, for reports.
	Stmts map[string]int
}

type compiler struct {
	pol     *ir.Policy
	strings []*ast.Term
	fnIndex map[string]int
	maxLoc  int
	stmts   map[string]int
}

// Compile resolves p for the interpreter. A statement kind or built-in the
// prototype lacks is an error wrapping ErrUnsupported.
func Compile(p *ir.Policy) (*Program, error) {
	c := &compiler{pol: p, fnIndex: map[string]int{}, stmts: map[string]int{}}
	if p.Static != nil {
		for _, s := range p.Static.Strings {
			c.strings = append(c.strings, ast.StringTerm(s.Value))
		}
	}
	prog := &Program{Stmts: c.stmts}
	if p.Funcs != nil {
		for i, f := range p.Funcs.Funcs {
			c.fnIndex[f.Name] = i
			prog.funcs = append(prog.funcs, &fn{name: f.Name, index: i})
		}
		for i, f := range p.Funcs.Funcs {
			c.maxLoc = int(f.Return)
			out := prog.funcs[i]
			for _, l := range f.Params {
				out.params = append(out.params, int(l))
				c.maxLoc = max(c.maxLoc, int(l))
			}
			out.ret = int(f.Return)
			out.memo = len(f.Params) == 2
			for _, b := range f.Blocks {
				cb, err := c.block(b)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", f.Name, err)
				}
				out.blocks = append(out.blocks, cb)
			}
			out.nlocals = c.maxLoc + 1
		}
	}
	if p.Plans == nil || len(p.Plans.Plans) != 1 {
		return nil, fmt.Errorf("want one plan: %w", ErrUnsupported)
	}
	c.maxLoc = int(ir.Data)
	for _, b := range p.Plans.Plans[0].Blocks {
		cb, err := c.block(b)
		if err != nil {
			return nil, fmt.Errorf("plan: %w", err)
		}
		prog.plan = append(prog.plan, cb)
	}
	prog.nlocals = c.maxLoc + 1
	return prog, nil
}

func (c *compiler) loc(l ir.Local) int {
	c.maxLoc = max(c.maxLoc, int(l))
	return int(l)
}

func (c *compiler) operand(o ir.Operand) (operand, error) {
	switch v := o.Value.(type) {
	case ir.Local:
		return operand{local: c.loc(v)}, nil
	case *ir.Local:
		return operand{local: c.loc(*v)}, nil
	case ir.StringIndex:
		return operand{c: c.strings[v]}, nil
	case *ir.StringIndex:
		return operand{c: c.strings[*v]}, nil
	case ir.Bool:
		return operand{c: ast.InternedTerm(bool(v))}, nil
	case *ir.Bool:
		return operand{c: ast.InternedTerm(bool(*v))}, nil
	}
	return operand{}, fmt.Errorf("operand %T: %w", o.Value, ErrUnsupported)
}

func (c *compiler) block(b *ir.Block) (*block, error) {
	out := &block{ops: make([]op, 0, len(b.Stmts))}
	for _, s := range b.Stmts {
		c.stmts[reflect.Indirect(reflect.ValueOf(s)).Type().Name()]++
		o, err := c.stmt(s)
		if err != nil {
			return nil, err
		}
		out.ops = append(out.ops, o)
	}
	return out, nil
}

func (c *compiler) stmt(s ir.Stmt) (op, error) {
	var (
		o   = op{loc: s.GetLocation()}
		err error
	)
	two := func(a, b ir.Operand) {
		if o.a, err = c.operand(a); err == nil {
			o.b, err = c.operand(b)
		}
	}
	switch s := s.(type) {
	case *ir.ReturnLocalStmt:
		o.kind, o.a = opReturn, operand{local: c.loc(s.Source)}
	case *ir.CallStmt:
		o.target = c.loc(s.Result)
		for _, a := range s.Args {
			x, e := c.operand(a)
			if e != nil {
				return o, e
			}
			o.args = append(o.args, x)
		}
		if i, ok := c.fnIndex[s.Func]; ok {
			o.kind, o.n = opCall, i
			break
		}
		bi := topdown.GetBuiltin(s.Func)
		if bi == nil {
			return o, fmt.Errorf("built-in %s: %w", s.Func, ErrUnsupported)
		}
		o.kind, o.bi, o.biName = opBuiltin, bi, s.Func
	case *ir.BlockStmt:
		o.kind = opBlock
		for _, b := range s.Blocks {
			cb, e := c.block(b)
			if e != nil {
				return o, e
			}
			o.blocks = append(o.blocks, cb)
		}
	case *ir.BreakStmt:
		o.kind, o.n = opBreak, int(s.Index)
	case *ir.DotStmt:
		o.kind, o.target = opDot, c.loc(s.Target)
		two(s.Source, s.Key)
	case *ir.LenStmt:
		o.kind, o.target = opLen, c.loc(s.Target)
		o.a, err = c.operand(s.Source)
	case *ir.ScanStmt:
		o.kind = opScan
		o.a, o.b, o.target = operand{local: c.loc(s.Source)}, operand{local: c.loc(s.Key)}, c.loc(s.Value)
		cb, e := c.block(s.Block)
		if e != nil {
			return o, e
		}
		o.blocks = []*block{cb}
	case *ir.NotStmt:
		o.kind = opNot
		cb, e := c.block(s.Block)
		if e != nil {
			return o, e
		}
		o.blocks = []*block{cb}
	case *ir.AssignIntStmt:
		o.kind, o.target, o.a = opAssignInt, c.loc(s.Target), operand{c: ast.InternedTerm(int(s.Value))}
	case *ir.AssignVarStmt:
		o.kind, o.target = opAssign, c.loc(s.Target)
		o.a, err = c.operand(s.Source)
	case *ir.AssignVarOnceStmt:
		o.kind, o.target = opAssignOnce, c.loc(s.Target)
		o.a, err = c.operand(s.Source)
	case *ir.ResetLocalStmt:
		o.kind, o.target = opReset, c.loc(s.Target)
	case *ir.MakeNullStmt:
		o.kind, o.target = opMakeNull, c.loc(s.Target)
	case *ir.MakeNumberIntStmt:
		o.kind, o.target, o.a = opMakeNum, c.loc(s.Target), operand{c: ast.InternedTerm(int(s.Value))}
	case *ir.MakeNumberRefStmt:
		o.kind, o.target = opMakeNum, c.loc(s.Target)
		o.a = operand{c: ast.NumberTerm(jsonNumber(c.pol.Static.Strings[s.Index].Value))}
	case *ir.MakeArrayStmt:
		o.kind, o.target, o.n = opMakeArray, c.loc(s.Target), int(s.Capacity)
	case *ir.MakeObjectStmt:
		o.kind, o.target = opMakeObject, c.loc(s.Target)
	case *ir.MakeSetStmt:
		o.kind, o.target = opMakeSet, c.loc(s.Target)
	case *ir.EqualStmt:
		o.kind = opEqual
		two(s.A, s.B)
	case *ir.NotEqualStmt:
		o.kind = opNotEqual
		two(s.A, s.B)
	case *ir.IsArrayStmt:
		o.kind = opIsArray
		o.a, err = c.operand(s.Source)
	case *ir.IsObjectStmt:
		o.kind = opIsObject
		o.a, err = c.operand(s.Source)
	case *ir.IsSetStmt:
		o.kind = opIsSet
		o.a, err = c.operand(s.Source)
	case *ir.IsDefinedStmt:
		o.kind, o.a = opIsDefined, operand{local: c.loc(s.Source)}
	case *ir.IsUndefinedStmt:
		o.kind, o.a = opIsUndefined, operand{local: c.loc(s.Source)}
	case *ir.ArrayAppendStmt:
		o.kind, o.target = opArrayAppend, c.loc(s.Array)
		o.a, err = c.operand(s.Value)
	case *ir.ObjectInsertStmt:
		o.kind, o.target = opObjectInsert, c.loc(s.Object)
		two(s.Key, s.Value)
	case *ir.ObjectInsertOnceStmt:
		o.kind, o.target = opObjectInsertOnce, c.loc(s.Object)
		two(s.Key, s.Value)
	case *ir.SetAddStmt:
		o.kind, o.target = opSetAdd, c.loc(s.Set)
		o.a, err = c.operand(s.Value)
	case *ir.ResultSetAddStmt:
		o.kind, o.a = opResultSetAdd, operand{local: c.loc(s.Value)}
	case *ir.NopStmt:
		o.kind = opNop
	default:
		// WithStmt, CallDynamicStmt, ObjectMergeStmt: not in the plans
		// measured.
		return o, fmt.Errorf("%T: %w", s, ErrUnsupported)
	}
	return o, err
}

// Control results of a block: fell through, returned, or left with n more
// enclosing blocks to leave (0: only this one).
const (
	ctlNext   = -1
	ctlReturn = -2
)

// vm is the state of one evaluation.
type vm struct {
	p      *Program
	ctx    context.Context
	bctx   topdown.BuiltinContext
	memo   []*ast.Term
	result []*ast.Term
	ret    *ast.Term
	stack  []*ast.Term
	args   [8]*ast.Term
	bout   *ast.Term
}

// Eval runs the plan with input and data and returns the result set (each
// element the object the plan adds, {"x": value}).
func (p *Program) Eval(ctx context.Context, input, data *ast.Term, now time.Time) ([]*ast.Term, error) {
	v := &vm{p: p, ctx: ctx, memo: make([]*ast.Term, len(p.funcs)), stack: make([]*ast.Term, 0, 256)}
	v.bctx = topdown.BuiltinContext{Context: ctx, Time: ast.NumberTerm(jsonNumber(fmt.Sprint(now.UnixNano()))), Seed: nil}
	frame := v.push(p.nlocals)
	v.stack[frame+int(ir.Input)] = input
	v.stack[frame+int(ir.Data)] = data
	for _, b := range p.plan {
		ctl, err := v.block(b, frame)
		if err != nil {
			return nil, err
		}
		if ctl == ctlReturn {
			break
		}
	}
	return v.result, nil
}

func (v *vm) push(n int) int {
	base := len(v.stack)
	for range n {
		v.stack = append(v.stack, nil)
	}
	return base
}

func (v *vm) get(o operand, frame int) *ast.Term {
	if o.c != nil {
		return o.c
	}
	return v.stack[frame+o.local]
}

func (v *vm) call(f *fn, args []operand, frame int) (*ast.Term, error) {
	idx := f.index
	if f.memo {
		if m := v.memo[idx]; m != nil {
			return m, nil
		}
	}
	// Read the arguments before pushing: push may move the stack.
	vals := v.args[:0]
	for _, a := range args {
		vals = append(vals, v.get(a, frame))
	}
	top := len(v.stack)
	nf := v.push(f.nlocals)
	for i, p := range f.params {
		v.stack[nf+p] = vals[i]
	}
	var out *ast.Term
	for _, b := range f.blocks {
		ctl, err := v.block(b, nf)
		if err != nil {
			return nil, err
		}
		if ctl == ctlReturn {
			out = v.ret
			break
		}
	}
	v.stack = v.stack[:top]
	if f.memo && out != nil {
		v.memo[idx] = out
	}
	return out, nil
}

// block runs b in the frame at base.
func (v *vm) block(b *block, frame int) (int, error) {
	for i := range b.ops {
		o := &b.ops[i]
		switch o.kind {
		case opReturn:
			v.ret = v.stack[frame+o.a.local]
			return ctlReturn, nil
		case opCall:
			r, err := v.call(v.p.funcs[o.n], o.args, frame)
			if err != nil {
				return 0, err
			}
			if r == nil {
				return 0, nil
			}
			v.stack[frame+o.target] = r
		case opBuiltin:
			r, err := v.builtin(o, frame)
			if err != nil {
				return 0, err
			}
			if r == nil {
				return 0, nil
			}
			v.stack[frame+o.target] = r
		case opBlock:
			for _, sb := range o.blocks {
				ctl, err := v.block(sb, frame)
				if err != nil {
					return 0, err
				}
				switch {
				case ctl == ctlReturn:
					return ctl, nil
				case ctl > 0:
					return ctl - 1, nil
				}
			}
		case opBreak:
			return o.n, nil
		case opDot:
			src, key := v.get(o.a, frame), v.get(o.b, frame)
			r := dot(src, key)
			if r == nil {
				return 0, nil
			}
			v.stack[frame+o.target] = r
		case opLen:
			n, ok := length(v.get(o.a, frame))
			if !ok {
				return 0, nil
			}
			v.stack[frame+o.target] = ast.InternedTerm(n)
		case opScan:
			ctl, err := v.scan(o, frame)
			if err != nil || ctl != ctlNext {
				return ctl, err
			}
		case opNot:
			ctl, err := v.block(o.blocks[0], frame)
			if err != nil {
				return 0, err
			}
			switch {
			case ctl == ctlReturn:
				return ctl, nil
			case ctl > 0:
				return ctl - 1, nil
			case ctl == ctlNext:
				return 0, nil // the negated body held
			}
		case opAssignInt, opMakeNum:
			v.stack[frame+o.target] = o.a.c
		case opAssign:
			v.stack[frame+o.target] = v.get(o.a, frame)
		case opAssignOnce:
			src := v.get(o.a, frame)
			if cur := v.stack[frame+o.target]; cur != nil && !cur.Equal(src) {
				return 0, conflict(o)
			}
			v.stack[frame+o.target] = src
		case opReset:
			v.stack[frame+o.target] = nil
		case opMakeNull:
			v.stack[frame+o.target] = ast.InternedNullTerm
		case opMakeArray:
			v.stack[frame+o.target] = ast.NewTerm(ast.NewArrayWithCapacity(o.n))
		case opMakeObject:
			v.stack[frame+o.target] = ast.NewTerm(ast.NewObject())
		case opMakeSet:
			v.stack[frame+o.target] = ast.NewTerm(ast.NewSet())
		case opEqual:
			if !v.get(o.a, frame).Equal(v.get(o.b, frame)) {
				return 0, nil
			}
		case opNotEqual:
			if v.get(o.a, frame).Equal(v.get(o.b, frame)) {
				return 0, nil
			}
		case opIsArray:
			if _, ok := v.get(o.a, frame).Value.(*ast.Array); !ok {
				return 0, nil
			}
		case opIsObject:
			if _, ok := v.get(o.a, frame).Value.(ast.Object); !ok {
				return 0, nil
			}
		case opIsSet:
			if _, ok := v.get(o.a, frame).Value.(ast.Set); !ok {
				return 0, nil
			}
		case opIsDefined:
			if v.stack[frame+o.a.local] == nil {
				return 0, nil
			}
		case opIsUndefined:
			if v.stack[frame+o.a.local] != nil {
				return 0, nil
			}
		case opArrayAppend:
			t := v.stack[frame+o.target]
			t.Value = t.Value.(*ast.Array).Append(v.get(o.a, frame))
		case opObjectInsert:
			v.stack[frame+o.target].Value.(ast.Object).Insert(v.get(o.a, frame), v.get(o.b, frame))
		case opObjectInsertOnce:
			obj := v.stack[frame+o.target].Value.(ast.Object)
			k, val := v.get(o.a, frame), v.get(o.b, frame)
			if cur := obj.Get(k); cur != nil && !cur.Equal(val) {
				return 0, conflict(o)
			}
			obj.Insert(k, val)
		case opSetAdd:
			v.stack[frame+o.target].Value.(ast.Set).Add(v.get(o.a, frame))
		case opResultSetAdd:
			v.result = append(v.result, v.stack[frame+o.a.local])
		case opNop:
		}
	}
	return ctlNext, nil
}

func (v *vm) scan(o *op, frame int) (int, error) {
	src := v.stack[frame+o.a.local]
	if src == nil {
		return ctlNext, nil
	}
	body := o.blocks[0]
	k, val := frame+o.b.local, frame+o.target
	each := func(key, value *ast.Term) (int, bool, error) {
		v.stack[k], v.stack[val] = key, value
		ctl, err := v.block(body, frame)
		switch {
		case err != nil:
			return 0, true, err
		case ctl == ctlReturn:
			return ctl, true, nil
		case ctl == 1:
			return ctlNext, true, nil // br 1: end of the scan
		case ctl > 1:
			return ctl - 2, true, nil
		}
		return ctlNext, false, nil
	}
	var (
		ctl  = ctlNext
		stop bool
		err  error
	)
	switch x := src.Value.(type) {
	case *ast.Array:
		for i := 0; i < x.Len() && !stop; i++ {
			ctl, stop, err = each(ast.InternedTerm(i), x.Elem(i))
		}
	case ast.Object:
		for _, key := range x.Keys() {
			if ctl, stop, err = each(key, x.Get(key)); stop {
				break
			}
		}
	case ast.Set:
		for _, e := range x.Slice() {
			if ctl, stop, err = each(e, e); stop {
				break
			}
		}
	}
	return ctl, err
}

func (v *vm) builtin(o *op, frame int) (*ast.Term, error) {
	ops := v.args[:0]
	for _, a := range o.args {
		t := v.get(a, frame)
		if t == nil {
			return nil, fmt.Errorf("%s: undefined argument: %w", o.biName, ErrUnsupported)
		}
		ops = append(ops, t)
	}
	v.bout = nil
	v.bctx.Location = nil
	err := o.bi(v.bctx, ops, v.iter)
	if err != nil {
		// Strict built-in errors, as the engine evaluates.
		if _, ok := err.(*topdown.Error); ok {
			return nil, err
		}
		return nil, &topdown.Error{Code: topdown.BuiltinErr, Message: fmt.Sprintf("%s: %v", o.biName, err)}
	}
	return v.bout, nil
}

func (v *vm) iter(t *ast.Term) error {
	v.bout = t
	return nil
}

func conflict(o *op) error {
	return fmt.Errorf("%w at %s:%d", ErrConflict, o.loc.GetLocation().Text, o.loc.Row)
}

// dot is opa_value_get: an object member, an array element, a set member.
func dot(src, key *ast.Term) *ast.Term {
	switch x := src.Value.(type) {
	case ast.Object:
		return x.Get(key)
	case *ast.Array:
		n, ok := key.Value.(ast.Number)
		if !ok {
			return nil
		}
		i, ok := n.Int()
		if !ok || i < 0 || i >= x.Len() {
			return nil
		}
		return x.Elem(i)
	case ast.Set:
		if x.Contains(key) {
			return key
		}
	}
	return nil
}

func length(t *ast.Term) (int, bool) {
	switch x := t.Value.(type) {
	case *ast.Array:
		return x.Len(), true
	case ast.Object:
		return x.Len(), true
	case ast.Set:
		return x.Len(), true
	case ast.String:
		return len([]rune(string(x))), true
	}
	return 0, false
}
