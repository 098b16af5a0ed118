package node_test

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zcloud/zcloud/api/apitest"
)

// zstackFigures are ZStack's published VM-creation wall times (README of
// zstackio/zstack: one management node, 100 client threads).
var zstackFigures = map[int]time.Duration{1: 510 * time.Millisecond, 100: 11330 * time.Millisecond,
	1000: 103 * time.Second, 10000: 23 * time.Minute}

// peakRSS is this process's peak resident set (it holds Temporal, the API,
// the worker and every simulated host).
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "n/a"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			f := strings.Fields(l)
			kb, _ := strconv.Atoi(f[1])
			return fmt.Sprintf("%d MiB", kb/1024)
		}
	}
	return "n/a"
}

// BenchmarkCreateVMs creates 1, 100 and 1,000 VMs (10,000 with
// ZCLOUD_BENCH_10K=1) through the REST API with 100 concurrent clients on
// 100 simulated hosts, and prints the wall times beside ZStack's figures.
// Run it with -benchtime=1x (make bench does); the sizes run one after the
// other on one control plane, so later ones start with earlier VMs present.
func BenchmarkCreateVMs(b *testing.B) {
	const hosts, clients = 100, 100
	e := newEnv(b)
	start := time.Now()
	in := e.buildInfraN(hosts)
	fmt.Printf("setup: %d simulated hosts added through the API in %s\n", hosts, time.Since(start).Round(time.Millisecond))
	sizes := []int{1, 100, 1000}
	if os.Getenv("ZCLOUD_BENCH_10K") != "" {
		sizes = append(sizes, 10000)
	}
	// One logged-in client per worker goroutine, as 100 SDK users would be.
	cs := make([]*apitest.Client, clients)
	for i := range cs {
		cs[i] = apitest.New(e.n.Addr)
		if err := cs[i].Login("admin", "password"); err != nil {
			b.Fatal(err)
		}
	}
	type row struct {
		n    int
		wall time.Duration
	}
	var rows []row
	for i := 0; i < b.N; i++ {
		rows = rows[:0]
		for _, n := range sizes {
			var next, failed atomic.Int64
			var firstErr atomic.Value
			var wg sync.WaitGroup
			t0 := time.Now()
			for c := 0; c < clients && c < n; c++ {
				wg.Add(1)
				go func(cl *apitest.Client) {
					defer wg.Done()
					for {
						k := next.Add(1)
						if k > int64(n) {
							return
						}
						if _, err := cl.Create("vm-instances", e.vmParams(in, fmt.Sprintf("bench-%d-%d", n, k))); err != nil {
							failed.Add(1)
							firstErr.CompareAndSwap(nil, err)
						}
					}
				}(cs[c])
			}
			wg.Wait()
			wall := time.Since(t0)
			if failed.Load() > 0 {
				b.Fatalf("%d of %d creates failed; first: %v", failed.Load(), n, firstErr.Load())
			}
			rows = append(rows, row{n, wall})
			b.ReportMetric(wall.Seconds(), fmt.Sprintf("s/%dVMs", n))
		}
	}
	// Latency of lone creates (no load): what one user waits.
	var lat []time.Duration
	for i := 0; i < 30; i++ {
		t0 := time.Now()
		if _, err := cs[0].Create("vm-instances", e.vmParams(in, fmt.Sprintf("lone-%d", i))); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	fmt.Printf("\nlone creates, 30 in a row: p50 %s, p90 %s, max %s\n", lat[15].Round(time.Millisecond), lat[27].Round(time.Millisecond), lat[29].Round(time.Millisecond))
	fmt.Printf("\n%-8s %-12s %-12s %-12s %-10s\n", "VMs", "ZCloud", "per VM", "ZStack", "target")
	targets := map[int]string{1: "<= 0.2s", 100: "<= 4s", 1000: "<= 40s", 10000: "-"}
	for _, r := range rows {
		fmt.Printf("%-8d %-12s %-12s %-12s %-10s\n", r.n, r.wall.Round(time.Millisecond), (r.wall / time.Duration(r.n)).Round(time.Microsecond),
			zstackFigures[r.n], targets[r.n])
	}
	fmt.Printf("peak RSS of the process (Temporal + API + worker + %d simulated hosts): %s\n\n", hosts, peakRSS())
}
