package aliyunsim

import (
	"context"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// faults holds injected failures and latency. It has its own lock so that a slow call does not
// hold the state lock.
type faults struct {
	mu           sync.Mutex
	throttle     map[string]int // action ("" = any) → calls still to throttle
	throttleRate float64
	fail         map[string][]*apiError
	latency      map[string]time.Duration
	calls        map[string]int
}

func (f *faults) init() {
	f.throttle = map[string]int{}
	f.fail = map[string][]*apiError{}
	f.latency = map[string]time.Duration{}
	f.calls = map[string]int{}
}

// throttled is the error Alibaba returns on flow control.
func throttled() *apiError {
	return errf(http.StatusBadRequest, "Throttling", "Request was denied due to user flow control.")
}

// before counts the call, waits the configured latency and returns the injected failure, if any.
func (f *faults) before(ctx context.Context, action string) *apiError {
	f.mu.Lock()
	f.calls[action]++
	d := f.latency[action] + f.latency[""]
	var err *apiError
	switch {
	case len(f.fail[action]) > 0:
		err = f.fail[action][0]
		f.fail[action] = f.fail[action][1:]
	case f.throttle[action] > 0:
		f.throttle[action]--
		err = throttled()
	case f.throttle[""] > 0:
		f.throttle[""]--
		err = throttled()
	case f.throttleRate > 0 && rand.Float64() < f.throttleRate:
		err = throttled()
	}
	f.mu.Unlock()
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
	return err
}

// InjectThrottle makes the next n calls of action ("" = any action) fail with HTTP 400
// Code Throttling, as Alibaba's flow control does.
func (s *Server) InjectThrottle(action string, n int) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.throttle[action] += n
}

// SetThrottleRate makes every call fail with Throttling with probability p (0 turns it off).
func (s *Server) SetThrottleRate(p float64) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.throttleRate = p
}

// InjectError makes the next call of action fail with code and HTTP status; queued injections
// fail successive calls. RPC calls get the JSON error body, OSS calls the XML one.
func (s *Server) InjectError(action, code string, httpStatus int) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.fail[action] = append(s.faults.fail[action],
		errf(httpStatus, code, "Injected failure of %s by aliyunsim.", action))
}

// SetLatency delays every call of action ("" = every call) by d before it is served.
func (s *Server) SetLatency(action string, d time.Duration) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.latency[action] = d
}

// ClearFaults removes every injected failure, throttle and latency.
func (s *Server) ClearFaults() {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.throttle = map[string]int{}
	s.faults.fail = map[string][]*apiError{}
	s.faults.latency = map[string]time.Duration{}
	s.faults.throttleRate = 0
}

// Calls reports how many authenticated calls of action (RPC action or OSS operation name)
// reached the server, including those that failed by injection.
func (s *Server) Calls(action string) int {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	return s.faults.calls[action]
}
