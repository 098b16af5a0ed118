package node_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/api/apitest"
)

// TestHostLivenessAndVMSync shortens the ping interval through the API,
// kills a host's agent, and watches the host go Disconnected, get
// reconnected, and the VM that ran there synced to Stopped (the restarted
// simulated agent runs nothing: the host is the truth).
func TestHostLivenessAndVMSync(t *testing.T) {
	e := newEnv(t)
	in := e.buildInfra(1)
	_, err := e.c.Call(http.MethodPut, "v1/global-configurations/host/ping.interval/actions",
		map[string]any{"updateGlobalConfig": map[string]any{"value": "1"}})
	require.NoError(t, err)
	_, err = e.c.Call(http.MethodPut, "v1/global-configurations/host/ping.maxFailure/actions",
		map[string]any{"updateGlobalConfig": map[string]any{"value": "2"}})
	require.NoError(t, err)
	vm, err := e.c.Create("vm-instances", e.vmParams(in, "vm-sync"))
	require.NoError(t, err)
	host := in.hosts[0]

	status := func() string {
		h, err := e.c.Get("hosts", host)
		require.NoError(t, err)
		return h["status"].(string)
	}
	// The loop picks the new interval up after its current (60 s) sleep at
	// the latest; ReconnectHost restarts it at once.
	_, err = e.c.Action("hosts", host, "reconnectHost", map[string]any{})
	require.NoError(t, err)
	require.Equal(t, "Connected", status())

	require.NoError(t, e.n.Fleet.StopAgent(context.Background(), activities.SimAgentParams{HostUUID: host}))
	sawDisconnected := false
	require.Eventually(t, func() bool {
		s := status()
		sawDisconnected = sawDisconnected || s == "Disconnected"
		return sawDisconnected
	}, 30*time.Second, 50*time.Millisecond, "host never went Disconnected")
	require.Eventually(t, func() bool { return status() == "Connected" }, 40*time.Second, 100*time.Millisecond, "host never reconnected")
	require.Eventually(t, func() bool {
		got, err := e.c.Get("vm-instances", vm["uuid"].(string))
		require.NoError(t, err)
		return got["state"] == "Stopped"
	}, 20*time.Second, 100*time.Millisecond, "vm state not synced from the host")
	h, err := e.c.Get("hosts", host)
	require.NoError(t, err)
	require.Equal(t, h["totalCpuCapacity"], h["availableCpuCapacity"], "a vm found stopped gives its cpu back")
	got, err := e.c.Get("vm-instances", vm["uuid"].(string))
	require.NoError(t, err)
	require.Nil(t, got["hostUuid"])
	require.Equal(t, host, got["lastHostUuid"])
}

// TestJobIdempotency submits one create twice with the same X-Job-UUID and
// gets one job and one zone.
func TestJobIdempotency(t *testing.T) {
	e := newEnv(t)
	job := "0123456789abcdef0123456789abcdef"
	var locations []string
	submit := func() {
		req, err := http.NewRequest(http.MethodPost, "http://"+e.n.Addr+"/zstack/v1/zones", jsonBody(t, map[string]any{"params": map[string]any{"name": "once"}}))
		require.NoError(t, err)
		req.Header.Set("Authorization", "OAuth "+e.c.Session)
		req.Header.Set("X-Job-UUID", job)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		require.Equal(t, http.StatusAccepted, resp.StatusCode)
		var body struct{ Location string }
		decode(t, resp, &body)
		locations = append(locations, body.Location)
	}
	submit()
	submit() // while the first may still run
	require.Equal(t, locations[0], locations[1])
	require.Contains(t, locations[0], "/zstack/v1/api-jobs/"+job)
	_, err := e.c.Call(http.MethodGet, locations[0], nil)
	require.NoError(t, err)
	submit() // after it finished
	require.Equal(t, locations[0], locations[2])
	_, err = e.c.Call(http.MethodGet, locations[2], nil)
	require.NoError(t, err)
	zones, err := e.c.ListAll("zones", "name=once")
	require.NoError(t, err)
	require.Len(t, zones, 1)

	// An unknown job is 404; a session logged out is refused.
	_, err = e.c.Call(http.MethodGet, "http://"+e.n.Addr+"/zstack/v1/api-jobs/ffffffffffffffffffffffffffffffff", nil)
	var apiErr *apitest.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusNotFound, apiErr.Status)
	resp, err := http.Get(locations[0]) // polls need the session too
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	_, err = e.c.Call(http.MethodDelete, "v1/accounts/sessions/"+e.c.Session, nil)
	require.NoError(t, err)
	_, _, err = e.c.Query("zones", nil)
	require.Error(t, err)
}

// TestCancelRollsBack cancels a VM create while its host step runs: the
// compensation releases everything (cancel = rollback).
func TestCancelRollsBack(t *testing.T) {
	e := newEnv(t)
	in := e.buildInfra(1)
	d, ok := e.n.Fleet.Driver(in.hosts[0])
	require.True(t, ok)
	d.SetLatency("host.CreateVM", 5*time.Second)
	req, err := http.NewRequest(http.MethodPost, "http://"+e.n.Addr+"/zstack/v1/vm-instances", jsonBody(t, map[string]any{"params": e.vmParams(in, "vm-cancel")}))
	require.NoError(t, err)
	req.Header.Set("Authorization", "OAuth "+e.c.Session)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var body struct{ Location string }
	decode(t, resp, &body)
	require.Eventually(t, func() bool {
		n, _ := e.n.Store.Count(context.Background(), "used_ips", "1 = 1")
		return n == 1
	}, 10*time.Second, 20*time.Millisecond)
	_, err = e.c.Call(http.MethodDelete, body.Location, nil)
	require.NoError(t, err)
	_, err = e.c.Call(http.MethodGet, body.Location, nil)
	var apiErr *apitest.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, "SYS.1017", apiErr.Code, apiErr.Error())
	d.SetLatency("host.CreateVM", 0)
	require.Eventually(t, func() bool { return len(d.VMs()) == 0 }, 10*time.Second, 50*time.Millisecond)
	e.assertClean(in)
}
