package node_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// TestRecordHistories writes the histories of one run of each VM workflow
// to workflows/testdata, where the replay test checks that changed workflow
// code still replays them. Run it (ZCLOUD_WRITE_HISTORIES=1) when a
// workflow change is released on purpose, with workflow.GetVersion.
func TestRecordHistories(t *testing.T) {
	if os.Getenv("ZCLOUD_WRITE_HISTORIES") == "" {
		t.Skip("set ZCLOUD_WRITE_HISTORIES=1 to record workflow histories for the replay test")
	}
	e := newEnv(t)
	in := e.buildInfra(1)
	record := func(name, location string) {
		wfID := "job-" + location[len(location)-32:]
		it := e.n.Temporal.GetWorkflowHistory(context.Background(), wfID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		var h historypb.History
		for it.HasNext() {
			ev, err := it.Next()
			require.NoError(t, err)
			h.Events = append(h.Events, ev)
		}
		b, err := protojson.MarshalOptions{Indent: "  "}.Marshal(&h)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join("..", "..", "workflows", "testdata", name+".json"), b, 0o644))
	}
	call := func(name, method, path string, body any) map[string]any {
		loc := e.startJob(method, path, body)
		res, err := e.c.Call("GET", loc, nil)
		require.NoError(t, err)
		record(name, loc)
		inv := map[string]any{}
		if raw, ok := res["inventory"]; ok {
			require.NoError(t, jsonUnmarshal(raw, &inv))
		}
		return inv
	}
	vm := call("create_vm", "POST", "v1/vm-instances", map[string]any{"params": e.vmParams(in, "vm-h")})
	uuid := vm["uuid"].(string)
	call("stop_vm", "PUT", "v1/vm-instances/"+uuid+"/actions", map[string]any{"stopVmInstance": map[string]any{}})
	call("start_vm", "PUT", "v1/vm-instances/"+uuid+"/actions", map[string]any{"startVmInstance": map[string]any{}})
	call("reboot_vm", "PUT", "v1/vm-instances/"+uuid+"/actions", map[string]any{"rebootVmInstance": map[string]any{}})
	call("destroy_vm", "DELETE", "v1/vm-instances/"+uuid+"?deleteMode=Permissive", nil)
	call("recover_vm", "PUT", "v1/vm-instances/"+uuid+"/actions", map[string]any{"recoverVmInstance": map[string]any{}})
	call("destroy_vm_again", "DELETE", "v1/vm-instances/"+uuid+"?deleteMode=Permissive", nil)
	call("expunge_vm", "PUT", "v1/vm-instances/"+uuid+"/actions", map[string]any{"expungeVmInstance": map[string]any{}})
}
