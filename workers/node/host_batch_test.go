package node_test

import (
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zcloud/zcloud/api/apitest"
	"github.com/zcloud/zcloud/hostworker/testhost"
	"github.com/zcloud/zcloud/workers/embedded"
	"github.com/zcloud/zcloud/workers/node"
)

// TestHostsFromCSV adds KVM hosts from a CSV file (AddKVMHostFromConfigFile)
// over SSH into test hosts, with simulated hypervisors in the deployed
// agents: good lines become Connected hosts, a line with a wrong password
// fails alone and leaves nothing; an invalid file changes nothing; the host
// list comes back as CSV.
func TestHostsFromCSV(t *testing.T) {
	if os.Geteuid() != 0 {
		requireEnv(t, "ZCLOUD_REQUIRE_NET", "test hosts need root")
	}
	lab := testhost.NewLab(t, "csv", netip.MustParsePrefix("10.252.11.0/24"))
	hosts := []*testhost.Host{testhost.New(t, "a", testhost.Options{Lab: lab}), testhost.New(t, "b", testhost.Options{Lab: lab}),
		testhost.New(t, "c", testhost.Options{Lab: lab})}
	for _, h := range hosts {
		h.StartSSHD()
	}
	ts, err := embedded.Start(context.Background(), embedded.Options{Host: lab.RootIP().String(), Logger: quietLogger()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = ts.Stop() })
	n, err := node.Start(context.Background(), node.Config{DB: "sqlite::memory:", Temporal: ts.FrontendAddr(), Namespace: ts.Namespace(),
		Listen: "127.0.0.1:0", Worker: true, AdminPassword: "password", Logger: quietLogger(),
		AgentBinary: buildAgentWith(t), AgentDriver: "sim"})
	require.NoError(t, err)
	t.Cleanup(n.Stop)
	c := apitest.New(n.Addr)
	require.NoError(t, c.Login("admin", "password"))
	zone, err := c.Create("zones", map[string]any{"name": "z"})
	require.NoError(t, err)
	cluster, err := c.Create("clusters", map[string]any{"zoneUuid": zone["uuid"], "name": "kvm", "hypervisorType": "KVM"})
	require.NoError(t, err)
	cl := cluster["uuid"].(string)

	// An invalid line rejects the whole file before anything happens.
	bad := "ip,username,password,sshPort,clusterUuid\n" + hosts[0].IP().String() + ",root,x,99999," + cl + "\n"
	_, err = c.Call("POST", "v1/hosts/kvm/from-file/check", map[string]any{"params": map[string]any{"hostInfo": bad}})
	require.NoError(t, err)
	_, err = c.Call("POST", "v1/hosts/kvm/from-file", map[string]any{"params": map[string]any{"hostInfo": bad}})
	require.ErrorContains(t, err, "line 2")

	file := "ip,username,password,sshPort,clusterUuid,name\n"
	file += fmt.Sprintf("%s,root,%s,22,%s,host-a\n", hosts[0].IP(), hosts[0].RootPassword(), cl)
	file += fmt.Sprintf("%s,root,%s,22,%s,host-b\n", hosts[1].IP(), hosts[1].RootPassword(), cl)
	file += fmt.Sprintf("%s,root,wrong-password,22,%s,host-c\n", hosts[2].IP(), cl)
	out, err := c.Call("POST", "v1/hosts/kvm/from-file", map[string]any{"params": map[string]any{
		"hostInfo": base64.StdEncoding.EncodeToString([]byte(file))}})
	require.NoError(t, err)
	var results []struct {
		IP       string `json:"ip"`
		HostUUID string `json:"hostUuid"`
		Success  bool   `json:"success"`
		Error    string `json:"error"`
	}
	require.NoError(t, json.Unmarshal(out["results"], &results))
	require.Len(t, results, 3)
	require.True(t, results[0].Success, results[0].Error)
	require.True(t, results[1].Success, results[1].Error)
	require.False(t, results[2].Success)
	require.Contains(t, results[2].Error, "refused")
	all, err := c.ListAll("hosts")
	require.NoError(t, err)
	require.Len(t, all, 2, "the failed line left no host")
	for _, h := range all {
		require.Equal(t, "Connected", h["status"])
	}
	var creds int
	require.NoError(t, n.Store.DB().Get(&creds, `SELECT COUNT(*) FROM ssh_credentials`))
	require.Equal(t, 2, creds, "no password kept for the failed line")

	// The host list as CSV.
	req, err := http.NewRequest("GET", "http://"+n.Addr+"/zstack/v1/hosts?format=csv", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "OAuth "+c.Session)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv"))
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	recs, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 3, "a header and two hosts:\n%s", body)
	require.Contains(t, recs[0], "managementIp")
	require.NotContains(t, string(body), hosts[0].RootPassword())

	for _, h := range all {
		require.NoError(t, c.Delete("hosts", h["uuid"].(string)))
	}
}
