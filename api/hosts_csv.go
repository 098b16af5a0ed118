package api

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/workflows"
)

// hostCSVColumns are the columns of a host CSV file (AddKVMHostFromConfigFile,
// CheckKVMHostConfigFile); "ip" may stand for managementIp.
var hostCSVColumns = []string{"managementIp", "username", "password", "sshPort", "clusterUuid", "name", "description"}

// hostRow is one host of a CSV file, with its line number.
type hostRow struct {
	Line   int
	Params map[string]any
	Err    string
}

// parseHostCSV reads hostInfo: a CSV file with a header line, as text or
// base64 (what ZStack's UI uploads).
func parseHostCSV(info string) ([]hostRow, error) {
	text := info
	if b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(info)); err == nil && bytes.Contains(b, []byte(",")) {
		text = string(b)
	}
	r := csv.NewReader(strings.NewReader(text))
	r.TrimLeadingSpace = true
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, models.Invalid("hostInfo: not a CSV file with a header line: %v", err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		if strings.EqualFold(h, "ip") {
			h = "managementIp"
		}
		for _, known := range hostCSVColumns {
			if strings.EqualFold(h, known) {
				col[known] = i
			}
		}
	}
	for _, need := range []string{"managementIp", "password", "clusterUuid"} {
		if _, ok := col[need]; !ok {
			return nil, models.Invalid("hostInfo: the header names no %s column (columns: %s)", need, strings.Join(hostCSVColumns, ","))
		}
	}
	var rows []hostRow
	for line := 2; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, models.Invalid("hostInfo line %d: %v", line, err)
		}
		row := hostRow{Line: line, Params: map[string]any{}}
		for name, i := range col {
			if i < len(rec) && strings.TrimSpace(rec[i]) != "" {
				row.Params[name] = strings.TrimSpace(rec[i])
			}
		}
		if len(row.Params) == 0 {
			continue // a blank line
		}
		switch {
		case row.Params["managementIp"] == nil:
			row.Err = "no managementIp"
		case row.Params["password"] == nil:
			row.Err = "no password"
		case row.Params["clusterUuid"] == nil || !models.IsUUID(row.Params["clusterUuid"].(string)):
			row.Err = "no valid clusterUuid"
		}
		if p, ok := row.Params["sshPort"].(string); ok {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 65535 {
				row.Err = fmt.Sprintf("sshPort %q is not a port", p)
			}
			row.Params["sshPort"] = n
		}
		if row.Params["name"] == nil {
			row.Params["name"] = row.Params["managementIp"]
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return nil, models.Invalid("hostInfo: no host in the file")
	}
	return rows, nil
}

// checkHostCSV answers CheckKVMHostConfigFile: what is wrong with each line.
func (s *Server) checkHostCSV(r *request) {
	rows, err := parseHostCSV(r.str("hostInfo"))
	if err != nil {
		writeError(r.c, http.StatusBadRequest, err)
		return
	}
	results := []gin.H{}
	for _, row := range rows {
		results = append(results, gin.H{"line": row.Line, "ip": row.Params["managementIp"], "valid": row.Err == "", "error": row.Err})
	}
	r.c.JSON(http.StatusOK, gin.H{"results": results})
}

// addHostsFromCSV answers AddKVMHostFromConfigFile: every valid line is
// added as AddKVMHost would, in parallel, each rolling back on its own; a
// file with an invalid line changes nothing. Passwords are stored before
// the job starts, as for AddKVMHost, and never enter its history.
func (s *Server) addHostsFromCSV(r *request) {
	rows, err := parseHostCSV(r.str("hostInfo"))
	if err != nil {
		writeError(r.c, http.StatusBadRequest, err)
		return
	}
	var bad []string
	for _, row := range rows {
		if row.Err != "" {
			bad = append(bad, fmt.Sprintf("line %d: %s", row.Line, row.Err))
		}
	}
	if len(bad) > 0 {
		writeError(r.c, http.StatusBadRequest, models.Invalid("hostInfo has invalid lines: %s", strings.Join(bad, "; ")))
		return
	}
	var p workflows.BatchAddHostsParams
	for _, row := range rows {
		uuid := models.NewUUID()
		if err := s.o.Store.SetSSHPassword(r.c.Request.Context(), uuid, row.Params["password"].(string)); err != nil {
			writeError(r.c, 0, err)
			return
		}
		delete(row.Params, "password")
		row.Params["uuid"] = uuid
		args, _ := json.Marshal(row.Params)
		p.Hosts = append(p.Hosts, workflows.AddHostParams{HostUUID: uuid,
			Op: activities.OpParams{Op: "AddKVMHost", Args: args, AccountUUID: r.session.AccountUUID}})
		p.IPs = append(p.IPs, row.Params["managementIp"].(string))
	}
	s.startJob(r, workflows.BatchAddHosts, p)
}

// writeCSV renders query results as CSV (any Query API with format=csv):
// one column per scalar field, in the order of the first inventory's
// fields; lists and objects are left out.
func writeCSV(c *gin.Context, items []any) {
	var cols []string
	rows := make([]map[string]any, 0, len(items))
	for _, it := range items {
		b, _ := json.Marshal(it)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		rows = append(rows, m)
		if cols == nil {
			var keys struct{ order []string }
			dec := json.NewDecoder(bytes.NewReader(b))
			_, _ = dec.Token()
			for dec.More() {
				t, _ := dec.Token()
				k, _ := t.(string)
				var v json.RawMessage
				_ = dec.Decode(&v)
				if len(v) > 0 && v[0] != '[' && v[0] != '{' {
					keys.order = append(keys.order, k)
				}
			}
			cols = keys.order
		}
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write(cols)
	for _, m := range rows {
		rec := make([]string, len(cols))
		for i, k := range cols {
			switch v := m[k].(type) {
			case nil:
			case string:
				rec[i] = v
			case float64:
				rec[i] = strconv.FormatFloat(v, 'f', -1, 64)
			default:
				rec[i] = fmt.Sprint(v)
			}
		}
		_ = w.Write(rec)
	}
	w.Flush()
	c.Data(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}
