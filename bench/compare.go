package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// prepared are the inputs shared by the main comparison.
type prepared struct {
	sidecarPolicies, opaPolicies string
	rules                        int
	state                        string
	stateKeys                    int
}

func (s *suite) prepare(ctx context.Context) (*prepared, error) {
	p := &prepared{stateKeys: s.o.Mix.BlockedDevices}
	ps, err := PreparePolicies(s.o.Root, filepath.Join(s.o.Work, "policies", "sidecar-x1"), 1, false)
	if err != nil {
		return nil, err
	}
	p.sidecarPolicies, p.rules = ps.Dir, ps.Rules
	ops, err := PreparePolicies(s.o.Root, filepath.Join(s.o.Work, "policies", "opa-x1"), 1, true)
	if err != nil {
		return nil, err
	}
	p.opaPolicies = ops.Dir
	p.state, err = s.stateFile(ctx, p.stateKeys)
	return p, err
}

// stateFile returns a pristine state file with keys block-list entries,
// filling it once per run.
func (s *suite) stateFile(ctx context.Context, keys int) (string, error) {
	path := filepath.Join(s.o.Work, "state", fmt.Sprintf("state-%d.db", keys))
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	info, err := FillState(ctx, s.bin.PDP, path, keys, s.o.Mix)
	if err != nil {
		return "", err
	}
	s.logf("state: %d block-list entries and %d accounts' history in %.1fs, %.1f MiB", keys, info.Accounts, info.LoadSecs, float64(info.FileBytes)/(1<<20))
	s.stateInfo[keys] = info
	return path, nil
}

// main runs the side-by-side comparison: OPA first (its saturation
// throughput sets the open-loop rates), then the sidecar, then the floor.
func (s *suite) main(ctx context.Context) error {
	p, err := s.prepare(ctx)
	if err != nil {
		return err
	}
	if s.traffic != nil {
		s.mix, err = generatePopulationMix(s.o.Mix, s.traffic)
	} else {
		s.mix, err = GenerateMix(s.o.Mix)
	}
	if err != nil {
		return err
	}
	s.res.Setup = Setup{Mix: s.o.Mix, MixOutcomes: stageShares(s.mix), ClosedConns: s.o.ClosedConns, OpenConns: s.o.OpenConns,
		PhaseSeconds: s.o.Phase.Seconds(), WarmupSeconds: s.o.Warmup.Seconds(), SettleSeconds: s.o.Settle.Seconds(), ScaleSeconds: s.o.ScalePhase.Seconds(),
		Rules: p.rules, StateKeys: p.stateKeys, DecisionLog: s.dlogFlag}
	if s.dlogFlag {
		s.res.Setup.DecisionLogNote = "pdp serve --decision-log <run dir>/decisions.log"
	} else {
		s.res.Setup.DecisionLogNote = "this pdp binary has no --decision-log flag: the sidecar ran without a decision log"
		s.res.Notes = append(s.res.Notes, s.res.Setup.DecisionLogNote)
	}
	if s.traffic != nil {
		s.logf("mix: the population's sessions, %d customers; OPA and the floor get their first %d requests: %s", s.o.Mix.UIDs, len(s.mix), s.res.Setup.MixOutcomes)
	} else {
		s.logf("mix: %d requests, %d UIDs (Zipf s=%.2f v=%.0f): %s", len(s.mix), s.o.Mix.UIDs, s.o.Mix.ZipfS, s.o.Mix.ZipfV, s.res.Setup.MixOutcomes)
	}

	nPlugins := len(s.bin.Plugins)
	opaSrv, err := s.opa(p.opaPolicies, false)
	if err != nil {
		return err
	}
	s.res.Setup.OPAArgs = s.opaArgs
	opaRes, err := s.measure(ctx, opaSrv, "opa run --server (OPA "+s.res.Versions["opa"]+"), Data API, same policy + decision rule")
	if err != nil {
		return err
	}
	rates := append([]float64(nil), s.o.Rates...)
	for _, f := range s.o.RateFractions {
		rates = append(rates, roundRate(f*opaRes.Closed.Throughput))
	}
	rates = uniqueSorted(rates)
	if err := s.openLoops(opaSrv, opaRes, rates); err != nil {
		return err
	}

	pdpSrv, names, err := s.sidecar(sidecarSpec{policies: p.sidecarPolicies, stateFile: p.state, plugins: nPlugins})
	if err != nil {
		return err
	}
	s.res.Setup.Plugins = names
	desc := fmt.Sprintf("pdp serve: state (%d block-list keys), velocity, %d plugins", p.stateKeys, len(names))
	if s.dlogFlag {
		desc += ", decision log"
	}
	pdpRes, err := s.measure(ctx, pdpSrv, desc)
	if err != nil {
		return err
	}
	if err := s.openLoops(pdpSrv, pdpRes, rates); err != nil {
		return err
	}
	floorSrv, err := s.floor("")
	if err != nil {
		return err
	}
	floorRes, err := s.measure(ctx, floorSrv, "no-op fasthttp handler, fixed answer (the floor)")
	if err != nil {
		return err
	}
	if err := s.openLoops(floorSrv, floorRes, rates); err != nil {
		return err
	}
	s.res.Targets = []*TargetResult{pdpRes, opaRes, floorRes}
	s.res.computeRatios()
	if n := s.res.outcomeNote(); n != "" {
		s.res.Notes = append(s.res.Notes, n)
	}
	if s.o.Profile {
		return s.profiles(ctx, p, nPlugins)
	}
	return nil
}

