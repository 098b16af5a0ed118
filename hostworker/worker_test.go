package hostworker_test

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/zcloud/zcloud/hostworker"
	"github.com/zcloud/zcloud/hostworker/sim"
)

// simAgents returns n agents on fresh sim drivers, hosts "host-0" ... .
func simAgents(t *testing.T, n int) ([]*hostworker.Agent, []*sim.Driver) {
	t.Helper()
	agents := make([]*hostworker.Agent, n)
	drivers := make([]*sim.Driver, n)
	for i := range n {
		d, err := sim.New(sim.Config{})
		require.NoError(t, err)
		drivers[i] = d
		agents[i] = hostworker.New(fmt.Sprintf("host-%d", i), d, nil)
	}
	return agents, drivers
}

func TestRunAllReportsStartFailure(t *testing.T) {
	c, err := client.NewLazyClient(client.Options{
		HostPort: "127.0.0.1:1", // nothing listens there
		Logger:   sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
	})
	require.NoError(t, err)
	defer c.Close()
	agents, _ := simAgents(t, 3)
	err = hostworker.RunAll(t.Context(), c, agents, hostworker.DefaultWorkerOptions())
	require.ErrorContains(t, err, "start worker of host")
}

func TestRunAllRejectsBadAgents(t *testing.T) {
	d, err := sim.New(sim.Config{})
	require.NoError(t, err)
	tests := []struct {
		name   string
		agents []*hostworker.Agent
	}{
		{"no host uuid", []*hostworker.Agent{hostworker.New("", d, nil)}},
		{"same host twice", []*hostworker.Agent{hostworker.New("h1", d, nil), hostworker.New("h1", d, nil)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The client is never used: the agents are refused first.
			err := hostworker.RunAll(t.Context(), nil, tt.agents, hostworker.DefaultWorkerOptions())
			require.Error(t, err)
		})
	}
}
