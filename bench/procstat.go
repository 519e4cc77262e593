package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat:
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// ProcSample is one reading of a process's counters.
type ProcSample struct {
	CPU      time.Duration // user + system time so far
	RSSBytes int64
}

// parseStat reads utime and stime (fields 14 and 15) from the contents of
// /proc/PID/stat. The command name (field 2) is in parentheses and may
// hold spaces, so fields are counted from the last ')'.
func parseStat(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("proc stat: no ')'")
	}
	fields := bytes.Fields(b[i+1:])
	// fields[0] is field 3 (state); utime is field 14, stime field 15.
	if len(fields) < 13 {
		return 0, errors.New("proc stat: too few fields")
	}
	u, err1 := strconv.ParseUint(string(fields[11]), 10, 64)
	s, err2 := strconv.ParseUint(string(fields[12]), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("proc stat: %w", err)
	}
	return time.Duration(u+s) * (time.Second / clockTicks), nil
}

// parseRSS reads VmRSS (kB) from the contents of /proc/PID/status.
func parseRSS(b []byte) (int64, error) {
	for line := range bytes.Lines(b) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := bytes.Fields(rest)
			if len(f) < 1 {
				break
			}
			kb, err := strconv.ParseInt(string(f[0]), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("proc status: %w", err)
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("proc status: no VmRSS")
}

// ReadProc reads the CPU time and resident set of process pid.
func ReadProc(pid int) (ProcSample, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ProcSample{}, err
	}
	cpu, err := parseStat(b)
	if err != nil {
		return ProcSample{}, err
	}
	b, err = os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ProcSample{}, err
	}
	rss, err := parseRSS(b)
	if err != nil {
		return ProcSample{}, err
	}
	return ProcSample{CPU: cpu, RSSBytes: rss}, nil
}

// Usage is what a server process used over one load phase.
type Usage struct {
	// CPUSeconds is user + system time over the phase.
	CPUSeconds float64 `json:"cpu_seconds"`
	// Cores is CPUSeconds over the phase's wall time.
	Cores float64 `json:"cores"`
	// CPUPerRequestUs is CPU time per answered request, µs: what one
	// decision costs the machine, less sensitive to a noisy neighbour than
	// latency.
	CPUPerRequestUs float64 `json:"cpu_per_request_us"`
	// RSSMaxBytes and RSSEndBytes are the largest resident set sampled
	// (every 100 ms) and the last.
	RSSMaxBytes int64 `json:"rss_max_bytes"`
	RSSEndBytes int64 `json:"rss_end_bytes"`
}

// sampler watches a process during a phase.
type sampler struct {
	pid   int
	start ProcSample
	t0    time.Time
	stop  chan struct{}
	done  sync.WaitGroup
	max   int64
}

func startSampler(pid int) *sampler {
	s := &sampler{pid: pid, t0: time.Now(), stop: make(chan struct{})}
	s.start, _ = ReadProc(pid)
	s.max = s.start.RSSBytes
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				if p, err := ReadProc(pid); err == nil && p.RSSBytes > s.max {
					s.max = p.RSSBytes
				}
			}
		}
	}()
	return s
}

// finish stops the sampler; requests is the number answered in the phase.
func (s *sampler) finish(requests int64) Usage {
	close(s.stop)
	s.done.Wait()
	end, err := ReadProc(s.pid)
	if err != nil {
		return Usage{}
	}
	wall := time.Since(s.t0).Seconds()
	u := Usage{CPUSeconds: (end.CPU - s.start.CPU).Seconds(), RSSMaxBytes: max(s.max, end.RSSBytes), RSSEndBytes: end.RSSBytes}
	if wall > 0 {
		u.Cores = u.CPUSeconds / wall
	}
	if requests > 0 {
		u.CPUPerRequestUs = u.CPUSeconds * 1e6 / float64(requests)
	}
	return u
}
