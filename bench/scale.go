package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"time"
)

// scale runs the scale checks: rule count (sidecar and OPA), reputation
// store size and plugin count (the sidecar). Every point runs a closed
// loop and an open loop at one modest rate (latency close to service
// time); a point that fails to start is recorded with its error.
func (s *suite) scale(ctx context.Context) error {
	if len(s.o.RuleFactors)+len(s.o.StateKeys)+len(s.o.PluginCounts) == 0 && (s.o.NoDecisionLogPoint || !s.dlogFlag) {
		return nil
	}
	rate := 1000.0
	if opa := s.res.target("opa"); opa != nil && opa.Closed != nil {
		rate = min(rate, roundRate(0.25*opa.Closed.Throughput))
	}
	s.res.Scale.OpenRate = rate
	main := s.res.Setup
	mainState, err := s.stateFile(ctx, main.StateKeys)
	if err != nil {
		return err
	}
	all := len(s.bin.Plugins)

	for _, f := range s.o.RuleFactors {
		sp, err := PreparePolicies(s.o.Root, filepath.Join(s.o.Work, "policies", fmt.Sprintf("sidecar-x%d", f)), f, false)
		if err != nil {
			return err
		}
		op, err := PreparePolicies(s.o.Root, filepath.Join(s.o.Work, "policies", fmt.Sprintf("opa-x%d", f)), f, true)
		if err != nil {
			return err
		}
		s.logf("scale: rules ×%d (%d rules)", f, sp.Rules)
		srv, names, err := s.sidecar(sidecarSpec{policies: sp.Dir, stateFile: mainState, plugins: all})
		if err != nil {
			return err
		}
		pt := &ScalePoint{Target: "sidecar", DecisionLog: s.dlogFlag, Rules: sp.Rules, StateKeys: main.StateKeys, Plugins: names}
		s.res.Scale.Rules = append(s.res.Scale.Rules, s.point(ctx, srv, s.mix, pt, rate))
		osrv, err := s.opa(op.Dir, false)
		if err != nil {
			return err
		}
		opt := &ScalePoint{Target: "opa", Rules: op.Rules, Plugins: []string{}}
		s.res.Scale.Rules = append(s.res.Scale.Rules, s.point(ctx, osrv, s.mix, opt, rate))
	}

	for _, keys := range s.o.StateKeys {
		path, err := s.stateFile(ctx, keys)
		if err != nil {
			return err
		}
		mix := s.mix
		if s.traffic == nil {
			// The Zipf mix's blocklisted-device requests draw from the
			// keys this file holds.
			mc := s.o.Mix
			mc.BlockedDevices = keys
			if mix, err = GenerateMix(mc); err != nil {
				return err
			}
		}
		s.logf("scale: reputation store with %d keys", keys)
		srv, names, err := s.sidecar(sidecarSpec{policies: s.policyDir("sidecar-x1"), stateFile: path, plugins: all})
		if err != nil {
			return err
		}
		pt := &ScalePoint{Target: "sidecar", DecisionLog: s.dlogFlag, Rules: main.Rules, StateKeys: keys, Plugins: names}
		if info, ok := s.stateInfo[keys]; ok {
			pt.State = &info
		}
		s.res.Scale.Reputation = append(s.res.Scale.Reputation, s.point(ctx, srv, mix, pt, rate))
	}

	seen := map[int]bool{}
	for _, n := range s.o.PluginCounts {
		n = min(n, all)
		if seen[n] {
			continue
		}
		seen[n] = true
		s.logf("scale: %d plugins", n)
		srv, names, err := s.sidecar(sidecarSpec{policies: s.policyDir("sidecar-x1"), stateFile: mainState, plugins: n})
		if err != nil {
			return err
		}
		if names == nil {
			names = []string{}
		}
		pt := &ScalePoint{Target: "sidecar", DecisionLog: s.dlogFlag, Rules: main.Rules, StateKeys: main.StateKeys, Plugins: names}
		s.res.Scale.Plugins = append(s.res.Scale.Plugins, s.point(ctx, srv, s.mix, pt, rate))
	}

	if s.dlogFlag && !s.o.NoDecisionLogPoint {
		for _, dlog := range []bool{false, true} {
			s.logf("scale: decision log %v, %d plugins", dlog, all)
			srv, names, err := s.sidecar(sidecarSpec{policies: s.policyDir("sidecar-x1"), stateFile: mainState, plugins: all, noDecisionLog: !dlog})
			if err != nil {
				return err
			}
			pt := &ScalePoint{Target: "sidecar", DecisionLog: dlog, Rules: main.Rules, StateKeys: main.StateKeys, Plugins: names}
			s.res.Scale.DecisionLog = append(s.res.Scale.DecisionLog, s.point(ctx, srv, s.mix, pt, rate))
		}
	}
	return nil
}

func (s *suite) policyDir(name string) string { return filepath.Join(s.o.Work, "policies", name) }

// point measures one scale point; failures are recorded in pt.Error.
func (s *suite) point(ctx context.Context, srv *Server, mix []Request, pt *ScalePoint, rate float64) *ScalePoint {
	defer srv.Stop()
	if err := srv.Start(ctx, startTimeout); err != nil {
		pt.Error = err.Error()
		s.logf("  %s: %v", srv.Name, err)
		return pt
	}
	pt.StartSeconds = srv.StartSeconds()
	pt.IdleRSSBytes = idleRSS(srv)
	s.logf("  %s ready in %.1fs, idle RSS %.0f MiB", srv.Name, pt.StartSeconds, float64(pt.IdleRSSBytes)/(1<<20))
	body := bodies(srv, mix)
	if _, err := Run(Load{Addr: srv.Addr, Path: srv.Path, Bodies: body, Sessions: srv.Sessions, Conns: s.o.ClosedConns, Duration: min(s.o.Warmup, time.Second)}); err != nil {
		pt.Error = err.Error()
		return pt
	}
	var err error
	if pt.Closed, err = s.phase(srv, body, s.o.ScalePhase, s.o.ClosedConns, 0); err != nil {
		pt.Error = err.Error()
		return pt
	}
	if err = s.settle(srv, body, s.o.ScalePhase, s.o.OpenConns, rate); err != nil {
		pt.Error = err.Error()
		return pt
	}
	if pt.Open, err = s.phase(srv, body, s.o.ScalePhase, s.o.OpenConns, rate); err != nil {
		pt.Error = err.Error()
	}
	return pt
}