func uniqueSorted(xs []float64) []float64 {
	sort.Float64s(xs)
	out := xs[:0]
	for _, x := range xs {
		if x > 0 && (len(out) == 0 || out[len(out)-1] != x) {
			out = append(out, x)
		}
	}
	return out
}

// measure starts srv, warms it up and runs the closed loop; srv keeps
// running for the open loops (openLoops stops it).
func (s *suite) measure(ctx context.Context, srv *Server, desc string) (*TargetResult, error) {
	s.logf("%s: starting (%s)", srv.Name, desc)
	if err := srv.Start(ctx, startTimeout); err != nil {
		return nil, err
	}
	tr := &TargetResult{Name: srv.Name, Description: desc, StartSeconds: srv.StartSeconds(), IdleRSSBytes: idleRSS(srv)}
	body := bodies(srv, s.mix)
	if _, err := Run(Load{Addr: srv.Addr, Path: srv.Path, Bodies: body, Sessions: srv.Sessions, Conns: s.o.ClosedConns, Duration: s.o.Warmup}); err != nil {
		srv.Stop()
		return nil, err
	}
	var err error
	tr.Closed, err = s.phase(srv, body, s.o.Phase, s.o.ClosedConns, 0)
	if err != nil {
		srv.Stop()
		return nil, err
	}
	return tr, nil
}

// openLoops runs the open loops on a started server, then stops it.
func (s *suite) openLoops(srv *Server, tr *TargetResult, rates []float64) error {
	defer srv.Stop()
	body := bodies(srv, s.mix)
	for _, r := range rates {
		if err := s.settle(srv, body, s.o.Settle, s.o.OpenConns, r); err != nil {
			return err
		}
		res, err := s.phase(srv, body, s.o.Phase, s.o.OpenConns, r)
		if err != nil {
			return err
		}
		tr.Open = append(tr.Open, res)
	}
	return srv.Stop()
}

// profileSeconds is how long each target is profiled.
func (s *suite) profileSeconds() time.Duration {
	return min(s.o.Phase, 8*time.Second)
}

// profileLoad is the load each target is profiled under: the closed loop,
// or an open loop at Options.ProfileRate.
func (s *suite) profileLoad(srv *Server, d time.Duration) Load {
	l := Load{Addr: srv.Addr, Path: srv.Path, Bodies: bodies(srv, s.mix), Sessions: srv.Sessions, Conns: s.o.ClosedConns, Duration: d}
	if s.o.ProfileRate > 0 {
		l.Rate, l.Conns = s.o.ProfileRate, s.o.OpenConns
	}
	return l
}

// profileWhere says what load the profiles were taken under.
func (s *suite) profileWhere() string {
	if s.o.ProfileRate > 0 {
		return fmt.Sprintf("at %.0f req/s offered", s.o.ProfileRate)
	}
	return "under the closed loop"
}

// profiles captures a CPU profile of each target under the closed loop (or
// at Options.ProfileRate):
// the sidecar through pdp serve --cpu-profile (it has no pprof endpoint),
// OPA through its --pprof endpoint,
// the floor through its BENCH_CPUPROFILE.
func (s *suite) profiles(ctx context.Context, p *prepared, nPlugins int) error {
	dir := filepath.Join(s.o.Out, "profiles")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	s.res.Profiles = map[string]string{}
	d := s.profileSeconds()
	pdpPath := filepath.Join(dir, "sidecar.pprof")
	pdpSrv, _, err := s.sidecar(sidecarSpec{policies: p.sidecarPolicies, stateFile: p.state, plugins: nPlugins, profile: pdpPath})
	if err != nil {
		return err
	}
	floorPath := filepath.Join(dir, "floor.pprof")
	floorSrv, err := s.floor(floorPath)
	if err != nil {
		return err
	}
	for _, srv := range []*Server{pdpSrv, floorSrv} {
		s.logf("%s: CPU profile %s, %v", srv.Name, s.profileWhere(), d)
		if err := srv.Start(ctx, startTimeout); err != nil {
			return err
		}
		res, err := Run(s.profileLoad(srv, d))
		if stopErr := srv.Stop(); err == nil {
			err = stopErr
		}
		if err != nil {
			return err
		}
		if srv == pdpSrv {
			s.res.ProfileRun = res
		}
	}
	steps, err := StepCosts(pdpPath, s.res.ProfileRun.Requests, s.res.ProfileRun.SideCalls)
	if err != nil {
		return err
	}
	s.res.Steps = steps
	s.res.Profiles["sidecar"] = "profiles/sidecar.pprof"
	s.res.Profiles["floor"] = "profiles/floor.pprof"

	opaSrv, err := s.opa(p.opaPolicies, true)
	if err != nil {
		return err
	}
	s.logf("opa: CPU profile %s, %v", s.profileWhere(), d)
	if err := opaSrv.Start(ctx, startTimeout); err != nil {
		return err
	}
	defer opaSrv.Stop()
	errc := make(chan error, 1)
	go func() {
		_, err := Run(s.profileLoad(opaSrv, d+time.Second))
		errc <- err
	}()
	time.Sleep(500 * time.Millisecond)
	secs := max(int(d.Seconds()), 1)
	err = fetchTo(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", opaSrv.Addr, secs), filepath.Join(dir, "opa.pprof"), d+30*time.Second)
	if lerr := <-errc; err == nil {
		err = lerr
	}
	if err != nil {
		return fmt.Errorf("opa profile: %w", err)
	}
	s.res.Profiles["opa"] = "profiles/opa.pprof"
	return opaSrv.Stop()
}

func fetchTo(ctx context.Context, url, path string, timeout time.Duration) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: timeout}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
