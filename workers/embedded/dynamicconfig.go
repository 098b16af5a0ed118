package embedded

import (
	"time"

	"go.temporal.io/server/common/dynamicconfig"
)

// pollRPS lifts the rate limit of the history queue readers. Each reader of
// the single shard may poll its queue MaxPollRPS times a second (default 20),
// which adds ~45 ms to every task dispatch.
const pollRPS = 1000

// requestRPS lifts the frontend's request rate limits well above anything one
// machine generates.
const requestRPS = 100_000

// dynamicConfig returns the server's dynamic configuration: defaults tuned for
// low latency on one machine with one history shard. Keys come from the
// server's typed settings, so a setting renamed or removed in a server upgrade
// fails the build instead of being ignored. To add a key, add a line.
func dynamicConfig() dynamicconfig.StaticClient {
	return dynamicconfig.StaticClient{
		// Task dispatch latency.
		dynamicconfig.TransferProcessorMaxPollRPS.Key():   pollRPS,
		dynamicconfig.TimerProcessorMaxPollRPS.Key():      pollRPS,
		dynamicconfig.VisibilityProcessorMaxPollRPS.Key(): pollRPS,
		dynamicconfig.OutboundProcessorMaxPollRPS.Key():   pollRPS,
		// With fast queue readers, events of one workflow follow each other
		// closely, and a long poll on its history (client run.Get, which
		// waits for the close event) now and then misses its wake-up: the
		// history service's notifier drops a notification when the waiter's
		// one-slot channel is full. The waiter then hangs until this interval
		// (default 20 s) expires and the client polls again, so a missed
		// wake-up costs up to the interval. Measured over 50-100 sequential
		// 1-activity workflows (server-side history ~11 ms each): 200 ms gives
		// a mean of 30-37 ms (worst 211 ms), 1 s 57-67 ms, 2 s 60-180 ms with
		// 2-8 % of runs taking 2 s. 2 s was chosen for throughput under load
		// (fewer re-polls); code that needs results fast should poll
		// DescribeWorkflowExecution rather than block in run.Get.
		dynamicconfig.HistoryLongPollExpirationInterval.Key(): 2 * time.Second,
		// One partition per task queue: hundreds of per-host queues each see
		// little traffic, and a single partition avoids forwarding between
		// partitions (default 4).
		dynamicconfig.MatchingNumTaskqueueReadPartitions.Key():  1,
		dynamicconfig.MatchingNumTaskqueueWritePartitions.Key(): 1,

		// Frontend limits. namespaceCount caps concurrent long polls per API:
		// every host agent's worker keeps several activity polls open.
		dynamicconfig.FrontendRPS.Key():                                         requestRPS,
		dynamicconfig.FrontendMaxNamespaceRPSPerInstance.Key():                  requestRPS,
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key():        requestRPS, // default 10: the UI and job listings
		dynamicconfig.FrontendMaxConcurrentLongRunningRequestsPerInstance.Key(): 10_000,

		// Search attributes added at run time are visible at once (as in
		// temporaltest); the cost is a DB read per use, negligible here.
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): true,
	}
}
