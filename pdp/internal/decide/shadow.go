package decide

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/metrics"
	"github.com/riskpdp/riskpdp/pdp/internal/policy"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
)

// Shadow evaluates a candidate policy set on live traffic, off the
// caller's path. It is a hook on the record: a decision, once recorded
// (and before it is answered), is offered with its input; a sampled one
// is queued, and one worker goroutine evaluates the candidate on exactly
// the input the live policy saw, counts the (live, shadow) outcome pair
// and, when they differ, logs both answers with the decision id in the
// service log (the decision log's record of that id holds the input). The
// shadow never holds, changes or writes a decision's record, and a
// decision that was not recorded (refused by the synchronous log) is never
// offered.
//
// Shadow work is shed first: a decision is not queued while every core is
// busy with live decisions (in flight ≥ GOMAXPROCS), nor when the queue is
// full; both are counted (pdp_shadow_shed_total). One worker bounds the
// shadow's CPU to one core at most, and only while cores are idle.
type Shadow struct {
	eng     *policy.Engine
	rate    float64
	m       *metrics.Shadow
	log     *slog.Logger
	q       chan shadowItem
	live    atomic.Int64 // live decisions in flight
	procs   int64
	stop    chan struct{}
	done    sync.WaitGroup
	closing sync.Once
}

// ShadowOptions configure a Shadow.
type ShadowOptions struct {
	Engine *policy.Engine // the candidate policy set
	// SampleRate is the share of decisions evaluated, 0 to 1.
	SampleRate float64
	QueueSize  int // default 1024
	Metrics    *metrics.Metrics
	Logger     *slog.Logger
}

// shadowItem is one recorded decision waiting for the shadow.
type shadowItem struct {
	id     string // the decision's
	in     *request.Input
	live   pdp.Outcome
	closed bool // a closed-mode plugin failed: the live path stepped up
}

// NewShadow starts the shadow worker; Close stops it.
func NewShadow(o ShadowOptions) *Shadow {
	if o.QueueSize <= 0 {
		o.QueueSize = 1024
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Shadow{eng: o.Engine, rate: o.SampleRate, m: o.Metrics.NewShadow(), log: o.Logger,
		q: make(chan shadowItem, o.QueueSize), procs: int64(runtime.GOMAXPROCS(0)), stop: make(chan struct{})}
	s.m.Revision(o.Engine.Revision())
	s.done.Add(1)
	go s.run()
	return s
}

// enter and exit bracket a live decision.
func (s *Shadow) enter() { s.live.Add(1) }
func (s *Shadow) exit()  { s.live.Add(-1) }

// sampled reports whether this decision goes to the shadow.
func (s *Shadow) sampled() bool { return s.rate >= 1 || (s.rate > 0 && rand.Float64() < s.rate) }

// offer queues a recorded decision if it is sampled, unless the shadow
// must shed; it reports whether it was queued.
func (s *Shadow) offer(it shadowItem) bool {
	if !s.sampled() {
		return false
	}
	// The caller's own decision is still counted in flight.
	if s.live.Load() > s.procs {
		s.m.Shed(metrics.ShedBusy)
		return false
	}
	select {
	case s.q <- it:
		return true
	default:
		s.m.Shed(metrics.ShedQueueFull)
		return false
	}
}

func (s *Shadow) run() {
	defer s.done.Done()
	for {
		select {
		case it := <-s.q:
			s.evaluate(it)
		case <-s.stop:
			for { // what was queued is still compared
				select {
				case it := <-s.q:
					s.evaluate(it)
				default:
					return
				}
			}
		}
	}
}

func (s *Shadow) evaluate(it shadowItem) {
	res, rev, err := s.eng.Evaluate(context.Background(), it.in)
	s.m.Revision(rev)
	if err != nil {
		s.m.Error()
		s.log.Debug("shadow evaluation failed", "revision", rev, "error", err)
	} else {
		if it.closed {
			res.Outcome = pdp.Stricter(res.Outcome, pdp.StepUp)
			res.Reasons = append(res.Reasons, ReasonPluginUnavailable)
		}
		s.m.Compared(it.live, res.Outcome)
		if res.Outcome != it.live {
			s.log.Info("shadow decision differs", "decision_id", it.id, "uid", it.in.Req.UID, "stage", it.in.Req.Stage.String(),
				"live", it.live.String(), "shadow", res.Outcome.String(), "shadow_reasons", res.Reasons, "revision", rev)
		}
	}
}

// Close stops the worker after it has compared what is queued.
func (s *Shadow) Close() {
	s.closing.Do(func() { close(s.stop) })
	s.done.Wait()
}
